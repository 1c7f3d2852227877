"""GUM budgets against worked examples of EA-4/02 M:2022 and the tables of JCGM 100:2008."""

import math

import pytest

from daq.metrology.budget import (
    Budget,
    Cmc,
    certificate,
    coverage_factor,
    decimals_of,
    rectangular,
    resolution,
    round_uncertainty,
    standard_deviation,
    type_a,
)


def test_ea_4_02_example_s2_weight_of_10_kg() -> None:
    """EA-4/02 M:2022 Supplement S2 (calibration of a 10 kg weight): the budget gives
    u(m_X) = 29.3 mg and U = 2 × 29.3 mg ≈ 59 mg."""
    budget = Budget("mass", "mg").add(
        certificate("reference weight m_S", 45, 2, "mg", value=10_000_005),
        rectangular("drift of the reference δm_D", 15, "mg"),
        standard_deviation("observed difference δm", 25 / math.sqrt(3), "mg", math.inf, value=20),
        rectangular("comparator δm_C", 10, "mg"),
        rectangular("air buoyancy δB", 10, "mg"),
    )
    result = budget.evaluate()
    assert result.value == pytest.approx(10_000_025)
    assert result.combined == pytest.approx(29.3, abs=0.05)
    assert result.k == 2.0
    assert result.expanded == 59


@pytest.mark.parametrize(
    ("dof", "k"),
    # JCGM 100:2008 Table G.2, column p = 95.45 %
    [(1, 13.97), (2, 4.53), (3, 3.31), (5, 2.65), (10, 2.28), (16, 2.17), (20, 2.13), (50, 2.05)],
)
def test_coverage_factor_is_the_gum_t_factor(dof: float, k: float) -> None:
    assert coverage_factor(dof) == k
    assert coverage_factor(dof + 0.9) == k  # ν_eff is truncated (G.4.1 note 1)


def test_welch_satterthwaite() -> None:
    """Two equal contributions, one with ν = 4: ν_eff = (2u²)² / (u⁴/4) = 16 (GUM G.4.1)."""
    result = (
        Budget("error", "g")
        .add(
            standard_deviation("repeatability", 1.0, "g", 4),
            rectangular("other", math.sqrt(3), "g"),
        )
        .evaluate()
    )
    assert result.combined == pytest.approx(math.sqrt(2))
    assert result.dof == pytest.approx(16)
    assert result.k == 2.17
    assert result.expanded == round_uncertainty(2.17 * math.sqrt(2)) == 3.1


def test_type_a_of_readings() -> None:
    c = type_a("readings", [10.0, 10.2, 9.8, 10.0], "°C")
    assert c.value == pytest.approx(10.0)
    assert c.standard_uncertainty == pytest.approx(0.163299 / 2, rel=1e-5)
    assert c.dof == 3 and c.evaluation == "A"
    with pytest.raises(ValueError, match="at least two"):
        type_a("one", [1.0], "g")


def test_sensitivity_scales_the_contribution() -> None:
    # a resistance uncertainty of 0.385 mΩ through dt/dR = 1/0.385 °C/Ω is 1 mK
    c = certificate("reference", 0.77e-3, 2, "Ω", sensitivity=1 / 0.385)
    assert c.uncertainty_of_result == pytest.approx(1e-3)
    assert resolution("display", 0.1, "g").standard_uncertainty == pytest.approx(
        0.1 / math.sqrt(12)
    )


def test_fully_correlated_weights_add_linearly() -> None:
    """Weights calibrated against the same standard: their uncertainties add linearly
    (EURAMET cg-18 v4.0 7.1.2, "combination of weights")."""
    budget = Budget("mass", "mg").add(
        certificate("weight 1", 2, 2, "mg"), certificate("weight 2", 2, 2, "mg")
    )
    budget.correlate("weight 1", "weight 2", 1.0)
    assert budget.evaluate().combined == pytest.approx(2.0)
    uncorrelated = Budget("mass", "mg").add(
        certificate("weight 1", 2, 2, "mg"), certificate("weight 2", 2, 2, "mg")
    )
    assert uncorrelated.evaluate().combined == pytest.approx(math.sqrt(2))


def test_correlation_of_finite_dof_inputs_is_refused() -> None:
    budget = Budget("x", "g").add(standard_deviation("a", 1, "g", 5), certificate("b", 1, 2, "g"))
    budget.correlate("a", "b", 0.5)
    with pytest.raises(ValueError, match="infinite degrees of freedom"):
        budget.evaluate()


def test_cmc_is_a_floor() -> None:
    budget = Budget("error", "bar").add(certificate("reference", 0.0002, 2, "bar"))
    plain = budget.evaluate()
    assert plain.expanded == 0.0002 and not plain.cmc_applied
    floored = budget.evaluate(Cmc(absolute=0.0003, relative=1e-4), at=10.0)
    assert floored.cmc_applied
    assert floored.expanded == pytest.approx(0.0013)


@pytest.mark.parametrize(
    ("raw", "reported", "decimals"),
    [(0.0583, 0.058, 3), (1.049, 1.0, 1), (25.1, 25, 0), (0.00996, 0.010, 3), (123.0, 120, -1)],
)
def test_rounding_to_two_significant_digits(raw: float, reported: float, decimals: int) -> None:
    """GUM 7.2.6 / EA-4/02 M:2022 6: at most two significant digits."""
    assert round_uncertainty(raw) == pytest.approx(reported)
    assert decimals_of(reported) == max(0, decimals)


def test_duplicate_and_empty_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="already has"):
        Budget("x", "g").add(certificate("a", 1, 2, "g"), certificate("a", 1, 2, "g"))
    with pytest.raises(ValueError, match="no contributions"):
        Budget("x", "g").evaluate()


def test_as_dict_shares_sum_to_one() -> None:
    result = Budget("x", "g").add(certificate("a", 2, 2, "g"), rectangular("b", 1, "g")).evaluate()
    rows = result.as_dict()["contributions"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
