"""The one judging step every procedure uses: evaluate the model of the error, floor U at
the CMC where the value was measured, find the tolerance at the test point in the result's
unit, and decide every indication that must conform, not only their mean.

EN 837-1 and DKD-R 6-1 ask that each indication (rising and falling) is within the limits
and the hysteresis within |MPE|: ``each`` carries the errors that must each conform (judged
with the point's U), ``bounded`` the magnitudes that must stay within the tolerance's
half-width. The point's decision is the worst of them, so a gauge failing only on its
falling series fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from daq.metrology.budget import COVERAGE_PROBABILITY, Budget, Cmc, Evaluation
from daq.metrology.decision import Decision, DecisionRule, Outcome, decide
from daq.metrology.errors import MetrologyError
from daq.metrology.tolerance import Tolerance

MAIN = "error"
"""The name of the decision on the budget's own value."""

_SEVERITY = {
    Outcome.PASS: 0,
    Outcome.CONDITIONAL_PASS: 1,
    Outcome.CONDITIONAL_FAIL: 2,
    Outcome.FAIL: 3,
}


@dataclass(frozen=True)
class Judgement:
    evaluation: Evaluation
    checks: tuple[tuple[str, Decision], ...]
    """Every decision taken, by name: the budget's value first ("error")."""

    @property
    def governing(self) -> tuple[str, Decision]:
        """The worst decision (the largest excess among equals): the point's verdict."""
        return max(self.checks, key=lambda c: (_SEVERITY[c[1].outcome], c[1].excess, c[0] == MAIN))

    @property
    def decision(self) -> Decision:
        return self.governing[1]


def half_width(lower: float, upper: float) -> float:
    """|MPE| of an interval: the nearer limit when it straddles zero, else half its width."""
    return min(-lower, upper) if lower < 0 < upper else (upper - lower) / 2


def judge(
    budget: Budget,
    tolerance: Tolerance,
    rule: DecisionRule,
    *,
    nominal: float,
    at: float,
    cmc: Cmc | None = None,
    probability: float = COVERAGE_PROBABILITY,
    each: Mapping[str, float] | None = None,
    bounded: Mapping[str, float] | None = None,
) -> Judgement:
    """Judge the error modelled by ``budget`` at the test point ``nominal`` (the budget's
    unit); the CMC is evaluated at ``at``, the measured value, and the tolerance at both (the
    narrower interval applies, so a % of reading tolerance of a gauge whose controller stopped
    short is not judged at the larger nominal). MetrologyError when the tolerance cannot be
    evaluated at the nominal (wrong unit, beyond a table, zero width)."""
    lower, upper = tolerance.limits(nominal, budget.unit)
    try:  # a reference that stopped short of its set point: the narrower limits apply
        at_lower, at_upper = tolerance.limits(at, budget.unit)
    except MetrologyError:
        pass  # just beyond a table or class range: the nominal's limits, checked by the plan
    else:
        lower, upper = max(lower, at_lower), min(upper, at_upper)
    evaluation = budget.evaluate(cmc, at=at, probability=probability)
    # decisions on full precision: U before rounding (or the CMC), u = U/k
    expanded = evaluation.decisive
    standard = expanded / evaluation.k
    dof = evaluation.dof

    def decided(value: float, low: float, high: float) -> Decision:
        return decide(value, expanded, standard, low, high, rule, dof)

    checks = [(MAIN, decided(evaluation.value, lower, upper))]
    checks += [(name, decided(value, lower, upper)) for name, value in (each or {}).items()]
    limit = half_width(lower, upper)
    checks += [(name, decided(value, -limit, limit)) for name, value in (bounded or {}).items()]
    return Judgement(evaluation, tuple(checks))
