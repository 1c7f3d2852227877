"""The budget of a thermometer compared with a reference PRT, recomputed by hand for one point
(procedures.thermometer_comparison.error_budget), and its Type A of paired, autocorrelated
rounds.

Sources: JCGM 100:2008 (GUM) 4.2.2-4.2.3 (Type A), 4.3.3 (certificate U/k), 4.3.7 (a/√3),
F.2.2.1 (resolution d/(2√3)), 5.1.2 (u_c), G.4.1 (Welch-Satterthwaite), G.3 and Table G.2
(t-factors for 95.45 %), 7.2.6 (two significant digits); EA-4/02 M:2022 (rounding U up when
ordinary rounding lowers it by more than 5 %); IEC 60751:2008 4.2 (Callendar-Van Dusen);
Zhang, Metrologia 43 (2006) S276 (the mean of autocorrelated observations); EURAMET cg-13
(source terms: axial, radial, stability) and cg-8 (the comparison method). Clause numbers
of cg-13, cg-8 and GUM F.2.2.1 are cited from memory.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics

import numpy
import pytest
from scipy.stats import t as student

from daq.metrology.errors import MetrologyError
from daq.standards import Override, Standard, StandardRefused, check_use, problems_with
from procedures.thermometer_comparison import (
    AXIAL,
    CALIBRATION,
    DRIFT,
    FIT,
    IMMERSION,
    RADIAL,
    READOUT_REF,
    READOUT_UUT,
    REF,
    RESOLUTION,
    SELF_HEATING,
    STABILITY,
    TYPE_A,
    UUT,
    Rounds,
    Settings,
    effective_observations,
    error_budget,
    lag1_autocorrelation,
)

SQRT3 = math.sqrt(3)
TODAY = dt.date(2026, 6, 1)


def prt(**cvd: float) -> Standard:
    """The demo reference PRT's certificate (config/standards.yaml), U given in mK."""
    corrections = {
        "kind": "cvd",
        "r0": 100.0123,
        "a": 3.9085e-3,
        "b": -5.776e-7,
        "c": -4.18e-12,
        "fit_residual": 0.002,
        **cvd,
    }
    return Standard.model_validate(
        {
            "id": "prt-hand",
            "certificate": {
                "number": "HAND-1",
                "laboratory": "Example",
                "calibrated": "2026-03-10",
                "due": "2027-03-10",
                "traceability": ["NMI"],
            },
            "range": {"minimum": -40, "maximum": 420, "unit": "°C"},
            "uncertainty": {"value": 10, "k": 2, "unit": "mK"},
            "corrections": corrections,
        }
    )


SETTINGS = Settings(
    set_points=[80],
    readings=8,
    readout_conversion="iec_60751",
    reference_drift=0.004,
    readout_accuracy=0.003,
    uut_readout_accuracy={2: 0.004},
    axial_uniformity=0.006,
    radial_uniformity=0.003,
    stability=0.0005,
    immersion=0.004,
    self_heating=0.002,
    uut_resolution=0.001,
)
PATTERN = (1, 1, 1, -1, -1, -1, 1, -1)
"""Deviations of the paired differences, in units of 20 mK: mean 0, Σe² = 8 and
Σeᵢeᵢ₊₁ = 1 + 1 - 1 + 1 + 1 - 1 - 1 = 1, so r₁ = 1/8 exactly."""
REFERENCE = tuple(80.0 + 0.001 * i for i in range(8))
"""The well drifting 1 mK per round (more than the 0.5 mK `stability` setting)."""
INDICATIONS = tuple(r + 0.05 + 0.02 * e for r, e in zip(REFERENCE, PATTERN, strict=True))


def iec_inverse(resistance: float) -> float:
    """IEC 60751:2008 4.2, t ≥ 0 °C: t = (-A + √(A² - 4B(1 - R/R0)))/(2B), R0 = 100 Ω."""
    a, b = 3.9083e-3, -5.775e-7
    return (-a + math.sqrt(a * a - 4 * b * (1 - resistance / 100.0))) / (2 * b)


