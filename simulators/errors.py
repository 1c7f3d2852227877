"""The simulators' error, light enough for the command line to catch without loading them."""

from __future__ import annotations


class SimulationError(Exception):
    """An instrument marked for simulation has an address no simulator can serve."""
