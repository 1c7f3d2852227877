"""A simulated Keysight 34465A behind its SCPI: DC voltage only.

Commands are matched long or short (``CONFigure:VOLTage:DC``, ``CONF:VOLT:DC``), with or
without the leading colon, optional nodes (``[SENSe:]``, ``[:DC]``) present or not. Queries
answer one line ending in LF; settings answer nothing; a refused line answers nothing and
queues its SCPI error (-113 unknown header, -104 not a number, -222 no such range, -108/-109
parameters), which ``SYST:ERR?`` reads back oldest first, ``+0,"No error"`` when empty.

The model: the terminals carry ``input`` volts (the operator's action ``apply`` sets them, as
when the calibrator's output is set and connected); a reading is
``input·(1 + gain_error) + offset`` plus Gaussian noise, rounded to the digit step of the
range (``digit`` × range), and ±9.9E37 beyond 120 % of the range. Faults: ``overload``
makes every reading over range; ``error_reply`` refuses all but ``SYST:ERR?`` and ``*CLS``
with -300; ``never_settle`` makes the input wander.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field

from daq.core.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.scpi import (
    DATA_OUT_OF_RANGE,
    DEVICE_ERROR,
    ILLEGAL_VALUE,
    NO_ERROR,
    PARAMETER_NOT_ALLOWED,
    UNDEFINED_HEADER,
    Error,
    Refused,
    header_matches,
    no_parameters,
    number,
    one_parameter,
    queue_error,
    split_command,
)

from .driver import OVER_RANGE, RANGES

OVER_RANGE_FACTOR = 1.2
"""Readings go to 120 % of each range before the meter reports over range."""
DEFAULT_RANGE = 10.0
"""The range ``*RST`` and ``VOLT:DC:RANG DEF`` select, V."""


class Keysight344xxSimSettings(SimulatorSettings):
    """The lab file's ``simulator:`` of a simulated meter."""

    manufacturer: str = "Keysight Technologies"
    model: str = "34465A"
    serial: str = "MY12345678"
    firmware: str = "A.03.01-02.40-03.01-00.52-03-01"
    input: float = 0.0
    """V on the terminals at power-on."""
    gain_error: float = Field(0.0, ge=-0.01, le=0.01)
    """Relative error of the indication (2e-5: 20 ppm of reading), to simulate a meter out
    of tolerance."""
    offset: float = Field(0.0, ge=-0.01, le=0.01)
    """V added to every indication."""
    noise: float = Field(2e-6, ge=0)
    """V, standard deviation of one reading."""
    digit: float = Field(1e-6, gt=0, le=1e-3)
    """Digit step as a fraction of the range: 1e-6 is 6½ digits (10 µV on the 10 V range)."""


def _variants(spec: str) -> list[str]:
    """A header with optional nodes in brackets, ``[SENSe:]VOLTage[:DC]:RANGe``, as every
    spec ``header_matches`` takes: with and without each optional node."""
    found = [""]
    rest = spec
    while rest:
        if rest.startswith("["):
            optional, rest = rest[1:].split("]", 1)
            found = [f + o for f in found for o in ("", optional)]
        else:
            plain, bracket, tail = rest.partition("[")
            found = [f + plain for f in found]
            rest = bracket + tail
    return [f.strip(":") for f in found]


