"""Mensor CPC6050-family pressure controllers, Mensor command set (reference §3.2).

Replies start with a space, or with ``E`` when the controller's error queue is not empty;
then ``Error?`` pops the entries and the driver raises them. Settings get no reply, so each
is followed by ``Error?``. Inference: ``Error?`` answers ``<code>,<text>`` (``0,...`` when
empty), and an over-pressure entry (code 500) is an overload.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.core.errors import InstrumentReportedError, InstrumentTimeout, OverloadError, ProtocolError
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, LineProbe
from drivers.roles import PRESSURE_CONTROLLER
from drivers.transports.base import LineTransport

UNIT_CODES = {"psi": 1, "atm": 13, "bar": 14, "mbar": 15, "kPa": 22, "Pa": 23}
OVER_PRESSURE = 500
QUEUE_DEPTH = 10
_ERROR = re.compile(r"\s*([+-]?\d+)\s*,\s*(.*)")


def parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"reply {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ProtocolError(f"reply {text!r} is not a finite number")
    return value


def parse_flag(text: str) -> bool:
    match text.strip().upper():
        case "YES":
            return True
        case "NO":
            return False
    raise ProtocolError(f"reply {text!r} is not YES or NO")


class MensorCpcSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Literal["psi", "atm", "bar", "mbar", "kPa", "Pa"] = "bar"
    vent_timeout: float = Field(120.0, gt=0)
    """Seconds ``vent`` waits for the pressure to reach ambient and hold (stable)."""
    poll_interval: float = Field(0.2, gt=0)


class MensorCpc(Driver[LineTransport, MensorCpcSettings]):
    """A Mensor CPC playing the pressure controller (values in ``unit``)."""

    family: ClassVar[str] = "mensor_cpc"
    probe: ClassVar[LineProbe] = LineProbe("ID?", re.compile(r"[ E]MENSOR,"))
    roles: ClassVar[frozenset[str]] = frozenset({PRESSURE_CONTROLLER})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = MensorCpcSettings

    _unit_set = False

    @property
    def unit(self) -> str:
        return self.settings.unit

    async def errors(self) -> list[tuple[int, str]]:
        """Pop the error queue, oldest first."""
        found: list[tuple[int, str]] = []
        for _ in range(QUEUE_DEPTH + 1):
            reply = await self.transport.query("Error?", retries=0)
            match = _ERROR.fullmatch(reply[1:])
            if reply[:1] not in (" ", "E") or match is None:
                raise ProtocolError(f"{self.id}: error reply {reply!r} is not '<code>,<text>'")
            code = int(match[1])
            if code == 0:
                break
            found.append((code, match[2].strip()))
            if reply[0] == " ":
                break
        return found

    async def _raise_queued(self, command: str) -> None:
        errors = await self.errors()
        if not errors:
            return
        text = "; ".join(f"{code},{message}" for code, message in errors)
        if any(code == OVER_PRESSURE for code, _ in errors):
            raise OverloadError(f"{self.id}: over pressure ({text})")
        raise InstrumentReportedError(f"{self.id}: {command!r}: {text}", errors[0][0])

    async def _query(self, command: str) -> str:
        reply = await self.transport.query(command, retries=0)
        if reply[:1] == "E":
            await self._raise_queued(command)
        elif reply[:1] != " ":
            raise ProtocolError(f"{self.id}: reply {reply!r} starts with neither space nor E")
        return reply[1:].strip()

    async def _command(self, command: str) -> None:
        await self.transport.write(command)
        await self._raise_queued(command)

    async def _in_unit(self) -> None:
        if not self._unit_set:
            await self._command(f"Units {UNIT_CODES[self.unit]}")
            self._unit_set = True

    async def identify(self) -> Identity:
        """``ID?``: ``MENSOR, 600,610189,0.1.5``."""
        fields = [f.strip() for f in (await self._query("ID?")).split(",")]
        if len(fields) != 4:
            raise ProtocolError(f"{self.id}: identity {fields!r} is not four fields")
        return Identity(*fields)

    async def set_point(self, value: float) -> None:
        await self._in_unit()
        await self._command(f"Setpt {value:g}")
        await self._command("Mode CONTROL")

    async def pressure(self) -> Reading:
        await self._in_unit()
        text = await self._query("A?")
        stable = parse_flag(await self._query("AS?"))
        status = Status.OK if stable else Status.UNSTABLE
        value = parse_number(text)
        return Reading(self.id, "pressure", value, self.unit, self.clock.now(), status, text)

    async def is_stable(self) -> bool:
        return parse_flag(await self._query("Stable?"))

    async def vent(self) -> None:
        """VENT mode, then wait until the controller's mode reads VENT with a stable pressure
        (inference: the command set has no vent-complete query)."""
        await self._command("Mode VENT")
        deadline = self.clock.elapsed() + self.settings.vent_timeout
        previous: float | None = None
        while True:
            now = parse_number(await self._query("A?"))
            if previous is not None and abs(now - previous) < 1e-4 * max(1.0, abs(now)):
                return
            if self.clock.elapsed() >= deadline:
                raise InstrumentTimeout(
                    f"{self.id}: vent not completed within {self.settings.vent_timeout:g} s"
                )
            previous = now
            await self.clock.sleep(self.settings.poll_interval)

    async def safe_state(self) -> None:
        await self.vent()

    async def read(self) -> list[Reading]:
        try:
            return [await self.pressure()]
        except OverloadError as exc:
            over = Status.OVERLOAD
            return [
                Reading(self.id, "pressure", math.nan, self.unit, self.clock.now(), over, str(exc))
            ]
