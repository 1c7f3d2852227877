"""A simulated Fluke/Hart field metrology well or portable bath behind its SCPI subset
(reference §2.4.1, error queue §4.1).

Commands: ``*IDN?``, ``*RST``, ``*CLS``, ``SYST:ERR?``, ``SOUR:SPO <t>``/``?``,
``SOUR:SENS:DATA? [TEMP|RES]``, ``SOUR:STAB:TEST?``, ``SOUR:STAB:LIM <t>``/``?``,
``SOUR:STAB:DAT?``, ``OUTP:STAT 1|0``/``?`` (off at power-up and after ``*RST``),
``UNIT:TEMP C|F``/``?``. Headers are case-insensitive, short or long form. A command ends at CR
or LF; replies end CR, CR LF when ``linefeed`` is set (the well's LF option).

Faults, in the well's own protocol:
- ``never_settle``: the block keeps wandering; ``SOUR:STAB:TEST?`` answers 0.
- ``overload``: the control sensor goes over range. ``SOUR:SENS:DATA?`` answers ``9.9E37``
  (SCPI's over-range value), the heater output switches off and the queue gets
  ``500,"Control sensor over range, heater cut out"``; ``OUTP:STAT 1`` is refused with
  -221 while it lasts (inference: the reference names no cut-out error; positive codes are
  the instrument's own, §4.1).
- ``error_reply``: every command but ``SYST:ERR?`` and ``*CLS`` is refused: no reply, and
  ``-200,"Execution error"`` queued.

Choices where the reference is silent (inference):
- as on the 1529 (same Hart SCPI lineage), a refused command or query gets no reply at all,
  only its queue entry: -113 unknown header, -222 a set point outside the model's range or a
  stability limit outside 0.01-9.99 °C, -224 a word the command does not know, -104/-108/-109
  for a bad, extra or missing parameter.
- replies: temperatures with 3 decimals, set point and stability limit with 2, the control
  PRT's resistance (``RES``, IEC 60751, R0 = 100 Ω) with 4. Stability limit and value are
  kept in °C whatever ``UNIT:TEMP`` says.
- the stability test passes while the output is on, the block is not wandering and its
  distance from the set point plus twice the noise (the value ``SOUR:STAB:DAT?`` gives) is
  within the limit; with the output off it answers 0.
- ``*RST`` switches the output off and the unit to C (reference) and keeps the set point and
  stability limit.

The physics (``ThermalBlock``) is shared with the Hart classic simulator: first-order lag to
the set point with the heater on (optionally a damped second-order response with the given
overshoot), drift to ambient with it off, noise, and ``error``: the displayed control
temperature minus the true block temperature, so a procedure can meet a source whose display
is out of tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from daq.core.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.scpi import (
    DATA_OUT_OF_RANGE,
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
from simulators.thermal import (
    HeatSourceSettings,
    ThermalBlock,
    celsius,
    fahrenheit,
    power_on_set_point,
)

EXECUTION_ERROR: Error = (-200, "Execution error")
SETTINGS_CONFLICT: Error = (-221, "Settings conflict")
SENSOR_OVER_RANGE: Error = (500, "Control sensor over range, heater cut out")
OVER_RANGE_REPLY = "9.9E37"
"""What a query answers for a value the control sensor cannot give (SCPI over-range)."""

Model = Literal["9142", "9143", "9144", "9170", "9171", "9172", "9173", "9190A", "6109A", "7109A"]
MODELS: dict[str, tuple[str, float, float]] = {
    "9142": ("HART", -25.0, 150.0),
    "9143": ("HART", 33.0, 350.0),
    "9144": ("HART", 50.0, 660.0),
    "9170": ("FLUKE", -45.0, 140.0),
    "9171": ("FLUKE", -30.0, 155.0),
    "9172": ("FLUKE", 35.0, 425.0),
    "9173": ("FLUKE", 50.0, 700.0),
    "9190A": ("FLUKE", -95.0, 140.0),
    "6109A": ("FLUKE", 35.0, 250.0),
    "7109A": ("FLUKE", -25.0, 140.0),
}
"""Manufacturer in ``*IDN?`` and set-point range, °C (reference §2.4.1 datasheet hints; the
914X report HART, the others FLUKE: inference)."""

STABILITY_LIMITS = (0.01, 9.99)
"""``SOUR:STAB:LIM`` range on the 914X, °C (reference)."""
BOOLEANS = {"1": True, "ON": True, "0": False, "OFF": False}


def prt_resistance(celsius: float, r0: float = 100.0) -> float:
    """Resistance of an IEC 60751 platinum resistance thermometer at ``celsius``."""
    a, b, c = 3.9083e-3, -5.775e-7, -4.183e-12
    cold = c * (celsius - 100) * celsius**3 if celsius < 0 else 0.0
    return r0 * (1 + a * celsius + b * celsius**2 + cold)


class FlukeHeatSourceSimSettings(HeatSourceSettings):
    """The simulated well: model (range and identity), power-on state and its LF option."""

    model: Model = "9142"
    manufacturer: str | None = Field(None, pattern=r"^[A-Za-z0-9 -]+$")
    """``*IDN?`` manufacturer; None: the model's (HART or FLUKE)."""
    serial: str = Field("B12345", pattern=r"^[A-Za-z0-9-]+$")
    firmware: str = Field("1.00", pattern=r"^[A-Za-z0-9.-]+$")
    minimum: float | None = None
    """Lowest set point, °C; None: the model's."""
    maximum: float | None = None
    """Highest set point, °C; None: the model's."""
    set_point: float | None = None
    """Set point at power-on; None: ambient, within the range."""
    stability_limit: float = Field(0.05, ge=STABILITY_LIMITS[0], le=STABILITY_LIMITS[1])
    """``SOUR:STAB:LIM`` at power-on, °C."""
    linefeed: bool = False
    """Replies end CR LF instead of CR."""

    def limits(self) -> tuple[float, float]:
        _, low, high = MODELS[self.model]
        return (
            low if self.minimum is None else self.minimum,
            high if self.maximum is None else self.maximum,
        )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        low, high = self.limits()
        if low >= high:
            raise ValueError(f"minimum {low} must lie below maximum {high}")
        if self.set_point is not None and not low <= self.set_point <= high:
            raise ValueError(f"set_point {self.set_point} is outside {low} to {high}")
        return self


