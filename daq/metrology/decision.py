"""Decision rules and statements of conformity (ILAC-G8:09/2019, JCGM 106:2012).

The tolerance is an interval [lower, upper] for the measured quantity (an error, a
correction). A guard band w moves the acceptance limits inside it: AL = TL ∓ w. Binary
statements say pass or fail; non-binary ones (ILAC-G8 4.2.3) add conditional pass (inside
the tolerance, within w of it) and conditional fail (outside, within w). The probability of
conformance assumes a normal distribution of the measurand (JCGM 106 7.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _pfa_only_when_used(self) -> DecisionRule:
        if self.guard_band == "pfa" and self.acceptance == "simple" and self.statements == "binary":
            raise ValueError(
                "a guard band plays no part in simple acceptance with binary statements"
            )
        return self

    def guard(self, expanded: float, standard: float) -> float:
        """The guard band w for a point with expanded uncertainty U and standard u."""
        if self.guard_band == "U":
            return expanded
        return standard * _NORMAL.inv_cdf(1.0 - self.max_false_accept)

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
        }


def probability_of_conformance(value: float, standard: float, lower: float, upper: float) -> float:
    """p_c = Φ((TU - y)/u) - Φ((TL - y)/u) (JCGM 106:2012 7.3.2 for a normal PDF)."""
    if standard <= 0:
        return 1.0 if lower <= value <= upper else 0.0
    return _NORMAL.cdf((upper - value) / standard) - _NORMAL.cdf((lower - value) / standard)


def decide(
    value: float,
    expanded: float,
    standard: float,
    lower: float,
    upper: float,
    rule: DecisionRule,
) -> Decision:
    """Judge ``value`` (with U = ``expanded`` and u = ``standard``) against [lower, upper]."""
    if not lower < upper:
        raise ValueError(f"tolerance limits must satisfy lower < upper, not {lower}, {upper}")
    w = (
        0.0
        if rule.acceptance == "simple" and rule.statements == "binary"
        else rule.guard(expanded, standard)
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
    return Decision(
        outcome,
        value,
        lower,
        upper,
        w,
        probability_of_conformance(value, standard, lower, upper),
        (upper - lower) / (2 * expanded) if expanded > 0 else math.inf,
        excess,
        rule.describe(),
    )