def test_one_point_recomputed_by_hand() -> None:
    rounds = Rounds(REFERENCE, INDICATIONS)
    evaluation = error_budget(SETTINGS, prt(), rounds, 0.004).evaluate()
    rows = {c.name: c for c in evaluation.contributions}

    # The value: E = t̄_UUT - t̄_ref, every correction estimated 0.
    t_ref = sum(REFERENCE) / 8
    assert t_ref == pytest.approx(80.0035)
    assert evaluation.value == pytest.approx(0.05, abs=1e-12)
    assert rows[UUT].value - rows[REF].value == pytest.approx(0.05, abs=1e-12)

    # Type A of the paired differences dᵢ = 0.05 + 0.02·eᵢ (GUM 4.2.2, 4.2.3):
    # s = 0.02·√(8/7); r₁ = 1/8; n_eff = n(1 - r₁)/(1 + r₁) = 8·(7/8)/(9/8) = 56/9 (Zhang 2006);
    # u = s/√n_eff = 0.02·√(8/7 · 9/56) = 0.02·3/7; ν = n_eff - 1 = 47/9.
    u_a = 0.02 * 3 / 7
    nu_a = 47 / 9
    assert rounds.r1 == pytest.approx(1 / 8, abs=1e-9)
    assert rounds.n_eff == pytest.approx(56 / 9, rel=1e-8)
    assert rows[TYPE_A].standard_uncertainty == pytest.approx(u_a, rel=1e-8)
    assert rows[TYPE_A].dof == pytest.approx(nu_a, rel=1e-8)
    assert rows[TYPE_A].evaluation == "A"

    # The readout's reference channel reaches t_ref through the CVD conversion (IEC 60751
    # 4.2): t_shown = IEC⁻¹(R_cert(t_ref)), c = R'_IEC(t_shown)/R'_cert(t_ref) with
    # R'(t) = R0(A + 2Bt) above 0 °C.
    r0, a, b = 100.0123, 3.9085e-3, -5.776e-7
    shown = iec_inverse(r0 * (1 + a * t_ref + b * t_ref**2))
    c_ro = 100.0 * (3.9083e-3 + 2 * -5.775e-7 * shown) / (r0 * (a + 2 * b * t_ref))
    # Estimate: 100/R0 = 0.999877 times (A_IEC + 2·B_IEC·80)/(A + 2B·80) = 0.999948.
    assert c_ro == pytest.approx(0.999877 * 0.999948, abs=2e-5)

    # Every Type B term: (standard uncertainty, sensitivity from the model).
    expected = {
        RESOLUTION: (0.001 / (2 * SQRT3), 1.0),  # GUM F.2.2.1: d/(2√3)
        READOUT_UUT: (0.004 / SQRT3, 1.0),  # GUM 4.3.7: a/√3
        IMMERSION: (0.004 / SQRT3, 1.0),
        SELF_HEATING: (0.002 / SQRT3, 1.0),
        READOUT_REF: (0.003 / SQRT3, -c_ro),
        CALIBRATION: (0.010 / 2, -1.0),  # GUM 4.3.3: U/k, 10 mK = 0.010 °C
        DRIFT: (0.004 / SQRT3, -1.0),
        FIT: (0.002 / SQRT3, -1.0),  # the certificate's CVD fit residual
        AXIAL: (0.006 / SQRT3, -1.0),  # cg-13 axial homogeneity
        RADIAL: (0.003 / SQRT3, -1.0),  # cg-13 difference between borings
        STABILITY: (0.001 / SQRT3, -1.0),  # max(0.5 mK setting, 1 mK drift per round)
    }
    for name, (u, c) in expected.items():
        assert rows[name].standard_uncertainty == pytest.approx(u, rel=1e-9), name
        assert rows[name].sensitivity == pytest.approx(c, rel=1e-6), name
        assert math.isinf(rows[name].dof), name
        assert rows[name].note.startswith("u = "), name
    assert rows[TYPE_A].sensitivity == pytest.approx(1.0)
    for name in (UUT, REF):
        assert rows[name].standard_uncertainty == 0.0
    assert set(rows) == set(expected) | {TYPE_A, UUT, REF}

    # u_c (GUM 5.1.2, uncorrelated inputs) and ν_eff (Welch-Satterthwaite, GUM G.4.1): only
    # the Type A term has finite degrees of freedom.
    u_c = math.sqrt(u_a**2 + sum((c * u) ** 2 for u, c in expected.values()))
    nu_eff = u_c**4 / (u_a**4 / nu_a)
    assert evaluation.combined == pytest.approx(u_c, rel=1e-9)
    assert evaluation.dof == pytest.approx(nu_eff, rel=1e-6)
    assert 17 < nu_eff < 18  # hand estimate: 47/9 · (u_c²/u_A²)² ≈ 5.22 · 3.35

    # k: the t-factor for 95.45 % at ν_eff truncated (GUM G.4.1 note 1), two decimals as in
    # GUM Table G.2; the table gives 2.28 at ν = 10 and 2.13 at ν = 20, so 17 lies between.
    k = round(float(student.ppf(1 - (1 - 0.9545) / 2, math.floor(nu_eff))), 2)
    assert round(float(student.ppf(1 - (1 - 0.9545) / 2, 10)), 2) == 2.28
    assert round(float(student.ppf(1 - (1 - 0.9545) / 2, 20)), 2) == 2.13
    assert evaluation.k == k == 2.16

    # U = k·u_c to two significant digits (GUM 7.2.6; EA-4/02: up when rounding would lower
    # it by more than 5 %): 2.16 · 0.01161 = 0.02508 -> 0.025.
    raw = k * u_c
    assert raw == pytest.approx(0.0251, abs=1e-4)
    assert evaluation.expanded == pytest.approx(0.025)


