"""GUM budgets against worked examples of EA-4/02 M:2022 and the tables of JCGM 100:2008."""

import itertools
import math
import statistics
from typing import Any

import GTC
import pytest

from daq.metrology.budget import (
    Budget,
    Cmc,
    Contribution,
    certificate,
    coverage_factor,
    rectangular,
    resolution,
    round_uncertainty,
    standard_deviation,
    type_a,
)
from daq.metrology.errors import MetrologyError
from daq.metrology.rounding import decimals_for


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
    with pytest.raises(MetrologyError, match="'a' has finite degrees of freedom"):
        budget.evaluate()


def test_cmc_is_a_floor() -> None:
    budget = Budget("error", "bar").add(certificate("reference", 0.0002, 2, "bar"))
    plain = budget.evaluate()
    assert plain.expanded == 0.0002 and not plain.cmc_applied
    floored = budget.evaluate(Cmc(absolute=0.0003, relative=1e-4, unit="bar"), at=10.0)
    assert floored.cmc_applied
    assert floored.expanded == pytest.approx(0.0013)
    # the same CMC written in kPa: 0.03 kPa = 0.0003 bar
    in_kpa = budget.evaluate(Cmc(absolute=0.03, relative=1e-4, unit="kPa"), at=10.0)
    assert in_kpa.expanded == pytest.approx(0.0013) and in_kpa.cmc == pytest.approx(0.0013)


@pytest.mark.parametrize(
    ("raw", "reported", "decimals"),
    [
        (0.0583, 0.058, 3),
        (1.049, 1.0, 1),
        (25.1, 25, 0),
        (0.00996, 0.010, 3),
        (123.0, 120, -1),
        (1.05, 1.1, 1),  # a tie rounds half up on the decimal value, not on the binary float
        (0.125, 0.13, 2),
        (0.000105, 0.00011, 5),
    ],
)
def test_rounding_to_two_significant_digits(raw: float, reported: float, decimals: int) -> None:
    """GUM 7.2.6 / EA-4/02 M:2022 6: at most two significant digits."""
    assert round_uncertainty(raw) == pytest.approx(reported)
    assert decimals_for(reported) == decimals


def test_duplicate_and_empty_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="already has"):
        Budget("x", "g").add(certificate("a", 1, 2, "g"), certificate("a", 1, 2, "g"))
    with pytest.raises(ValueError, match="no contributions"):
        Budget("x", "g").evaluate()


