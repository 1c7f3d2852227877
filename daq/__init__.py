"""Instrument data acquisition and automated calibration agent."""

__version__ = "0.1.0"
