"""Mettler Toledo balances and weigh modules speaking MT-SICS (levels 0 and 1).

Every command gets one reply line ``<ID> <status> [data]``. The status letter says what
happened (S stable, D dynamic, A done, I busy or unstable too long, L not allowed, + over,
- under); ``ES``/``ET``/``EL`` are command-independent errors. Commands are never pipelined,
and commands that change the balance's state are never repeated after a timeout: a second
``T`` could tare twice.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from daq.core.errors import (
    InstrumentReportedError,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, LineProbe
from drivers.roles import BALANCE
from drivers.transports.base import LineTransport

MANUFACTURER = "Mettler Toledo"

GENERAL_ERRORS = {
    "ES": "syntax error: the balance does not know or does not allow this command",
    "ET": "transmission error: the balance received a faulty command (parity error, break)",
    "EL": "logical error: the balance cannot execute this command",
}
WEIGH_MODULE_ERRORS = {
    "1": "boot error",
    "2": "brand error",
    "3": "checksum error",
    "9": "option fail",
    "10": "EEPROM error",
    "11": "device mismatch",
    "12": "hot plug out",
    "14": "weigh module / electronics mismatch",
    "15": "adjustment needed",
}
ERROR_SOURCES = {"t": "terminal", "e": "electronics"}

REPLY_ID = {"SI": "S", "@": "I4"}
"""Commands whose reply carries another ID than the command's name."""
SUCCESS = {"S": ("S",), "SI": ("S", "D"), "ZI": ("S", "D"), "T": ("S",), "TI": ("S", "D")}
"""Status letters a command answers with when it worked; ``A`` for the others."""
FAILURE = ("I", "L", "+", "-")

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_UNIT = re.compile(r"[A-Za-z]+")
_MODULE_ERROR = re.compile(r"Error (\d+)([te])")
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True, slots=True)
class SicsReply:
    """A checked reply: its status letter and whatever follows it, unsplit."""

    status: str
    data: str
    line: str


@dataclass(frozen=True, slots=True)
class Weight:
    """A weight as the balance reported it; ``stable`` is False for a dynamic (D) value."""

    value: float
    unit: str
    stable: bool


def parse_reply(line: str, command: str) -> SicsReply:
    """Check a reply line against the command sent; raise the error it reports."""
    if line in GENERAL_ERRORS:
        raise InstrumentReportedError(f"{command}: {GENERAL_ERRORS[line]}", line)
    name = command.split(" ", 1)[0]
    reply_id, _, rest = line.partition(" ")
    if reply_id != REPLY_ID.get(name, name) or not rest:
        raise ProtocolError(f"reply {line!r} does not answer {command!r}")
    status, _, data = rest.partition(" ")
    if status in FAILURE:
        if data:
            raise ProtocolError(f"reply {line!r} carries data after status {status!r}")
        _raise_failure(status, command)
    if status not in SUCCESS.get(name, ("A",)):
        raise ProtocolError(f"reply {line!r} has status {status!r}, not allowed for {name!r}")
    return SicsReply(status, data, line)


def _raise_failure(status: str, command: str) -> NoReturn:
    match status:
        case "I":
            raise InstrumentReportedError(
                f"{command}: balance busy, or the weight was not stable in time", "I"
            )
        case "L":
            raise InstrumentReportedError(
                f"{command}: not executable now (logical error, parameter not allowed)", "L"
            )
        case "+":
            raise OverloadError(f"{command}: overload (weighing, zero or tare range exceeded)")
        case "-":
            raise UnderloadError(f"{command}: underload (below range, or the pan is not in place)")
    raise AssertionError(status)


def parse_weight(reply: SicsReply) -> Weight:
    """Value and unit of ``S S     100.00 g``, or the weigh-module error it carries instead."""
    if module_error := _MODULE_ERROR.fullmatch(reply.data):
        number, source = module_error.groups()
        what = WEIGH_MODULE_ERRORS.get(number, "unlisted error")
        raise InstrumentReportedError(
            f"weigh module error {number}{source}: {what} (from the {ERROR_SOURCES[source]})",
            f"{number}{source}",
        )
    fields = reply.data.split()
    if len(fields) != 2 or not _NUMBER.fullmatch(fields[0]) or not _UNIT.fullmatch(fields[1]):
        raise ProtocolError(f"weight reply {reply.line!r} is not '<value> <unit>'")
    value = float(fields[0])
    if not math.isfinite(value):
        raise ProtocolError(f"weight {fields[0]!r} in {reply.line!r} is out of any range")
    return Weight(value, fields[1], reply.status == "S")


