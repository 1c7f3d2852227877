"""The live view of a run: current point, stability trace, points done of total, ETA."""

from __future__ import annotations

import math
import time
from collections import deque

from rich.console import Console, Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from daq.core.reading import Reading
from daq.engine.record import Point
from daq.metrology.rounding import format_uncertainty, format_value
from daq.stability import Verdict

OUTCOME_STYLES = {
    "pass": "green",
    "conditional pass": "yellow",
    "conditional fail": "dark_orange",
    "fail": "bold red",
}


class RunDisplay:
    """A ``Progress`` for the terminal; without one it prints a line per point instead."""

    def __init__(self, console: Console) -> None:
        self.title = ""
        self.total = 0
        self.done = 0
        self.console = console
        self.label = "starting"
        self.state = ""
        self.samples: deque[Reading] = deque(maxlen=6)
        self.verdict: Verdict | None = None
        self.last: Point | None = None
        self._started = time.monotonic()
        self._done_at_start = 0
        self.live = console.is_terminal

    def begin(self, run: str, title: str, total: int, done: int) -> None:
        self.title, self.total = f"{title} ({run})", total
        self.done = self._done_at_start = done

    def point(self, label: str) -> None:
        self.label, self.verdict = label, None
        self.samples.clear()
        if not self.live:
            self.console.print(f"[{self.done}/{self.total}] {label}", highlight=False)

    def status(self, text: str) -> None:
        self.state = text

    def sample(self, reading: Reading, verdict: Verdict | None) -> None:
        self.samples.append(reading)
        if verdict is not None:
            self.verdict = verdict

    def completed(self, point: Point) -> None:
        self.done += 1
        self.last = point
        if not self.live:
            self.console.print(Text(f"  {self.done}/{self.total} ") + describe(point))

    def eta(self) -> float | None:
        """Real seconds left, from the pace of the points done in this session."""
        finished = self.done - self._done_at_start
        if finished <= 0:
            return None
        return (time.monotonic() - self._started) / finished * (self.total - self.done)

    def __rich__(self) -> RenderableType:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold")
        grid.add_column()
        eta = self.eta()
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=max(self.total, 1), completed=self.done, width=40),
            f"{self.done}/{self.total} points",
            f"ETA {eta:.0f} s" if eta is not None else "",
        )
        grid.add_row("run", self.title)
        grid.add_row("point", f"{self.label}  [dim]{self.state}[/]")
        grid.add_row("progress", bar)
        if self.samples:
            values = ", ".join(f"{r.value:.6g}" for r in self.samples)
            grid.add_row("readings", f"{values} {self.samples[-1].unit}")
        if self.verdict is not None:
            v = self.verdict
            slope = f"{v.slope:+.3g}/min" if v.slope is not None else "-"
            std = f"{v.std:.3g}" if v.std is not None else "-"
            state = Text("stable", "green") if v.stable else Text(v.reason, "yellow")
            grid.add_row("stability", Text(f"slope {slope}, s {std}, n {v.readings}: ") + state)
        if self.last is not None:
            grid.add_row("last point", describe(self.last))
        return Group(grid)


def budget_table(point: Point) -> Table | None:
    """The point's uncertainty budget as a certificate annex prints it (EA-4/02 style)."""
    budget = point.budget
    if budget is None:
        return None
    unit = budget["unit"]
    table = Table(title=f"{point.key}: budget of the {budget['quantity']}", title_justify="left")
    for column in (
        "quantity Xᵢ",
        "xᵢ",
        "u(xᵢ)",
        "distribution",
        "cᵢ",
        f"uᵢ(y) / {unit}",
        "νᵢ",
        "share",
        "source",
    ):
        table.add_column(
            column, justify="left" if column.startswith(("quantity", "dist")) else "right"
        )
    for row in budget["contributions"]:
        table.add_row(
            row["name"],
            f"{row['value']:.7g}",
            f"{row['standard_uncertainty']:.3g} {row['unit']}",
            row["distribution"],
            f"{row['sensitivity'] + 0.0:.4g}",  # + 0.0: never "-0"
            f"{row['uncertainty_of_result']:.3g}",
            "∞" if row["dof"] is None else f"{row['dof']:g}",
            f"{row['share']:.1%}",
            row.get("note", ""),
        )
    dof = budget["effective_dof"]
    table.caption = (
        f"u_c = {budget['combined_standard_uncertainty']:.3g} {unit}, "
        f"ν_eff = {'∞' if dof is None else f'{dof:.3g}'}, k = {budget['coverage_factor']:g}, "
        f"U = {format_uncertainty(budget['expanded_uncertainty'])} {unit} "
        f"({budget.get('coverage_probability', 95.45):g} %)"
        + (" (raised to the CMC)" if budget["cmc_applied"] else "")
    )
    return table


def describe(point: Point) -> Text:
    """One line: the point, its result ± U and the decision, rounded as a certificate states
    them (daq.metrology.rounding: U to two significant digits, the result to U's last
    decimal); a point without a budget shows its first values to six significant digits."""
    text = Text(point.key)
    budget, decision = point.budget, point.decision
    if budget is not None and decision is not None:
        expanded = budget["expanded_uncertainty"]
        text.append(
            f": {format_value(decision['value'], expanded, signed=True)} ± "
            f"{format_uncertainty(expanded)} {point.unit} "
            f"(k = {budget['coverage_factor']:g}) "
        )
        outcome = decision["outcome"]
        text.append(outcome, OUTCOME_STYLES.get(outcome, ""))
        check = decision.get("check", "error")
        if check != "error":  # another indication than the mean governs (a falling series)
            text.append(f" ({check})")
        for warning in decision.get("warnings", []):
            text.append(f"; {warning}", "yellow")
    elif point.values:
        shown = ", ".join(f"{k} {_plain(v)}" for k, v in list(point.values.items())[:3])
        text.append(f": {shown} {point.unit}")
    return text


def _plain(value: float) -> str:
    """A value without an uncertainty: six significant digits (nan or inf as such: the live
    view never fails on what a procedure recorded)."""
    return format_value(value, 0.0) if math.isfinite(value) else str(value)
