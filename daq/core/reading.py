"""The Reading: one value taken from one instrument, immutable once taken."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """How far a reading can be trusted, as the instrument reported it."""

    OK = "ok"
    UNSTABLE = "unstable"
    OVERLOAD = "overload"
    UNDERLOAD = "underload"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Reading:
    """A value with its unit, real timestamp (Unix seconds, UTC) and the raw reply it came from."""

    instrument: str
    quantity: str
    value: float
    unit: str
    timestamp: float
    status: Status = Status.OK
    raw: str = ""
    run: str | None = None
    """The calibration run it was taken for (set by the journal), so the journal's copy can
    be held against the run's chained record."""
