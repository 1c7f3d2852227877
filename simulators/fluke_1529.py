"""A simulated Fluke/Hart 1529 Chub-E4: four thermometer channels behind its SCPI-like commands.

As over RS-232 on the real readout, a bad command or query gets no reply: the error goes to
the 10-deep error queue, read with ``SYST:ERR?``. Replies end CR LF.
"""

from __future__ import annotations

import re
import time
from typing import ClassVar

from pydantic import Field

from daq.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.model import ProcessValue

TIMER_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
QUEUE_DEPTH = 10

UNDEFINED_HEADER = '-113,"Undefined header"'
SUFFIX_OUT_OF_RANGE = '-114,"Header suffix out of range"'
DATA_OUT_OF_RANGE = '-222,"Data out of range"'
ILLEGAL_VALUE = '-224,"Illegal parameter value"'
STALE_DATA = '-230,"Data corrupt or stale"'
QUEUE_OVERFLOW = '-350,"Queue overflow"'


def _mnemonic(long: str, short: str) -> str:
    """Regex for a SCPI mnemonic: the short form, optionally followed by the rest of the long."""
    rest = long[len(short) :]
    optional = "".join(f"(?:{c}" for c in rest) + ")?" * len(rest)
    return short + optional


_FETCH = re.compile(
    rf"^(?:{_mnemonic('FETCH', 'FETC')}|{_mnemonic('MEASURE', 'MEAS')}|READ)\?(?:\s+(\S+))?$"
)
_ERROR = re.compile(rf"^{_mnemonic('SYSTEM', 'SYST')}:{_mnemonic('ERROR', 'ERR')}(?::NEXT)?\?$")
_UNIT = re.compile(rf"^UNIT:{_mnemonic('TEMPERATURE', 'TEMP')}(\?|\s+(\S+))$")
_CLOSED = re.compile(rf"^{_mnemonic('ROUTE', 'ROUT')}:{_mnemonic('CLOSE', 'CLOS')}\?\s+(\S+)$")
_TIMER = re.compile(rf"^{_mnemonic('TRIGGER', 'TRIG')}:{_mnemonic('TIMER', 'TIM')}(\?|\s+(\S+))$")
_STAMP = re.compile(rf"^{_mnemonic('FORMAT', 'FORM')}:{_mnemonic('STAMP', 'STAM')}(\?|\s+(\S+))$")


class Fluke1529SimSettings(SimulatorSettings):
    """The simulated readout: identity, the probes connected and the bath they sit in."""

    serial: str = "A12345"
    firmware: str = "1.10"
    temperatures: tuple[float, float, float, float] = (23.0, 23.0, 23.0, 23.0)
    """Temperature of each channel's probe at start, °C."""
    probes: tuple[bool, bool, bool, bool] = (True, True, True, True)
    """Which channels have a probe connected."""
    noise: float = Field(0.0005, ge=0)
    """Standard deviation of a reading, °C."""
    drift_per_hour: float = 0.0
    time_constant: float = Field(5.0, ge=0)
    """Probe settling time constant after set_temperature, process seconds."""


class Fluke1529Simulator(LineSimulator):
    """One 1529; set_temperature() moves a channel's probe, connect/disconnect_probe() too."""

    family: ClassVar[str] = "fluke_1529"
    Settings: ClassVar[type[SimulatorSettings]] = Fluke1529SimSettings
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, Fluke1529SimSettings)
        self.config = settings
        self._channels = [
            ProcessValue(
                clock,
                start,
                time_constant=settings.time_constant,
                noise=settings.noise,
                drift_per_hour=settings.drift_per_hour,
                rng=self.rng,
            )
            for start in settings.temperatures
        ]
        self._probes = list(settings.probes)
        self._errors: list[str] = []
        self._unit = "C"
        self._timer = 1.0
        self._stamp = False

    def set_temperature(self, channel: int, celsius: float) -> None:
        """Move channel ``channel``'s probe to a bath at ``celsius``; it settles there."""
        self._channels[channel - 1].set_target(celsius)

    def connect_probe(self, channel: int) -> None:
        self._probes[channel - 1] = True

    def disconnect_probe(self, channel: int) -> None:
        self._probes[channel - 1] = False

    def _error(self, entry: str) -> bytes:
        if len(self._errors) < QUEUE_DEPTH:
            self._errors.append(entry)
        else:
            self._errors[-1] = QUEUE_OVERFLOW
        return b""

    def _converted(self, celsius: float) -> float:
        return {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[self._unit]

    def _channel(self, text: str | None) -> int | None:
        if text is None:
            return 1
        if not text.isdigit() or not 1 <= int(text) <= 4:
            return None
        return int(text)

    async def handle(self, command: bytes) -> bytes:
        text = command.decode("ascii", errors="replace").strip().upper()
        if ";" in text:
            return self._error(UNDEFINED_HEADER)  # the 1529 takes no compound commands
        reply = self._answer(text)
        return b"" if reply is None else (reply + "\r\n").encode("ascii")

    def _answer(self, text: str) -> str | None:
        if text == "*IDN?":
            return f"HART,1529,{self.config.serial},{self.config.firmware}"
        if text == "*RST":
            self._unit, self._timer, self._stamp = "C", 1.0, False
            return None
        if text == "*CLS":
            self._errors.clear()
            return None
        if _ERROR.match(text):
            return self._errors.pop(0) if self._errors else '0,"No error"'
        if match := _FETCH.match(text):
            return self._fetch(match[1])
        if match := _UNIT.match(text):
            if match[1] == "?":
                return self._unit
            if match[2] not in ("C", "F", "K"):
                self._error(ILLEGAL_VALUE)
                return None
            self._unit = match[2]
            return None
        if match := _CLOSED.match(text):
            channel = self._channel(match[1])
            if channel is None:
                self._error(SUFFIX_OUT_OF_RANGE)
                return None
            return "1" if self._probes[channel - 1] else "0"
        if match := _TIMER.match(text):
            return self._trigger_timer(match[1], match[2])
        if match := _STAMP.match(text):
            if match[1] == "?":
                return "1" if self._stamp else "0"
            if match[2] not in ("ON", "OFF", "1", "0"):
                self._error(ILLEGAL_VALUE)
                return None
            self._stamp = match[2] in ("ON", "1")
            return None
        self._error(UNDEFINED_HEADER)
        return None

    def _fetch(self, argument: str | None) -> str | None:
        channel = self._channel(argument)
        if channel is None:
            self._error(SUFFIX_OUT_OF_RANGE)
            return None
        if not self._probes[channel - 1]:
            # inference: a channel without a probe has no reading to give
            self._error(STALE_DATA)
            return None
        value = f"{self._converted(self._channels[channel - 1].observe()):.4f}"
        if not self._stamp:
            return value
        now = time.localtime(self.clock.now())
        unit = self._unit
        return (
            f"1,{channel},{value},{unit},{now.tm_hour},{now.tm_min},{now.tm_sec},"
            f"{now.tm_year},{now.tm_mon},{now.tm_mday}"
        )

    def _trigger_timer(self, query: str, value: str | None) -> str | None:
        if query == "?":
            return f"{self._timer:g}"
        try:
            requested = float(value or "")
        except ValueError:
            self._error(ILLEGAL_VALUE)
            return None
        allowed = [step for step in TIMER_STEPS if step <= requested]
        if not allowed:
            self._error(DATA_OUT_OF_RANGE)
            return None
        self._timer = float(allowed[-1])
        return None
