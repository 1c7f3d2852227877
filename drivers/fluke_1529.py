"""Fluke/Hart 1529 Chub-E4 thermometer readout (SCPI-like, four channels).

Over RS-232 and raw sockets a bad command or query gets no reply at all, only an entry in
the 10-deep error queue; so when a query times out the driver reads ``SYST:ERR?`` to tell
an instrument-reported error from a silent instrument. Commands (no reply) are followed by
the same check, since the queue is the only way to learn they were refused.

An over-range channel answers ``0.0,OL`` (inference, after the 1551A of the same line,
reference §2.3; ``OL`` stands in the unit field of an extended record): ``temperature()``
raises OverloadError, ``read()`` gives an OVERLOAD reading (NaN) so monitoring goes on.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daq.core.errors import (
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, LineProbe
from drivers.roles import THERMOMETER
from drivers.scpi import ErrorEntry, ScpiSession
from drivers.transports.base import LineTransport

UNITS = {"C": "°C", "F": "°F", "K": "K"}
"""``UNIT:TEMP?`` letters and the pint unit each stands for."""
EXTENDED_FIELDS = 10
"""``FORM:STAM ON`` replies: new, channel, value, unit, hh, mm, ss, yyyy, mm, dd."""
OVER_RANGE = "OL"
"""After the value (``0.0,OL``) or in a record's unit field: the channel is over range."""

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class Fluke1529Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[int] = Field(default_factory=lambda: [1], min_length=1)
    """Channels that ``read()`` reports, in this order."""
    query: Literal["FETC?", "MEAS?"] = "FETC?"
    """Both return the channel's latest reading on the 1529; neither starts a measurement."""

    @field_validator("channels")
    @classmethod
    def _valid_channels(cls, channels: list[int]) -> list[int]:
        if any(not 1 <= channel <= 4 for channel in channels):
            raise ValueError("the 1529 has channels 1 to 4")
        if len(set(channels)) != len(channels):
            raise ValueError("list each channel once")
        return channels


def parse_number(text: str) -> float:
    """A measurement: one plain decimal number (what the 1529 sends, no inf/nan/words)."""
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        raise ProtocolError(f"reply {text!r} is not a number")
    value = float(stripped)
    if math.isinf(value):
        raise ProtocolError(f"reply {text!r} is out of any temperature range")
    return value


def parse_measurement(text: str, channel: int) -> tuple[float, str | None]:
    """A ``FETC?``/``MEAS?`` reply: a bare number, ``0.0,OL`` or the extended record for
    ``channel``.

    Returns the value and, for an extended record, the unit it names (else None). An
    over-range channel gives +inf (``parse_number`` never does): the readout's flag, never a
    temperature.
    """
    fields = [field.strip() for field in text.split(",")]
    if len(fields) == 1:
        return parse_number(text), None
    if len(fields) == 2 and fields[1] == OVER_RANGE:
        parse_number(fields[0])
        return math.inf, None
    if len(fields) != EXTENDED_FIELDS:
        raise ProtocolError(f"reply {text!r} is neither a number nor an extended record")
    if fields[1] != str(channel):
        raise ProtocolError(f"reply {text!r} is for channel {fields[1]}, not {channel}")
    if fields[3] == OVER_RANGE:
        parse_number(fields[2])
        return math.inf, None
    unit = UNITS.get(fields[3].upper())
    if unit is None:
        raise ProtocolError(f"channel {channel} reads in {fields[3]!r}, not a temperature unit")
    return parse_number(fields[2]), unit


def parse_unit(text: str) -> str:
    """``UNIT:TEMP?`` reply C, F or K, as a pint unit."""
    unit = UNITS.get(text.strip().upper())
    if unit is None:
        raise ProtocolError(f"unit reply {text!r} is not C, F or K")
    return unit


class Fluke1529(Driver[LineTransport, Fluke1529Settings]):
    """A 1529 readout; its probes, channels and conversions are set up on the instrument.

    Readings are named per channel (``temperature_ch2``): one readout carries up to four
    thermometers and the journal must keep them apart.
    """

    family: ClassVar[str] = "fluke_1529"
    probe: ClassVar[LineProbe] = LineProbe("*IDN?", re.compile(r"(HART|FLUKE),1529,"))
    roles: ClassVar[frozenset[str]] = frozenset({THERMOMETER})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = Fluke1529Settings

    _unit: str | None = None

    @cached_property  # made once: it is asked for on every reading
    def scpi(self) -> ScpiSession:
        return ScpiSession(self.id, self.transport)

    async def errors(self) -> list[ErrorEntry]:
        """Drain the error queue, oldest first."""
        return await self.scpi.errors()

    async def identify(self) -> Identity:
        return await self.scpi.identify()

    async def unit(self) -> str:
        """The temperature unit; asked once, then remembered (``set_unit`` forgets it)."""
        if self._unit is None:
            self._unit = parse_unit(await self.scpi.query("UNIT:TEMP?"))
        return self._unit

    async def set_unit(self, unit: Literal["C", "F", "K"]) -> None:
        self._unit = None
        await self.scpi.command(f"UNIT:TEMP {unit}")

    async def _measure(self, channel: int) -> Reading:
        """The latest reading of ``channel``; over range it is an OVERLOAD reading, NaN."""
        unit = self._unit or await self.unit()
        line = await self.scpi.query(f"{self.settings.query} {channel}")
        value, stamped_unit = parse_measurement(line, channel)
        over = value == math.inf
        return Reading(
            self.id,
            f"temperature_ch{channel}",
            math.nan if over else value,
            stamped_unit or unit,
            self.clock.now(),
            Status.OVERLOAD if over else Status.OK,
            raw=line,
        )

    async def temperature(self, channel: int | None = None) -> Reading:
        """The latest reading of ``channel`` (default: the first configured one).

        The readout decides which channels exist: a channel it refuses raises its error; a
        channel over range raises OverloadError.
        """
        channel = self.settings.channels[0] if channel is None else channel
        reading = await self._measure(channel)
        if reading.status is Status.OVERLOAD:
            raise OverloadError(f"{self.id}: channel {channel} over range ({reading.raw!r})")
        return reading

    async def read(self) -> list[Reading]:
        readings = []
        for channel in self.settings.channels:  # a loop, not a comprehension: one frame less
            readings.append(await self._measure(channel))
        return readings
