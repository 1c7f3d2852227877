"""The judging step on known truths: every tolerance kind, in units other than the result's,
just inside and just outside each limit, on both sides, at zero and at full scale, for every
indication that must conform (rising and falling) and for the hysteresis; plus a property
over random specifications. A wrong "pass" here is the worst bug the product can have."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from daq.metrology.budget import Budget, Contribution, certificate
from daq.metrology.decision import DecisionRule
from daq.metrology.errors import MetrologyError
from daq.metrology.judgement import judge
from daq.metrology.tolerance import Tolerance

TOLERANCE: TypeAdapter[Any] = TypeAdapter(Tolerance)
SIMPLE = DecisionRule()
GUARDED = DecisionRule(acceptance="guarded")


def error_budget(error: float, unit: str, u: float = 1e-6) -> Budget:
    """A model whose value is ``error``: the indication minus an exact reference."""
    return Budget("error of indication", unit).add(
        Contribution("indication", error, 0.0, unit),
        certificate("reference", 2 * u, 2.0, unit, -1.0, value=0.0),
    )


# (tolerance, nominal, result unit, lower limit, upper limit), limits worked out by hand
CASES: list[tuple[dict[str, Any], float, str, float, float]] = [
    # ±50 mK for a thermometer read in °C: ±0.050 °C (issue: it was taken as ±50 °C)
    ({"kind": "absolute", "value": 50, "unit": "mK"}, 140.0, "°C", -0.050, 0.050),
    ({"kind": "absolute", "value": 0.05, "unit": "K"}, -30.0, "°C", -0.050, 0.050),
    # ±1.6 kPa for a gauge read in bar
    ({"kind": "absolute", "value": 1.6, "unit": "kPa"}, 10.0, "bar", -0.016, 0.016),
    # ±0.5 mg for a balance read in g
    ({"kind": "absolute", "value": 0.5, "unit": "mg"}, 200.0, "g", -0.0005, 0.0005),
    # 0.1 % of reading at 200 kPa, result in bar: 0.2 kPa = 0.002 bar
    ({"kind": "percent_of_reading", "percent": 0.1, "unit": "kPa"}, 2.0, "bar", -0.002, 0.002),
    # 0.25 % of a 1000 kPa span = 2.5 kPa = 0.025 bar, at zero and at full scale
    (
        {"kind": "percent_of_span", "percent": 0.25, "span": 1000, "unit": "kPa"},
        0.0,
        "bar",
        -0.025,
        0.025,
    ),
    (
        {"kind": "percent_of_span", "percent": 0.25, "span": 1000, "unit": "kPa"},
        10.0,
        "bar",
        -0.025,
        0.025,
    ),
    # ±(0.05 % of reading + 2 digits of 0.001 bar): at zero only the digits, 0.002 bar
    (
        {
            "kind": "specification",
            "percent_of_reading": 0.05,
            "digits": 2,
            "resolution": 0.001,
            "unit": "bar",
        },
        0.0,
        "bar",
        -0.002,
        0.002,
    ),
    # ... at full scale 10 bar: 0.005 + 0.002 = 0.007 bar; the same spec read in kPa: 0.7 kPa
    (
        {
            "kind": "specification",
            "percent_of_reading": 0.05,
            "digits": 2,
            "resolution": 0.001,
            "unit": "bar",
        },
        10.0,
        "bar",
        -0.007,
        0.007,
    ),
    (
        {
            "kind": "specification",
            "percent_of_reading": 0.05,
            "digits": 2,
            "resolution": 0.001,
            "unit": "bar",
        },
        1000.0,
        "kPa",
        -0.7,
        0.7,
    ),
    # ±(0.01 % of span 20 bar + 0.001 bar fixed) = ±0.003 bar
    (
        {
            "kind": "specification",
            "percent_of_span": 0.01,
            "span": 20,
            "fixed": 0.001,
            "unit": "bar",
        },
        0.0,
        "bar",
        -0.003,
        0.003,
    ),
    # asymmetric limits in mbar for a result in bar: -0.010 to +0.030 bar
    ({"kind": "limits", "lower": -10, "upper": 30, "unit": "mbar"}, 5.0, "bar", -0.010, 0.030),
    # OIML R76 class II, e = 0.01 g, 30 g = 3000 e <= 5000 e: 0.5 e = 5 mg; result in mg
    (
        {"kind": "oiml_r76", "accuracy_class": "II", "e": 0.01, "unit": "g"},
        30000.0,
        "mg",
        -5.0,
        5.0,
    ),
    # OIML R76 class I, e = 1 mg at 50 g = 50 000 e, on the "<=" side: 0.5 e
    (
        {"kind": "oiml_r76", "accuracy_class": "I", "e": 0.001, "unit": "g"},
        50.0,
        "g",
        -0.0005,
        0.0005,
    ),
    # IEC 60751 class A at 140 °C: 0.15 + 0.002·140 = 0.43 °C
    ({"kind": "iec_60751", "tolerance_class": "A"}, 140.0, "°C", -0.43, 0.43),
    ({"kind": "iec_60751", "tolerance_class": "B"}, -50.0, "°C", -0.55, 0.55),
    # EN 837-1 class 1.6, span 10 bar: 0.16 bar at 0 and at 10 bar; span in kPa
    (
        {"kind": "en_837_1", "accuracy_class": 1.6, "span": 10, "unit": "bar"},
        0.0,
        "bar",
        -0.16,
        0.16,
    ),
    (
        {"kind": "en_837_1", "accuracy_class": 1.6, "span": 1000, "unit": "kPa"},
        10.0,
        "bar",
        -0.16,
        0.16,
    ),
]


def _ids(case: tuple[dict[str, Any], float, str, float, float]) -> str:
    spec, nominal, unit, *_ = case
    return f"{spec['kind']}-{spec.get('unit', '')}-at-{nominal:g}-{unit}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_limits_in_the_results_unit(case: tuple[dict[str, Any], float, str, float, float]) -> None:
    spec, nominal, unit, lower, upper = case
    limits = TOLERANCE.validate_python(spec).limits(nominal, unit)
    assert limits == pytest.approx((lower, upper), rel=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("side", ["upper", "lower"])
@pytest.mark.parametrize("branch", ["error", "M1 rising", "M2 falling"])
def test_just_inside_passes_and_just_outside_fails(
    case: tuple[dict[str, Any], float, str, float, float], side: str, branch: str
) -> None:
    spec, nominal, unit, lower, upper = case
    tolerance = TOLERANCE.validate_python(spec)
    limit = upper if side == "upper" else lower
    outward = 1.0 if side == "upper" else -1.0
    step = 1e-3 * (upper - lower)
    for offset, conforms in ((-step, True), (step, False)):
        value = limit + outward * offset
        if branch == "error":
            budget, each = error_budget(value, unit), None
        else:  # the mean is in the middle; only this one series is at the limit
            budget, each = error_budget((lower + upper) / 2, unit), {branch: value}
        judgement = judge(budget, tolerance, SIMPLE, nominal=nominal, at=nominal, each=each)
        assert judgement.decision.outcome.conforms is conforms, (branch, value)
        if not conforms:
            assert judgement.governing[0] == branch
            assert judgement.decision.excess == pytest.approx(step, rel=1e-6)


def test_a_gauge_failing_only_on_its_falling_series_fails() -> None:
    """EN 837-1 / DKD-R 6-1: each indication within the MPE; class 1.6 (MPE 0.16 bar),
    +0.10 bar rising and +0.21 bar falling: the mean +0.155 bar is inside, the gauge is not."""
    tolerance = TOLERANCE.validate_python(
        {"kind": "en_837_1", "accuracy_class": 1.6, "span": 10, "unit": "bar"}
    )
    judgement = judge(
        error_budget(0.155, "bar"),
        tolerance,
        SIMPLE,
        nominal=4.0,
        at=4.0,
        each={"M1 rising": 0.10, "M2 falling": 0.21},
        bounded={"hysteresis": 0.11},
    )
    assert judgement.checks[0][1].outcome.conforms  # the mean alone would pass
    assert not judgement.decision.outcome.conforms
    assert judgement.governing[0] == "M2 falling"


@pytest.mark.parametrize(("hysteresis", "conforms"), [(0.159, True), (0.161, False)])
def test_hysteresis_within_the_mpe(hysteresis: float, conforms: bool) -> None:
    tolerance = TOLERANCE.validate_python(
        {"kind": "en_837_1", "accuracy_class": 1.6, "span": 10, "unit": "bar"}
    )
    half = hysteresis / 2
    judgement = judge(
        error_budget(0.0, "bar"),
        tolerance,
        SIMPLE,
        nominal=4.0,
        at=4.0,
        each={"M1 rising": -half, "M2 falling": half},
        bounded={"hysteresis": hysteresis},
    )
    assert judgement.decision.outcome.conforms is conforms


def test_pure_percent_of_reading_at_zero_is_refused_with_the_point() -> None:
    tolerance = TOLERANCE.validate_python(
        {"kind": "percent_of_reading", "percent": 0.1, "unit": "bar"}
    )
    with pytest.raises(MetrologyError, match="no tolerance at 0 bar"):
        judge(error_budget(0.0, "bar"), tolerance, SIMPLE, nominal=0.0, at=0.0)


@pytest.mark.parametrize(
    ("spec", "unit", "message"),
    [
        ({"kind": "absolute", "value": 0.05, "unit": "bar"}, "°C", "°C cannot be converted to bar"),
        (
            {"kind": "en_837_1", "accuracy_class": 1.6, "span": 10, "unit": "bar"},
            "bar",
            "beyond the span",
        ),
        ({"kind": "iec_60751", "tolerance_class": "AA"}, "°C", "valid from -50 °C to 250 °C"),
    ],
)
def test_tolerances_that_cannot_be_evaluated_are_errors(
    spec: dict[str, Any], unit: str, message: str
) -> None:
    tolerance = TOLERANCE.validate_python(spec)
    with pytest.raises(MetrologyError, match=message):
        tolerance.limits(12.0 if "en_837" in spec["kind"] else 300.0, unit)


def test_guarded_acceptance_refuses_within_u_of_the_limit() -> None:
    """ILAC-G8:09/2019 4.2.2, w = U: 0.045 °C with U = 0.010 °C against ±0.050 °C is
    inside the tolerance but not inside the acceptance limit 0.040 °C."""
    tolerance = TOLERANCE.validate_python({"kind": "absolute", "value": 50, "unit": "mK"})
    judgement = judge(error_budget(0.045, "°C", u=0.005), tolerance, GUARDED, nominal=30.0, at=30.0)
    assert not judgement.decision.outcome.conforms
    assert judgement.decision.guard_band == pytest.approx(0.010)


def test_decision_states_its_risk_and_flags_a_low_tur() -> None:
    """TUR = (TU - TL) / 2U = 0.1 / (2·0.030) = 1.7 < 4: a warning; simple acceptance risks
    up to 50 % at the limit (ILAC-G8 4.2.1)."""
    tolerance = TOLERANCE.validate_python({"kind": "absolute", "value": 50, "unit": "mK"})
    judgement = judge(error_budget(0.0, "°C", u=0.015), tolerance, SIMPLE, nominal=30.0, at=30.0)
    decision = judgement.decision
    assert decision.tur == pytest.approx(0.1 / 0.06)
    assert decision.warnings and "below the minimum 4:1" in decision.warnings[0]
    assert "up to 50 %" in decision.risk
    # p_c for y = 0, u = 0.015, limits ±0.05: 2Φ(3.33) - 1 = 0.99914 (normal, ν = ∞)
    assert decision.probability_of_conformance == pytest.approx(0.999142, abs=1e-5)
    assert decision.false_accept == pytest.approx(1 - 0.999142, abs=1e-5)


def test_probability_of_conformance_uses_student_t_for_finite_dof() -> None:
    """JCGM 106:2012 7.4: with ν = 4, P(|t| ≤ 2) = 0.8839 (tabulated t distribution) where
    the normal gives 0.9545."""
    from daq.metrology.decision import probability_of_conformance

    assert probability_of_conformance(0.0, 1.0, -2.0, 2.0, 4) == pytest.approx(0.8839, abs=1e-4)
    assert probability_of_conformance(0.0, 1.0, -2.0, 2.0) == pytest.approx(0.9545, abs=1e-4)


_UNITS = {"bar": 1.0, "kPa": 100.0, "mbar": 1000.0, "psi": 14.503773773}


@settings(max_examples=300, deadline=None)
@given(
    percent_of_reading=st.sampled_from([0.0, 0.02, 0.05, 0.1, 0.25]),
    percent_of_span=st.sampled_from([0.0, 0.01, 0.1]),
    digits=st.integers(0, 5),
    fixed=st.sampled_from([0.0, 0.001, 0.01]),
    spec_unit=st.sampled_from(sorted(_UNITS)),
    result_unit=st.sampled_from(sorted(_UNITS)),
    nominal_bar=st.floats(0.0, 10.0),
    error_bar=st.floats(-0.05, 0.05),
    series=st.lists(st.floats(-0.05, 0.05), min_size=1, max_size=4),
)
def test_property_a_pass_means_every_indication_is_within_the_tolerance(
    percent_of_reading: float,
    percent_of_span: float,
    digits: int,
    fixed: float,
    spec_unit: str,
    result_unit: str,
    nominal_bar: float,
    error_bar: float,
    series: list[float],
) -> None:
    """Whatever the specification and units: the point conforms under simple acceptance if
    and only if the error and every series' error lie within the MPE computed here by hand,
    in bar; a specification with no term defined at zero is refused there, never passed."""
    if not (percent_of_reading or percent_of_span or digits or fixed):
        return
    to_spec, to_result = _UNITS[spec_unit], _UNITS[result_unit]
    spec = TOLERANCE.validate_python(
        {
            "kind": "specification",
            "unit": spec_unit,
            "percent_of_reading": percent_of_reading,
            "percent_of_span": percent_of_span,
            "span": 20 * to_spec,
            "fixed": fixed * to_spec,
            "digits": digits,
            "resolution": 0.001 * to_spec,
        }
    )
    mpe_bar = (
        percent_of_reading / 100 * nominal_bar + percent_of_span / 100 * 20 + fixed + digits * 0.001
    )
    nominal = nominal_bar * to_result
    each = {f"series {i}": e * to_result for i, e in enumerate(series)}
    budget = error_budget(error_bar * to_result, result_unit)
    if mpe_bar == 0:
        with pytest.raises(MetrologyError):
            judge(budget, spec, SIMPLE, nominal=nominal, at=nominal, each=each)
        return
    judgement = judge(budget, spec, SIMPLE, nominal=nominal, at=nominal, each=each)
    errors = [error_bar, *series]
    margin = 1e-9 * max(1.0, mpe_bar)
    if all(abs(e) <= mpe_bar - margin for e in errors):
        assert judgement.decision.outcome.conforms
    if any(abs(e) > mpe_bar + margin for e in errors):
        assert not judgement.decision.outcome.conforms
    lower, upper = judgement.checks[0][1].lower, judgement.checks[0][1].upper
    assert math.isclose(upper, mpe_bar * to_result, rel_tol=1e-9)
    assert math.isclose(lower, -upper, rel_tol=1e-12)


def test_a_reference_short_of_its_set_point_is_judged_at_the_narrower_limits() -> None:
    """1 % of reading at a 10 bar point is ±0.10 bar; a controller that stopped at 8 bar
    gives ±0.08 bar there: an error of 0.09 bar fails."""
    tolerance = TOLERANCE.validate_python(
        {"kind": "specification", "percent_of_reading": 1, "fixed": 0.0001, "unit": "bar"}
    )
    judgement = judge(error_budget(0.09, "bar"), tolerance, SIMPLE, nominal=10.0, at=8.0)
    assert not judgement.decision.outcome.conforms
    assert judgement.decision.upper == pytest.approx(0.0801)


def test_decisions_use_u_before_rounding() -> None:
    """k·u = 0.01049 is reported as U = 0.010 (EA-4/02), but guarded acceptance uses
    w = 0.01049: an error of 0.0396 against ±0.05 is refused (0.05 - 0.01049 = 0.03951)."""
    tolerance = TOLERANCE.validate_python({"kind": "absolute", "value": 0.05, "unit": "°C"})
    judgement = judge(
        error_budget(0.0396, "°C", u=0.005245), tolerance, GUARDED, nominal=30.0, at=30.0
    )
    assert judgement.evaluation.expanded == pytest.approx(0.010)
    assert judgement.decision.guard_band == pytest.approx(0.01049)
    assert not judgement.decision.outcome.conforms
