"""The weighing procedure's budgets recomputed by hand: an error of indication (EURAMET cg-18
v4.0, 7.1), the reference weights' buoyancy, drift and convection (7.1.2), the uncertainty
of a weighing result in use (7.4, 7.5, Annex C), and a balance judged against OIML R76
class I through the real procedure on the simulated bench.

Sources: EURAMET cg-18 v4.0 (7.1.1.1-7.1.1.4 rounding, repeatability, eccentricity; 7.1.2.1
certificate; 7.1.2.2 air buoyancy; 7.1.2.3 convection; 7.1.2.4 drift; 7.4, 7.5, Annex C in
use); OIML R111-1:2004 Table 1 (MPE), Table 5 (density limits) and 10.1 (the density
criterion Table 5 comes from); OIML R76-1:2006 Table 6 (MPE by load); OIML D 28:2004
(conventional mass, ρ0 = 1.2 kg/m³, ρc = 8000 kg/m³); JCGM 100:2008 (GUM) 4.3.3, 4.3.7,
5.1.2, 5.2.2 (correlated inputs), G.3 and Table G.2 (t-factors), G.4.1 (Welch-Satterthwaite),
7.2.6; EA-4/02 M:2022 (rounding U). Every clause number of cg-18, R111-1 and R76-1 is cited
from memory (the texts were not at hand), and so are the R111-1 Table 5 values.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from scipy.stats import t as student

from daq.config import load_lab
from daq.core.clock import Clock
from daq.engine.document import RunDocument
from daq.engine.plan import parse_plan
from daq.engine.runner import Runner
from daq.metrology.air import air_density_approximation
from daq.metrology.budget import Budget
from daq.metrology.tolerance import OimlR76
from daq.session import lab_session
from daq.standards import Standard, load_standards
from procedures.weighing import (
    Indication,
    MeasuredError,
    Settings,
    UseConditions,
    density_limits,
    error_budget,
    fit_error_curve,
    in_use,
    reference_mass,
    reference_weight,
    temperature_coefficient,
)
from tests.conftest import CONFIG, lab_text
from tests.integration.test_custom_devices import BAROMETER

SQRT3 = math.sqrt(3)
SQRT12 = math.sqrt(12)
RHO_0, RHO_C = 1.2, 8000.0  # OIML D 28:2004: conventional mass's reference densities


def weight(
    ident: str,
    nominal: float,
    conventional: float,
    u_mg: float,
    weight_class: str | None = "E2",
    density: float | None = None,
) -> Standard:
    return Standard.model_validate(
        {
            "id": ident,
            "certificate": {
                "number": f"C-{ident}",
                "laboratory": "Mass Lab",
                "calibrated": "2026-01-01",
                "due": "2028-01-01",
                "traceability": ["NMI"],
            },
            "range": {"minimum": nominal, "maximum": nominal, "unit": "g"},
            "uncertainty": {"value": u_mg, "k": 2, "unit": "mg"},
            "corrections": {
                "kind": "mass",
                "nominal": nominal,
                "conventional_mass": conventional,
                "unit": "g",
                "weight_class": weight_class,
                "density": density,
            },
        }
    )


def settings(**extra: Any) -> Settings:
    raw: dict[str, Any] = {
        "resolution": 0.0001,
        "repeatability": {"load": 100, "weights": ["w100"], "loadings": 5},
        "eccentricity": {"load": 100, "weights": ["w100"]},
        "test_loads": [{"load": 150, "weights": ["w100", "w50"]}],
    }
    return Settings.model_validate({**raw, **extra})


def row(budget: Budget, name: str) -> Any:
    evaluation = budget.evaluate()
    return next(c for c in evaluation.contributions if c.name == name)


def k_factor(dof: float, p: float = 0.9545) -> float:
    """t_p(ν) for ν_eff truncated (GUM G.4.1 note 1), to two decimals as GUM Table G.2."""
    return 2.0 if math.isinf(dof) else round(float(student.ppf((1 + p) / 2, math.floor(dof))), 2)


def two_digits(value: float) -> float:
    """GUM 7.2.6 two significant digits; EA-4/02 M:2022: up when rounding lowers it > 5 %."""
    rounded = float(f"{value:.2g}")
    assert rounded >= 0.95 * value  # the cases below never need the rounding up
    return rounded


# --- one error of indication, every term by hand (cg-18 7.1) ------------------------------


def test_error_of_indication_budget_recomputed_by_hand() -> None:
    """150 g made of two E2 pieces: one with a certified density (u(ρ) given by the lab) and
    a drift history, one without density (ρc, u(ρ) from its class) drifting per its class."""
    s = settings(weights={"w100": {"drift": 0.02, "density_uncertainty": 30.0}})
    w100 = reference_weight(weight("w100", 100, 100.000030, 0.05, density=7950), s)
    w50 = reference_weight(weight("w50", 50, 49.999985, 0.03), s)
    rho_a, u_rho_a = 1.10, 0.012  # a laboratory at altitude: a visible buoyancy
    shown = Indication(
        value=150.0003,
        resolution=0.0001,
        repeatability=1.0e-4,
        repeatability_dof=4,
        loadings=5,
        repeatability_load=100,
        eccentricity=0.2e-3,
        eccentricity_load=100,
    )
    budget = error_budget(shown, [w100, w50], air_density=rho_a, u_air_density=u_rho_a)
    evaluation = budget.evaluate()

    # cg-18 7.1.2.2: δm_B = -m_c (ρa - ρ0)(1/ρ - 1/ρc); zero for the piece taken at ρc
    buoyancy = -100.000030 * (rho_a - RHO_0) * (1 / 7950 - 1 / RHO_C)
    m_ref = 100.000030 + 49.999985 + buoyancy
    assert buoyancy == pytest.approx(7.8616e-6, rel=1e-4)
    assert reference_mass([w100, w50], rho_a) == pytest.approx(m_ref, rel=1e-12)
    assert evaluation.value == pytest.approx(150.0003 - m_ref, abs=1e-12)  # E = I - m_ref

    d = 0.0001
    terms = {  # name: (u(xᵢ), cᵢ) from the formulas of cg-18 7.1
        "rounding at zero": (d / (2 * SQRT3), -1.0),  # 7.1.1.1
        "rounding at load": (d / (2 * SQRT3), 1.0),  # 7.1.1.2
        "repeatability": (1.0e-4, 1.0),  # 7.1.1.3: s of one indication
        "eccentricity": (0.2e-3 / (2 * 100) * 150.0003 / SQRT3, 1.0),  # 7.1.1.4
        # 7.1.2.1: u = U/k, c = -(1 - (ρa - ρ0)(1/ρ - 1/ρc))
        "reference weight w100": (0.025e-3, -(1 - (rho_a - RHO_0) * (1 / 7950 - 1 / RHO_C))),
        "reference weight w50": (0.015e-3, -1.0),
        # 7.1.2.2: ∂E/∂ρa = Σ m_c (1/ρ - 1/ρc); ∂E/∂ρ = -m_c (ρa - ρ0)/ρ²
        "air density": (u_rho_a, 100.000030 * (1 / 7950 - 1 / RHO_C)),
        "density of w100": (30.0, -100.000030 * (rho_a - RHO_0) / 7950**2),
        # R111-1 Table 5, E2 50 g: 7740 to 8280 kg/m³, rectangular
        "density of w50": ((8280 - 7740) / SQRT12, -49.999985 * (rho_a - RHO_0) / RHO_C**2),
        # 7.1.2.4: u = D/√3; D from the history (0.02 mg), or 1/3 of the R111 MPE (0.10 mg)
        "drift of w100": (0.02e-3 / SQRT3, -1.0),
        "drift of w50": (0.10e-3 / 3 / SQRT3, -1.0),
        "convection": (0.0, -1.0),  # 7.1.2.3: acclimatised weights
    }
    by_name = {c.name: c for c in evaluation.contributions}
    for name, (u, c) in terms.items():
        assert by_name[name].standard_uncertainty == pytest.approx(u, rel=1e-9), name
        assert by_name[name].sensitivity == pytest.approx(c, rel=1e-6), name
        assert by_name[name].note, name
    assert by_name["density of w50"].value == RHO_C and by_name["air density"].value == rho_a

    # GUM 5.2.2: the pieces' certificates (and drifts) fully correlated, so they add linearly
    independent = ["rounding at zero", "rounding at load", "repeatability", "eccentricity"]
    independent += ["air density", "density of w100", "density of w50"]
    variance = sum((terms[n][0] * terms[n][1]) ** 2 for n in independent)
    certificates = sum(terms[n][0] * terms[n][1] for n in terms if n.startswith("reference"))
    drifts = sum(terms[n][0] * terms[n][1] for n in terms if n.startswith("drift"))
    u_c = math.sqrt(variance + certificates**2 + drifts**2)
    assert evaluation.combined == pytest.approx(u_c, rel=1e-9)
    nu = u_c**4 / (1.0e-4**4 / 4)  # GUM G.4.1: only the repeatability has finite ν
    assert evaluation.dof == pytest.approx(nu, rel=1e-9)
    assert math.floor(nu) == 19  # the case chosen: GUM Table G.2 gives t(19) = 2.14
    assert evaluation.k == k_factor(nu) == 2.14
    assert evaluation.expanded == pytest.approx(two_digits(2.14 * u_c))
    assert evaluation.expanded == pytest.approx(0.00032)


# --- the reference weights: buoyancy, drift, convection (cg-18 7.1.2) ----------------------


def test_density_limits_from_the_r111_class() -> None:
    """R111-1 Table 5: E2 7810 to 8210 kg/m³ for 100 g and above (the value the brief quotes);
    the smaller a weight, the wider; M classes bound it from below only."""
    assert density_limits("E2", 200) == (7810, 8210)
    assert density_limits("E2", 100) == (7810, 8210)
    assert density_limits("E2", 20) == (7500, 8570)
    assert density_limits("E1", 1000) == (7934, 8067)
    assert density_limits("F1", 150) == (7390, 8730)  # no Table 1 value: the 100 g row
    assert density_limits("M1", 500) == (4400, None)
    assert density_limits("E2", 0.01) == (2300, None)  # below the column: its widest row
    # R111-1 10.1 (recalled): a 10 % change of ρa (0.12 kg/m³) may shift a weight by at most
    # MPE/4, so |1/ρ - 1/ρc| ≤ MPE/(4·0.12 kg/m³·m). E2 20 g (MPE 0.08 mg, R111-1 Table 1)
    # gives 7500 to 8571 kg/m³, E1 200 g (0.10 mg) 7933.9 to 8067.2 kg/m³: the table's
    # values, rounded inwards.
    for limits, nominal, mpe_mg in (
        (density_limits("E2", 20), 20, 0.08),
        (density_limits("E1", 200), 200, 0.10),
    ):
        low, high = limits
        bound = mpe_mg * 1e-3 / 4 / (0.12 * nominal)
        assert high is not None
        assert 1 / (1 / RHO_C + bound) - 1e-6 <= low < 1 / (1 / RHO_C + bound) + 10
        assert 1 / (1 / RHO_C - bound) - 10 < high <= 1 / (1 / RHO_C - bound) + 1e-6


def test_buoyancy_with_densities_from_the_class() -> None:
    """No density on the certificate: ρ = ρc with u(ρ) = (ρmax - ρmin)/√12 from the class, or
    (ρc - ρmin)/√3 when the class bounds it from below only; first-order terms of
    δm_B = -m_c (ρa - ρ0)(1/ρ - 1/ρc) (cg-18 7.1.2.2)."""
    s = Settings.model_validate(
        {
            "resolution": 0.001,
            "repeatability": {"load": 20, "weights": ["e2"]},
            "eccentricity": {"load": 20, "weights": ["e2"]},
            "test_loads": [{"load": 20, "weights": ["e2"]}, {"load": 200, "weights": ["m1"]}],
        }
    )
    e2 = reference_weight(weight("e2", 20, 20.00001, 0.025), s)
    assert e2.density.value == RHO_C and e2.density.distribution == "rectangular"
    assert e2.density.u == pytest.approx((8570 - 7500) / SQRT12)  # 308.9 kg/m³
    m1 = reference_weight(weight("m1", 200, 200.002, 3.0, "M1"), s)
    assert m1.density.u == pytest.approx((RHO_C - 4400) / SQRT3)  # 2078 kg/m³
    nothing = reference_weight(weight("x", 200, 200.0, 1.0, weight_class=None), s)
    assert nothing.density.u == 60.0 and "weight_density_uncertainty" in nothing.density.note

    rho_a = air_density_approximation(20.0, 900.0, 50.0)  # OIML R111-1 (E.3-1), 900 hPa
    shown = Indication(20.0, 0.001, 0.0005, 9, 10, 20, 0.001, 20)
    budget = error_budget(shown, [e2], air_density=rho_a, u_air_density=0.01)
    density = row(budget, "density of e2")
    u_expected = 20.00001 * abs(rho_a - RHO_0) * e2.density.u / RHO_C**2
    assert density.uncertainty_of_result == pytest.approx(u_expected, rel=1e-6)
    assert row(budget, "air density").sensitivity == pytest.approx(0.0, abs=1e-15)  # ρ = ρc
    assert reference_mass([e2], rho_a) == 20.00001  # δm_B = 0 at ρ = ρc


def test_drift_from_history_or_class() -> None:
    """cg-18 7.1.2.4: u = D/√3, D from the history of the weight's certificates, else a
    fraction of its OIML R111-1 Table 1 MPE (E2 100 g: 0.16 mg), else the U of its
    certificate (no class, or no weight of that nominal value in the class)."""
    e2 = weight("w100", 100, 100.00003, 0.05)
    assert reference_weight(e2, settings()).drift == pytest.approx(0.16e-3 / 3)
    half = settings(drift_fraction=0.5)
    assert reference_weight(e2, half).drift == pytest.approx(0.08e-3)
    history = settings(weights={"w100": {"drift": 12, "unit": "ug", "drift_basis": "2022-26"}})
    found = reference_weight(e2, history)
    assert found.drift == pytest.approx(12e-6) and "2022-26" in found.drift_note
    unclassed = weight("w100", 100, 100.00003, 0.05, weight_class=None)
    assert reference_weight(unclassed, settings()).drift == pytest.approx(0.05e-3)
    odd = weight("w100", 150, 150.0001, 0.2)  # no 150 g weight in R111-1 Table 1
    assert reference_weight(odd, settings()).drift == pytest.approx(0.2e-3)

    shown = Indication(100.0, 0.0001, 5e-5, 4, 5, 100, 0.0, 100)
    budget = error_budget(
        shown, [reference_weight(e2, history)], air_density=1.2, u_air_density=0.0
    )
    assert row(budget, "drift of w100").standard_uncertainty == pytest.approx(12e-6 / SQRT3)


def test_convection_needs_its_half_width_and_adds_over_pieces() -> None:
    """cg-18 7.1.2.3: weights ΔT from the air are not acclimatised; Δm_conv of each piece at
    that ΔT (cg-18 Table F.2, given by the lab) adds over the pieces, u = Δm_conv/√3."""
    with pytest.raises(ValidationError, match="w100, w50"):
        settings(temperature_difference=2.0)
    with pytest.raises(ValidationError, match="not a weight of any load"):
        settings(weights={"w200": {"drift": 0.01}})
    warm = settings(
        temperature_difference=2.0,
        weights={"w100": {"convection": 0.03}, "w50": {"convection": 20, "unit": "ug"}},
    )
    pieces = [
        reference_weight(weight("w100", 100, 100.00003, 0.05, density=8000), warm),
        reference_weight(weight("w50", 50, 49.999985, 0.03, density=8000), warm),
    ]
    shown = Indication(150.0, 0.0001, 5e-5, 4, 5, 100, 0.0, 100)
    budget = error_budget(
        shown, pieces, air_density=1.2, u_air_density=0.0, temperature_difference=2.0
    )
    convection = row(budget, "convection")
    assert convection.standard_uncertainty == pytest.approx((0.03e-3 + 0.02e-3) / SQRT3)
    assert convection.value == 0.0 and "ΔT = 2 K" in convection.note
    acclimatised = settings(weights={"w100": {"convection": 0.03}})  # ignored at ΔT = 0
    still = reference_weight(weight("w100", 100, 100.00003, 0.05), acclimatised)
    assert still.convection == 0.0


# --- the weighing result in use (cg-18 7.4, 7.5, Annex C) ----------------------------------


ERRORS = [  # I / g, E / g, u(E) / g: a small calibration's results
    MeasuredError(50.0, 0.10e-3, 0.05e-3),
    MeasuredError(100.0, 0.35e-3, 0.05e-3),
    MeasuredError(200.0, 0.40e-3, 0.10e-3),
]


def test_error_curve_through_zero_recomputed_by_hand() -> None:
    """a₁ = Σ pⱼIⱼEⱼ / Σ pⱼIⱼ², u²(a₁) = 1/Σ pⱼIⱼ², pⱼ = 1/u²(Eⱼ) (weighted least squares,
    cg-18 Annex C), scaled by χ²/ν when the errors scatter more than their uncertainties."""
    p = [1 / e.u**2 for e in ERRORS]
    sxx = sum(pj * e.indication**2 for pj, e in zip(p, ERRORS, strict=True))
    a1 = sum(pj * e.indication * e.error for pj, e in zip(p, ERRORS, strict=True)) / sxx
    assert a1 == pytest.approx((4e8 * 50 * 1e-4 + 4e8 * 100 * 3.5e-4 + 1e8 * 200 * 4e-4) / 9e12)
    chi2 = sum(pj * (e.error - a1 * e.indication) ** 2 for pj, e in zip(p, ERRORS, strict=True))
    assert chi2 / 2 > 1  # the case chosen: a poor fit, so the variance is scaled
    curve = fit_error_curve(ERRORS)
    assert curve.a0 == 0 and curve.a1 == pytest.approx(a1)
    assert curve.chi2 == pytest.approx(chi2) and curve.dof == 2
    assert curve.var_a1 == pytest.approx(chi2 / 2 / sxx)
    assert curve.floor == pytest.approx(0.05e-3 / 100)  # min u(Eⱼ)/Iⱼ
    assert curve.u(220.0) == pytest.approx(max(220 * math.sqrt(chi2 / 2 / sxx), 220 * 5e-7))
    assert curve.u(220.0) > 220 * curve.floor  # here the fit, not the floor, governs

    linear = fit_error_curve(ERRORS, "linear")  # E = a₀ + a₁I, ν = n - 2
    s, sx = sum(p), sum(pj * e.indication for pj, e in zip(p, ERRORS, strict=True))
    sy = sum(pj * e.error for pj, e in zip(p, ERRORS, strict=True))
    sxy = sum(pj * e.indication * e.error for pj, e in zip(p, ERRORS, strict=True))
    delta = s * sxx - sx**2
    assert linear.a1 == pytest.approx((s * sxy - sx * sy) / delta)
    assert linear.a0 == pytest.approx((sxx * sy - sx * sxy) / delta)
    assert linear.dof == 1 and linear.cov < 0


def test_uncertainty_in_use_recomputed_by_hand() -> None:
    """u²(W) = d²/12 + d²/12 + s² + u²(ecc) + u²(E_appr) + (K_T ΔT R)²/12 + (δ_adj R)²/3
    + (Δρa R/ρc)²/3 (cg-18 7.4.1-7.4.3), U(W) = k u(W) with k from ν_eff; U_gl = U + |E_appr|
    (cg-18 7.5.2); U(W) ≤ α + β·R up to Max."""
    use = UseConditions(
        resolution=0.0001,
        repeatability=0.05e-3,
        repeatability_dof=4,
        eccentricity=0.2e-3,
        eccentricity_load=100,
        temperature_coefficient=1.5e-6,
        temperature_range=2.0,
        adjustment_drift=1e-6,
        air_density_change=0.03,
    )
    result = in_use(ERRORS, use, loads=[50, 100, 200], capacity=220)
    assert result.readings == (0.0, 50.0, 100.0, 200.0, 220.0)
    curve = fit_error_curve(ERRORS)
    for reading, evaluation in zip(result.readings, result.evaluations, strict=True):
        terms = [
            0.0001 / SQRT12,
            0.0001 / SQRT12,
            0.05e-3,
            0.2e-3 / (2 * 100) * reading / SQRT3,
            curve.u(reading),
            1.5e-6 * 2.0 * reading / SQRT12,
            1e-6 * reading / SQRT3,
            0.03 / RHO_C * reading / SQRT3,
        ]
        u = math.sqrt(sum(t**2 for t in terms))
        assert evaluation.combined == pytest.approx(u, rel=1e-9), reading
        assert evaluation.value == pytest.approx(reading - curve.a1 * reading)  # W = R - E_appr
        nu = u**4 / (0.05e-3**4 / 4)
        assert evaluation.k == k_factor(nu), reading
        assert evaluation.expanded == pytest.approx(two_digits(evaluation.k * u)), reading
    at_max = result.evaluations[-1].expanded
    assert result.values()["U(W) at 220 g"] == at_max
    gl = result.global_uncertainty(4)
    assert 1e-3 < gl < 1e-2  # two significant digits: rounded up to 0.1 mg
    assert gl == pytest.approx(math.ceil((at_max + curve.a1 * 220) / 1e-4) * 1e-4)
    for reading, evaluation in zip(result.readings, result.evaluations, strict=True):
        assert result.alpha + result.beta * reading >= evaluation.expanded - 1e-15


def test_temperature_coefficient_from_the_r76_class() -> None:
    """Without a K_T, the R76 class's MPE at Max over the class's least temperature range
    (R76-1: 5 K for class I, as recalled): class I, e = 1 mg, Max 220 g: 1.5 mg (220 000 e,
    R76-1 Table 6) / (220 g · 5 K)."""
    tolerance = OimlR76(kind="oiml_r76", accuracy_class="I", e=1, unit="mg")
    k_t, note = temperature_coefficient(settings(), tolerance, 220.0)
    assert k_t == pytest.approx(1.5e-3 / (220 * 5)) and "class I" in note
    given = settings(in_use={"temperature_coefficient": 2e-6})
    assert temperature_coefficient(given, tolerance, 220.0)[0] == 2e-6


# --- a balance just outside and just inside R76 class I at 50 g ----------------------------


class Quiet:
    def begin(self, run: str, title: str, total: int, done: int) -> None: ...
    def point(self, label: str) -> None: ...
    def status(self, text: str) -> None: ...
    def sample(self, reading: object, verdict: object) -> None: ...
    def completed(self, point: object) -> None: ...


async def calibrate(
    tmp: Path, span_error: float, barometer_hpa: float | None = None
) -> RunDocument:
    """The real procedure on the simulated bench: one test load of 50 g, the tolerance in mg
    (class I, e = 1 mg: MPE 0.5 mg up to 50 000 e, R76-1 Table 6), the results in g; with
    ``barometer_hpa``, a simulated barometer as the plan's environment monitor."""
    lab_file = tmp / "lab.yaml"
    simulated = {"balance-1": {"span_error": span_error, "noise": 1e-6}}
    lab_raw = yaml.safe_load(lab_text(tmp, simulators=simulated))
    raw = yaml.safe_load((CONFIG / "plans" / "balance.yaml").read_text())
    if barometer_hpa is not None:
        barometer = copy.deepcopy(BAROMETER)
        barometer["simulator"]["registers"][0].update(value=barometer_hpa, noise=0.0)
        lab_raw["benches"][0]["instruments"].append({**barometer, "simulate": True})
        raw["environment"]["monitors"] = [barometer["id"]]
    lab_file.write_text(yaml.safe_dump(lab_raw, allow_unicode=True))
    raw["tolerance"] = {"kind": "oiml_r76", "accuracy_class": "I", "e": 1, "unit": "mg"}
    fifty = {"load": 50, "weights": ["weight-50g-e2"]}
    raw["settings"] = {
        "resolution": 0.0001,
        "capacity": 220,
        "repeatability": {**fifty, "loadings": 2},
        "eccentricity": fifty,
        "test_loads": [fifty],
    }
    plan = parse_plan(yaml.safe_dump(raw, allow_unicode=True), "balance-50.yaml")
    async with lab_session(load_lab(lab_file), Clock(400), simulate=True) as session:
        register = load_standards(CONFIG / "standards.yaml")
        return await Runner(session, register, Quiet()).start(plan, "balance-50.yaml")


