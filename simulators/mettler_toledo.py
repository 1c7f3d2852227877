"""A simulated MT-SICS balance: a load settling on the pan, behind the MT-SICS commands.

Replies follow the reference exactly: ``<ID> <status> [data]`` with CR LF, weights
right-aligned in a 10-character field then a space and the unit, ``ES`` for commands the
model does not implement, ``ET`` for garbled bytes, ``S I`` when the weight does not settle
within the stability timeout, ``+``/``-`` outside the weighing, zero or tare range.

Faults: ``error_reply`` answers ``EL`` (logical error) to every command, ``overload`` makes
weighing, zero and tare answer ``+``.

Masses given to the simulator (settings, ``place``) are in grams; the balance shows them in
its display unit with its number of decimals.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from daq.core.clock import Clock
from simulators.base import SimulatorSettings
from simulators.faults import Fault
from simulators.weighing import BalanceSettings, BalanceSimulator

PER_GRAM = {"g": 1.0, "mg": 1000.0, "kg": 0.001}
"""Display units the simulator offers, as multiples of a gram."""

LEVEL_0_1 = {
    "@": 0,
    "I0": 0,
    "I1": 0,
    "I2": 0,
    "I3": 0,
    "I4": 0,
    "S": 0,
    "SI": 0,
    "Z": 0,
    "ZI": 0,
    "T": 1,
    "TA": 1,
    "TAC": 1,
    "TI": 1,
}
"""Commands of a classic balance and their MT-SICS level (reference §1.1, classic lists)."""

SETTLE_STEP = 0.05
"""How often (process seconds) a waiting S, Z or T looks at the weighing cell again."""

NO_PARAMETERS = frozenset({"@", "I0", "I1", "I2", "I3", "I4", "S", "SI", "Z", "ZI", "T", "TI"})


class MtSicsSettings(BalanceSettings):
    """The simulated balance: identity, range, display and the physics of its weighing cell.

    The defaults are an analytical balance: 220 g capacity, 0.1 mg readability.
    """

    model: str = "XS204"
    serial: str = "B207696838"
    software: str = "2.10 10.28.0.493.142"
    """I3 text: software version, then the type definition number."""
    sics_versions: tuple[str, str, str, str] = ("2.00", "2.20", "1.00", "1.50")
    """I1: version of each MT-SICS level 0 to 3."""
    commands: dict[str, int] = Field(default_factory=lambda: dict(LEVEL_0_1))
    """The model's profile: implemented command -> level. Others answer ES; I0 lists these."""
    unit: Literal["g", "mg", "kg"] = "g"
    """Display unit of weights and of the capacity in I2."""
    decimals: int = Field(4, ge=0, le=7)
    """Digits after the point in the display unit: readability d = 10**-decimals."""
    stable_timeout: float = Field(5.0, gt=0)
    """S, Z and T answer with status I when not stable within this, process seconds."""
    zero_range: float = Field(2.0, ge=0, le=100)
    """Zeroing range, percent of capacity either side of the power-on zero."""


