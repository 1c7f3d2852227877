"""Hart Scientific "classic" temperature controllers: older dry-wells (9100 series, 9141),
Micro-Baths, calibration baths and fixed-point apparatus (reference §2.4.2).

A command is a mnemonic; ``=value`` sets, no value reads. A read answers one line
``<label>: <value>`` (``t: 55.69 C``); a setting answers nothing (the user's guides list no
reply for ``s=n``), so the driver reads a set point back to learn whether it was taken.
Factory serial settings are 2400 baud 8N1, half duplex; use ``read_termination: "\\r"`` so
replies parse with the linefeed on or off. In full duplex the controller echoes each command
first; the driver says so instead of guessing.

The protocol has neither a stability query nor a heater switch (inference: none in the
reference), so ``is_stable`` decides from the driver's own recent readings, and
``safe_state`` sets the set point to the configured ``safe_temperature``. Temperatures come
with their unit (``C``/``F``) and are converted to °C; set points are sent in the unit shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.core.clock import Clock
from daq.core.errors import InstrumentReportedError, InstrumentTimeout, OverloadError, ProtocolError
from daq.core.reading import Reading, Status
from drivers.base import CR_LINE, Driver, Identity, LineProbe
from drivers.roles import TEMPERATURE_SOURCE
from drivers.transports.base import LineTransport

MANUFACTURER = "Hart Scientific"
CELSIUS = "°C"
SET_POINT_RESOLUTION = 0.01
"""Set points are sent and shown with two decimals."""

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)"
_TEMPERATURE = re.compile(rf"({_NUMBER}) ?([CF])", re.ASCII | re.IGNORECASE)
_CUTOUT = re.compile(rf"({_NUMBER}) ?([CF]), ?(in|out)", re.ASCII | re.IGNORECASE)
_VERSION = re.compile(r"ver\.([A-Za-z0-9-]+),([A-Za-z0-9.-]+)", re.ASCII)


@dataclass(frozen=True, slots=True)
class Temperature:
    """A temperature as the controller shows it."""

    value: float
    unit: Literal["C", "F"]

    def celsius(self) -> float:
        return (self.value - 32) * 5 / 9 if self.unit == "F" else self.value

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


@dataclass(frozen=True, slots=True)
class Cutout:
    """The cut-out temperature and whether it has tripped (heater off)."""

    temperature: Temperature
    tripped: bool


def _unit(letter: str) -> Literal["C", "F"]:
    return "F" if letter.upper() == "F" else "C"


def _refuse_echo(line: str, command: str) -> None:
    if line.strip().lower() == command.lower():
        raise ProtocolError(
            f"reply {line!r} echoes {command!r}: the controller is in full duplex; "
            "set it to half duplex (du=h)"
        )


def parse_reply(line: str, label: str, command: str) -> str:
    """The value text of ``<label>: <value>``, the reply to ``command``."""
    _refuse_echo(line, command)
    head, colon, value = line.strip().partition(":")
    if not colon or head.strip().lower() != label:
        raise ProtocolError(f"reply {line!r} does not answer {command!r}")
    return value.strip()


def parse_temperature(text: str) -> Temperature:
    """``55.69 C`` or ``132.24 F``."""
    match = _TEMPERATURE.fullmatch(text.strip())
    if match is None:
        raise ProtocolError(f"{text!r} is not a temperature '<value> C|F'")
    return Temperature(float(match[1]), _unit(match[2]))


def parse_unit(text: str) -> Literal["C", "F"]:
    """The ``u`` value: ``C`` or ``F``."""
    if text.strip().upper() not in ("C", "F"):
        raise ProtocolError(f"unit {text!r} is not C or F")
    return _unit(text.strip())


def parse_cutout(text: str) -> Cutout:
    """``105 C, in`` (closed) or ``105 C, out`` (tripped)."""
    match = _CUTOUT.fullmatch(text.strip())
    if match is None:
        raise ProtocolError(f"cut-out {text!r} is not '<value> C|F, in|out'")
    return Cutout(Temperature(float(match[1]), _unit(match[2])), match[3].lower() == "out")


def parse_version(line: str) -> Identity:
    """``*ver`` reply ``ver.<model>,<firmware>``; the protocol has no serial number."""
    match = _VERSION.fullmatch(line.strip())
    if match is None:
        raise ProtocolError(f"version {line!r} is not 'ver.<model>,<firmware>'")
    return Identity(MANUFACTURER, match[1], "", match[2])


class HartClassicSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    safe_temperature: float = 50.0
    """Set point ``safe_state`` leaves behind, °C (the protocol has no heater switch). Choose
    one the controller accepts; near ambient for a bath. 50 °C is the lowest set point of
    many classic dry-wells."""
    cutout: bool = True
    """The controller reports its cut-out with ``cu`` (baths, Micro-Baths). Set false for one
    without (a 9141 has a high limit instead): it would never answer."""
    stability_band: float = Field(0.02, gt=0)
    """Stable when the readings of the window lie within this band, °C peak to peak."""
    stability_window: float = Field(60.0, gt=0)
    """Seconds the readings must cover."""
    stability_readings: int = Field(5, ge=2)
    """Least number of readings in the window."""


class HartClassicSource(Driver[LineTransport, HartClassicSettings]):
    """A classic controller playing the temperature source (values in °C).

    Every control-temperature reading (``temperature``, ``read``, ``is_stable``) goes into
    the stability window; a new set point starts it afresh.
    """

    family: ClassVar[str] = "hart_classic"
    probe: ClassVar[LineProbe] = LineProbe(
        "*ver",
        re.compile(r"ver\.\d+"),
        {**CR_LINE, "baudrate": 2400},
    )
    roles: ClassVar[frozenset[str]] = frozenset({TEMPERATURE_SOURCE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = HartClassicSettings

    def __init__(
        self,
        instrument_id: str,
        transport: LineTransport,
        settings: HartClassicSettings,
        clock: Clock,
    ) -> None:
        super().__init__(instrument_id, transport, settings, clock)
        self._window: deque[tuple[float, float]] = deque()
        """(process time, °C) of recent control-temperature readings."""

    async def identify(self) -> Identity:
        line = await self.transport.query("*ver")
        _refuse_echo(line, "*ver")
        return parse_version(line)

    async def _read(self, command: str, label: str) -> tuple[str, str]:
        """The reply line to a read and its value text."""
        line = (await self.transport.query(command)).strip()
        return line, parse_reply(line, label, command)

    async def _set(self, celsius: float) -> None:
        """``s=<value>`` in the unit shown, then read back: a refused value is ignored."""
        _, unit_text = await self._read("u", "u")
        unit = parse_unit(unit_text)
        shown = celsius * 9 / 5 + 32 if unit == "F" else celsius
        sent = f"{shown:.2f}"
        await self.transport.write(f"s={sent}")
        _, text = await self._read("s", "set")
        held = parse_temperature(text)
        if held.unit != unit or abs(held.value - float(sent)) >= SET_POINT_RESOLUTION / 2:
            raise InstrumentReportedError(
                f"{self.id}: s={sent} was not taken (out of range or refused); "
                f"the set point is still {held}",
                "s",
            )
        self._window.clear()

    async def set_point(self, value: float) -> None:
        """Set the set point; the controller heats to it (it has no separate heater switch)."""
        await self._set(value)

    async def safe_state(self) -> None:
        await self._set(self.settings.safe_temperature)

    async def _measure(self) -> tuple[Reading, str | None]:
        """The control temperature and, if the cut-out has tripped, its reply."""
        line, text = await self._read("t", "t")
        reading = Reading(
            self.id,
            "temperature",
            parse_temperature(text).celsius(),
            CELSIUS,
            self.clock.now(),
            raw=line,
        )
        if not self.settings.cutout:
            return reading, None
        try:
            cut_line, cut_text = await self._read("cu", "cu")
        except InstrumentTimeout as exc:
            raise InstrumentTimeout(
                f"{exc}; it answered t: if it has no cut-out command, set cutout: false"
            ) from exc
        return reading, cut_line if parse_cutout(cut_text).tripped else None

    def _remember(self, reading: Reading) -> None:
        now, window = self.clock.elapsed(), self.settings.stability_window
        self._window.append((now, reading.value))
        while len(self._window) > 1 and self._window[1][0] <= now - window:
            self._window.popleft()

    def _stable(self) -> bool:
        """The window is covered by enough readings, all within the band."""
        settings = self.settings
        if len(self._window) < settings.stability_readings:
            return False
        if self._window[0][0] > self.clock.elapsed() - settings.stability_window:
            return False
        values = [value for _, value in self._window]
        return round(max(values) - min(values), 9) <= settings.stability_band

    async def temperature(self) -> Reading:
        """The control temperature; OverloadError once the cut-out has tripped."""
        reading, tripped = await self._measure()
        if tripped is not None:
            raise OverloadError(
                f"{self.id}: cut-out tripped ({tripped}): heater off until it is reset"
            )
        self._remember(reading)
        return reading

    async def is_stable(self) -> bool:
        """Takes a reading; True when the window of readings is within the band."""
        await self.temperature()
        return self._stable()

    async def read(self) -> list[Reading]:
        """The control temperature (unstable until the window is; overload, value kept, with
        the cut-out tripped) and the set point."""
        control, tripped = await self._measure()
        if tripped is not None:
            control = dataclasses.replace(
                control, status=Status.OVERLOAD, raw=f"{control.raw}; {tripped}"
            )
        else:
            self._remember(control)
            if not self._stable():
                control = dataclasses.replace(control, status=Status.UNSTABLE)
        line, text = await self._read("s", "set")
        set_point = Reading(
            self.id,
            "set_point",
            parse_temperature(text).celsius(),
            CELSIUS,
            control.timestamp,
            raw=line,
        )
        return [control, set_point]
