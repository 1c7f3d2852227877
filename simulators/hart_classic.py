"""A simulated Hart "classic" temperature controller (older dry-wells, Micro-Baths, baths)
behind its ``cmd`` / ``cmd=value`` protocol (reference §2.4.2).

A command is a mnemonic, optionally ``=value``; no value reads. Mnemonics are
case-insensitive and may be written at any length between their short and full form
(``s``, ``set``, ``setpoint``). A read answers one line ``<label>: <value>``, ending CR LF
(CR only after ``lf=of``); a setting answers nothing. Full duplex (``du=f``) echoes a read's
command line, CR LF, before the answer; half duplex (the default) does not.

| command | answer |
| --- | --- |
| ``s`` / ``s=n`` | ``set: 150.00 C`` |
| ``t`` | ``t: 55.69 C`` |
| ``u`` / ``u=c|f`` | ``u: C`` |
| ``sr`` / ``sr=n`` | ``srat: 0.010 C/min`` (kept; scan mode is not simulated) |
| ``po`` | ``po: 1.0`` heater duty cycle, % |
| ``cu`` / ``cu=n`` / ``cu=r`` | ``cu: 660 C, in`` (``out`` once tripped); ``r`` resets |
| ``du=f|h``, ``lf=on|of`` | duplex, linefeed |
| ``*ver`` | ``ver.9141,1.21`` |

The block is ``simulators.fluke_heat_source.ThermalBlock``: first-order lag (or damped
overshoot) to the set point while heating, drift to ambient once cut out, noise, and
``error``, the displayed temperature minus the true block temperature. The controller has no
heater switch: it always heats to ``s`` unless the cut-out is open. ``po`` is a rough duty
cycle: 0.1 % per °C the set point lies above ambient, plus 20 % per °C the block lies below it.

Faults, in the controller's own terms:
- ``never_settle``: the block keeps wandering, so no window of readings is ever stable.
- ``overload``: the cut-out reads ``out``: the heater is off and the block drifts to ambient.
- ``error_reply``: the controller refuses every setting, as it does a value it cannot take:
  silently, the setting unchanged (a read-back shows it).

Choices where the reference is silent (inference):
- an unknown mnemonic, a value that is not a number or word the command takes, a set point
  outside the model's range and a read-only command given a value are ignored: no reply
  (the user's guides list no error reply).
- the cut-out trips when the control temperature rises above it and stays tripped until
  ``cu=r`` (as on the 7381 bath's ``c=r``) or ``reset_cutout`` once the block is below it.
- the default model answers ``*ver`` as the 9141 (reference example) with its 50-650 °C
  range (9141 datasheet), and has a ``cu`` cut-out at 660 °C, which the real 9141 replaces by
  a high limit; the simulator offers the union of the family's commands.
- the periodic sample output (``sa``) is off and not simulated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Self

from pydantic import Field, model_validator

from daq.core.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.thermal import (
    HeatSourceSettings,
    ThermalBlock,
    celsius,
    fahrenheit,
    power_on_set_point,
)

Handler = Callable[[str | None], str | None]
"""Runs one command: its value (None to read) -> the answer line, or None for silence."""


class HartClassicSimSettings(HeatSourceSettings):
    """The simulated controller: identity, range, cut-out and its serial options."""

    model: str = Field("9141", pattern=r"^[A-Za-z0-9-]+$")
    firmware: str = Field("1.21", pattern=r"^[A-Za-z0-9.-]+$")
    minimum: float = 50.0
    """Lowest set point, °C."""
    maximum: float = 650.0
    """Highest set point, °C."""
    set_point: float | None = None
    """Set point at power-on; None: ambient, within the range."""
    cutout: float = 660.0
    """Cut-out temperature at power-on, °C."""
    scan_rate: float = Field(0.01, gt=0)
    """``sr`` at power-on, °C/min."""
    linefeed: bool = True
    """Replies end CR LF (``lf=on``), else CR."""
    full_duplex: bool = False
    """Echo each read's command line before the answer (``du=f``)."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.minimum >= self.maximum:
            raise ValueError(f"minimum {self.minimum} must lie below maximum {self.maximum}")
        if self.set_point is not None and not self.minimum <= self.set_point <= self.maximum:
            raise ValueError(f"set_point {self.set_point} is outside the range")
        return self


def _matches(short: str, full: str, word: str) -> bool:
    """``word`` is the mnemonic written at any length from its short to its full form."""
    return word.startswith(short) and full.startswith(word)


def _word(value: str, *choices: tuple[str, str]) -> str | None:
    """Which (short, full) word ``value`` abbreviates, by its full form; None for none."""
    word = value.strip().lower()
    return next((full for short, full in choices if _matches(short, full, word)), None)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