class MtSicsSimulator(BalanceSimulator):
    """One MT-SICS balance.

    Tests and the simulated operator act on it with ``place``, ``remove``, ``remove_pan``,
    ``restore_pan`` and ``fail``; ``gross``, ``net`` and ``stable`` show what it holds.
    """

    family: ClassVar[str] = "mt_sics"
    Settings: ClassVar[type[SimulatorSettings]] = MtSicsSettings
    actions: ClassVar[tuple[str, ...]] = (*BalanceSimulator.actions, "fail")
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        assert isinstance(settings, MtSicsSettings)
        self.per_gram = PER_GRAM[settings.unit]
        super().__init__(settings, clock, d=10.0**-settings.decimals / self.per_gram)
        self.config = settings
        self._module_error: str | None = None

    # the operator's side

    def fail(self, code: str | None) -> None:
        """Make S/SI replies carry a weigh-module error (e.g. ``"10e"``); None heals it."""
        self._module_error = code

    def gross(self) -> float:
        """True gross weight in grams (noise-free): load above the current zero."""
        return self._load.true_value() - self._zero

    def net(self) -> float:
        """True net weight in grams: gross less the tare."""
        return self.gross() - self._tare

    # the weighing cell

    def _zero_limit(self) -> float:
        return self.config.capacity * self.config.zero_range / 100

    def _range_status(self, gross: float) -> str | None:
        """``+`` above capacity + 9 d (or with the overload fault); ``-`` with the pan off or
        below the zero range - 9 d."""
        if self.has(Fault.OVERLOAD):
            return "+"
        if not self.pan_in_place or gross < -self._zero_limit() - 9 * self.d:
            return "-"
        if gross > self.config.capacity + 9 * self.d:
            return "+"
        return None

    async def _settle(self) -> bool:
        """Wait (process time) for stability, up to the stability timeout."""
        deadline = self.clock.elapsed() + self.config.stable_timeout
        while not self.stable():
            if self.clock.elapsed() >= deadline:
                return False
            await self.clock.sleep(SETTLE_STEP)
        return True

    def _shown(self, grams: float) -> str:
        """A weight as displayed: rounded to d, right-aligned in 10 characters, then the unit."""
        decimals = self.config.decimals
        value = round(grams * self.per_gram, decimals) + 0.0  # no "-0.0000"
        return f"{value:10.{decimals}f} {self.config.unit}"

    # the protocol

    async def handle(self, command: bytes) -> bytes:
        try:
            text = command.decode("ascii")
        except UnicodeDecodeError:
            return b"ET\r\n"
        if not text.isprintable():
            return b"ET\r\n"
        name, _, parameters = text.partition(" ")
        parameters = parameters.strip()
        if name not in self.config.commands or (parameters and name in NO_PARAMETERS):
            return b"ES\r\n"
        if self.has(Fault.ERROR_REPLY):
            return b"EL\r\n"
        lines = await self._answer(name, parameters)
        return "".join(line + "\r\n" for line in lines).encode("ascii")

    async def _answer(self, name: str, parameters: str) -> list[str]:
        config = self.config
        match name:
            case "@":
                self._tare = 0.0
                return [f'I4 A "{config.serial}"']
            case "I0":
                listed = [f'I0 B {level} "{command}"' for command, level in config.commands.items()]
                return [*listed[:-1], "I0 A" + listed[-1][4:]]
            case "I1":
                levels = "".join(sorted({str(level) for level in config.commands.values()}))
                versions = " ".join(f'"{version}"' for version in config.sics_versions)
                return [f'I1 A "{levels}" {versions}']
            case "I2":
                capacity = self._shown(config.capacity).strip()
                return [f'I2 A "{config.model} {capacity}"']
            case "I3":
                return [f'I3 A "{config.software}"']
            case "I4":
                return [f'I4 A "{config.serial}"']
            case "S" | "SI":
                return [await self._weigh(wait=name == "S")]
            case "Z" | "ZI":
                return [await self._set_zero(name)]
            case "T" | "TI":
                return [await self._set_tare(name)]
            case "TA":
                return [self._preset_tare(parameters)]
            case "TAC":
                self._tare = 0.0
                return ["TAC A"]
        return ["ES"]  # in the profile but not simulated

    async def _weigh(self, *, wait: bool) -> str:
        """S waits for stability unless out of range; SI answers at once."""
        in_range = self._range_status(self.gross()) is None
        if wait and in_range and not await self._settle():
            return "S I"
        gross = self._cell() - self._zero
        if out := self._range_status(gross):
            return f"S {out}"
        status = "S" if self.stable() else "D"
        if self._module_error is not None:
            return f"S {status} Error {self._module_error}"
        return f"S {status} {self._shown(gross - self._tare)}"

    async def _set_zero(self, name: str) -> str:
        if name == "Z" and not await self._settle():
            return "Z I"
        load = self._cell()  # above the power-on zero
        if not self.pan_in_place or load < -self._zero_limit():
            return f"{name} -"
        if load > self._zero_limit():
            return f"{name} +"
        self._zero, self._tare = load, 0.0
        return "Z A" if name == "Z" else f"ZI {'S' if self.stable() else 'D'}"

    async def _set_tare(self, name: str) -> str:
        if name == "T" and not await self._settle():
            return "T I"
        gross = self._cell() - self._zero
        if out := self._range_status(gross):
            return f"{name} {out}"
        if round(gross / self.d) < 0:
            return f"{name} -"
        self._tare = max(0.0, gross)
        return f"{name} {'S' if self.stable() else 'D'} {self._shown(self._tare)}"

    def _preset_tare(self, parameters: str) -> str:
        """``TA`` reads the tare; ``TA <value> <unit>`` presets it (display unit only)."""
        if parameters:
            value, _, unit = parameters.partition(" ")
            try:
                preset = float(value) / self.per_gram
            except ValueError:
                return "ES"
            if unit.strip() != self.config.unit or not 0 <= preset <= self.config.capacity:
                return "TA L"
            self._tare = preset
        return f"TA A {self._shown(self._tare)}"