@pytest.mark.parametrize(
    ("span_error", "error_mg", "outcome"),
    [
        # 49.999985 g (weight-50g-e2) shown 1.2e-5 high: 50.000585 g, displayed 50.0006 g
        (1.2e-5, 0.615, "fail"),
        # 0.8e-5 high: 50.000385 g, displayed 50.0004 g
        (0.8e-5, 0.415, "pass"),
    ],
)
async def test_balance_just_outside_and_inside_class_i(
    tmp_path: Path, span_error: float, error_mg: float, outcome: str
) -> None:
    document = await calibrate(tmp_path, span_error)
    assert document.run.status == "completed", document.run.reason
    assert [p.key for p in document.points] == [
        "repeatability",
        "eccentricity",
        "indication 50 g",
        "in use",
    ]
    point = document.points[2]
    assert point.decision is not None and point.budget is not None
    assert point.decision["outcome"] == outcome
    assert point.decision["value"] == pytest.approx(error_mg * 1e-3, abs=0.01e-3)
    assert point.decision["tolerance_upper"] == pytest.approx(0.5e-3)  # 0.5 mg in g
    assert point.values["mpe"] == pytest.approx(0.5e-3)
    assert point.values["error"] == point.budget["value"] == point.decision["value"]
    assert document.result.conforms is (outcome == "pass")
    used = point.values["indication"] - point.values["reference"]
    assert used == pytest.approx(point.values["error"], abs=1e-12)
    in_use_point = document.points[3]
    assert in_use_point.decision is None and in_use_point.values["max"] == 220
    # one test load: E_appr(R) = (E/I)·R through zero
    assert in_use_point.values["a1"] == pytest.approx(point.values["error"] / 50.0002, rel=1e-3)


async def test_air_density_from_the_environment_monitor(tmp_path: Path) -> None:
    """A barometer named in the plan's environment.monitors: the air density of the buoyancy
    term comes from its pressure (and its temperature), the stated humidity, OIML R111-1
    (E.3-1); stated 1005 hPa, measured 950 hPa."""
    document = await calibrate(tmp_path, 0.0, barometer_hpa=950.0)
    assert document.run.status == "completed", document.run.reason
    point = document.points[2]
    measured = document.environment["measured"][-1]  # read for this point
    assert measured["pressure"] == 950.0
    expected = air_density_approximation(measured["temperature"], 950.0, 45.0)
    assert point.values["air_density"] == pytest.approx(expected, rel=1e-12)
    assert point.values["air_density"] < 1.13  # not the stated conditions' 1.188 kg/m³
    assert point.budget is not None
    [air] = [c for c in point.budget["contributions"] if c["name"] == "air density"]
    assert air["value"] == point.values["air_density"] and "measured by baro-1" in air["note"]
