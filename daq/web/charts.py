"""A standard's check values as a control chart: the readings an alarm rule watches
(Shewhart or EWMA, from the lab file's ``alarms:``), with the rule's centre line and limits,
drawn as SVG coordinates for the template."""

from __future__ import annotations

import math
from dataclasses import dataclass

from daq.alarms import AlarmRule, Ewma, Shewhart
from daq.journal import Journal

WIDTH, HEIGHT = 600.0, 120.0
CHECK_VALUES = 200
"""Newest readings charted."""


@dataclass(frozen=True)
class Chart:
    rule: str
    kind: str
    quantity: str
    unit: str
    count: int
    outside: int
    """Check values (Shewhart) or EWMA values beyond the limits."""
    values: str
    """SVG polyline points of the check values (or the EWMA)."""
    centre: float
    upper: float
    lower: float
    """The y of the centre line and the limits."""
    mean: float
    limit: float
    """The half-width of the limits, in the reading's unit."""


def charted_rules(rules: list[AlarmRule]) -> list[Shewhart | Ewma]:
    return [r for r in rules if isinstance(r, Shewhart | Ewma)]


async def control_chart(journal: Journal, rule: Shewhart | Ewma) -> Chart | None:
    """The chart of ``rule`` over its instrument's newest readings (None: no readings)."""
    newest = await journal.recent_readings(rule.instrument, rule.quantity, CHECK_VALUES)
    found = [r for r in newest if math.isfinite(r.value)]
    if not found:
        return None
    values = [r.value for r in found]
    if isinstance(rule, Shewhart):
        half = rule.k * rule.sigma
        shown = values
    else:
        half = rule.width * rule.sigma * math.sqrt(rule.smoothing / (2 - rule.smoothing))
        shown, z = [], rule.mean
        for x in values:
            z = rule.smoothing * x + (1 - rule.smoothing) * z
            shown.append(z)
    low = min(min(shown), rule.mean - half)
    high = max(max(shown), rule.mean + half)
    span = (high - low) or 1.0

    def y(value: float) -> float:
        return round(HEIGHT - 4 - (value - low) / span * (HEIGHT - 8), 1)

    step = WIDTH / max(len(shown) - 1, 1)
    points = " ".join(f"{i * step:.1f},{y(v)}" for i, v in enumerate(shown))
    outside = sum(1 for v in shown if abs(v - rule.mean) > half)
    return Chart(
        rule.id, rule.kind, rule.quantity, found[-1].unit, len(shown), outside, points,
        y(rule.mean), y(rule.mean + half), y(rule.mean - half), rule.mean, half,
    )  # fmt: skip
