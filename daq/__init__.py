"""Instrument data acquisition and automated calibration agent."""

__version__ = "0.1.0"
"""The version, written only here (the package metadata reads it from this line)."""
