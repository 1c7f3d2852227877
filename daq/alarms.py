"""Alarm rules on monitored readings: limits, rate of change, drift against a certificate
value, and Shewhart and EWMA control charts of a check standard.

A rule raises an ``alarm`` event when a reading breaks it and an ``alarm_cleared`` event
when readings are back inside, never one per reading; an operator acknowledges an active
alarm (``alarm_acknowledged``). Events are what sinks publish.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daq.core.reading import Reading, Status
from daq.journal import EventKind, Journal, Severity


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    instrument: str
    quantity: str
    severity: Literal["warning", "error"] = "warning"
    description: str = ""


class Limits(_Rule):
    kind: Literal["limits"]
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> Limits:
        if self.low is None and self.high is None:
            raise ValueError("give low, high or both")
        return self


class RateOfChange(_Rule):
    kind: Literal["rate"]
    max_per_minute: float = Field(gt=0)
    window: float = Field(60.0, gt=0)
    """Seconds over which the rate is measured."""


class Drift(_Rule):
    """A check standard read on the instrument against the value of its certificate."""

    kind: Literal["drift"]
    reference: float
    """The certificate value (e.g. a check weight's conventional mass)."""
    limit: float = Field(gt=0)
    standard: str = ""
    """The register id of the check standard, for the record."""


class Shewhart(_Rule):
    """Individuals chart: a point beyond mean ± k·sigma (ISO 7870-2)."""

    kind: Literal["shewhart"]
    mean: float
    sigma: float = Field(gt=0)
    k: float = Field(3.0, gt=0)


class Ewma(_Rule):
    """EWMA chart z = λx + (1-λ)z with limits mean ± L·σ·sqrt(λ/(2-λ)) (ISO 7870-6)."""

    kind: Literal["ewma"]
    mean: float
    sigma: float = Field(gt=0)
    smoothing: float = Field(0.2, gt=0, le=1)
    width: float = Field(3.0, gt=0)


AlarmRule = Annotated[Limits | RateOfChange | Drift | Shewhart | Ewma, Field(discriminator="kind")]


@dataclass
class _State:
    active: bool = False
    acknowledged_by: str = ""
    """Who acknowledged the alarm while it is active ("" until someone does)."""
    history: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=1000))
    ewma: float | None = None


def breach(rule: AlarmRule, reading: Reading, state: _State) -> str | None:
    """Why ``reading`` breaks ``rule`` (None when it does not)."""
    x, unit = reading.value, reading.unit
    if isinstance(rule, Limits):
        if rule.low is not None and x < rule.low:
            return f"{x:g} {unit} below the low limit {rule.low:g}"
        if rule.high is not None and x > rule.high:
            return f"{x:g} {unit} above the high limit {rule.high:g}"
        return None
    if isinstance(rule, RateOfChange):
        history = state.history
        history.append((reading.timestamp, x))
        while history and reading.timestamp - history[0][0] > rule.window:
            history.popleft()
        span = history[-1][0] - history[0][0]
        if span <= 0:
            return None
        rate = (history[-1][1] - history[0][1]) / span * 60
        if abs(rate) > rule.max_per_minute:
            return f"changing {rate:+.3g} {unit}/min (limit {rule.max_per_minute:g})"
        return None
    if isinstance(rule, Drift):
        deviation = x - rule.reference
        if abs(deviation) > rule.limit:
            return f"{deviation:+.3g} {unit} from the certificate value {rule.reference:g}"
        return None
    if isinstance(rule, Shewhart):
        if abs(x - rule.mean) > rule.k * rule.sigma:
            return f"{x:g} {unit} outside {rule.mean:g} ± {rule.k:g}σ"
        return None
    previous = rule.mean if state.ewma is None else state.ewma
    state.ewma = rule.smoothing * x + (1 - rule.smoothing) * previous
    band = rule.width * rule.sigma * math.sqrt(rule.smoothing / (2 - rule.smoothing))
    if abs(state.ewma - rule.mean) > band:
        return f"EWMA {state.ewma:g} {unit} outside {rule.mean:g} ± {band:.3g}"
    return None


class Alarms:
    def __init__(self, rules: list[AlarmRule], journal: Journal) -> None:
        self.rules = rules
        self.journal = journal
        self._states = {rule.id: _State() for rule in rules}

    @property
    def active(self) -> list[str]:
        return [ident for ident, state in self._states.items() if state.active]

    @property
    def acknowledged(self) -> dict[str, str]:
        """Who acknowledged each active alarm that someone has."""
        return {
            ident: state.acknowledged_by
            for ident, state in self._states.items()
            if state.active and state.acknowledged_by
        }

    def check(self, readings: list[Reading]) -> None:
        for reading in readings:
            if reading.status is not Status.OK or not math.isfinite(reading.value):
                continue
            for rule in self.rules:
                if (rule.instrument, rule.quantity) == (reading.instrument, reading.quantity):
                    self._judge(rule, reading)

    def _judge(self, rule: AlarmRule, reading: Reading) -> None:
        state = self._states[rule.id]
        why = breach(rule, reading, state)
        if why is not None and not state.active:
            state.active = True
            self.journal.event(
                EventKind.ALARM,
                f"{rule.id}: {reading.instrument} {reading.quantity} {why}",
                Severity(rule.severity),
                rule.id,
            )
        elif why is None and state.active:
            state.active, state.acknowledged_by = False, ""
            self.journal.event(
                EventKind.ALARM_CLEARED, f"{rule.id}: back within the rule", instrument=rule.id
            )

    def acknowledge(self, alarm: str, by: str) -> None:
        if alarm not in self._states:
            raise KeyError(f"no alarm rule {alarm!r}; rules: {', '.join(self._states) or 'none'}")
        state = self._states[alarm]
        if not state.active:
            raise ValueError(f"alarm {alarm} is not active")
        if state.acknowledged_by:
            raise ValueError(f"alarm {alarm} was acknowledged by {state.acknowledged_by}")
        state.acknowledged_by = by or "someone"
        self.journal.event(
            EventKind.ALARM_ACKNOWLEDGED,
            f"{alarm} acknowledged by {by or 'someone'}",
            instrument=alarm,
        )
