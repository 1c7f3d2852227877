"""Typed instrument errors.

Callers decide from the type what to do: retry a timeout, reconnect a lost link, record an
overload as a reading status, report an instrument's own error to the operator.
"""

from __future__ import annotations


class InstrumentError(Exception):
    """Anything that went wrong talking to an instrument."""


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer in time."""


class ConnectionLost(InstrumentError):
    """The link to the instrument could not be opened or broke."""


class ProtocolError(InstrumentError):
    """The reply was garbled or not what the protocol allows."""


class OverloadError(InstrumentError):
    """The measured value is above the instrument's range."""


class UnderloadError(InstrumentError):
    """The measured value is below the instrument's range (e.g. balance pan removed)."""


class InstrumentReportedError(InstrumentError):
    """The instrument understood the command and reported an error of its own."""

    def __init__(self, message: str, code: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SimulationError(Exception):
    """An instrument marked for simulation has an address no simulator can serve."""
