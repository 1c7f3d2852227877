"""A simulated Druck PACE5000 pressure controller behind its SCPI (reference §3.1).

Query replies repeat the header in its short form (``:SENS:PRES:INL 1999.87, 1``), CR LF;
settings answer nothing; refusals go to the error queue (-113 unknown header, -104 not a
number, -222 set point outside the range). Long and short forms are accepted, with or
without the leading colon.

Physics (bar inside, shown in the selected unit): with control on, the pressure slews toward
the set point at ``slew_rate``; it is in limits once within ``in_limits`` % of full scale for
``in_limits_time`` seconds. The vent runs the pressure to ambient (state 1 venting, then 2
completed; 4 when aborted). ``error`` offsets the indicated from the generated pressure, so an
out-of-tolerance reference can be simulated.

Faults: ``never_settle`` makes the indication wander and never in limits; ``overload``
(inference: an over-pressure trip) switches control off, queues ``+500,"Over pressure"`` and
makes pressure queries answer SCPI's over-range value 9.9E37; ``error_reply`` answers nothing
but ``:SYST:ERR?`` and ``*CLS`` and queues -300.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from daq.core.clock import Clock
from simulators.base import SimulatorSettings
from simulators.faults import Fault
from simulators.pressure import PressureControl
from simulators.scpi import (
    DATA_OUT_OF_RANGE,
    NO_ERROR,
    Command,
    Error,
    Refused,
    ScpiSimulator,
    number,
    one_parameter,
    queue_error,
)

OVER_PRESSURE: Error = (500, "Over pressure")
OVER_RANGE_REPLY = "9.9E37"
TO_BAR = {
    "BAR": 1.0,
    "MBAR": 1e-3,
    "PA": 1e-5,
    "HPA": 1e-3,
    "KPA": 1e-2,
    "MPA": 10.0,
    "PSI": 0.0689475729,
}


class DruckPaceSettings(SimulatorSettings):
    serial: str = "3213201"
    firmware: str = "02.00.07"
    full_scale: float = Field(10.0, gt=0)
    """Upper limit of the control range, bar; the lower limit is 0."""
    ambient: float = 1.01325
    """Atmospheric pressure, bar (the vent's end point and the power-on pressure)."""
    slew_rate: float = Field(1.0, gt=0)
    """bar per second while controlling."""
    noise: float = Field(2e-5, ge=0)
    """Standard deviation of the indication, bar."""
    error: float = 0.0
    """Indicated minus generated pressure, bar."""
    in_limits: float = Field(0.01, gt=0, le=100)
    """In-limits band, % of full scale."""
    in_limits_time: float = Field(2.0, ge=0)


class DruckPaceSimulator(ScpiSimulator):
    family: ClassVar[str] = "druck_pace"
    Settings: ClassVar[type[SimulatorSettings]] = DruckPaceSettings
    terminators: ClassVar[bytes] = b"\r\n"
    actions: ClassVar[tuple[str, ...]] = ("set_ambient",)
    generates: ClassVar[str | None] = "pressure"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, DruckPaceSettings)
        self.config = settings
        self.control = PressureControl(
            clock,
            ambient=settings.ambient,
            slew_rate=settings.slew_rate,
            band=settings.in_limits / 100 * settings.full_scale,
        )
        self._sensor = self.process_value(0.0, noise=settings.noise, wander=0.05)
        self._vent_aborted = False
        self._unit = "BAR"
        self._band = settings.in_limits
        """In-limits band, % of full scale, as set."""
        self._band_time = settings.in_limits_time

    def set_ambient(self, bar: float) -> None:
        self.control.ambient = bar

    # physics

    def generated(self) -> float:
        self.control.update()
        return self.control.pressure

    def in_limits(self) -> bool:
        return (
            self.control.mode == "control"
            and not self._sensor.unsettled
            and self.control.in_band_for(self._band_time)
        )

    def indicated(self) -> float:
        return self.generated() + self.config.error + self._sensor.observe()

    def _shown(self, bar: float) -> str:
        return f"{bar / TO_BAR[self._unit]:.6g}"

    def _pressure(self) -> str:
        return OVER_RANGE_REPLY if self.has(Fault.OVERLOAD) else self._shown(self.indicated())

    # the protocol: one method per row of the command table

    def before(self) -> None:
        if self.has(Fault.OVERLOAD) and self.control.mode == "control":
            self.control.switch("hold")  # an over-pressure trip
            queue_error(self.errors, OVER_PRESSURE)

    def _identity(self) -> str:
        return f"*IDN GE Druck,Pace5000 User Interface,{self.config.serial},{self.config.firmware}"

    def _clear(self, parameters: list[str]) -> None:
        self.errors.clear()

    def _status_byte(self) -> str:
        return f"*STB {68 if self.errors else 0}"

    def _next_error(self) -> str:
        code, text = self.errors.pop(0) if self.errors else NO_ERROR
        return f':SYST:ERR {code},"{text}"'

    def _measured(self) -> str:
        return f":SENS:PRES {self._pressure()}"

    def _measured_in_limits(self) -> str:
        return f":SENS:PRES:INL {self._pressure()}, {int(self.in_limits())}"

    def _set_point(self) -> str:
        return f":SOUR:PRES {self._shown(self.control.set_point)}"

    def _set_set_point(self, parameters: list[str]) -> None:
        value = number(one_parameter(parameters)) * TO_BAR[self._unit]
        if not 0 <= value <= self.config.full_scale:
            raise Refused(DATA_OUT_OF_RANGE)
        self.control.set(value)

    def _output(self) -> str:
        return f":OUTP:STAT {int(self.control.mode == 'control')}"

    def _set_output(self, parameters: list[str]) -> None:
        state = one_parameter(parameters)
        if state not in ("ON", "OFF", "1", "0"):
            raise Refused(DATA_OUT_OF_RANGE)
        if state in ("ON", "1") and not self.has(Fault.OVERLOAD):
            self.control.switch("control")
            self._vent_aborted = False
        elif self.control.mode == "control":
            self.control.switch("hold")

    def _in_limits_band(self) -> str:
        return f":SOUR:PRES:INL {self._band:g}"

    def _set_in_limits_band(self, parameters: list[str]) -> None:
        self._band = number(one_parameter(parameters))
        self.control.band = self._band / 100 * self.config.full_scale

    def _in_limits_time(self) -> str:
        return f":SOUR:PRES:INL:TIME {self._band_time:g}"

    def _set_in_limits_time(self, parameters: list[str]) -> None:
        self._band_time = number(one_parameter(parameters))

    def _vent(self) -> str:
        """0 none, 1 venting, 2 completed, 4 aborted."""
        self.control.update()
        vent = self.control.mode == "vent"
        state = (2 if self.control.vented else 1) if vent else 4 if self._vent_aborted else 0
        return f":SOUR:PRES:LEV:IMM:AMPL:VENT {state}"

    def _set_vent(self, parameters: list[str]) -> None:
        start = one_parameter(parameters)
        if start == "1":
            self.control.switch("vent")
            self._vent_aborted = False
        elif self.control.mode == "vent" and not self.control.vented:
            self.control.switch("hold")
            self._vent_aborted = True

    def _pressure_unit(self) -> str:
        return f":UNIT:PRES {self._unit}"

    def _set_pressure_unit(self, parameters: list[str]) -> None:
        unit = one_parameter(parameters)
        if unit not in TO_BAR:
            raise Refused(DATA_OUT_OF_RANGE)
        self._unit = unit

    commands: ClassVar[tuple[Command, ...]] = (
        Command(("*IDN",), query=_identity),
        Command(("*CLS",), setting=_clear, always=True),
        Command(("*STB",), query=_status_byte),
        Command(("SYSTem:ERRor",), query=_next_error, always=True),
        Command(("SENSe:PRESsure",), query=_measured),
        Command(("SENSe:PRESsure:INLimits",), query=_measured_in_limits),
        Command(
            ("SOURce:PRESsure", "SOURce:PRESsure:LEVel:IMMediate:AMPLitude"),
            query=_set_point,
            setting=_set_set_point,
        ),
        Command(("OUTPut:STATe",), query=_output, setting=_set_output),
        Command(("SOURce:PRESsure:INLimits",), query=_in_limits_band, setting=_set_in_limits_band),
        Command(
            ("SOURce:PRESsure:INLimits:TIME",), query=_in_limits_time, setting=_set_in_limits_time
        ),
        Command(
            ("SOURce:PRESsure:LEVel:IMMediate:AMPLitude:VENT",), query=_vent, setting=_set_vent
        ),
        Command(("UNIT:PRESsure",), query=_pressure_unit, setting=_set_pressure_unit),
    )
