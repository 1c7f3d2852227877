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
from simulators.base import LineSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.scpi import (
    DATA_OUT_OF_RANGE,
    DEVICE_ERROR,
    NO_ERROR,
    UNDEFINED_HEADER,
    Error,
    Refused,
    header_matches,
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
VENT_RATE = 2.0
"""bar per second while venting."""


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


class DruckPaceSimulator(LineSimulator):
    family: ClassVar[str] = "druck_pace"
    Settings: ClassVar[type[SimulatorSettings]] = DruckPaceSettings
    terminators: ClassVar[bytes] = b"\r\n"
    actions: ClassVar[tuple[str, ...]] = ("set_ambient",)

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, DruckPaceSettings)
        self.config = settings
        self.generated_pressure = settings.ambient
        """The pressure the controller makes, bar."""
        self._sensor = self.process_value(0.0, noise=settings.noise, wander=0.05)
        self._set_point = settings.ambient
        self._control = False
        self._vent = 0
        self._unit = "BAR"
        self._band = settings.in_limits
        self._band_time = settings.in_limits_time
        self._last = clock.elapsed()
        self._inside_since: float | None = None
        self._errors: list[Error] = []
        self._ambient = settings.ambient

    def set_ambient(self, bar: float) -> None:
        self._ambient = bar

    # physics

    def _update(self) -> None:
        now = self.clock.elapsed()
        step, self._last = now - self._last, now
        if self._vent == 1:
            target, rate = self._ambient, VENT_RATE
        elif self._control:
            target, rate = self._set_point, self.config.slew_rate
        else:
            return
        gap = target - self.generated_pressure
        self.generated_pressure = (
            target
            if abs(gap) <= rate * step
            else self.generated_pressure + rate * step * (1 if gap > 0 else -1)
        )
        if self._vent == 1 and self.generated_pressure == target:
            self._vent = 2
        band = self._band / 100 * self.config.full_scale
        if self._control and abs(self.generated_pressure - self._set_point) <= band:
            self._inside_since = self._inside_since if self._inside_since is not None else now
        else:
            self._inside_since = None

    generates: ClassVar[str | None] = "pressure"

    def generated(self) -> float:
        self._update()
        return self.generated_pressure

    def in_limits(self) -> bool:
        self._update()
        return (
            self._control
            and not self._sensor.unsettled
            and self._inside_since is not None
            and self.clock.elapsed() - self._inside_since >= self._band_time
        )

    def indicated(self) -> float:
        self._update()
        return self.generated_pressure + self.config.error + self._sensor.observe()

    def _shown(self, bar: float) -> str:
        return f"{bar / TO_BAR[self._unit]:.6g}"

    # the protocol

    async def handle(self, command: bytes) -> bytes:
        text = command.decode("ascii", "replace").strip()
        header, _, parameter = text.partition(" ")
        name = header.upper().lstrip(":")
        if self.has(Fault.ERROR_REPLY) and name not in ("SYST:ERR?", "SYSTEM:ERROR?", "*CLS"):
            queue_error(self._errors, DEVICE_ERROR)
            return b""
        try:
            reply = self._answer(name, [p for p in parameter.split(",") if p.strip()])
        except Refused as refused:
            queue_error(self._errors, refused.error)
            return b""
        return f"{reply}\r\n".encode("ascii") if reply else b""

    def _answer(self, name: str, parameters: list[str]) -> str:
        query = name.endswith("?")
        node = name.removesuffix("?")
        if self.has(Fault.OVERLOAD) and self._control:
            self._control = False
            queue_error(self._errors, OVER_PRESSURE)

        def pressure() -> str:
            over = self.has(Fault.OVERLOAD)
            return OVER_RANGE_REPLY if over else self._shown(self.indicated())

        if node == "*IDN" and query:
            config = self.config
            return f"*IDN GE Druck,Pace5000 User Interface,{config.serial},{config.firmware}"
        if node == "*CLS":
            self._errors.clear()
            return ""
        if node == "*STB" and query:
            return f"*STB {68 if self._errors else 0}"
        if header_matches("SYSTem:ERRor", node) and query:
            code, text = self._errors.pop(0) if self._errors else NO_ERROR
            return f':SYST:ERR {code},"{text}"'
        if header_matches("SENSe:PRESsure", node) and query:
            return f":SENS:PRES {pressure()}"
        if header_matches("SENSe:PRESsure:INLimits", node) and query:
            return f":SENS:PRES:INL {pressure()}, {int(self.in_limits())}"
        if header_matches("SOURce:PRESsure", node) or header_matches(
            "SOURce:PRESsure:LEVel:IMMediate:AMPLitude", node
        ):
            if query:
                return f":SOUR:PRES {self._shown(self._set_point)}"
            value = number(one_parameter(parameters)) * TO_BAR[self._unit]
            if not 0 <= value <= self.config.full_scale:
                raise Refused(DATA_OUT_OF_RANGE)
            self._update()
            self._set_point, self._inside_since = value, None
            return ""
        if header_matches("OUTPut:STATe", node):
            if query:
                return f":OUTP:STAT {int(self._control)}"
            state = one_parameter(parameters)
            if state not in ("ON", "OFF", "1", "0"):
                raise Refused(DATA_OUT_OF_RANGE)
            self._update()
            self._control = state in ("ON", "1") and not self.has(Fault.OVERLOAD)
            if self._control:
                self._vent = 0
            return ""
        if header_matches("SOURce:PRESsure:INLimits", node):
            if query:
                return f":SOUR:PRES:INL {self._band:g}"
            self._band = number(one_parameter(parameters))
            return ""
        if header_matches("SOURce:PRESsure:INLimits:TIME", node):
            if query:
                return f":SOUR:PRES:INL:TIME {self._band_time:g}"
            self._band_time = number(one_parameter(parameters))
            return ""
        if header_matches("SOURce:PRESsure:LEVel:IMMediate:AMPLitude:VENT", node):
            if query:
                self._update()
                return f":SOUR:PRES:LEV:IMM:AMPL:VENT {self._vent}"
            start = one_parameter(parameters)
            self._update()
            if start == "1":
                self._control, self._vent = False, 1
            elif self._vent == 1:
                self._vent = 4  # aborted
            return ""
        if header_matches("UNIT:PRESsure", node):
            if query:
                return f":UNIT:PRES {self._unit}"
            unit = one_parameter(parameters)
            if unit not in TO_BAR:
                raise Refused(DATA_OUT_OF_RANGE)
            self._unit = unit
            return ""
        raise Refused(UNDEFINED_HEADER)