class HartClassicSimulator(LineSimulator):
    """One classic controller and the block or bath it heats.

    Actions for tests and the simulated operator: ``set_ambient(celsius)``,
    ``block_temperature()``, ``trip_cutout()`` (the cut-out opens, as on over-temperature)
    and ``reset_cutout()`` (the front-panel reset).
    """

    family: ClassVar[str] = "hart_classic"
    Settings: ClassVar[type[SimulatorSettings]] = HartClassicSimSettings
    actions: ClassVar[tuple[str, ...]] = (
        "set_ambient",
        "block_temperature",
        "trip_cutout",
        "reset_cutout",
    )
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, HartClassicSimSettings)
        self.config = settings
        start = settings.set_point
        if start is None:
            start = power_on_set_point(settings.ambient, settings.minimum, settings.maximum)
        self.block = ThermalBlock(self, settings, start)
        self._set_point = start
        self._cutout = settings.cutout
        self._tripped = False
        self._unit = "C"
        self._scan_rate = settings.scan_rate
        self._linefeed = settings.linefeed
        self._full_duplex = settings.full_duplex
        self._commands: list[tuple[str, str, Handler]] = [
            ("s", "setpoint", self._set_point_command),
            ("t", "temperature", self._temperature),
            ("u", "units", self._units),
            ("sr", "srate", self._scan_rate_command),
            ("po", "power", self._power),
            ("cu", "cutout", self._cutout_command),
            ("du", "duplex", self._duplex),
            ("lf", "lfeed", self._linefeed_command),
            ("*ver", "*version", self._version),
        ]
        self._follow()

    # -- acting on the device ---------------------------------------------------------------

    def set_ambient(self, celsius: float) -> None:
        """Change the room temperature the block drifts to with the heater off."""
        self.block.set_ambient(celsius)

    generates: ClassVar[str | None] = "temperature"

    def generated(self) -> float:
        return self.block_temperature()

    def block_temperature(self) -> float:
        return self.block.block_temperature()

    def trip_cutout(self) -> None:
        """Open the cut-out: the heater goes off until it is reset."""
        self._tripped = True
        self._follow()

    def reset_cutout(self) -> bool:
        """Close the cut-out if the block is below it; True when it is closed."""
        if self.block.displayed() < self._cutout:
            self._tripped = False
        self._follow()
        return not self._tripped

    def cut_out(self) -> bool:
        """Whether the heater is cut out (tripped, or the overload fault)."""
        return self._tripped or self.has(Fault.OVERLOAD)

    def _follow(self) -> None:
        """Trip on over-temperature; heat unless cut out."""
        if self.block.displayed() > self._cutout:
            self._tripped = True
        self.block.control(self._set_point, heating=not self.cut_out())

    # -- the command interpreter ------------------------------------------------------------

    async def handle(self, command: bytes) -> bytes:
        self._follow()
        try:
            text = command.decode("ascii").strip()
        except UnicodeDecodeError:
            return b""
        mnemonic, equals, value = text.partition("=")
        word = mnemonic.strip().lower()
        run = next(
            (run for short, full, run in self._commands if _matches(short, full, word)), None
        )
        if run is None or (equals and self.has(Fault.ERROR_REPLY)):
            return b""
        answer = run(value if equals else None)
        self._follow()
        if answer is None:
            return b""
        ending = b"\r\n" if self._linefeed else b"\r"
        echo = text.encode("ascii") + b"\r\n" if self._full_duplex else b""
        return echo + answer.encode("ascii") + ending

    def _temperature_text(self, celsius_value: float, decimals: int) -> str:
        shown = fahrenheit(celsius_value) if self._unit == "F" else celsius_value
        return f"{round(shown, decimals) + 0.0:.{decimals}f} {self._unit}"

    def _entered(self, value: str) -> float | None:
        """A temperature in the display unit, as °C; None if not a number."""
        number = _number(value)
        if number is None:
            return None
        return celsius(number) if self._unit == "F" else number

    def _set_point_command(self, value: str | None) -> str | None:
        if value is None:
            return f"set: {self._temperature_text(self._set_point, 2)}"
        entered = self._entered(value)
        if entered is not None and self.config.minimum <= round(entered, 6) <= self.config.maximum:
            self._set_point = entered
        return None

    def _temperature(self, value: str | None) -> str | None:
        if value is not None:
            return None
        return f"t: {self._temperature_text(self.block.observe(), 2)}"

    def _units(self, value: str | None) -> str | None:
        if value is None:
            return f"u: {self._unit}"
        unit = value.strip().upper()
        if unit in ("C", "F"):
            self._unit = unit
        return None

    def _scan_rate_command(self, value: str | None) -> str | None:
        per_degree = 9 / 5 if self._unit == "F" else 1.0
        if value is None:
            return f"srat: {self._scan_rate * per_degree:.3f} {self._unit}/min"
        rate = _number(value)
        if rate is not None and rate > 0:
            self._scan_rate = rate / per_degree
        return None

    def _power(self, value: str | None) -> str | None:
        return None if value is not None else f"po: {self.block.power():.1f}"

    def _cutout_command(self, value: str | None) -> str | None:
        if value is None:
            state = "out" if self.cut_out() else "in"
            return f"cu: {self._temperature_text(self._cutout, 0)}, {state}"
        if _word(value, ("r", "reset")):
            self.reset_cutout()
        elif (entered := self._entered(value)) is not None:
            self._cutout = entered
        return None

    def _duplex(self, value: str | None) -> str | None:
        mode = _word(value or "", ("f", "full"), ("h", "half"))
        if mode is not None:
            self._full_duplex = mode == "full"
        return None

    def _linefeed_command(self, value: str | None) -> str | None:
        mode = _word(value or "", ("on", "on"), ("of", "off"))
        if mode is not None:
            self._linefeed = mode == "on"
        return None

    def _version(self, value: str | None) -> str | None:
        return None if value is not None else f"ver.{self.config.model},{self.config.firmware}"
