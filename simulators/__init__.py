"""Protocol-accurate instrument simulators: device physics behind real protocol front ends."""
