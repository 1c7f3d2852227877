"""A heated block or bath with its controller: the physics shared by simulated heat sources.

The controller holds its displayed temperature at the set point with a first-order lag (or a
damped second-order response with a chosen overshoot); with the heater off the block drifts to
ambient. ``error`` separates the display from the true block temperature, so a source whose
display is out of tolerance can be simulated.
"""

from __future__ import annotations

import math

from pydantic import Field

from simulators.base import SimulatedInstrument, SimulatorSettings

MIN_WANDER = 0.2
"""Least amplitude of the never_settle wander, °C: well above any stability band."""
HOLD_POWER = 0.1
"""Heater power (%) per °C the set point lies above ambient, to hold it."""
POWER_GAIN = 20.0
"""Extra heater power (%) per °C the block lies below the set point."""
FORGET_AFTER = 30.0
"""Overshoot transients older than this many time constants are dropped (e^-30)."""


class HeatSourceSettings(SimulatorSettings):
    """Physics shared by the simulated heat sources; temperatures °C, times process seconds."""

    ambient: float = 23.0
    """Room temperature the block drifts to with the heater off."""
    temperature: float | None = None
    """Block temperature at power-on; None: ambient."""
    time_constant: float = Field(120.0, gt=0)
    """Time constant of the controlled approach to the set point."""
    ambient_time_constant: float = Field(900.0, gt=0)
    """Time constant of the drift to ambient with the heater off."""
    overshoot: float = Field(0.0, ge=0, le=0.9)
    """Fraction of a set-point step the block overshoots by (damped second order); 0: none."""
    noise: float = Field(0.002, ge=0)
    """Standard deviation of the control-sensor reading."""
    error: float = 0.0
    """Displayed control temperature minus the true block temperature."""


class ThermalBlock:
    """A block (or bath) with its heater and controller.

    The controller holds its *displayed* temperature at the set point, so the true block
    sits at ``set point - error``. With the heater on, the display follows the set point with a
    first-order lag (or, with ``overshoot``, a damped second-order response whose envelope
    decays with the same time constant); with it off the block drifts to ambient.
    """

    def __init__(self, sim: SimulatedInstrument, config: HeatSourceSettings, set_point: float):
        self.config = config
        self._clock = sim.clock
        self._ambient = config.ambient
        start = config.ambient if config.temperature is None else config.temperature
        self._shown = sim.process_value(
            start + config.error,
            time_constant=config.ambient_time_constant,
            noise=config.noise,
            wander=max(MIN_WANDER, 50 * config.noise),
        )
        self._set_point = set_point
        self._heating = False
        self._steps: list[tuple[float, float]] = []
        """Set-point steps (when, size) whose overshoot is still decaying."""
        self._k = -math.log(config.overshoot) / math.pi if config.overshoot > 0 else 0.0
        """ζ/√(1-ζ²) of the second-order response; its peak overshoot is exp(-πk)."""

    @property
    def set_point(self) -> float:
        return self._set_point

    @property
    def heating(self) -> bool:
        return self._heating

    @property
    def wandering(self) -> bool:
        return self._shown.unsettled

    def control(self, set_point: float, heating: bool) -> None:
        """Hold ``set_point`` with the heater on, or let the block drift to ambient."""
        if (set_point, heating) == (self._set_point, self._heating):
            return
        now = self._clock.elapsed()
        if not heating:
            self._steps.clear()
        elif self._k:
            size = set_point - (self._set_point if self._heating else self.displayed())
            self._steps.append((now, size))
        self._shown.set_target(set_point if heating else self._ambient + self.config.error)
        self._shown.time_constant = (
            self.config.time_constant if heating else self.config.ambient_time_constant
        )
        self._set_point, self._heating = set_point, heating

    def set_ambient(self, celsius: float) -> None:
        self._ambient = celsius
        if not self._heating:
            self._shown.set_target(celsius + self.config.error)

    def _overshoot(self) -> float:
        """Second-order minus first-order response to the steps still decaying."""
        tau, now = self.config.time_constant, self._clock.elapsed()
        self._steps = [(t, d) for t, d in self._steps if now - t < FORGET_AFTER * tau]
        total = 0.0
        for since, size in self._steps:
            age = (now - since) / tau
            phase = age / self._k
            total += size * math.exp(-age) * (1 - math.cos(phase) - self._k * math.sin(phase))
        return total

    def displayed(self) -> float:
        """The control temperature without noise."""
        return self._shown.true_value() + self._overshoot()

    def observe(self) -> float:
        """One control-sensor reading, with noise."""
        return self._shown.observe() + self._overshoot()

    def block_temperature(self) -> float:
        """The true block temperature (what a reference thermometer in the well sees)."""
        return self.displayed() - self.config.error

    def deviation(self) -> float:
        """How far the control temperature strays from the set point: transient, wander and
        twice the noise."""
        wander = self._shown.wander if self._shown.unsettled else 0.0
        return abs(self.displayed() - self._set_point) + wander + 2 * self.config.noise

    def stable(self, limit: float) -> bool:
        return self._heating and not self._shown.unsettled and self.deviation() <= limit

    def power(self) -> float:
        """Heater duty cycle, %: enough to hold the set point, more while below it."""
        if not self._heating:
            return 0.0
        demand = HOLD_POWER * (self._set_point - self._ambient)
        demand += POWER_GAIN * (self._set_point - self.displayed())
        return min(100.0, max(0.0, demand))


def power_on_set_point(ambient: float, minimum: float, maximum: float) -> float:
    """The set point a source wakes up with when none is configured: ambient, within range."""
    return min(maximum, max(minimum, ambient))


def fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def celsius(fahrenheit: float) -> float:
    return (fahrenheit - 32) * 5 / 9
