"""Device physics shared by the simulators: settling, noise and drift on the shared clock."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from daq.core.clock import Clock

WANDER_PERIOD = 7.0
"""Period of the wander of an unsettled value, process seconds."""


class ProcessValue:
    """A physical quantity that settles toward its target with first-order lag.

    The true value is ``target + (start - target)·exp(-t/τ) + drift·t``; each observation adds
    Gaussian noise. Time is the clock's process time, so a scaled clock settles faster.

    While ``unsettled`` is set (the ``never_settle`` fault) the value wanders around its target
    by ``wander`` and never counts as settled.
    """

    def __init__(
        self,
        clock: Clock,
        value: float,
        *,
        time_constant: float = 1.0,
        noise: float = 0.0,
        drift_per_hour: float = 0.0,
        wander: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.time_constant = time_constant
        self.noise = noise
        self.drift_per_hour = drift_per_hour
        self.wander = wander if wander is not None else max(50 * noise, 1e-3 * abs(value), 1e-6)
        """Amplitude of the wander while unsettled: well above any stability band."""
        self.unsettled = False
        self._rng = rng or random.Random()
        self._start_time = clock.elapsed()
        self._from = value
        self._target = value
        self._since = self._start_time
        self._source: Callable[[], float] | None = None
        self._on_change: Callable[[float, float], None] | None = None
        self._tracked_at = self._start_time

    def follow(
        self,
        source: Callable[[], float],
        on_change: Callable[[float, float], None] | None = None,
    ) -> None:
        """Take the target from ``source`` whenever the value is looked at (a probe in a bath,
        a gauge on a manifold); ``on_change(old, new)`` hears every change of target."""
        self._source, self._on_change = source, on_change

    def _track(self) -> None:
        """Follow the source. Looked at after more than five time constants, the value has
        long caught up with a source that moves slowly beside it, so it is there at once."""
        if self._source is None:
            return
        target = self._source()
        now = self.clock.elapsed()
        stale = now - self._tracked_at > 5 * self.time_constant
        self._tracked_at = now
        if target != self._target:
            if self._on_change is not None:
                self._on_change(self._target, target)
            self.set_target(target)
            if stale:
                self._from = target

    @property
    def target(self) -> float:
        return self._target

    def set_target(self, target: float) -> None:
        """Start settling from wherever the value is now toward ``target``."""
        self._from = self._settling_value()
        self._since = self.clock.elapsed()
        self._target = target

    def _settling_value(self) -> float:
        age = self.clock.elapsed() - self._since
        if self.time_constant <= 0:
            return self._target
        return self._target + (self._from - self._target) * math.exp(-age / self.time_constant)

    def true_value(self) -> float:
        self._track()
        age = self.clock.elapsed() - self._start_time
        drift = self.drift_per_hour * age / 3600.0
        wander = self.wander * math.sin(2 * math.pi * age / WANDER_PERIOD) if self.unsettled else 0
        return self._settling_value() + drift + wander

    def observe(self) -> float:
        """One noisy observation of the value, as a sensor would see it."""
        return self.true_value() + (self._rng.gauss(0.0, self.noise) if self.noise else 0.0)

    def settled_within(self, band: float) -> bool:
        """True once the settling transient is smaller than ``band``."""
        self._track()
        return not self.unsettled and abs(self._settling_value() - self._target) <= band
