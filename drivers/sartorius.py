"""Sartorius balances speaking SBI (Sartorius Balance Interface), reference §1.2.

Commands are ``ESC <letter>`` (``ESC x1_`` style for identity). A print (``ESC P``) answers
one line: the 16-character block ``<sign> <value:8> <unit:3>`` or, with an identification
code in front, the 22-character line ``<ID:6><block>``. A blank unit means the value is not
stable. ``High`` and ``Low`` stand for overload and underload, ``Err ###`` (or the status
line ``Stat ERR ###`` of the Master and Entris II series) for an error.
Unknown commands are ignored on some firmware, so a command that changes the balance's state
is never repeated and never waits for an answer.

Factory line settings of the classic lab balances are 1200 baud, 7 data bits, odd parity,
1 stop bit; they must be set in the lab file's connection.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

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

ESC = "\x1b"
PRINT = f"{ESC}P"
TARE = f"{ESC}U"
ZERO = f"{ESC}V"
MODEL, SERIAL, SOFTWARE = f"{ESC}x1_", f"{ESC}x2_", f"{ESC}x3_"

BLOCK = 14
"""Characters of the output block without its CR LF."""
ID_CODE = 6
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_ERROR = re.compile(r"\bErr\s*(\d+)", re.IGNORECASE)
"""``Err ###`` (16 characters) or the status line ``Stat ... ERR ###`` (22 characters)."""


@dataclass(frozen=True, slots=True)
class SbiLine:
    """One print line: value (NaN for High/Low), unit ("" when unstable), what it stands for."""

    code: str
    value: float
    unit: str
    state: Literal["value", "high", "low"]


def parse_line(line: str) -> SbiLine:
    """A 16- or 22-character output line (terminator stripped)."""
    if error := _ERROR.search(line):
        raise InstrumentReportedError(f"balance reports error {error[1]}", error[1])
    if len(line) == BLOCK + ID_CODE:
        code, block = line[:ID_CODE].strip(), line[ID_CODE:]
    elif len(line) == BLOCK:
        code, block = "", line
    else:
        raise ProtocolError(f"print line {line!r} is neither 16 nor 22 characters")
    text = block[2:10].strip()
    if text in ("High", "Low"):
        state: Literal["high", "low"] = "high" if text == "High" else "low"
        return SbiLine(code, math.nan, "", state)
    sign = block[0]
    if sign not in "+- " or block[1] != " " or block[10] != " " or not _NUMBER.fullmatch(text):
        raise ProtocolError(f"print line {line!r} is not '<sign> <value> <unit>'")
    value = float(text) * (-1 if sign == "-" else 1)
    return SbiLine(code, value, block[11:14].strip(), "value")


class SartoriusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: str = Field("g", min_length=1)
    """Unit of the display, for readings whose line carries none (unstable, High, Low)."""
    stable_timeout: float = Field(30.0, gt=0, le=600)
    """How long ``weigh`` prints again waiting for a stable value, seconds."""
    print_interval: float = Field(0.2, gt=0)
    """Seconds between prints while waiting for stability."""


class SartoriusBalance(Driver[LineTransport, SartoriusSettings]):
    """A Sartorius balance in SBI command mode."""

    family: ClassVar[str] = "sartorius_sbi"
    probe: ClassVar[LineProbe] = LineProbe(
        "\x1bx1_",
        re.compile(r"[A-Z0-9][\w-]{3,}"),
        {"baudrate": 1200, "bytesize": 7, "parity": "O"},
        order=1,  # any model name matches: tried after the precise patterns
    )
    roles: ClassVar[frozenset[str]] = frozenset({BALANCE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = SartoriusSettings

    async def _text(self, command: str) -> str:
        return (await self.transport.query(command)).strip()

    async def identify(self) -> Identity:
        return Identity(
            "Sartorius",
            await self._text(MODEL),
            await self._text(SERIAL),
            await self._text(SOFTWARE),
        )

    async def _print(self) -> tuple[SbiLine, str]:
        raw = await self.transport.query(PRINT)
        return parse_line(raw), raw

    def _reading(self, line: SbiLine, raw: str) -> Reading:
        now = self.clock.now()
        if line.state != "value":
            status = Status.OVERLOAD if line.state == "high" else Status.UNDERLOAD
            return Reading(self.id, "mass", math.nan, self.settings.unit, now, status, raw)
        status = Status.OK if line.unit else Status.UNSTABLE
        unit = line.unit or self.settings.unit
        return Reading(self.id, "mass", line.value, unit, now, status, raw)

    async def weigh(self, *, stable: bool = True) -> Reading:
        """The weight; with ``stable``, printed again until the unit shows (stability)."""
        deadline = self.clock.elapsed() + self.settings.stable_timeout
        while True:
            line, raw = await self._print()
            if line.state == "high":
                raise OverloadError(f"{self.id}: overload (High)")
            if line.state == "low":
                raise UnderloadError(f"{self.id}: underload (Low)")
            if line.unit or not stable:
                return self._reading(line, raw)
            if self.clock.elapsed() >= deadline:
                raise InstrumentReportedError(
                    f"{self.id}: weight not stable within {self.settings.stable_timeout:g} s",
                    "unstable",
                )
            await self.clock.sleep(self.settings.print_interval)

    async def zero(self) -> None:
        await self.transport.write(ZERO)

    async def tare(self) -> Reading:
        """Tare, then the (net, stable) weight the balance shows afterwards."""
        await self.transport.write(TARE)
        return await self.weigh()

    async def read(self) -> list[Reading]:
        return [self._reading(*await self._print())]
