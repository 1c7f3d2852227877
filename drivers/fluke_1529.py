"""Fluke/Hart 1529 Chub-E4 thermometer readout (SCPI-like, four channels).

Over RS-232 and raw sockets a bad command or query gets no reply at all, only an entry in
the error queue; so when a query times out the driver reads ``SYST:ERR?`` to tell an
instrument-reported error from a silent instrument.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daq.reading import Reading
from drivers.base import Driver, Identity
from drivers.errors import InstrumentReportedError, InstrumentTimeout, ProtocolError
from drivers.roles import THERMOMETER
from drivers.transports.base import LineTransport

UNITS = {"C": "°C", "F": "°F", "K": "K"}
ERROR_QUEUE_DEPTH = 10
_ERROR = re.compile(r'^([+-]?\d+),"(.*)"$')


class Fluke1529Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=4)
    """Channels that ``read()`` reports."""
    query: Literal["FETC?", "MEAS?"] = "FETC?"

    @field_validator("channels")
    @classmethod
    def _valid_channels(cls, channels: list[int]) -> list[int]:
        if any(not 1 <= channel <= 4 for channel in channels):
            raise ValueError("the 1529 has channels 1 to 4")
        if len(set(channels)) != len(channels):
            raise ValueError("each channel once")
        return channels


def parse_number(text: str) -> float:
    """A measurement reply: one finite decimal number."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ProtocolError(f"reply {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ProtocolError(f"reply {text!r} is not a finite number")
    return value


def parse_idn(text: str) -> Identity:
    """``*IDN?`` reply: manufacturer, model, serial, firmware."""
    fields = [field.strip() for field in text.split(",")]
    if len(fields) != 4 or not all(fields[:3]):
        raise ProtocolError(f"identity {text!r} is not 'manufacturer,model,serial,firmware'")
    return Identity(*fields)


def parse_error(text: str) -> tuple[int, str]:
    """``SYST:ERR?`` reply ``<code>,"<text>"``."""
    match = _ERROR.match(text.strip())
    if match is None:
        raise ProtocolError(f"error queue reply {text!r} is not '<code>,\"<text>\"'")
    return int(match[1]), match[2]


def parse_unit(text: str) -> str:
    unit = UNITS.get(text.strip().upper())
    if unit is None:
        raise ProtocolError(f"unit reply {text!r} is not C, F or K")
    return unit


class Fluke1529(Driver[LineTransport]):
    """A 1529 readout; its probes and channel units are set up on the instrument."""

    family: ClassVar[str] = "fluke_1529"
    roles: ClassVar[frozenset[str]] = frozenset({THERMOMETER})
    link: ClassVar[Literal["line", "modbus"]] = "line"
    Settings: ClassVar[type[BaseModel]] = Fluke1529Settings

    _unit: str | None = None

    @property
    def _settings(self) -> Fluke1529Settings:
        assert isinstance(self.settings, Fluke1529Settings)
        return self.settings

    async def _query(self, command: str) -> str:
        """A query; on silence, the error queue says whether the instrument refused it."""
        try:
            return await self.transport.query(command)
        except InstrumentTimeout:
            errors = await self.errors()
            if errors:
                code, text = errors[0]
                raise InstrumentReportedError(
                    f"{self.id}: {command} refused: {code},{text}", code
                ) from None
            raise

    async def errors(self) -> list[tuple[int, str]]:
        """Drain the error queue, oldest first."""
        found: list[tuple[int, str]] = []
        for _ in range(ERROR_QUEUE_DEPTH + 1):
            code, text = parse_error(await self.transport.query("SYST:ERR?"))
            if code == 0:
                break
            found.append((code, text))
        return found

    async def identify(self) -> Identity:
        return parse_idn(await self._query("*IDN?"))

    async def unit(self) -> str:
        """The temperature unit; asked once, then remembered."""
        if self._unit is None:
            self._unit = parse_unit(await self._query("UNIT:TEMP?"))
        return self._unit

    async def set_unit(self, unit: Literal["C", "F", "K"]) -> None:
        await self.transport.write(f"UNIT:TEMP {unit}")
        self._unit = None

    async def temperature(self, channel: int | None = None) -> Reading:
        """The latest reading of ``channel`` (default: the first configured one).

        The quantity names the channel (``temperature_ch2``): one readout carries several
        thermometers.
        """
        channel = channel or self._settings.channels[0]
        if not 1 <= channel <= 4:
            raise ValueError(f"channel {channel} does not exist; the 1529 has 1 to 4")
        unit = await self.unit()
        line = await self._query(f"{self._settings.query} {channel}")
        value = parse_number(line)
        quantity = f"temperature_ch{channel}"
        return Reading(self.id, quantity, value, unit, self.clock.now(), raw=line)

    async def read(self) -> list[Reading]:
        return [await self.temperature(channel) for channel in self._settings.channels]
