"""The indication of a pressure sensor: range, zero and span errors, non-linearity and
hysteresis. Shared by every simulated pressure gauge and transmitter."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

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