def test_as_dict_shares_sum_to_one() -> None:
    result = Budget("x", "g").add(certificate("a", 2, 2, "g"), rectangular("b", 1, "g")).evaluate()
    rows = result.as_dict()["contributions"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_relative_cmc_is_evaluated_at_the_measured_value_not_the_error() -> None:
    """ILAC P14:09/2020 5.4: U is never below the CMC at the measured value. A CMC of
    0.001·|t| at 140 °C is 0.14 °C, whatever the (near zero) error is."""
    budget = Budget("error of indication", "°C").add(
        certificate("reference", 0.033, 2, "°C", value=0.002)
    )
    evaluation = budget.evaluate(Cmc(relative=0.001, unit="°C"), at=140.0)
    assert evaluation.cmc_applied and evaluation.expanded == pytest.approx(0.14)
    with pytest.raises(MetrologyError, match="at the measured value"):
        budget.evaluate(Cmc(relative=0.001, unit="°C"))


def test_cmc_in_mk_for_a_result_in_celsius_is_a_difference() -> None:
    budget = Budget("error", "°C").add(certificate("reference", 0.01, 2, "°C"))
    evaluation = budget.evaluate(Cmc(absolute=30, unit="mK"), at=100.0)
    assert evaluation.expanded == pytest.approx(0.030)
    with pytest.raises(MetrologyError, match="bar"):
        budget.evaluate(Cmc(absolute=30, unit="bar"), at=100.0)


def test_gum_h2_simultaneous_resistance_and_reactance() -> None:
    """GUM (JCGM 100:2008) H.2: five simultaneous observations of V, I and φ (Table H.2),
    their means correlated as observed (r(V,I) = -0.36, r(V,φ) = 0.86, r(I,φ) = -0.65);
    Table H.3: R = V/I cos φ = 127.732 Ω, u(R) = 0.071 Ω; X = V/I sin φ = 219.847 Ω,
    u(X) = 0.295 Ω. The value comes from the model, the sensitivities too."""
    volts = [5.007, 4.994, 5.005, 4.990, 4.999]
    amperes = [19.663e-3, 19.639e-3, 19.640e-3, 19.685e-3, 19.678e-3]
    radians = [1.0456, 1.0438, 1.0468, 1.0428, 1.0433]
    series = {"V": volts, "I": amperes, "phi": radians}

    def budget(model: Any) -> Budget:
        made = Budget("R", "Ω", model=model).add(
            *(type_a(name, data, "1") for name, data in series.items())
        )
        made.ensemble(*series)
        for first, second in itertools.combinations(series, 2):
            made.correlate(first, second, statistics.correlation(series[first], series[second]))
        return made

    r = budget(lambda x: x["V"] / x["I"] * GTC.cos(x["phi"])).evaluate()
    assert r.value == pytest.approx(127.732, abs=5e-4)
    assert r.combined == pytest.approx(0.071, abs=5e-4)
    assert r.dof == pytest.approx(4)
    reactance = budget(lambda x: x["V"] / x["I"] * GTC.sin(x["phi"])).evaluate()
    assert reactance.value == pytest.approx(219.847, abs=5e-4)
    assert reactance.combined == pytest.approx(0.295, abs=1e-3)  # 0.2956 here; GUM rounds down
    sensitivity = {c.name: c.sensitivity for c in r.contributions}
    _, i, phi = (statistics.fmean(x) for x in series.values())
    assert sensitivity["V"] == pytest.approx(math.cos(phi) / i, rel=1e-9)  # ∂R/∂V


def test_sensitivity_of_an_exact_input_comes_from_the_model() -> None:
    budget = Budget("y", "g", model=lambda x: 3.0 * x["a"] - x["b"]).add(
        certificate("a", 0.2, 2, "g", value=1.0), Contribution("b", 0.5, 0.0, "g")
    )
    evaluation = budget.evaluate()
    assert evaluation.value == pytest.approx(2.5)
    assert [c.sensitivity for c in evaluation.contributions] == pytest.approx([3.0, -1.0])


@pytest.mark.parametrize(("probability", "k"), [(95.45, 2.0), (95.0, 1.96), (99.0, 2.58)])
def test_coverage_probability_is_a_setting(probability: float, k: float) -> None:
    """GUM Table G.2, ν = ∞."""
    evaluation = (
        Budget("y", "g").add(certificate("a", 0.2, 2, "g")).evaluate(probability=probability)
    )
    assert evaluation.k == k and evaluation.probability == probability
    assert coverage_factor(10, 95.0) == 2.23  # Table G.2: ν = 10, p = 95 %
    with pytest.raises(ValueError, match="coverage probability"):
        coverage_factor(10, 90.0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: certificate("ref", -0.1, 2, "g"),
            "ref: an expanded uncertainty cannot",
        ),
        (
            lambda: certificate("ref", math.nan, 2, "g"),
            "ref: the expanded uncertainty must",
        ),
        (lambda: certificate("ref", 0.1, 0, "g"), "ref: a coverage factor must be above 0"),
        (lambda: certificate("ref", 0.1, -2, "g"), "ref: a coverage factor must be above 0"),
        (lambda: Contribution("x", 0.0, -0.1, "g"), "x: a standard uncertainty cannot be negative"),
        (lambda: Contribution("x", 0.0, math.nan, "g"), "x: the standard uncertainty must be"),
        (
            lambda: Contribution("x", 0.0, 0.1, "g", dof=0.5),
            "x: degrees of freedom must be",
        ),
        (lambda: rectangular("x", -1.0, "g"), "x: a half-width cannot be negative"),
        (lambda: coverage_factor(0.5), "at least 1"),
    ],
)
def test_bad_inputs_are_metrology_errors(make: Any, message: str) -> None:
    with pytest.raises(MetrologyError, match=message):
        make()


def test_correlations_given_twice_or_impossible_are_refused() -> None:
    budget = Budget("x", "g").add(*(certificate(n, 1, 2, "g") for n in "abc"))
    budget.correlate("a", "b", 0.9)
    with pytest.raises(MetrologyError, match="given twice"):
        budget.correlate("b", "a", 0.9)
    # a~b = 0.9, a~c = 0.9, b~c = -0.9 cannot all hold: the matrix has a negative eigenvalue
    budget.correlate("a", "c", 0.9).correlate("b", "c", -0.9)
    with pytest.raises(MetrologyError, match="not positive semi-definite"):
        budget.evaluate()


def test_terms_in_another_unit_of_the_same_quantity_are_converted() -> None:
    """A reference PRT's U of 20 mK in a budget in °C is 0.020 °C (not 20 °C); its
    sensitivity coefficient shows the conversion, 0.001 °C/mK."""
    budget = Budget("error", "°C").add(
        Contribution("indication", 30.012, 0.0, "°C"),
        certificate("reference", 20, 2, "mK", -1.0, value=30000.0),
    )
    evaluation = budget.evaluate()
    assert evaluation.value == pytest.approx(0.012)
    assert evaluation.expanded == pytest.approx(0.020)
    assert evaluation.contributions[1].sensitivity == pytest.approx(-0.001)
