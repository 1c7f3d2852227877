"""A simulated instrument read by hand (a dial gauge, a liquid-in-glass thermometer) and the
operator who reads it.

The operator reads the indication to the nearest ``reading_step`` (for a dial gauge usually a
fifth or a tenth of the scale interval) and types it in the unit the question asks for.
``error`` shifts the indication from the true value, so a UUT out of tolerance can be
simulated.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from daq.core.clock import Clock
from daq.core.prompts import Question
from simulators.base import OperatorSimulator, SimulatorSettings


class ManualSettings(SimulatorSettings):
    value: float = 0.0
    """True value of the measured quantity at start, in the instrument's unit."""
    noise: float = Field(0.0, ge=0)
    """Standard deviation of the operator's reading (parallax, interpolation)."""
    drift_per_hour: float = 0.0
    time_constant: float = Field(1.0, ge=0)
    """Seconds of process time the pointer needs to follow a change (``set_value``)."""
    reading_step: float = Field(0.01, gt=0)
    """The operator rounds the indication to a multiple of this."""
    error: float = 0.0
    """Indication minus true value: the instrument's error."""


class ManualSimulator(OperatorSimulator):
    family: ClassVar[str] = "manual"
    Settings: ClassVar[type[SimulatorSettings]] = ManualSettings
    actions: ClassVar[tuple[str, ...]] = ("set_value",)

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, ManualSettings)
        self.config = settings
        self._value = self.process_value(
            settings.value,
            time_constant=settings.time_constant,
            noise=settings.noise,
            drift_per_hour=settings.drift_per_hour,
            wander=20 * settings.reading_step,
        )

    measures: ClassVar[str | None] = "any"

    def follow(self, source: Callable[[], float]) -> None:
        self._value.follow(source)

    def set_value(self, value: float) -> None:
        """Change the true value (e.g. the pressure applied to the dial gauge)."""
        self._value.set_target(value)

    def true_value(self) -> float:
        return self._value.true_value()

    def indication(self, question: Question) -> str:
        step = self.config.reading_step
        shown = round((self._value.observe() + self.config.error) / step) * step
        exponent = Decimal(repr(step)).normalize().as_tuple().exponent
        decimals = max(0, -exponent) if isinstance(exponent, int) else 0
        return f"{shown:.{decimals}f} {question.unit}".rstrip()
