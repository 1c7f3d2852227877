"""A simulated Fluke/Hart 1529 Chub-E4: four thermometer channels behind its SCPI-like commands.

As over RS-232 on the real readout, a bad command or query gets no reply: the error goes to
the 10-deep error queue, read with ``SYST:ERR?``. Replies end CR LF; a command ends at CR or
LF. Headers are case-insensitive and take the short or the long form of each mnemonic, never
anything in between (``MEAS?``, ``MEASURE?``, not ``MEASU?``).

The readout scans the channels that have a probe, one measurement every ``TRIG:TIM``
seconds, in channel order. ``FETC?`` (= ``MEAS?`` = ``READ?``) returns a channel's latest
measurement without starting one, so two quick queries give the same value; the extended
format (``FORM:STAM ON``) flags whether the measurement was read before.

Choices where the reference is silent (inference):
- ``;`` anywhere in a line: -102 "Syntax error", nothing in the line runs (no compound
  commands on the 1529).
- a channel parameter outside 1-4 (``FETC? 5``, ``ROUT:CLOS? 0``): -222 "Data out of range".
  The channel is a parameter, not a header suffix, so -114 does not apply.
- a channel with no probe (not in the scan): no reply and -230 "Data corrupt or stale", as
  the 1594A does when it has no reading; ``ROUT:CLOS?`` answers 0 for it.
- a non-numeric parameter -104 "Data type error", a missing one -109, one too many -108,
  a word the command does not know (unit, ON/OFF) -224 "Illegal parameter value".
- ``*RST`` sets the timer to 1 s (reference) and the extended format off (its power-up
  state); the unit is left as it is.
- ``TRIG:TIM?`` answers like ``%g`` (``0.5``, ``1``, ``3600``); temperatures have 4 decimals.

Each probe may carry an error of its own (``probe_offsets``, ``probe_slopes``,
``set_probe_error``): the channel reads ``t + offset + slope·t`` for a bath at ``t`` °C, as a
PRT whose R0 (offset) and sensitivity (slope) are off its calibration; so a channel can be
made to read outside its tolerance.

Faults, in the readout's own protocol:
- ``never_settle``: every bath wanders; the 1529 has no stable flag, so successive readings
  differ by far more than the noise.
- ``overload``: every scanned channel is over range. Inference: the 1529 pages we have do
  not say what an over-range channel sends; the 1551A of the same Hart line answers
  ``0.0,OL`` when it has no valid reading (reference §2.3, §4.1), so ``FETC?`` answers
  ``0.0,OL``, and an extended record carries ``OL`` in its unit field
  (``1,2,0.0,OL,14,5,35,2024,9,5``).
- ``error_reply``: every command but ``SYST:ERR?`` and ``*CLS`` is refused as the readout
  refuses anything: no reply, and ``-300,"Device-specific error"`` queued (inference: the
  SCPI class of a fault of the device itself, reference §4.1).
"""

from __future__ import annotations

import math
import time
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
    STALE_DATA,
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

CHANNELS = (1, 2, 3, 4)
TIMER_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
"""Scan timer values ``TRIG:TIM`` accepts; others round down to one of these."""
UNITS = ("C", "F", "K")
BOOLEANS = {"ON": True, "1": True, "OFF": False, "0": False}

OVER_RANGE = "OL"
"""What stands after the value (``0.0,OL``) when a channel is over range."""


def _channel(text: str) -> int:
    value = number(text)
    if value not in CHANNELS:
        raise Refused(DATA_OUT_OF_RANGE)
    return int(value)


class Fluke1529SimSettings(SimulatorSettings):
    """The simulated readout: identity, the probes connected and the baths they sit in."""

    serial: str = Field("A12345", pattern=r"^[A-Za-z0-9-]+$")
    firmware: str = Field("1.10", pattern=r"^[A-Za-z0-9.-]+$")
    temperatures: tuple[float, float, float, float] = (23.0, 23.0, 23.0, 23.0)
    """Temperature of each channel's probe at start, °C."""
    probes: tuple[bool, bool, bool, bool] = (True, True, True, True)
    """Which channels have a probe connected (and so are scanned)."""
    noise: float = Field(0.0005, ge=0)
    """Standard deviation of one measurement, °C."""
    drift_per_hour: float = 0.0
    """Slow drift of every probe, °C per hour of process time."""
    time_constant: float = Field(20.0, ge=0)
    """Probe settling time constant after set_temperature, process seconds."""
    probe_offsets: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Error of each channel's probe at 0 °C, °C."""
    probe_slopes: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Error of each channel's probe per °C of temperature (a sensitivity error)."""


