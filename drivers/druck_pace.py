"""Druck PACE5000/6000 pressure controllers over their SCPI, reference §3.1.

Every query reply repeats its header (``:SENS:PRES:INL 1999.87, 1``); settings get no reply,
so each is followed by the error queue. The driver works in its configured unit, set on the
controller with ``:UNIT:PRES`` before the first exchange that carries a pressure.
Inference: a sensor over range answers SCPI's over-range value 9.9E37 (as the Fluke wells);
it becomes an OverloadError carrying the queued cause.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.core.errors import InstrumentTimeout, OverloadError, ProtocolError
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, LineProbe
from drivers.roles import PRESSURE_CONTROLLER
from drivers.scpi import ScpiSession, entries
from drivers.transports.base import LineTransport

OVER_RANGE = 9.9e37
Unit = Literal["bar", "mbar", "Pa", "hPa", "kPa", "MPa", "psi"]
UNITS: dict[str, str] = {u: u.upper() for u in ("bar", "mbar", "Pa", "hPa", "kPa", "MPa", "psi")}
"""Driver unit -> ``:UNIT:PRES`` keyword."""
VENTED = 2


def parse_pressure(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"pressure {text!r} is not a number") from None
    if math.isnan(value):
        raise ProtocolError(f"pressure {text!r} is not a number")
    return value


def parse_in_limits(text: str) -> tuple[float, bool]:
    """``:SENS:PRES:INL`` value: ``<pressure>, <0|1>``."""
    fields = [f.strip() for f in text.split(",")]
    if len(fields) != 2 or fields[1] not in ("0", "1"):
        raise ProtocolError(f"in-limits reply {text!r} is not '<pressure>, <0|1>'")
    return parse_pressure(fields[0]), fields[1] == "1"


class DruckPaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Unit = "bar"
    in_limits: float | None = Field(None, gt=0, le=100)
    """In-limits band, % of full scale, sent with each set point; None keeps the controller's."""
    vent_timeout: float = Field(120.0, gt=0)
    """Seconds ``vent`` waits for the controller to report the vent completed."""
    poll_interval: float = Field(0.2, gt=0)


class DruckPace(Driver[LineTransport, DruckPaceSettings]):
    """A PACE controller playing the pressure controller (values in ``unit``)."""

    family: ClassVar[str] = "druck_pace"
    probe: ClassVar[LineProbe] = LineProbe("*IDN?", re.compile(r"\*IDN GE Druck,Pace"))
    roles: ClassVar[frozenset[str]] = frozenset({PRESSURE_CONTROLLER})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = DruckPaceSettings

    _unit_set = False

    @property
    def unit(self) -> str:
        return self.settings.unit

    @cached_property  # made once: it is asked for on every reading
    def scpi(self) -> ScpiSession:
        return ScpiSession(self.id, self.transport, echo=True)

    async def _in_unit(self) -> None:
        if not self._unit_set:
            await self.scpi.command(f":UNIT:PRES {UNITS[self.unit]}")
            self._unit_set = True

    async def _checked(self, value: float) -> float:
        if value >= OVER_RANGE:
            errors = await self.scpi.errors()
            cause = f": {entries(errors)}" if errors else ""
            raise OverloadError(f"{self.id}: pressure over the sensor range{cause}")
        return value

    async def identify(self) -> Identity:
        """``*IDN GE Druck,Pace5000 User Interface,3213201,02.00.07``."""
        return await self.scpi.identify()

    async def set_point(self, value: float) -> None:
        await self._in_unit()
        if self.settings.in_limits is not None:
            await self.scpi.command(f":SOUR:PRES:INL {self.settings.in_limits:g}")
        await self.scpi.command(f":SOUR:PRES {value:g}")
        await self.scpi.command(":OUTP:STAT ON")

    async def _in_limits(self) -> tuple[float, bool, str]:
        await self._in_unit()
        text = await self.scpi.query(":SENS:PRES:INL?")
        pressure, inside = parse_in_limits(text)
        return await self._checked(pressure), inside, text

    async def pressure(self) -> Reading:
        pressure, inside, text = await self._in_limits()
        status = Status.OK if inside else Status.UNSTABLE
        return Reading(self.id, "pressure", pressure, self.unit, self.clock.now(), status, text)

    async def is_stable(self) -> bool:
        return (await self._in_limits())[1]

    async def vent(self) -> None:
        """Start the vent and wait until the controller reports it completed."""
        await self.scpi.command(":OUTP:STAT OFF")
        await self.scpi.command(":SOUR:PRES:LEV:IMM:AMPL:VENT 1")
        deadline = self.clock.elapsed() + self.settings.vent_timeout
        while True:
            state = (await self.scpi.query(":SOUR:PRES:LEV:IMM:AMPL:VENT?")).strip()
            if state not in ("0", "1", "2", "3", "4"):
                raise ProtocolError(f"{self.id}: vent state {state!r} is not 0 to 4")
            if int(state) == VENTED:
                return
            if self.clock.elapsed() >= deadline:
                raise InstrumentTimeout(
                    f"{self.id}: vent not completed within {self.settings.vent_timeout:g} s"
                    f" (state {state})"
                )
            await self.clock.sleep(self.settings.poll_interval)

    async def safe_state(self) -> None:
        await self.vent()

    async def read(self) -> list[Reading]:
        """The measured pressure; status UNSTABLE out of limits, OVERLOAD over range (NaN)."""
        try:
            return [await self.pressure()]
        except OverloadError as exc:
            raw = str(exc)
        return [
            Reading(
                self.id, "pressure", math.nan, self.unit, self.clock.now(), Status.OVERLOAD, raw
            )
        ]