def test_certificate_conversion_has_unit_sensitivity_and_own_indicator_no_readout() -> None:
    settings = SETTINGS.model_copy(update={"readout_conversion": "certificate"})
    evaluation = error_budget(settings, prt(), Rounds(REFERENCE, INDICATIONS), None).evaluate()
    rows = {c.name: c for c in evaluation.contributions}
    assert rows[READOUT_REF].sensitivity == pytest.approx(-1.0)
    assert READOUT_UUT not in rows  # a UUT with its own indicator: no readout term


def test_uut_readout_accuracy_per_channel_or_for_all() -> None:
    assert SETTINGS.uut_readout(2) == 0.004 and SETTINGS.uut_readout(3) is None
    assert Settings(set_points=[30], uut_readout_accuracy=0.007).uut_readout(3) == 0.007
    with pytest.raises(ValueError):
        Settings(set_points=[30], uut_readout_accuracy={0: 0.005})
    with pytest.raises(ValueError):
        Settings(set_points=[30], immersion=-0.01)


def test_stability_is_the_setting_when_the_reference_does_not_drift() -> None:
    flat = tuple(80.0 for _ in range(8))
    rounds = Rounds(flat, tuple(r + 0.05 for r in flat))
    rows = {c.name: c for c in error_budget(SETTINGS, prt(), rounds, 0.004).contributions}
    assert rows[STABILITY].standard_uncertainty == pytest.approx(0.0005 / SQRT3)


def test_paired_differences_remove_the_common_fluctuation() -> None:
    """A well oscillating by ±30 mK moves reference and UUT alike: the differences do not
    scatter, so the Type A term is s(d)/√n of the differences, not of either series."""
    swing = [0.03 * math.sin(i) for i in range(10)]
    noise = [0.0002 * (-1) ** i for i in range(10)]  # r₁ < 0: n_eff = n
    reference = tuple(140.0 + s for s in swing)
    indications = tuple(140.06 + s + e for s, e in zip(swing, noise, strict=True))
    rounds = Rounds(reference, indications)
    differences = [u - r for u, r in zip(indications, reference, strict=True)]
    assert rounds.n_eff == 10
    u = statistics.stdev(differences) / math.sqrt(10)
    rows = {c.name: c for c in error_budget(SETTINGS, prt(), rounds, 0.004).contributions}
    assert rows[TYPE_A].standard_uncertainty == pytest.approx(u, rel=1e-6)
    assert u < statistics.stdev(reference) / math.sqrt(10) / 50


def test_lag1_autocorrelation_and_effective_observations() -> None:
    # r₁ = Σ(xᵢ - x̄)(xᵢ₊₁ - x̄)/Σ(xᵢ - x̄)²: alternating signs give -(n-1)/n.
    assert lag1_autocorrelation([1, -1, 1, -1, 1, -1]) == pytest.approx(-5 / 6)
    assert lag1_autocorrelation([2.0, 2.0, 2.0]) == 0.0
    # A step: 18 neighbours of one sign (+1/4 each) and one across the step (-1/4), over 5.
    step = [0.0] * 10 + [1.0] * 10
    assert lag1_autocorrelation(step) == pytest.approx((18 - 1) * 0.25 / 5)
    assert effective_observations(10, -0.4) == 10  # no credit for r₁ ≤ 0
    assert effective_observations(10, 0.5) == pytest.approx(10 * 0.5 / 1.5)
    assert effective_observations(10, 0.95) == 1.0  # at least one observation
    # The step: n_eff = 20·0.15/1.85 < 2, so ν = max(n_eff - 1, 1) = 1.
    rounds = Rounds(tuple([0.0] * 20), tuple(step))
    assert rounds.n_eff == pytest.approx(20 * 0.15 / 1.85)
    assert rounds.dof == 1.0
    assert rounds.u_type_a == pytest.approx(statistics.stdev(step) / math.sqrt(20 * 0.15 / 1.85))


