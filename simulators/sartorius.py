"""A simulated Sartorius SBI balance: a load settling on the pan behind the ESC commands.

Print lines follow the reference's layout exactly: the 16-character block ``<sign> <value
right-aligned in 8> <unit in 3>`` and CR LF, with the 6-character identification code in
front (22 characters) unless ``id_code`` is off. The unit is blank while the weight is not
stable. Above capacity + 9 d the value field shows ``High``, with the pan removed or below
the zero range ``Low``. Unknown commands are silently ignored (reference: some firmware).
Commands are framed by their ESC, not by a line end: ``ESC <capital letter>`` (format 1) or
``ESC <small letter><character>_`` (format 2), the trailing CR LF optional, and any byte
outside a command (a stray CR, noise on the line) is dropped without swallowing the next.
Inference: tare and zero (``ESC T``/``U``/``V``) and the identity strings answer nothing
and one CR LF-terminated text respectively.

Faults: ``never_settle`` keeps the unit blank; ``overload`` shows ``High``; ``error_reply``
prints ``Err 101`` instead of a value, or with ``id_code`` the 22-character status line
``Stat`` ... ``ERR 101`` of the Master and Entris II series (inference: a three-digit code as
the reference's ``Err ###`` and ``Stat ERR ###``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from daq.core.clock import Clock
from simulators.base import SimulatorSettings
from simulators.faults import Fault
from simulators.weighing import BalanceSettings, BalanceSimulator

ESC = b"\x1b"
ERROR_CODE = "101"


class SartoriusSettings(BalanceSettings):
    """The defaults are a 220 g / 1 mg lab balance."""

    model: str = "BCE224I-1S"
    serial: str = "0037402218"
    software: str = "00-20-08"
    decimals: int = Field(3, ge=0, le=5)
    id_code: bool = True
    """Print the 22-character line with its ``N`` identification code."""
    noise: float = Field(2e-4, ge=0)
    time_constant: float = Field(0.3, ge=0)


class SartoriusSimulator(BalanceSimulator):
    family: ClassVar[str] = "sartorius_sbi"
    Settings: ClassVar[type[SimulatorSettings]] = SartoriusSettings
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        assert isinstance(settings, SartoriusSettings)
        super().__init__(settings, clock, d=10.0**-settings.decimals)
        self.config = settings

    def split(self, received: bytes) -> tuple[list[bytes], bytes]:
        """ESC-framed commands; whatever lies outside one is dropped."""
        commands: list[bytes] = []
        while (start := received.find(ESC)) >= 0:
            command = received[start : start + 2]
            if len(command) < 2:
                return commands, received[start:]  # the letter is still to come
            if not command[1:].isalpha():  # a stray ESC: the command begins at the next one
                received = received[start + 1 :]
                continue
            if command[1:].islower():  # format 2: ESC <letter><character>_
                command = received[start : start + 4]
                if len(command) < 4:
                    return commands, received[start:]
                if not command.endswith(b"_"):
                    received = received[start + 1 :]  # not a command: look for the next ESC
                    continue
            commands.append(command)
            received = received[start + len(command) :]
        return commands, b""

    def _block(self, value_field: str, sign: str = " ", unit: str = "", code: str = "N") -> str:
        block = f"{sign} {value_field:>8} {unit:<3}"
        return (f"{code:<6}" if self.config.id_code else "") + block

    def _print(self) -> str:
        if self.has(Fault.ERROR_REPLY):
            if self.config.id_code:
                return self._block(f"ERR {ERROR_CODE}", code="Stat")
            return self._block(f"Err {ERROR_CODE}")
        gross = self._cell() - self._zero
        if self.has(Fault.OVERLOAD) or gross > self.config.capacity + 9 * self.d:
            return self._block("High")
        if not self.pan_in_place or gross < -9 * self.d - 0.02 * self.config.capacity:
            return self._block("Low")
        net = round(gross - self._tare, self.config.decimals) + 0.0
        text = f"{abs(net):.{self.config.decimals}f}"
        return self._block(text, "-" if net < 0 else "+", "g" if self.stable() else "")

    async def handle(self, command: bytes) -> bytes:
        if not command.startswith(ESC):
            return b""
        match command[1:].decode("ascii", "replace"):
            case "P":
                return (self._print() + "\r\n").encode("ascii")
            case "T" | "U":
                self._tare = self._cell() - self._zero
            case "V":
                self._zero, self._tare = self._cell(), 0.0
            case "x1_":
                return f"{self.config.model}\r\n".encode("ascii")
            case "x2_":
                return f"{self.config.serial}\r\n".encode("ascii")
            case "x3_":
                return f"{self.config.software}\r\n".encode("ascii")
        return b""
