"""The indication of a pressure sensor: range, zero and span errors, non-linearity and
hysteresis. Shared by every simulated pressure gauge and transmitter."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from daq.core.clock import Clock
from simulators.base import SimulatorSettings


class PressureSensorSettings(SimulatorSettings):
    """The range of a pressure sensor and the errors of its indication, in the gauge's unit.

    All errors zero: the gauge indicates the applied pressure (plus noise). ``PressureSensor``
    gives the formula.
    """

    range_min: float = 0.0
    """Lower range value."""
    range_max: float = 1.0
    """Upper range value."""
    zero_error: float = 0.0
    """Indication minus applied pressure at ``range_min`` (mean of rising and falling)."""
    span_error: float = 0.0
    """Relative error of the span: the indication rises ``1 + span_error`` times as fast as
    the pressure, so the error grows to ``span_error·(range_max - range_min)`` at the top."""
    nonlinearity: float = 0.0
    """Deviation at mid-range from the straight line through both range ends, as a fraction
    of the span (a parabola, zero at both ends)."""
    hysteresis: float = Field(0.0, ge=0)
    """Indication approached with falling pressure minus with rising pressure."""

    @model_validator(mode="after")
    def _range_has_width(self) -> Self:
        if self.range_max <= self.range_min:
            raise ValueError("range_max must be above range_min")
        return self


class PressureSensor:
    """The indication of a pressure sensor for an applied pressure ``p``.

    With the span ``S = range_max - range_min`` and ``x = (p - range_min) / S``::

        indication = p + zero_error + span_error·(p - range_min)
                       + nonlinearity·S·4x(1 - x)  ±  hysteresis / 2

    Hysteresis is a constant dead band (friction in the elastic element): the indication lags
    the last change of the applied pressure by half the hysteresis, ``-h/2`` after a rise and
    ``+h/2`` after a fall, so one pressure approached from below and from above reads ``h``
    apart. The direction is that of the last change of the set pressure (a new target above
    the old one is a rise; the same target changes nothing); the sensor starts on the rising
    branch, as if pressurised from its range minimum.
    """

    def __init__(self, config: PressureSensorSettings) -> None:
        self.config = config
        self._falling = False

    def pressure_changes(self, before: float, after: float) -> None:
        """Take the direction of a change of the applied pressure, ``before`` to ``after``."""
        if after != before:
            self._falling = after < before

    def indication(self, pressure: float) -> float:
        config = self.config
        span = config.range_max - config.range_min
        above_zero = pressure - config.range_min
        bow = 4 * config.nonlinearity * above_zero * (config.range_max - pressure) / span
        lag = config.hysteresis / 2 * (1 if self._falling else -1)
        return pressure + config.zero_error + config.span_error * above_zero + bow + lag


VENT_RATE = 2.0
"""bar per second while venting."""


class PressureControl:
    """A pressure controller's pneumatics, shared by the Druck and Mensor simulators: while
    controlling, the pressure slews toward the set point at the slew rate; while venting, to
    ambient at ``VENT_RATE``; otherwise it holds. It is in band once within ``band`` bar of
    the set point while controlling, since ``inside_since`` (process seconds)."""

    def __init__(self, clock: Clock, *, ambient: float, slew_rate: float, band: float) -> None:
        self.clock = clock
        self.ambient = ambient
        self.slew_rate = slew_rate
        self.band = band
        self.pressure = ambient
        """What the controller makes, bar (power-on: ambient)."""
        self.set_point = ambient
        self.mode: Literal["hold", "control", "vent"] = "hold"
        self.inside_since: float | None = None
        self._last = clock.elapsed()

    def update(self) -> None:
        """Move the pressure on to the present process time."""
        now = self.clock.elapsed()
        step, self._last = now - self._last, now
        if self.mode == "hold":
            self.inside_since = None
            return
        target, rate = (
            (self.set_point, self.slew_rate)
            if self.mode == "control"
            else (self.ambient, VENT_RATE)
        )
        gap = target - self.pressure
        self.pressure = (
            target
            if abs(gap) <= rate * step
            else self.pressure + rate * step * (1 if gap > 0 else -1)
        )
        if self.mode == "control" and abs(self.pressure - self.set_point) <= self.band:
            self.inside_since = now if self.inside_since is None else self.inside_since
        else:
            self.inside_since = None

    def set(self, set_point: float) -> None:
        """A new set point: the band is left until the pressure reaches it."""
        self.update()
        self.set_point, self.inside_since = set_point, None

    def switch(self, mode: Literal["hold", "control", "vent"]) -> None:
        self.update()
        self.mode = mode

    def in_band_for(self, seconds: float) -> bool:
        """In band for at least ``seconds`` now."""
        self.update()
        since = self.inside_since
        return since is not None and self.clock.elapsed() - since >= seconds

    @property
    def vented(self) -> bool:
        """Venting has brought the pressure to ambient."""
        return self.mode == "vent" and self.pressure == self.ambient
