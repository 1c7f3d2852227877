"""Fluke/Hart field metrology wells (9142/9143/9144, 917X, 9190A) and portable baths
(6109A/7109A) over their SCPI subset (reference §2.4.1, error queue §4.1).

The wells end replies with CR, LF only when enabled: set the connection's
``read_termination: "\\r"`` (a reply that also carries LF still parses). As on the 1529, of the
same Hart SCPI lineage (inference), a refused command or query gets no reply, only an entry
in the error queue; so every setting is followed by ``SYST:ERR?`` and a query that times out
is followed by the queue, to tell a refusal from a silent instrument.

The driver works in °C: the first exchange that needs a temperature sets ``UNIT:TEMP C`` if
the well shows °F. An over-range control sensor answers ``9.9E37`` (SCPI's over-range
value; inference), which becomes an OverloadError carrying the queued cause.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.core.errors import (
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Reading, Status
from drivers.base import CR_LINE, Driver, Identity, LineProbe
from drivers.fluke_1529 import parse_number, parse_unit
from drivers.roles import TEMPERATURE_SOURCE
from drivers.scpi import ErrorEntry, ScpiSession, entries
from drivers.transports.base import LineTransport

OVER_RANGE = 9.9e37
"""SCPI's over-range value: a reply this large is no temperature."""
CELSIUS = "°C"


class FlukeHeatSourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stability_limit: float | None = Field(None, ge=0.01, le=9.99)
    """Band (°C) of the well's own stability test, sent with every set point; None keeps
    the well's."""


def parse_flag(text: str) -> bool:
    """A ``1``/``0`` reply (``SOUR:STAB:TEST?``, ``OUTP:STAT?``)."""
    match text.strip():
        case "1":
            return True
        case "0":
            return False
    raise ProtocolError(f"reply {text!r} is not 1 or 0")


class FlukeHeatSource(Driver[LineTransport, FlukeHeatSourceSettings]):
    """A metrology well or bath playing the temperature source (values in °C)."""

    family: ClassVar[str] = "fluke_heat_source"
    probe: ClassVar[LineProbe] = LineProbe(
        "*IDN?",
        re.compile(r"(HART|FLUKE),(914\d|917\d|9190A|6109A|7109A),"),
        CR_LINE,
    )
    roles: ClassVar[frozenset[str]] = frozenset({TEMPERATURE_SOURCE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = FlukeHeatSourceSettings

    _celsius = False
    """The well is known to show °C (asked once; ``UNIT:TEMP C`` sent if it did not)."""

    @cached_property  # made once: it is asked for on every reading
    def scpi(self) -> ScpiSession:
        return ScpiSession(self.id, self.transport)

    async def errors(self) -> list[ErrorEntry]:
        """Drain the error queue, oldest first."""
        return await self.scpi.errors()

    async def _in_celsius(self) -> None:
        if not self._celsius:
            if parse_unit(await self.scpi.query("UNIT:TEMP?")) != CELSIUS:
                await self.scpi.command("UNIT:TEMP C")
            self._celsius = True

    async def identify(self) -> Identity:
        return await self.scpi.identify()

    async def set_point(self, value: float) -> None:
        """Set the set point (and the stability limit, if configured), then heater output on.

        A set point outside the model's range is refused by the well (-222) before the
        output is switched on.
        """
        await self._in_celsius()
        if self.settings.stability_limit is not None:
            await self.scpi.command(f"SOUR:STAB:LIM {self.settings.stability_limit:.2f}")
        await self.scpi.command(f"SOUR:SPO {value:.2f}")
        await self.scpi.command("OUTP:STAT 1")

    async def _sensor(self) -> tuple[str, float]:
        """The control sensor's reply and value (``OVER_RANGE`` or more when over range)."""
        await self._in_celsius()
        line = await self.scpi.query("SOUR:SENS:DATA?")
        return line, parse_number(line)

    async def temperature(self) -> Reading:
        line, value = await self._sensor()
        if value >= OVER_RANGE:
            errors = await self.errors()
            cause = f": {entries(errors)}" if errors else ""
            raise OverloadError(f"{self.id}: control sensor over range, heater cut out{cause}")
        return Reading(self.id, "temperature", value, CELSIUS, self.clock.now(), raw=line)

    async def is_stable(self) -> bool:
        """The well's stability test against its stability limit."""
        return parse_flag(await self.scpi.query("SOUR:STAB:TEST?"))

    async def stability(self) -> float:
        """The well's current stability value, °C (what its test compares to the limit)."""
        return parse_number(await self.scpi.query("SOUR:STAB:DAT?"))

    async def safe_state(self) -> None:
        await self.scpi.command("OUTP:STAT 0")

    async def read(self) -> list[Reading]:
        """The control temperature (unstable until the well's test passes; overload, NaN,
        with the queued cause as raw text, when the sensor is over range) and the set point."""
        line, value = await self._sensor()
        now = self.clock.now()
        if value >= OVER_RANGE:
            errors = await self.errors()  # read here so no later setting is blamed for them
            raw = f"{line} ({entries(errors)})" if errors else line
            control = Reading(self.id, "temperature", math.nan, CELSIUS, now, Status.OVERLOAD, raw)
        else:
            status = Status.OK if await self.is_stable() else Status.UNSTABLE
            control = Reading(self.id, "temperature", value, CELSIUS, now, status, line)
        set_line = await self.scpi.query("SOUR:SPO?")
        set_point = Reading(
            self.id, "set_point", parse_number(set_line), CELSIUS, now, raw=set_line
        )
        return [control, set_point]
