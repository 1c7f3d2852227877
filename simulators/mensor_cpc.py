"""A simulated Mensor CPC6050-family pressure controller, Mensor command set (reference §3.2).

Every reply starts with a space, or with ``E`` while the error queue is not empty, and ends
CR LF; pressures are ``+n.nnnnnE+nn``. Inference (the reference gives no examples): settings
(``Setpt 2``, ``Mode CONTROL``, ``Units 14``) answer nothing, ``Error?`` pops the oldest entry
as ``<code>,<text>`` (``0,No error`` when empty), unknown commands queue ``-113``.

Physics: in CONTROL mode the pressure slews toward the set point, then it is stable (``YES``)
once within the stable band for the stable time; VENT runs it to ambient; MEASURE and
STANDBY hold it. ``error`` offsets indicated from generated pressure.

``Chan?`` names the active channel and ``Chan A|B`` selects it (``channels`` the unit has; a
channel it lacks is ``-222``); ``Ptype?`` / ``Ptype A|G`` absolute or gauge (in gauge every
pressure read or sent, set-point and limits too, is relative to ambient); ``UpperLimit?`` /
``LowerLimit?`` and their settings bound the set-point (inference: the reference names no
limit command; these follow the command set's ``Name value`` / ``Name?`` form). Every query
answers: an unknown one queues ``-113`` and answers an empty field with the ``E`` lead
(inference), so a client never waits in vain.

Faults: ``never_settle`` wanders and never answers ``YES``; ``overload`` (inference: an
over-pressure trip) goes to STANDBY and queues ``500,Over pressure``; ``error_reply`` queues
``-300,Device error`` on every command, so every reply starts with ``E``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from daq.core.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.pressure import PressureControl
from simulators.scpi import Error, queue_error

UNIT_CODES: dict[int, tuple[str, float]] = {
    1: ("psi", 0.0689475729),
    13: ("atm", 1.01325),
    14: ("bar", 1.0),
    15: ("mbar", 1e-3),
    22: ("kPa", 1e-2),
    23: ("Pa", 1e-5),
}
"""Mensor unit code -> name and bar per unit (reference §3.2)."""
MODES = ("MEASURE", "CONTROL", "VENT", "STANDBY")
CONTROL_MODES: dict[str, Literal["control", "vent"]] = {"CONTROL": "control", "VENT": "vent"}
"""What the pneumatics do in each mode; MEASURE and STANDBY hold."""
UNDEFINED: Error = (-113, "Undefined header")
BAD_VALUE: Error = (-222, "Data out of range")
DEVICE: Error = (-300, "Device error")
OVER_PRESSURE: Error = (500, "Over pressure")


class MensorCpcSettings(SimulatorSettings):
    serial: str = "610189"
    firmware: str = "0.1.5"
    full_scale: float = Field(10.0, gt=0)
    """bar."""
    ambient: float = 1.01325
    slew_rate: float = Field(1.0, gt=0)
    noise: float = Field(2e-5, ge=0)
    error: float = 0.0
    stable_band: float = Field(0.001, gt=0)
    """bar."""
    stable_time: float = Field(2.0, ge=0)
    channels: int = Field(1, ge=1, le=2)
    """Measuring channels: 2 on a CPC6050 with a second sensor."""


class MensorCpcSimulator(LineSimulator):
    family: ClassVar[str] = "mensor_cpc"
    Settings: ClassVar[type[SimulatorSettings]] = MensorCpcSettings
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, MensorCpcSettings)
        self.config = settings
        self.control = PressureControl(
            clock, ambient=settings.ambient, slew_rate=settings.slew_rate, band=settings.stable_band
        )
        self._sensor = self.process_value(0.0, noise=settings.noise, wander=0.05)
        self._mode = "STANDBY"
        self._unit = 14
        self._errors: list[Error] = []
        self._channel = "A"
        self._ptype = "A"
        self._limits = (0.0, settings.full_scale)
        """Lower and upper set-point limits, bar."""

    def _update(self) -> None:
        if self.has(Fault.OVERLOAD) and self._mode == "CONTROL":
            self._switch("STANDBY")  # an over-pressure trip
            queue_error(self._errors, OVER_PRESSURE)
        self.control.update()

    def _switch(self, mode: str) -> None:
        self._mode = mode
        self.control.switch(CONTROL_MODES.get(mode, "hold"))

    generates: ClassVar[str | None] = "pressure"

    def generated(self) -> float:
        self._update()
        return self.control.pressure

    def stable(self) -> bool:
        self._update()
        return not self._sensor.unsettled and self.control.in_band_for(self.config.stable_time)

    def _pressure(self) -> str:
        return self._in_units(self.generated() + self.config.error + self._sensor.observe())

    def _in_units(self, bar: float) -> str:
        """An absolute pressure as the controller shows it: in its unit, gauge or absolute."""
        shown = bar - (self.config.ambient if self._ptype == "G" else 0.0)
        return f"{shown / UNIT_CODES[self._unit][1]:+.5E}"

    def _bar(self, value: str) -> float | None:
        """A pressure the client sends, in the controller's unit and type, as absolute bar."""
        try:
            shown = float(value) * UNIT_CODES[self._unit][1]
        except ValueError:
            return None
        return shown + (self.config.ambient if self._ptype == "G" else 0.0)

    async def handle(self, command: bytes) -> bytes:
        text = command.decode("ascii", "replace").strip()
        if self.has(Fault.ERROR_REPLY):
            queue_error(self._errors, DEVICE)
        reply = self._answer(text)
        if reply is None:
            return b""
        lead = "E" if self._errors else " "
        return f"{lead}{reply}\r\n".encode("ascii")

    def _answer(self, text: str) -> str | None:
        name, _, value = text.partition(" ")
        name, value = name.upper(), value.strip().upper()
        match name:
            case "A?":
                return self._pressure()
            case "AS?" | "STABLE?":
                return "YES" if self.stable() else "NO"
            case "ID?" | "*IDN?":
                return f"MENSOR, 600,{self.config.serial},{self.config.firmware}"
            case "SETPT?":
                return self._in_units(self.control.set_point)
            case "MODE?":
                self._update()
                return self._mode
            case "UNITS?":
                return UNIT_CODES[self._unit][0]
            case "ERROR?":
                code, message = self._errors.pop(0) if self._errors else (0, "No error")
                return f"{code},{message}"
            case "SETPT":
                self._set(value)
                return None
            case "MODE" if value in MODES:
                self._update()
                self._switch(value)
                self._update()  # an over-pressure trips at once
                return None
            case "UNITS" if value.isdigit() and int(value) in UNIT_CODES:
                self._unit = int(value)
                return None
            case "CHAN?":
                return self._channel
            case "CHAN" if value in ("A", "B")[: self.config.channels]:
                self._channel = value
                return None
            case "PTYPE?":
                return self._ptype
            case "PTYPE" if value in ("A", "G"):
                self._ptype = value
                return None
            case "UPPERLIMIT?" | "LOWERLIMIT?":
                return self._in_units(self._limits[name == "UPPERLIMIT?"])
            case "UPPERLIMIT" | "LOWERLIMIT":
                self._set_limit(name == "UPPERLIMIT", self._bar(value))
                return None
            case "CHAN" | "PTYPE":
                queue_error(self._errors, BAD_VALUE)
                return None
        queue_error(self._errors, UNDEFINED)
        return "" if name.endswith("?") else None

    def _set_limit(self, upper: bool, bar: float | None) -> None:
        if bar is None:
            queue_error(self._errors, BAD_VALUE)
            return
        low, high = (self._limits[0], bar) if upper else (bar, self._limits[1])
        if not 0 <= low <= high <= self.config.full_scale:
            queue_error(self._errors, BAD_VALUE)
            return
        self._limits = (low, high)

    def _set(self, value: str) -> None:
        bar = self._bar(value)
        low, high = self._limits
        if bar is None or not low <= bar <= high:
            queue_error(self._errors, BAD_VALUE)
            return
        self._update()
        self.control.set(bar)
