"""Mettler Toledo balances and weigh modules speaking MT-SICS (levels 0 and 1).

Every command gets one reply line ``<ID> <status> [data]``. The status letter says what
happened (S stable, D dynamic, A done, I busy or unstable too long, L not allowed, + over,
- under); ``ES``/``ET``/``EL`` are command-independent errors. Commands are never pipelined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from daq.reading import Reading, Status
from drivers.base import Driver, Identity
from drivers.errors import (
    InstrumentError,
    InstrumentReportedError,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from drivers.roles import BALANCE
from drivers.transports.base import LineTransport

GENERAL_ERRORS = {
    "ES": "syntax error: the balance does not know or allow this command",
    "ET": "transmission error: the balance received a faulty command (parity, break)",
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
REPLY_ID = {"SI": "S", "@": "I4"}
"""Commands whose reply carries another ID than the command's name."""


@dataclass(frozen=True, slots=True)
class SicsReply:
    status: str
    fields: list[str]
    line: str


def parse_reply(line: str, command: str) -> SicsReply:
    """Check a reply line against the command sent; raise the error it reports."""
    if line in GENERAL_ERRORS:
        raise InstrumentReportedError(f"{GENERAL_ERRORS[line]} ({command!r})", line)
    parts = line.split()
    expected = REPLY_ID.get(command, command)
    if len(parts) < 2 or parts[0] != expected:
        raise ProtocolError(f"reply {line!r} does not answer {command!r}")
    status, fields = parts[1], parts[2:]
    match status:
        case "A" | "B" | "S" | "D":
            return SicsReply(status, fields, line)
        case "I":
            raise InstrumentReportedError(
                f"{command}: balance busy or not stable within its timeout", "I"
            )
        case "L":
            raise InstrumentReportedError(f"{command}: not allowed now (logical error)", "L")
        case "+":
            raise OverloadError(f"{command}: overload (above the weighing or zero/tare range)")
        case "-":
            raise UnderloadError(f"{command}: underload (below range, or the pan is not in place)")
    raise ProtocolError(f"reply {line!r} has unknown status {status!r}")


def parse_weight(reply: SicsReply) -> tuple[float, str]:
    """Value and unit of a weight reply ``S S     100.00 g`` (or a weigh-module error)."""
    if len(reply.fields) == 2 and reply.fields[0] == "Error":
        code = reply.fields[1]
        what = WEIGH_MODULE_ERRORS.get(code[:-1], "unknown error")
        source = {"t": "terminal", "e": "electronics"}.get(code[-1:], "unknown source")
        raise InstrumentReportedError(f"weigh module error {code}: {what} ({source})", code)
    if len(reply.fields) != 2:
        raise ProtocolError(f"weight reply {reply.line!r} is not '<value> <unit>'")
    text, unit = reply.fields
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"weight {text!r} in {reply.line!r} is not a number") from None
    if not math.isfinite(value) or not unit.isalpha():
        raise ProtocolError(f"weight reply {reply.line!r} has no finite value and unit")
    return value, unit


def parse_text(reply: SicsReply) -> str:
    """The quoted text of ``I2 A "..."``-style replies."""
    rest = reply.line.split(None, 2)[2] if len(reply.fields) else ""
    if len(rest) < 2 or rest[0] != '"' or rest[-1] != '"':
        raise ProtocolError(f"reply {reply.line!r} has no quoted text")
    return rest[1:-1]


class MtSicsBalance(Driver[LineTransport]):
    """A balance or weigh module speaking MT-SICS."""

    family: ClassVar[str] = "mt_sics"
    roles: ClassVar[frozenset[str]] = frozenset({BALANCE})
    link: ClassVar[Literal["line", "modbus"]] = "line"

    def _checked(self, line: str, command: str) -> SicsReply:
        try:
            return parse_reply(line, command)
        except InstrumentReportedError as exc:
            raise InstrumentReportedError(f"{self.id}: {exc}", exc.code) from None
        except InstrumentError as exc:
            raise type(exc)(f"{self.id}: {exc}") from None

    async def _command(self, command: str, *, retry: bool = True) -> SicsReply:
        line = await self.transport.query(command, retries=None if retry else 0)
        return self._checked(line, command)

    def _reading(self, reply: SicsReply) -> Reading:
        value, unit = parse_weight(reply)
        status = Status.OK if reply.status == "S" else Status.UNSTABLE
        return Reading(self.id, "mass", value, unit, self.clock.now(), status, reply.line)

    async def identify(self) -> Identity:
        """Type and capacity from I2, serial number from I4, software version from I3."""
        device = parse_text(await self._command("I2"))
        serial = parse_text(await self._command("I4"))
        version = parse_text(await self._command("I3")).split()
        parts = device.split()
        model = " ".join(parts[:-2]) if len(parts) > 2 else device  # type then capacity, unit
        return Identity("Mettler Toledo", model, serial, version[0] if version else "")

    async def weigh(self, *, stable: bool = True) -> Reading:
        """The net weight: ``S`` waits for stability, ``SI`` answers at once."""
        return self._reading(await self._command("S" if stable else "SI"))

    async def zero(self) -> None:
        """Zero when stable."""
        await self._command("Z", retry=False)

    async def zero_immediately(self) -> Reading:
        """Zero at once; the status says whether the balance was stable."""
        reply = await self._command("ZI", retry=False)
        status = Status.OK if reply.status == "S" else Status.UNSTABLE
        return Reading(self.id, "zero", 0.0, "", self.clock.now(), status, reply.line)

    async def tare(self) -> Reading:
        """Tare when stable; returns the tare weight."""
        return self._reading(await self._command("T", retry=False))

    async def tare_immediately(self) -> Reading:
        return self._reading(await self._command("TI", retry=False))

    async def clear_tare(self) -> None:
        await self._command("TAC", retry=False)

    async def reset(self) -> str:
        """Back to the power-on state without zeroing; returns the serial number."""
        return parse_text(await self._command("@", retry=False))

    async def read(self) -> list[Reading]:
        """One immediate weighing; overload and underload become reading statuses."""
        line = await self.transport.query("SI")
        try:
            return [self._reading(self._checked(line, "SI"))]
        except (OverloadError, UnderloadError) as exc:
            status = Status.OVERLOAD if isinstance(exc, OverloadError) else Status.UNDERLOAD
            return [Reading(self.id, "mass", math.nan, "", self.clock.now(), status, line)]