class FlukeHeatSourceSimulator(LineSimulator):
    """One metrology well or portable bath.

    Actions for tests and the simulated operator: ``set_ambient(celsius)`` changes the room
    temperature; ``block_temperature()`` tells the true block temperature.
    """

    family: ClassVar[str] = "fluke_heat_source"
    Settings: ClassVar[type[SimulatorSettings]] = FlukeHeatSourceSimSettings
    actions: ClassVar[tuple[str, ...]] = ("set_ambient", "block_temperature")
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, FlukeHeatSourceSimSettings)
        self.config = settings
        self.minimum, self.maximum = settings.limits()
        start = settings.set_point
        if start is None:
            start = power_on_set_point(settings.ambient, self.minimum, self.maximum)
        self.block = ThermalBlock(self, settings, start)
        self._set_point = start
        self._output = False
        self._unit = "C"
        self._limit = settings.stability_limit
        self._errors: list[Error] = []
        self._cut_out = False
        """The overload fault has switched the heater off (and queued its error)."""
        self._commands: list[tuple[str, Callable[[list[str]], str | None]]] = [
            ("*IDN?", self._identity),
            ("*RST", self._reset),
            ("*CLS", self._clear),
            ("SYSTem:ERRor?", self._next_error),
            ("SYSTem:ERRor:NEXT?", self._next_error),
            ("SOURce:SPOint?", self._set_point_query),
            ("SOURce:SPOint", self._set_set_point),
            ("SOURce:SENSe:DATA?", self._sensor),
            ("SOURce:STABility:TEST?", self._stability_test),
            ("SOURce:STABility:LIMit?", self._limit_query),
            ("SOURce:STABility:LIMit", self._set_limit),
            ("SOURce:STABility:DATa?", self._stability),
            ("OUTPut:STATe?", self._output_query),
            ("OUTPut:STATe", self._set_output),
            ("UNIT:TEMPerature?", self._unit_query),
            ("UNIT:TEMPerature", self._set_unit),
        ]

    # -- acting on the device ---------------------------------------------------------------

    def set_ambient(self, celsius: float) -> None:
        """Change the room temperature the block drifts to with the heater off."""
        self.block.set_ambient(celsius)

    generates: ClassVar[str | None] = "temperature"

    def generated(self) -> float:
        return self.block_temperature()

    def block_temperature(self) -> float:
        return self.block.block_temperature()

    @property
    def output(self) -> bool:
        return self._output

    # -- the command interpreter ------------------------------------------------------------

    async def handle(self, command: bytes) -> bytes:
        self._follow_faults()
        try:
            reply = self._execute(command)
        except Refused as refused:
            queue_error(self._errors, refused.error)
            return b""
        finally:
            self.block.control(self._set_point, self._output)
        if reply is None:
            return b""
        return reply.encode("ascii") + (b"\r\n" if self.config.linefeed else b"\r")

    def _follow_faults(self) -> None:
        """The overload fault cuts the heater out once, as the sensor goes over range."""
        if self.has(Fault.OVERLOAD) and not self._cut_out:
            self._cut_out, self._output = True, False
            queue_error(self._errors, SENSOR_OVER_RANGE)
        elif not self.has(Fault.OVERLOAD):
            self._cut_out = False

    def _execute(self, command: bytes) -> str | None:
        split = split_command(command)
        if split is None:
            return None
        header, parameters = split
        for spec, run in self._commands:
            if header_matches(spec, header):
                if self.has(Fault.ERROR_REPLY) and run not in (self._next_error, self._clear):
                    raise Refused(EXECUTION_ERROR)
                return run(parameters)
        raise Refused(UNDEFINED_HEADER)

    def _shown(self, celsius: float) -> float:
        """A temperature in the display unit, never ``-0``."""
        return (fahrenheit(celsius) if self._unit == "F" else celsius) + 0.0

    def _entered(self, text: str) -> float:
        """A temperature parameter in the display unit, as °C."""
        value = number(text)
        return celsius(value) if self._unit == "F" else value

    def _identity(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        maker = self.config.manufacturer or MODELS[self.config.model][0]
        return f"{maker},{self.config.model},{self.config.serial},{self.config.firmware}"

    def _reset(self, parameters: list[str]) -> None:
        no_parameters(parameters)
        self._output, self._unit = False, "C"

    def _clear(self, parameters: list[str]) -> None:
        no_parameters(parameters)
        self._errors.clear()

    def _next_error(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        code, text = self._errors.pop(0) if self._errors else NO_ERROR
        return f'{code},"{text}"'

    def _set_point_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return f"{self._shown(self._set_point):.2f}"

    def _set_set_point(self, parameters: list[str]) -> None:
        value = self._entered(one_parameter(parameters))
        if not self.minimum <= round(value, 6) <= self.maximum:
            raise Refused(DATA_OUT_OF_RANGE)
        self._set_point = value

    def _sensor(self, parameters: list[str]) -> str:
        if len(parameters) > 1:
            raise Refused(PARAMETER_NOT_ALLOWED)
        what = parameters[0].upper() if parameters else "TEMP"
        resistance = header_matches("RESistance", what)
        if not resistance and not header_matches("TEMPerature", what):
            raise Refused(ILLEGAL_VALUE)
        if self._cut_out:
            return OVER_RANGE_REPLY
        if resistance:
            return f"{prt_resistance(self.block.observe()):.4f}"
        return f"{self._shown(self.block.observe()):.3f}"

    def _stability_test(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return "1" if not self._cut_out and self.block.stable(self._limit) else "0"

    def _limit_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return f"{self._limit:.2f}"

    def _set_limit(self, parameters: list[str]) -> None:
        value = number(one_parameter(parameters))
        if not STABILITY_LIMITS[0] <= value <= STABILITY_LIMITS[1]:
            raise Refused(DATA_OUT_OF_RANGE)
        self._limit = value

    def _stability(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return OVER_RANGE_REPLY if self._cut_out else f"{self.block.deviation():.3f}"

    def _output_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return "1" if self._output else "0"

    def _set_output(self, parameters: list[str]) -> None:
        value = BOOLEANS.get(one_parameter(parameters))
        if value is None:
            raise Refused(ILLEGAL_VALUE)
        if value and self._cut_out:
            raise Refused(SETTINGS_CONFLICT)
        self._output = value

    def _unit_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return self._unit

    def _set_unit(self, parameters: list[str]) -> None:
        unit = one_parameter(parameters)
        if unit not in ("C", "F"):
            raise Refused(ILLEGAL_VALUE)
        self._unit = unit