def test_autocorrelated_readings_are_not_understated() -> None:
    """Simulated first-order autoregressive differences, ρ = 0.7, n = 50, 2000 series (fixed
    seed): s/√n understates the scatter of the means by about √((1 + ρ)/(1 - ρ)) ≈ 2.4
    (the variance of the mean of an AR(1) series, Zhang 2006); s/√n_eff is within 20 %. For
    white noise the rule takes no credit and stays conservative."""
    rng = numpy.random.default_rng(20240601)

    def ratios(rho: float, n: int = 50, series: int = 2000) -> tuple[float, float]:
        shocks = rng.normal(size=(series, n))
        x = numpy.empty_like(shocks)
        x[:, 0] = shocks[:, 0] / math.sqrt(1 - rho**2)
        for i in range(1, n):
            x[:, i] = rho * x[:, i - 1] + shocks[:, i]
        naive, honest = [], []
        for row in x:
            rounds = Rounds(tuple([0.0] * n), tuple(row.tolist()))
            naive.append(rounds.s**2 / n)
            honest.append(rounds.u_type_a**2)
        scatter = float(numpy.std(x.mean(axis=1)))
        return scatter / math.sqrt(numpy.mean(naive)), scatter / math.sqrt(numpy.mean(honest))

    naive, honest = ratios(0.7)
    assert naive > 2.0 and 0.9 < honest < 1.2
    naive, honest = ratios(0.0)
    assert 0.9 < naive < 1.1 and 0.8 < honest <= 1.0


def test_rounds_must_be_paired() -> None:
    with pytest.raises(MetrologyError, match="paired"):
        Rounds((1.0, 2.0), (1.0,))
    with pytest.raises(MetrologyError, match="two rounds"):
        Rounds((1.0,), (1.0,))


def test_a_set_point_outside_the_certificates_cvd_range_is_refused() -> None:
    limited = prt(valid_from=0, valid_to=100)
    assert problems_with(limited, 80.0, "°C", TODAY) == []
    [problem] = problems_with(limited, 140.0, "°C", TODAY)  # inside the calibrated range
    assert "140 °C is outside the range of its certificate's Callendar-Van Dusen" in problem.text
    assert "0 °C to 100 °C" in problem.text and "extrapolated" in problem.text
    assert problems_with(limited, 400.0, "K", TODAY)  # 126.85 °C
    with pytest.raises(StandardRefused, match="Callendar-Van Dusen"):
        check_use(limited, 140.0, "°C", TODAY)
    with pytest.raises(StandardRefused, match="No override waives"):  # no certified value
        check_use(limited, 140.0, "°C", TODAY, Override(by="J. Doe", reason="checked"))
    assert problems_with(prt(), 140.0, "°C", TODAY) == []  # no limits: the calibrated range
    with pytest.raises(ValueError, match="valid_from"):
        prt(valid_from=100, valid_to=0)


def test_readings_in_kelvin_or_fahrenheit_are_taken_in_celsius() -> None:
    """A readout set to K or °F (UNIT:TEMP) must not be read as °C: 303.15 K is 30 °C."""
    from daq.core.reading import Reading
    from daq.engine.context import PlanError
    from procedures.thermometer_comparison import _celsius

    assert _celsius(Reading("readout-1", "temperature_ch2", 303.15, "K", 0.0)) == pytest.approx(
        30.0
    )
    assert _celsius(Reading("readout-1", "temperature_ch2", 86.0, "degF", 0.0)) == pytest.approx(
        30.0
    )
    with pytest.raises(PlanError, match="readout-1: temperature_ch2"):
        _celsius(Reading("readout-1", "temperature_ch2", 100.0, "ohm", 0.0))