class Keysight344xxSimulator(LineSimulator):
    """One meter. ``apply(volts)`` puts ``volts`` on its terminals (the operator setting the
    calibrator connected to it)."""

    family: ClassVar[str] = "keysight_344xx"
    Settings: ClassVar[type[SimulatorSettings]] = Keysight344xxSimSettings
    actions: ClassVar[tuple[str, ...]] = ("apply",)
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, Keysight344xxSimSettings)
        self.config = settings
        self._terminals = self.process_value(
            settings.input, time_constant=0.0, noise=settings.noise, wander=1e-3
        )
        self._errors: list[Error] = []
        self._range = DEFAULT_RANGE
        self._autorange = True
        handlers: list[tuple[str, Callable[[list[str]], str | None]]] = [
            ("*IDN?", self._identity),
            ("*RST", self._reset),
            ("*CLS", self._clear),
            ("SYSTem:ERRor[:NEXT]?", self._next_error),
            ("CONFigure:VOLTage[:DC]", self._configure),
            ("READ?", self._read),
            ("MEASure:VOLTage[:DC]?", self._measure),
            ("[SENSe:]VOLTage[:DC]:RANGe", self._set_range),
            ("[SENSe:]VOLTage[:DC]:RANGe?", self._range_query),
            ("[SENSe:]VOLTage[:DC]:RANGe:AUTO", self._set_autorange),
            ("[SENSe:]VOLTage[:DC]:RANGe:AUTO?", self._autorange_query),
        ]
        self._commands = [(v, run) for spec, run in handlers for v in _variants(spec)]

    # -- what the operator does ---------------------------------------------------------------

    def apply(self, volts: float) -> None:
        """Put ``volts`` on the terminals (the calibrator set to it and connected)."""
        if not math.isfinite(volts):
            raise ValueError(f"cannot apply {volts!r} V")
        self._terminals.set_target(float(volts))

    # -- the physics --------------------------------------------------------------------------

    def _range_for(self, volts: float) -> float:
        """The lowest range whose 120 % holds ``volts`` (the top range otherwise)."""
        return next((r for r in RANGES if abs(volts) <= r * OVER_RANGE_FACTOR), RANGES[-1])

    def indication(self) -> str:
        """One reading as the meter sends it: ``+1.00000360E+01``."""
        volts = self._terminals.observe()
        shown = volts * (1 + self.config.gain_error) + self.config.offset
        if self._autorange:
            self._range = self._range_for(shown)
        span = self._range
        if self.has(Fault.OVERLOAD) or abs(shown) > span * OVER_RANGE_FACTOR:
            return f"{math.copysign(OVER_RANGE, shown):+.8E}"
        step = self.config.digit * span
        return f"{round(shown / step) * step:+.8E}"

    # -- the command interpreter --------------------------------------------------------------

    async def handle(self, command: bytes) -> bytes:
        try:
            reply = self._execute(command)
        except Refused as refused:
            queue_error(self._errors, refused.error)
            return b""
        return b"" if reply is None else reply.encode("ascii") + b"\n"

    def _execute(self, command: bytes) -> str | None:
        split = split_command(command)
        if split is None:
            return None
        header, parameters = split
        for spec, run in self._commands:
            if header_matches(spec, header):
                if self.has(Fault.ERROR_REPLY) and run not in (self._next_error, self._clear):
                    raise Refused(DEVICE_ERROR)
                return run(parameters)
        raise Refused(UNDEFINED_HEADER)

    def _identity(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        c = self.config
        return f"{c.manufacturer},{c.model},{c.serial},{c.firmware}"

    def _reset(self, parameters: list[str]) -> None:
        no_parameters(parameters)
        self._range, self._autorange = DEFAULT_RANGE, True

    def _clear(self, parameters: list[str]) -> None:
        no_parameters(parameters)
        self._errors.clear()

    def _next_error(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        code, text = self._errors.pop(0) if self._errors else NO_ERROR
        return f'{code:+d},"{text}"'

    def _range_value(self, text: str) -> float:
        """A range parameter in volts (MIN, MAX, DEF or a number): the lowest range that
        holds it; -222 above the top range."""
        keyword = text.upper()
        if keyword in ("MIN", "MINIMUM"):
            return RANGES[0]
        if keyword in ("MAX", "MAXIMUM"):
            return RANGES[-1]
        if keyword in ("DEF", "DEFAULT"):
            return DEFAULT_RANGE
        volts = abs(number(text))
        found = next((r for r in RANGES if volts <= r), None)
        if found is None:
            raise Refused(DATA_OUT_OF_RANGE)
        return found

    def _configure(self, parameters: list[str]) -> None:
        """``CONF:VOLT:DC [range|AUTO|MIN|MAX|DEF[,resolution]]``; DEF and none autorange."""
        if len(parameters) > 2:
            raise Refused(PARAMETER_NOT_ALLOWED)
        if len(parameters) == 2 and parameters[1].upper() not in ("MIN", "MAX", "DEF"):
            number(parameters[1])  # the resolution: checked, the model has one per range
        wanted = parameters[0].upper() if parameters else "AUTO"
        if wanted in ("AUTO", "DEF", "DEFAULT"):
            self._autorange = True
        else:
            self._range, self._autorange = self._range_value(wanted), False

    def _read(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return self.indication()

    def _measure(self, parameters: list[str]) -> str:
        self._configure(parameters)
        return self.indication()

    def _set_range(self, parameters: list[str]) -> None:
        self._range, self._autorange = self._range_value(one_parameter(parameters)), False

    def _range_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return f"{self._range:+.8E}"

    def _set_autorange(self, parameters: list[str]) -> None:
        """ON, OFF, or ONCE: the range that holds the input now, then fixed."""
        state = one_parameter(parameters)
        if state not in ("ON", "OFF", "1", "0", "ONCE"):
            raise Refused(ILLEGAL_VALUE)
        if state == "ONCE":
            self._range = self._range_for(self._terminals.true_value())
        self._autorange = state in ("ON", "1")

    def _autorange_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return "1" if self._autorange else "0"
