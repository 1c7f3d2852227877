"""A simulated MT-SICS balance: a load that settles on the pan, behind the MT-SICS commands.

Replies follow the reference exactly: ``<ID> <status> [data]`` with CR LF, weights
right-aligned in a 10-character field, ``ES`` for unknown commands, ``ET`` for garbled
bytes, ``I`` when the weight does not settle within the stability timeout.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from daq.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.model import ProcessValue

LEVEL_0_1 = ("@", "I0", "I1", "I2", "I3", "I4", "S", "SI", "Z", "ZI", "T", "TI", "TA", "TAC")


class MtSicsSettings(SimulatorSettings):
    """The simulated balance: identity, range and the physics of its weighing cell."""

    model: str = "XS205DU"
    serial: str = "B207696838"
    software: str = "2.10 10.28.0.493.142"
    """I3 reply: software version and type definition number."""
    capacity: float = Field(220.0, gt=0)
    """Maximum capacity, in ``unit``."""
    decimals: int = Field(5, ge=0, le=7)
    """Digits after the point; the scale interval d is 10**-decimals."""
    unit: str = "g"
    load: float = 0.0
    """Mass on the pan at start."""
    noise: float = Field(2e-5, ge=0)
    """Standard deviation of an indication."""
    drift_per_hour: float = 0.0
    time_constant: float = Field(0.5, ge=0)
    """Settling time constant after a load change, process seconds."""
    stability_band: float = Field(2, gt=0)
    """The weight counts as stable once settled within this many d."""
    stable_timeout: float = Field(10.0, gt=0)
    """``S``, ``Z`` and ``T`` answer with status I when not stable within this time."""
    zero_range: float = Field(2.0, ge=0)
    """Zeroing range, percent of capacity around the power-on zero."""
    commands: tuple[str, ...] = LEVEL_0_1
    """Implemented commands (the model's profile); others answer ES."""


class MtSicsSimulator(LineSimulator):
    """One MT-SICS balance. Operators and tests act on it with place(), remove(), remove_pan()."""

    family: ClassVar[str] = "mt_sics"
    Settings: ClassVar[type[SimulatorSettings]] = MtSicsSettings
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, MtSicsSettings)
        self.config = settings
        self.d = 10.0**-settings.decimals
        self._load = ProcessValue(
            clock,
            settings.load,
            time_constant=settings.time_constant,
            noise=settings.noise,
            drift_per_hour=settings.drift_per_hour,
            rng=self.rng,
        )
        self._zero = 0.0
        self._tare = 0.0
        self.pan_in_place = True

    # the operator's side

    def place(self, mass: float) -> None:
        """Put ``mass`` (in the balance unit) on the pan in addition to what is there."""
        self._load.set_target(self._load.target + mass)

    def remove(self) -> None:
        """Take everything off the pan."""
        self._load.set_target(0.0)

    def remove_pan(self) -> None:
        self.pan_in_place = False

    def restore_pan(self) -> None:
        self.pan_in_place = True

    # the weighing cell

    def _stable(self) -> bool:
        return self._load.settled_within(self.config.stability_band * self.d)

    def _gross(self) -> float:
        return self._load.observe() - self._zero

    def _range_status(self, gross: float) -> str | None:
        if not self.pan_in_place or gross < -self._zero_limit():
            return "-"
        if gross > self.config.capacity + 9 * self.d:
            return "+"
        return None

    def _zero_limit(self) -> float:
        return self.config.capacity * self.config.zero_range / 100

    async def _settle(self) -> bool:
        """Wait (process time) for stability, up to the stability timeout."""
        waited = 0.0
        while not self._stable():
            if waited >= self.config.stable_timeout:
                return False
            await self.clock.sleep(0.05)
            waited += 0.05
        return True

    def _weight(self, value: float) -> str:
        return f"{value:10.{self.config.decimals}f} {self.config.unit}"

    # the protocol

    async def handle(self, command: bytes) -> bytes:
        try:
            text = command.decode("ascii")
        except UnicodeDecodeError:
            return b"ET\r\n"
        if not text.isprintable():
            return b"ET\r\n"
        name, _, argument = text.partition(" ")
        if name not in self.config.commands:
            return b"ES\r\n"
        lines = await self._answer(name, argument.strip())
        return "".join(line + "\r\n" for line in lines).encode("ascii")

    async def _answer(self, name: str, argument: str) -> list[str]:
        no_argument = {"I0", "I1", "I2", "I3", "I4", "S", "SI", "Z", "ZI", "T", "TI", "TAC", "@"}
        if argument and name in no_argument:
            return ["ES"]
        match name:
            case "@":
                self._tare = 0.0
                return [f'I4 A "{self.config.serial}"']
            case "I0":
                listed = [f'I0 B 0 "{command}"' for command in self.config.commands]
                return [*listed[:-1], listed[-1].replace("I0 B", "I0 A", 1)]
            case "I1":
                return ['I1 A "01" "1.00" "1.00" "" ""']
            case "I2":
                capacity = f"{self.config.capacity:.{self.config.decimals}f}"
                return [f'I2 A "{self.config.model} {capacity} {self.config.unit}"']
            case "I3":
                return [f'I3 A "{self.config.software}"']
            case "I4":
                return [f'I4 A "{self.config.serial}"']
            case "S" | "SI":
                if name == "S" and not await self._settle():
                    return ["S I"]
                gross = self._gross()
                if status := self._range_status(gross):
                    return [f"S {status}"]
                flag = "S" if self._stable() else "D"
                return [f"S {flag} {self._weight(gross - self._tare)}"]
            case "Z" | "ZI":
                if name == "Z" and not await self._settle():
                    return ["Z I"]
                reading = self._load.observe()
                if not self.pan_in_place or reading < -self._zero_limit():
                    return [f"{name} -"]
                if reading > self._zero_limit():
                    return [f"{name} +"]
                self._zero, self._tare = reading, 0.0
                return ["Z A"] if name == "Z" else [f"ZI {'S' if self._stable() else 'D'}"]
            case "T" | "TI":
                if name == "T" and not await self._settle():
                    return ["T I"]
                gross = self._gross()
                if status := self._range_status(gross):
                    return [f"{name} {status}"]
                if gross <= 0:
                    return [f"{name} -"]
                self._tare = gross
                flag = "S" if name == "T" or self._stable() else "D"
                return [f"{name} {flag} {self._weight(gross)}"]
            case "TA":
                if argument:
                    value, _, unit = argument.partition(" ")
                    try:
                        preset = float(value)
                    except ValueError:
                        return ["ES"]
                    if unit != self.config.unit or not 0 <= preset <= self.config.capacity:
                        return ["TA L"]
                    self._tare = preset
                return [f"TA A {self._weight(self._tare)}"]
            case "TAC":
                self._tare = 0.0
                return ["TAC A"]
        return ["ES"]
