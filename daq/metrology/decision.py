"""Decision rules and statements of conformity (ILAC-G8:09/2019, JCGM 106:2012).

The tolerance is an interval [lower, upper] for the measured quantity (an error, a
correction). A guard band w moves the acceptance limits inside it: AL = TL ∓ w. Binary
statements say pass or fail; non-binary ones (ILAC-G8 4.2.3) add conditional pass (inside
the tolerance, within w of it) and conditional fail (outside, within w). The probability of
conformance assumes a normal distribution of the measurand, or a scaled and shifted
Student-t with ν_eff degrees of freedom when k came from ν_eff (JCGM 106:2012 7.3 and 7.4):
p_c = F((TU - y)/u) - F((TL - y)/u) with u = U/k. Each decision records the rule, the
test uncertainty ratio, p_c and the specific probability of a false accept (1 - p_c for an
accepted value) or false reject (p_c for a rejected one), JCGM 106 9.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daq.metrology.errors import MetrologyError

_NORMAL = NormalDist()


class Outcome(StrEnum):
    PASS = "pass"
    CONDITIONAL_PASS = "conditional pass"
    CONDITIONAL_FAIL = "conditional fail"
    FAIL = "fail"

    @property
    def conforms(self) -> bool:
        return self in (Outcome.PASS, Outcome.CONDITIONAL_PASS)


class DecisionRule(BaseModel):
    """The rule agreed with the customer (ISO/IEC 17025 7.1.3), as written in a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acceptance: Literal["simple", "guarded"] = "simple"
    """Simple acceptance (w = 0, ILAC-G8 4.2.1) or guarded acceptance (4.2.2)."""
    guard_band: Literal["U", "pfa"] = "U"
    """For guarded acceptance and for the conditional zones: w = U, or the w that keeps the
    specific probability of false accept below ``max_false_accept`` (JCGM 106 8.3.2)."""
    max_false_accept: float = Field(0.025, gt=0, lt=0.5)
    statements: Literal["binary", "non-binary"] = "binary"
    minimum_tur: float = Field(4.0, gt=0)
    """A point whose test uncertainty ratio is below this is flagged (ILAC-G8 note 4:1)."""

    @model_validator(mode="after")
    def _pfa_only_when_used(self) -> DecisionRule:
        if self.guard_band == "pfa" and self.acceptance == "simple" and self.statements == "binary":
            raise ValueError(
                "a guard band plays no part in simple acceptance with binary statements"
            )
        return self

    def guard(self, expanded: float, standard: float, dof: float = math.inf) -> float:
        """The guard band w for a point with expanded uncertainty U and standard u."""
        if self.guard_band == "U":
            return expanded
        return standard * _quantile(1.0 - self.max_false_accept, dof)

    def risk(self) -> str:
        """What the rule risks, for the statement of conformity (ILAC-G8:09/2019 4.2)."""
        if self.acceptance == "simple" and self.statements == "binary":
            return (
                "the specific probability of false accept is up to 50 % for a result at a "
                "tolerance limit"
            )
        if self.guard_band == "U":
            passed = "below 2.5 % for a pass (w = U, k = 2, normal)"
        else:
            passed = f"below {self.max_false_accept:.1%} for a pass"
        if self.statements == "binary":
            return f"the specific probability of false accept is {passed}"
        return (
            f"the specific probability of false accept is {passed}, and up to 50 % for a "
            "conditional pass (a result inside the tolerance but within w of a limit)"
        )

    def describe(self) -> str:
        if self.acceptance == "simple":
            text = "simple acceptance (ILAC-G8:09/2019 4.2.1, w = 0)"
        elif self.guard_band == "U":
            text = "guarded acceptance (ILAC-G8:09/2019 4.2.2, w = U)"
        else:
            text = (
                "guarded acceptance (ILAC-G8:09/2019 4.2.2, w for a probability of false "
                f"accept below {self.max_false_accept:.1%}, JCGM 106:2012 8.3.2)"
            )
        if self.statements == "non-binary":
            text += ", non-binary statements (4.2.3)"
        return text


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    value: float
    lower: float
    upper: float
    """The tolerance limits TL."""
    guard_band: float
    """w as used for the acceptance limits and the conditional zones."""
    probability_of_conformance: float
    tur: float
    """Test uncertainty ratio: tolerance span / 2U."""
    excess: float
    """How far the value lies beyond the nearer tolerance limit (0 when inside)."""
    rule: str
    expanded: float = 0.0
    """U the decision used."""
    dof: float = math.inf
    """ν_eff of the distribution behind p_c."""
    false_accept: float | None = None
    """1 - p_c for an accepted value (the specific risk, JCGM 106 9.5.2); None if rejected."""
    false_reject: float | None = None
    """p_c for a rejected value; None if accepted."""
    risk: str = ""
    warnings: tuple[str, ...] = ()
    """Such as a test uncertainty ratio below the rule's minimum."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "conforms": self.outcome.conforms,
            "value": self.value,
            "tolerance_lower": self.lower,
            "tolerance_upper": self.upper,
            "guard_band": self.guard_band,
            "probability_of_conformance": self.probability_of_conformance,
            "tur": None if math.isinf(self.tur) else self.tur,
            "excess": self.excess,
            "rule": self.rule,
            "expanded_uncertainty": self.expanded,
            "effective_dof": None if math.isinf(self.dof) else self.dof,
            "probability_of_false_accept": self.false_accept,
            "probability_of_false_reject": self.false_reject,
            "risk": self.risk,
            "warnings": list(self.warnings),
        }


def _cdf(x: float, dof: float) -> float:
    if math.isinf(dof):
        return _NORMAL.cdf(x)
    from scipy.stats import t as student  # a second of import: only when a ν is finite

    return float(student.cdf(x, dof))


def _quantile(p: float, dof: float) -> float:
    if math.isinf(dof):
        return _NORMAL.inv_cdf(p)
    from scipy.stats import t as student

    return float(student.ppf(p, dof))


def probability_of_conformance(
    value: float, standard: float, lower: float, upper: float, dof: float = math.inf
) -> float:
    """p_c = F((TU - y)/u) - F((TL - y)/u), F normal or Student-t with ν = ``dof``
    (JCGM 106:2012 7.3.2, 7.4)."""
    if standard <= 0:
        return 1.0 if lower <= value <= upper else 0.0
    return _cdf((upper - value) / standard, dof) - _cdf((lower - value) / standard, dof)


def _check(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise MetrologyError(f"{name} must be a finite number, not {value!r}")


def decide(
    value: float,
    expanded: float,
    standard: float,
    lower: float,
    upper: float,
    rule: DecisionRule,
    dof: float = math.inf,
) -> Decision:
    """Judge ``value`` (with U = ``expanded``, u = ``standard`` and ν_eff = ``dof``) against
    [lower, upper], on full-precision numbers."""
    for name, number in (("the value", value), ("U", expanded), ("u", standard)):
        _check(name, number)
    for name, number in (("the lower limit", lower), ("the upper limit", upper)):
        _check(name, number)
    if expanded < 0 or standard < 0:
        raise MetrologyError(f"uncertainties cannot be negative (U = {expanded}, u = {standard})")
    if not dof >= 1:
        raise MetrologyError(f"degrees of freedom must be at least 1, not {dof!r}")
    if not lower < upper:
        raise MetrologyError(f"tolerance limits must satisfy lower < upper, not {lower}, {upper}")
    w = (
        0.0
        if rule.acceptance == "simple" and rule.statements == "binary"
        else rule.guard(expanded, standard, dof)
    )
    inside = lower <= value <= upper
    within_acceptance = lower + w <= value <= upper - w
    near_outside = lower - w <= value <= upper + w
    if rule.statements == "binary":
        accepted = within_acceptance if rule.acceptance == "guarded" else inside
        outcome = Outcome.PASS if accepted else Outcome.FAIL
    elif within_acceptance:
        outcome = Outcome.PASS
    elif inside:
        outcome = Outcome.CONDITIONAL_PASS
    elif near_outside:
        outcome = Outcome.CONDITIONAL_FAIL
    else:
        outcome = Outcome.FAIL
    excess = max(0.0, lower - value, value - upper)
    conformance = probability_of_conformance(value, standard, lower, upper, dof)
    tur = (upper - lower) / (2 * expanded) if expanded > 0 else math.inf
    warnings = []
    if tur < rule.minimum_tur:
        warnings.append(
            f"test uncertainty ratio {tur:.2g}:1 is below the minimum {rule.minimum_tur:g}:1"
        )
    return Decision(
        outcome,
        value,
        lower,
        upper,
        w,
        conformance,
        tur,
        excess,
        rule.describe(),
        expanded,
        dof,
        1.0 - conformance if outcome.conforms else None,
        None if outcome.conforms else conformance,
        rule.risk(),
        tuple(warnings),
    )
