"""Protocol-accurate instrument simulators: device physics behind real protocol front ends."""

CONTROL_PORT = 55099
"""The loopback port of the simulators' control interface (``daq simulate``, ``daq fault``)."""