class Fluke1529Simulator(LineSimulator):
    """One 1529 readout.

    For tests and operators: ``set_temperature(channel, celsius)`` moves a probe into a bath
    at that temperature (the reading settles there), ``connect_probe(channel)`` and
    ``disconnect_probe(channel)`` plug and unplug a probe, ``set_probe_error(channel, offset,
    slope)`` swaps in a probe with that error.
    """

    family: ClassVar[str] = "fluke_1529"
    Settings: ClassVar[type[SimulatorSettings]] = Fluke1529SimSettings
    actions: ClassVar[tuple[str, ...]] = (
        "set_temperature",
        "connect_probe",
        "disconnect_probe",
        "set_probe_error",
    )
    terminators: ClassVar[bytes] = b"\r\n"

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, Fluke1529SimSettings)
        self.config = settings
        self._baths = [
            self.process_value(
                start,
                time_constant=settings.time_constant,
                noise=settings.noise,
                drift_per_hour=settings.drift_per_hour,
            )
            for start in settings.temperatures
        ]
        self._probe_errors = list(zip(settings.probe_offsets, settings.probe_slopes, strict=True))
        """Per channel: offset (°C) and slope (°C per °C) of the probe's error."""
        self._probes = list(settings.probes)
        self._errors: list[Error] = []
        self._unit = "C"
        self._stamp = False
        self._timer = 1.0
        self._scan_origin = clock.elapsed()
        self._latest: dict[int, tuple[int, float]] = {}
        """Per channel: scan step of its latest measurement and the value measured, °C."""
        self._read: dict[int, int] = {}
        """Per channel: scan step of the measurement last sent to a host."""
        self._commands: list[tuple[str, Callable[[list[str]], str | None]]] = [
            ("*IDN?", self._identity),
            ("*RST", self._reset),
            ("*CLS", self._clear),
            ("SYSTem:ERRor?", self._next_error),
            ("SYSTem:ERRor:NEXT?", self._next_error),
            ("FETCh?", self._fetch),
            ("MEASure?", self._fetch),
            ("READ?", self._fetch),
            ("UNIT:TEMPerature?", self._unit_query),
            ("UNIT:TEMPerature", self._set_unit),
            ("ROUTe:CLOSe?", self._channel_enabled),
            ("TRIGger:TIMer?", self._timer_query),
            ("TRIGger:TIMer", self._set_timer),
            ("FORMat:STAMp?", self._stamp_query),
            ("FORMat:STAMp", self._set_stamp),
        ]

    # -- acting on the device ---------------------------------------------------------------

    measures: ClassVar[str | None] = "temperature"

    def follow(self, source: Callable[[], float]) -> None:
        """Every probe sits in the bath or well ``source`` tells the temperature of."""
        for bath in self._baths:
            bath.follow(source)

    def set_temperature(self, channel: int, celsius: float) -> None:
        """Move ``channel``'s probe to a bath at ``celsius``; the reading settles there."""
        self._baths[self._index(channel)].set_target(celsius)

    def connect_probe(self, channel: int) -> None:
        """Plug a probe into ``channel``: the readout scans it from now on."""
        self._probes[self._index(channel)] = True
        self._restart_scan()

    def disconnect_probe(self, channel: int) -> None:
        """Unplug ``channel``'s probe: it leaves the scan and has no reading any more."""
        self._probes[self._index(channel)] = False
        self._restart_scan()

    def set_probe_error(self, channel: int, offset: float, slope: float = 0.0) -> None:
        """Give ``channel``'s probe an error: it reads ``t + offset + slope·t`` at ``t`` °C."""
        self._probe_errors[self._index(channel)] = (offset, slope)

    @staticmethod
    def _index(channel: int) -> int:
        """The list index of ``channel``; the control interface sends numbers as floats (2.0)."""
        if channel not in CHANNELS:
            raise ValueError(f"the 1529 has channels 1 to 4, not {channel}")
        return CHANNELS.index(channel)

    # -- the command interpreter ------------------------------------------------------------

    async def handle(self, command: bytes) -> bytes:
        try:
            reply = self._execute(command)
        except Refused as refused:
            queue_error(self._errors, refused.error)
            return b""
        return b"" if reply is None else reply.encode("ascii") + b"\r\n"

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
        return f"HART,1529,{self.config.serial},{self.config.firmware}"

    def _reset(self, parameters: list[str]) -> None:
        no_parameters(parameters)
        self._timer, self._stamp = 1.0, False
        self._restart_scan()

    def _clear(self, parameters: list[str]) -> None:
        no_parameters(parameters)
        self._errors.clear()

    def _next_error(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        code, text = self._errors.pop(0) if self._errors else NO_ERROR
        return f'{code},"{text}"'

    def _unit_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return self._unit

    def _set_unit(self, parameters: list[str]) -> None:
        unit = one_parameter(parameters)
        if unit not in UNITS:
            raise Refused(ILLEGAL_VALUE)
        self._unit = unit

    def _channel_enabled(self, parameters: list[str]) -> str:
        return "1" if self._probes[_channel(one_parameter(parameters)) - 1] else "0"

    def _timer_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return f"{self._timer:g}"

    def _set_timer(self, parameters: list[str]) -> None:
        requested = number(one_parameter(parameters))
        allowed = [step for step in TIMER_STEPS if step <= requested]
        if not allowed:
            raise Refused(DATA_OUT_OF_RANGE)
        self._timer = float(allowed[-1])
        self._restart_scan()

    def _stamp_query(self, parameters: list[str]) -> str:
        no_parameters(parameters)
        return "1" if self._stamp else "0"

    def _set_stamp(self, parameters: list[str]) -> None:
        value = BOOLEANS.get(one_parameter(parameters))
        if value is None:
            raise Refused(ILLEGAL_VALUE)
        self._stamp = value

    # -- measurements -----------------------------------------------------------------------

    def _restart_scan(self) -> None:
        self._scan_origin = self.clock.elapsed()
        self._latest.clear()
        self._read.clear()

    def _fetch(self, parameters: list[str]) -> str:
        if len(parameters) > 1:
            raise Refused(PARAMETER_NOT_ALLOWED)
        wanted = _channel(parameters[0]) if parameters else None
        channel, step, celsius, new = self._measurement(wanted)
        over = self.has(Fault.OVERLOAD)
        value = "0.0" if over else f"{self._converted(celsius):.4f}"
        unit = OVER_RANGE if over else self._unit
        if not self._stamp:
            return f"{value},{OVER_RANGE}" if over else value
        process_age = self.clock.elapsed() - (self._scan_origin + step * self._timer)
        taken = time.localtime(self.clock.now() - self.clock.to_real(process_age))
        return (
            f"{int(new)},{channel},{value},{unit},"
            f"{taken.tm_hour},{taken.tm_min},{taken.tm_sec},"
            f"{taken.tm_year},{taken.tm_mon},{taken.tm_mday}"
        )

    def _measurement(self, wanted: int | None) -> tuple[int, int, float, bool]:
        """Channel, scan step, value (°C) and newness of the latest measurement of ``wanted``.

        ``None`` asks for the most recent measurement of any channel.
        """
        scanned = [channel for channel in CHANNELS if self._probes[channel - 1]]
        if not scanned or (wanted is not None and wanted not in scanned):
            raise Refused(STALE_DATA)
        now = math.floor((self.clock.elapsed() - self._scan_origin) / self._timer)
        channel = scanned[now % len(scanned)] if wanted is None else wanted
        step = now - (now - scanned.index(channel)) % len(scanned)
        latest = self._latest.get(channel)
        if latest is None or latest[0] != step:
            latest = self._latest[channel] = (step, self._indication(channel))
        new = self._read.get(channel) != step
        self._read[channel] = step
        return channel, step, latest[1], new

    def _indication(self, channel: int) -> float:
        """One measurement of ``channel``'s probe in its bath, with the probe's error, °C."""
        celsius = self._baths[channel - 1].observe()
        offset, slope = self._probe_errors[channel - 1]
        return celsius + offset + slope * celsius

    def _converted(self, celsius: float) -> float:
        return {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[self._unit]
