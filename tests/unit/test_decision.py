"""ILAC-G8:09/2019 decision rules and JCGM 106:2012 probability of conformance."""

import pytest
from pydantic import ValidationError

from daq.metrology.decision import DecisionRule, Outcome, decide, probability_of_conformance

SIMPLE = DecisionRule()
GUARDED = DecisionRule(acceptance="guarded")
NON_BINARY = DecisionRule(statements="non-binary")

# tolerance ±1.0, U = 0.2 (u = 0.1)
CASES = [
    (0.5, Outcome.PASS, Outcome.PASS, Outcome.PASS),
    (0.9, Outcome.PASS, Outcome.FAIL, Outcome.CONDITIONAL_PASS),
    (-1.1, Outcome.FAIL, Outcome.FAIL, Outcome.CONDITIONAL_FAIL),
    (1.3, Outcome.FAIL, Outcome.FAIL, Outcome.FAIL),
]


@pytest.mark.parametrize(("value", "simple", "guarded", "non_binary"), CASES)
def test_the_zones_of_ilac_g8(
    value: float, simple: Outcome, guarded: Outcome, non_binary: Outcome
) -> None:
    """ILAC-G8:09/2019 4.2.1 (simple), 4.2.2 (guarded, w = U) and 4.2.3 (non-binary)."""
    assert decide(value, 0.2, 0.1, -1.0, 1.0, SIMPLE).outcome is simple
    assert decide(value, 0.2, 0.1, -1.0, 1.0, GUARDED).outcome is guarded
    assert decide(value, 0.2, 0.1, -1.0, 1.0, NON_BINARY).outcome is non_binary


def test_probability_of_conformance() -> None:
    """JCGM 106:2012 7.3.2: y on the limit gives p_c = 0.5; y one u inside a one-sided
    limit about 0.8413 (Φ(1))."""
    assert probability_of_conformance(1.0, 0.1, -1.0, 1.0) == pytest.approx(0.5)
    assert probability_of_conformance(0.9, 0.1, -100.0, 1.0) == pytest.approx(0.841345, abs=1e-6)


def test_guard_band_from_false_accept_probability() -> None:
    """JCGM 106:2012 8.3.2: accepting only where p_c ≥ 1 - PFA puts AL at TU - z u, with
    z = Φ⁻¹(0.975) = 1.96 for 2.5 %."""
    rule = DecisionRule(acceptance="guarded", guard_band="pfa", max_false_accept=0.025)
    d = decide(0.80, 0.2, 0.1, -1.0, 1.0, rule)
    assert d.guard_band == pytest.approx(0.195996, abs=1e-6)
    assert d.outcome is Outcome.PASS
    assert decide(0.81, 0.2, 0.1, -1.0, 1.0, rule).outcome is Outcome.FAIL
    assert d.probability_of_conformance > 0.975


def test_tur_and_excess() -> None:
    d = decide(1.3, 0.25, 0.125, -1.0, 1.0, SIMPLE)
    assert d.tur == pytest.approx(4.0)
    assert d.excess == pytest.approx(0.3)
    assert decide(0.3, 0.25, 0.125, -1.0, 1.0, SIMPLE).excess == 0
    assert "4.2.1" in d.rule and not d.outcome.conforms


def test_bad_rules_and_limits() -> None:
    with pytest.raises(ValidationError):
        DecisionRule(acceptance="simple", guard_band="pfa")
    with pytest.raises(ValueError, match="lower < upper"):
        decide(0, 0.1, 0.05, 1.0, -1.0, SIMPLE)


def test_non_binary_statements_state_the_risk_of_a_conditional_pass() -> None:
    """ILAC-G8:09/2019 4.2.3: a conditional pass lies within w of a limit; its specific
    probability of false accept is near 50 % at the limit, and the rule's risk says so."""
    from daq.metrology.decision import DecisionRule, Outcome, decide

    rule = DecisionRule(acceptance="guarded", statements="non-binary")
    decision = decide(0.0499, 0.01, 0.005, -0.05, 0.05, rule)
    assert decision.outcome is Outcome.CONDITIONAL_PASS
    assert decision.false_accept == pytest.approx(0.492, abs=1e-3)
    assert "up to 50 % for a conditional pass" in rule.risk()
    assert "up to 50 %" not in DecisionRule(acceptance="guarded").risk()
