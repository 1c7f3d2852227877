"""Certificate plots as SVG (matplotlib, no display needed): errors or corrections
against nominal with U as error bars and the specification band, and the rising and
falling series of a pressure calibration."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from daq.engine.record import Point
from daq.reports.i18n import Translator


def _svg(figure: Figure) -> str:
    """The figure as an SVG data URI (for an <img>, in a browser and in the PDF). No pyplot:
    a bare Figure needs no display and keeps no global state."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


class _Ticks(ScalarFormatter):
    """Matplotlib's tick labels with the certificate language's decimal sign."""

    def __init__(self, t: Translator) -> None:
        super().__init__()
        self._t = t

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self._t.number(super().__call__(x, pos))

    def get_offset(self) -> str:
        return self._t.number(super().get_offset())


def _localised(axes: Axes, t: Translator) -> None:
    axes.xaxis.set_major_formatter(_Ticks(t))
    axes.yaxis.set_major_formatter(_Ticks(t))


Limits = Callable[[float], tuple[float, float]]
"""The tolerance's [lower, upper] for the error at a nominal value."""
SAMPLES = 200
"""Nominal values the band is drawn through, between the first and the last test point."""


def tolerance_band(
    limits: Limits, first: float, last: float
) -> tuple[list[float], list[float], list[float]]:
    """The tolerance band across [first, last]: x, lower and upper, with a step where the
    tolerance jumps (OIML R76's bands of e) drawn as a step at the band's edge, found by
    bisection, instead of a ramp between two samples."""
    step = (last - first) / SAMPLES if last > first else 0.0
    xs = [first + i * step for i in range(SAMPLES + 1)] if step else [first]
    band = [(x, *limits(x)) for x in xs]
    drawn = [band[0]]
    for before, after in pairwise(band):
        low, high = before[0], after[0]
        jumps = (
            before[1:] != after[1:]
            and _constant(limits, low, before[1:])
            and _constant(limits, high, after[1:])
        )
        if jumps:
            for _ in range(60):  # to the float resolution of the edge
                middle = (low + high) / 2
                if middle in (low, high):
                    break
                if limits(middle) == before[1:]:
                    low = middle
                else:
                    high = middle
            drawn += [(low, *before[1:]), (high, *after[1:])]
        drawn.append(after)
    return [d[0] for d in drawn], [d[1] for d in drawn], [d[2] for d in drawn]


def _constant(limits: Limits, x: float, value: tuple[float, float]) -> bool:
    """Whether the limits are flat at ``x`` (a band), not sloping (a % of reading)."""
    nudge = max(abs(x), 1.0) * 1e-9
    return limits(x - nudge) == value or limits(x + nudge) == value


def _error_check(point: Point) -> dict[str, Any]:
    """The check of the error of indication (the point's decision when it lists none)."""
    found = next((c for c in point.checks if c.get("check") == "error"), point.decision)
    return dict(found or {})


def errors(points: list[Point], t: Translator, limits: Limits | None = None) -> str | None:
    """Error (or correction, for comparisons) against nominal per UUT, with ±U, and the
    tolerance band drawn from the tolerance itself (``limits``), so that a stepped
    specification is drawn as steps; without it, through each point's limits."""
    decided = [p for p in points if p.decision and p.budget and p.nominal is not None]
    if not decided:
        return None
    corrections = all(p.kind == "comparison" for p in decided)
    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    by_uut: dict[str | None, list[Point]] = defaultdict(list)
    for point in decided:
        by_uut[point.uut].append(point)
    for uut, series in by_uut.items():
        series.sort(key=lambda p: p.nominal or 0.0)
        x = [p.nominal or 0.0 for p in series]
        y = [-p.values["error"] if corrections else p.values["error"] for p in series]
        u = [p.budget["expanded_uncertainty"] for p in series if p.budget]
        axes.errorbar(x, y, yerr=u, fmt="o-", capsize=3, label=uut or "")
    nominals = sorted(p.nominal or 0.0 for p in decided)
    try:
        if limits is None:
            raise ValueError("no tolerance function")
        x, lower, upper = tolerance_band(limits, nominals[0], nominals[-1])
        if corrections:  # a correction's band is the error's, mirrored
            lower, upper = [-u for u in upper], [-v for v in lower]
    except ValueError:  # MetrologyError too: somewhere between the points it has none
        band = sorted(  # through each point's own limits of the error
            (p.nominal or 0.0, _error_check(p).get("tolerance_lower", 0.0),
             _error_check(p).get("tolerance_upper", 0.0))
            for p in decided
        )  # fmt: skip
        x, lower, upper = [b[0] for b in band], [b[1] for b in band], [b[2] for b in band]
        if corrections:
            lower, upper = [-u for u in upper], [-v for v in lower]
    axes.fill_between(x, lower, upper, color="tab:green", alpha=0.12, label=t("tolerance"))
    unit = decided[0].unit
    axes.set_xlabel(f"{t('nominal')} / {unit}")
    axes.set_ylabel(f"{t('correction' if corrections else 'error')} / {unit}")
    axes.axhline(0, color="black", linewidth=0.6)
    _localised(axes, t)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return _svg(figure)


def hysteresis(points: list[Point], t: Translator) -> str | None:
    """Indication minus reference of the rising and the falling series."""
    series = [p for p in points if p.kind == "series"]
    if not series:
        return None
    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    for rising, label in ((1.0, t("rising")), (0.0, t("falling"))):
        chosen = sorted(
            (p for p in series if p.values.get("rising") == rising), key=lambda p: p.nominal or 0.0
        )
        by_series: dict[float, list[Point]] = defaultdict(list)
        for point in chosen:
            by_series[point.values["series"]].append(point)
        for number, run in sorted(by_series.items()):
            axes.plot(
                [p.nominal or 0.0 for p in run],
                [p.values["indication"] - p.values["reference"] for p in run],
                "^-" if rising else "v--",
                label=f"M{number:g} {label}",
            )
    unit = series[0].unit
    axes.set_xlabel(f"{t('nominal')} / {unit}")
    axes.set_ylabel(f"{t('indication')} − {t('reference')} / {unit}")
    _localised(axes, t)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return _svg(figure)
