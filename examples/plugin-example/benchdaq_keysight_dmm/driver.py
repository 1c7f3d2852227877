"""Keysight 34465A-class digital multimeters (Truevolt 34460A/61A/65A/70A) over their SCPI.

Only DC voltage is read, the function a DC-voltage verification needs. Every measurement
sends ``CONF:VOLT:DC <range>`` then ``READ?``: the configuration is sent each time, so a
meter switched to another function or range at its front panel, or power-cycled between two
readings, is never read in the wrong state. A setting has no reply; the error queue
(``SYST:ERR?``) tells whether it was taken (``drivers.scpi.ScpiSession``). A reading beyond
the range comes as the SCPI over-range value ±9.9E37.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, field_validator

from daq.core.errors import OverloadError, ProtocolError
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, LineProbe
from drivers.scpi import ErrorEntry, ScpiSession
from drivers.transports.base import LineTransport

VOLTMETER = "voltmeter"
"""The role this plugin adds: benchdaq's own roles (``drivers.roles``) have no voltmeter."""
QUANTITY = "dc_voltage"
UNIT = "V"
RANGES = (0.1, 1.0, 10.0, 100.0, 1000.0)
"""DC voltage ranges of the 34465A, V."""
OVER_RANGE = 9.9e37
"""What the meter sends for a reading beyond its range (with the reading's sign)."""


@runtime_checkable
class Voltmeter(Protocol):
    """An instrument that measures DC voltage (values in V)."""

    async def measure_dc_voltage(self, range_: float | None = None) -> Reading:
        """One DC voltage reading on the range that holds ``range_`` V, or autoranging
        when None."""
        ...


def parse_voltage(text: str) -> float:
    """A ``READ?`` reply (``+1.00000360E+01``) in V; ±inf stands for the over-range value."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ProtocolError(f"reading {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ProtocolError(f"reading {text!r} is not a number the meter sends")
    if abs(value) >= OVER_RANGE:
        return math.copysign(math.inf, value)
    return value


def range_argument(range_: float | None) -> str:
    """The range as ``CONF:VOLT:DC`` takes it: volts (the meter picks the lowest range that
    holds them and queues -222 beyond its highest), or AUTO."""
    return "AUTO" if range_ is None else f"{range_:g}"


class Keysight344xxSettings(BaseModel):
    """The lab file's ``settings:`` of the meter."""

    model_config = ConfigDict(extra="forbid")

    range: float | None = None
    """V, the range ``read()`` measures on (0.1, 1, 10, 100 or 1000); none: autorange."""

    @field_validator("range")
    @classmethod
    def _a_range(cls, value: float | None) -> float | None:
        if value is not None and value not in RANGES:
            ranges = ", ".join(f"{r:g}" for r in RANGES)
            raise ValueError(f"range must be one of {ranges} V, not {value:g}")
        return value


class Keysight344xx(Driver[LineTransport, Keysight344xxSettings]):
    """A Truevolt DMM playing the voltmeter (the role ``voltmeter``, ``Voltmeter``)."""

    family: ClassVar[str] = "keysight_344xx"
    probe: ClassVar[LineProbe] = LineProbe(
        "*IDN?",
        re.compile(r"(Keysight|Agilent) Technologies,344[67]\d[AD]?,"),
        line={"read_termination": "\n", "write_termination": "\n"},
    )
    roles: ClassVar[frozenset[str]] = frozenset({VOLTMETER})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = Keysight344xxSettings

    @property
    def scpi(self) -> ScpiSession:
        return ScpiSession(self.id, self.transport)

    async def identify(self) -> Identity:
        """``Keysight Technologies,34465A,MY12345678,A.03.01-02.40-03.01-00.52-03-01``."""
        return await self.scpi.identify()

    async def errors(self) -> list[ErrorEntry]:
        """Drain the error queue, oldest first."""
        return await self.scpi.errors()

    async def _measure(self, range_: float | None) -> tuple[float, str]:
        """Clear what others left in the error queue (another program, a scan's probes),
        configure DC volts on ``range_`` (a refusal raises the queued error), then read."""
        await self.transport.write("*CLS")
        await self.scpi.command(f"CONF:VOLT:DC {range_argument(range_)}")
        text = await self.scpi.query("READ?")
        return parse_voltage(text), text

    async def measure_dc_voltage(self, range_: float | None = None) -> Reading:
        """One DC voltage reading; OverloadError beyond the range."""
        value, text = await self._measure(range_)
        if math.isinf(value):
            where = "autorange" if range_ is None else f"the {range_:g} V range"
            raise OverloadError(f"{self.id}: DC voltage beyond {where} ({text!r})")
        return Reading(self.id, QUANTITY, value, UNIT, self.clock.now(), Status.OK, raw=text)

    async def read(self) -> list[Reading]:
        """The DC voltage on the configured range; beyond it an OVERLOAD reading (NaN), so
        monitoring goes on."""
        value, text = await self._measure(self.settings.range)
        over = math.isinf(value)
        return [
            Reading(
                self.id,
                QUANTITY,
                math.nan if over else value,
                UNIT,
                self.clock.now(),
                Status.OVERLOAD if over else Status.OK,
                raw=text,
            )
        ]