def parse_text(reply: SicsReply) -> str:
    """The quoted text of ``I4 A "B207696838"``-style replies."""
    quoted = _QUOTED.fullmatch(reply.data)
    if quoted is None:
        raise ProtocolError(f"reply {reply.line!r} has no quoted text")
    return quoted[1]


def parse_device(text: str) -> tuple[str, float, str]:
    """``I2`` text ``<type> <capacity> <unit>``; the type may contain spaces."""
    parts = text.rsplit(" ", 2)
    if len(parts) != 3 or not parts[0] or not _NUMBER.fullmatch(parts[1]):
        raise ProtocolError(f"device data {text!r} is not '<type> <capacity> <unit>'")
    if not _UNIT.fullmatch(parts[2]):
        raise ProtocolError(f"device data {text!r} has no unit")
    return parts[0], float(parts[1]), parts[2]


WAITING = frozenset({"S", "Z", "T"})
"""Commands the balance answers only once the weight is stable (or its own timeout ends)."""


class MtSicsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stable_timeout: float = Field(30.0, gt=0, le=600)
    """How long S, Z and T may wait for the reply while the balance settles, seconds; set it
    above the balance's own stability timeout so that it can answer ``I`` itself."""


class MtSicsBalance(Driver[LineTransport, MtSicsSettings]):
    """A balance or weigh module speaking MT-SICS."""

    family: ClassVar[str] = "mt_sics"
    probe: ClassVar[LineProbe] = LineProbe("I4", re.compile(r'I4 A ".*"'))
    roles: ClassVar[frozenset[str]] = frozenset({BALANCE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = MtSicsSettings

    _unit = "g"
    """Unit of the last weight seen, for readings that carry none (overload, underload)."""

    async def _command(self, command: str, *, changes_state: bool = False) -> SicsReply:
        line = await self.transport.query(
            command,
            retries=0 if changes_state else None,
            timeout=self.settings.stable_timeout if command in WAITING else None,
        )
        return parse_reply(line, command)

    def _reading(self, reply: SicsReply) -> Reading:
        weight = parse_weight(reply)
        self._unit = weight.unit
        status = Status.OK if weight.stable else Status.UNSTABLE
        return Reading(
            self.id, "mass", weight.value, weight.unit, self.clock.now(), status, reply.line
        )

    async def identify(self) -> Identity:
        """Type from I2 (capacity and unit stripped), serial from I4, software from I3."""
        model, _, _ = parse_device(parse_text(await self._command("I2")))
        serial = parse_text(await self._command("I4"))
        software = parse_text(await self._command("I3")).split(" ", 1)[0]
        return Identity(MANUFACTURER, model, serial, software)

    async def weigh(self, *, stable: bool = True) -> Reading:
        """The net weight: ``S`` waits for stability, ``SI`` answers at once (maybe dynamic)."""
        return self._reading(await self._command("S" if stable else "SI"))

    async def zero(self) -> None:
        """Zero when stable; ``+``/``-`` mean the zero range is exceeded."""
        await self._command("Z", changes_state=True)

    async def zero_immediately(self) -> bool:
        """Zero at once; True when the weight was stable as it was zeroed."""
        reply = await self._command("ZI", changes_state=True)
        return reply.status == "S"

    async def tare(self) -> Reading:
        """Tare when stable; the reading is the tare weight now stored."""
        return self._reading(await self._command("T", changes_state=True))

    async def tare_immediately(self) -> Reading:
        """Tare at once; the reading's status says whether the tare weight was stable."""
        return self._reading(await self._command("TI", changes_state=True))

    async def clear_tare(self) -> None:
        await self._command("TAC", changes_state=True)

    async def reset(self) -> str:
        """Back to the power-on state without zeroing (tare cleared); returns the serial."""
        return parse_text(await self._command("@", changes_state=True))

    async def read(self) -> list[Reading]:
        """One immediate weighing; overload and underload become reading statuses."""
        line = await self.transport.query("SI")
        try:
            return [self._reading(parse_reply(line, "SI"))]
        except OverloadError:
            status = Status.OVERLOAD
        except UnderloadError:
            status = Status.UNDERLOAD
        return [Reading(self.id, "mass", math.nan, self._unit, self.clock.now(), status, line)]
