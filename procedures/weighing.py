"""Non-automatic weighing instruments per EURAMET cg-18 v4.0.

Three tests, each with reference weights the operator places (the simulated operator places
them on a simulated balance): repeatability (n loadings of one load), eccentricity (one load
at the centre and the four quarters of the pan), and errors of indication at the test loads.
Each error of indication is the model of cg-18 7.1, evaluated with GTC:

    E = (I + δI_digL - δI_dig0 + δI_rep + δI_ecc)
        - (Σᵢ m_c,i·[1 - (ρ_a - ρ_0)(1/ρᵢ - 1/ρ_c)] + Σᵢ δm_D,i + δm_conv)

(rounding at load and at no load, repeatability, eccentricity; the conventional mass of each
piece with its air buoyancy, its drift and the convection of the load), judged against the
plan's tolerance (typically an OIML R76 class). A last point, "in use", approximates the
errors by a curve E_appr(R) (cg-18 Annex C) and gives the uncertainty of a weighing result
W = R - E_appr(R) as a function of the reading R (cg-18 7.4, 7.5). docs/METROLOGY.md,
"Weighing (EURAMET cg-18)", gives every term with its source.

Clause numbers of cg-18 v4.0 and OIML R111-1:2004 are cited as we recall them: the texts
were not at hand to check them (nor the values of R111-1 Table 5 below).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daq.core.prompts import Action
from daq.core.units import check_unit, convert
from daq.engine.checks import Checkpoint
from daq.engine.context import Context, PlanError
from daq.engine.plan import Environment, Plan
from daq.engine.record import Point
from daq.metrology.air import RHO_0, RHO_C, air_density_approximation
from daq.metrology.budget import (
    Budget,
    Contribution,
    Evaluation,
    Model,
    certificate,
    rectangular,
    resolution,
    round_uncertainty,
    standard_deviation,
)
from daq.metrology.errors import MetrologyError
from daq.metrology.judgement import MAIN, half_width
from daq.metrology.tolerance import OimlR76, OimlR111, Tolerance
from daq.standards import ConventionalMass, Standard
from drivers.roles import Balance

VERSION = "2.0"
UUTS = 1
"""One UUT per run: its points are keyed by test load or pressure alone."""
UNIT = "g"
POSITIONS = ("centre", "front", "back", "left", "right")
"""cg-18 4.4.2: the centre and the four quarters of the load receptor."""
IN_USE = "in use"
"""The key of the last point: the error curve and the uncertainty of a weighing result."""


# -- settings ------------------------------------------------------------------------------


class Load(BaseModel):
    model_config = ConfigDict(extra="forbid")

    load: float = Field(gt=0)
    """Nominal test load, g."""
    weights: list[str] = Field(min_length=1)
    """Ids of the reference weights (standards register) that make it up."""


class Repeatability(Load):
    loadings: int = Field(5, ge=2, le=100)


class WeightSettings(BaseModel):
    """What the laboratory knows of one reference weight beyond its certificate."""

    model_config = ConfigDict(extra="forbid")

    unit: str = "mg"
    """Unit of ``drift`` and ``convection`` (a mass unit)."""
    drift: float | None = Field(None, ge=0)
    """Half-width D of the drift since the last certificate, from the history of its
    certificates (cg-18 7.1.2.4), in ``unit``; None: from the class (``drift_fraction``)."""
    drift_basis: str = ""
    """Where D comes from (e.g. "certificates 2022, 2024, 2026: largest change")."""
    convection: float | None = Field(None, ge=0)
    """Half-width Δm_conv of the apparent mass change by convection at the settings'
    ``temperature_difference`` (cg-18 7.1.2.3, Annex F), in ``unit``."""
    density_uncertainty: float | None = Field(None, ge=0)
    """Standard uncertainty of the density its certificate states, kg/m³ (None: from its
    OIML R111 class)."""

    @field_validator("unit")
    @classmethod
    def _mass_unit(cls, unit: str) -> str:
        convert(1.0, check_unit(unit), "g")
        return unit


class InUse(BaseModel):
    """The uncertainty of a weighing result in use (cg-18 7.4, 7.5, Annex C)."""

    model_config = ConfigDict(extra="forbid")

    error_curve: Literal["through_zero", "linear"] = "through_zero"
    """E_appr(R) = a₁·R (straight line through zero) or a₀ + a₁·R, weighted least squares
    over the errors of indication (cg-18 Annex C)."""
    temperature_coefficient: float | None = Field(None, ge=0)
    """K_T, relative change of sensitivity per kelvin; None: from the plan's OIML R76 class,
    K_T = MPE(Max)/(Max·ΔT_R76) (cg-18 7.4.3.1)."""
    temperature_range: float | None = Field(None, ge=0)
    """ΔT, the full range of temperature in use, K; None: the calibration's own range,
    twice the plan's environment temperature_uncertainty (a half-width)."""
    adjustment_drift: float = Field(0.0, ge=0)
    """Relative half-width of a change of sensitivity since the last adjustment
    (cg-18 7.4.3.3); 0: the balance is used as calibrated or adjusted before use."""
    air_density_change: float = Field(0.0, ge=0)
    """Half-width of the air density change between the balance's adjustment and its use,
    kg/m³ (cg-18 7.4.3.2); 0: adjusted at the place and time of use (internal weight)."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: float = Field(gt=0)
    """Scale interval d of the balance, g (rounding at zero and at load)."""
    capacity: float | None = Field(None, gt=0)
    """Max of the balance, g (the in-use uncertainty is given up to it); None: the largest
    test load."""
    repeatability: Repeatability
    eccentricity: Load
    """cg-18 5.3: a load of at least Max/3."""
    test_loads: list[Load] = Field(min_length=1)
    air_density_uncertainty: float = Field(0.012, ge=0)
    """kg/m³, standard uncertainty of the air density derived from the stated conditions."""
    weight_density_uncertainty: float = Field(60.0, ge=0)
    """kg/m³, standard uncertainty of a weight's density when neither its certificate nor
    its OIML R111 class gives one."""
    temperature_difference: float = Field(0.0, ge=0)
    """|ΔT| in K between the weights and the air at the balance (cg-18 7.1.2.3); 0: the
    weights are acclimatised, no convection. Above 0 every weight needs its
    ``weights.ID.convection`` half-width at this ΔT (cg-18 Table F.2)."""
    drift_fraction: float = Field(1 / 3, ge=0, le=1)
    """Drift half-width of a weight with no history in ``weights``, as a fraction of its
    OIML R111-1 MPE (cg-18 7.1.2.4; 1/3: the largest U R111-1 allows a weight's
    certificate); a weight without a class falls back to D = U of its certificate."""
    weights: dict[str, WeightSettings] = Field(default_factory=dict)
    """Per weight id: its drift history, convection, density uncertainty."""
    in_use: InUse = Field(default_factory=InUse)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        loads = [self.repeatability, self.eccentricity, *self.test_loads]
        used = {w for load in loads for w in load.weights}
        unknown = sorted(set(self.weights) - used)
        if unknown:
            raise ValueError(f"weights: {', '.join(unknown)} is not a weight of any load (a typo?)")
        if self.temperature_difference > 0:
            missing = sorted(
                w for w in used if w not in self.weights or self.weights[w].convection is None
            )
            if missing:
                raise ValueError(
                    f"temperature_difference = {self.temperature_difference:g} K: give "
                    f"weights.ID.convection (Δm_conv at that ΔT, cg-18 Table F.2) for "
                    f"{', '.join(missing)}"
                )
        top = max(t.load for t in self.test_loads)
        if self.capacity is not None and self.capacity < top:
            raise ValueError(f"capacity {self.capacity:g} g is below the test load {top:g} g")
        distinct = {t.load for t in self.test_loads}
        if len(distinct) < len(self.test_loads):
            raise ValueError("each test load once: two loads of one value share one point")
        if self.in_use.error_curve == "linear" and len(distinct) < 2:
            raise ValueError("in_use.error_curve linear needs at least two distinct test loads")
        return self

    @property
    def max(self) -> float:
        """Max, g: the capacity, or the largest test load."""
        return self.capacity or max(t.load for t in self.test_loads)


def points(settings: Settings, uuts: list[str]) -> list[str]:
    return (
        ["repeatability", "eccentricity"]
        + [f"indication {t.load:g} g" for t in settings.test_loads]
        + [IN_USE]
    )


def checkpoints(settings: Settings, plan: Plan) -> list[Checkpoint]:
    return [
        Checkpoint(
            f"indication {test.load:g} g",
            test.load,
            UNIT,
            {f"settings.test_loads.{i}.weights.{j}": w for j, w in enumerate(test.weights)},
        )
        for i, test in enumerate(settings.test_loads)
    ] + [Checkpoint(f"Max {settings.max:g} g (in use)", settings.max, UNIT)]


# -- the reference weights (cg-18 7.1.2) ---------------------------------------------------

_DENSITY_ROWS_MG = (100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 20)
"""Nominal values of the rows of OIML R111-1:2004 Table 5, mg (the first is "≥ 100 g")."""
_Limits = tuple[float, float | None]
_R111_DENSITY: dict[str, tuple[_Limits, ...]] = {
    # ρ_min, ρ_max in 10³ kg/m³ (None: no upper limit), one entry per row from ≥ 100 g down;
    # a class's column ends where the table has no more entries for it.
    "E1": (
        (7.934, 8.067),
        (7.92, 8.08),
        (7.84, 8.17),
        (7.74, 8.27),
        (7.62, 8.42),
        (7.27, 8.89),
        (6.9, 9.6),
        (6.3, 10.9),
        (5.3, 16.0),
        (4.4, None),
        (3.4, None),
        (2.3, None),
    ),
    "E2": (
        (7.81, 8.21),
        (7.74, 8.28),
        (7.50, 8.57),
        (7.27, 8.89),
        (6.9, 9.6),
        (6.0, 12.0),
        (5.3, 16.0),
        (4.4, None),
        (3.0, None),
        (2.3, None),
    ),
    "F1": (
        (7.39, 8.73),
        (7.27, 8.89),
        (6.6, 10.1),
        (6.0, 12.0),
        (5.3, 16.0),
        (4.0, None),
        (3.0, None),
        (2.2, None),
    ),
    "F2": ((6.4, 10.7), (6.0, 12.0), (4.8, 24.0), (4.0, None), (3.0, None), (2.0, None)),
    "M1": ((4.4, None), (4.0, None), (2.6, None), (2.0, None)),
    "M2": ((2.3, None),),
    "M3": ((1.5, None),),
}
"""OIML R111-1:2004 Table 5, minimum and maximum density of weights, as we recall it (NOT
checked against the text). The values agree, to their rounding, with the criterion the table
comes from (R111-1 10.1 as recalled: a 10 % deviation of the air density from 1.2 kg/m³ must
not produce an error above 1/4 of the MPE), which the tests recompute for some cells. The
classes M1-2 and M2-3 (weights of 50 kg and more) take the limit of M2 and M3: an assumption."""
_R111_DENSITY["M1-2"] = _R111_DENSITY["M2"]
_R111_DENSITY["M2-3"] = _R111_DENSITY["M3"]


def density_limits(weight_class: str, nominal_g: float) -> tuple[float, float | None]:
    """ρ_min and ρ_max (None: none) in kg/m³ of a weight of ``nominal_g`` grams in its class:
    the row of R111-1 Table 5 for the largest tabulated nominal value not above it; below
    the class's last row, that last (widest) row."""
    column = _R111_DENSITY[weight_class]
    milligrams = nominal_g * 1000.0
    row = next(
        (i for i, top in enumerate(_DENSITY_ROWS_MG) if milligrams >= top * (1 - 1e-9)),
        len(_DENSITY_ROWS_MG) - 1,
    )
    low, high = column[min(row, len(column) - 1)]
    return low * 1000.0, None if high is None else high * 1000.0


@dataclass(frozen=True)
class Weight:
    """One reference weight as the budget uses it: masses in g, densities in kg/m³."""

    id: str
    nominal: float
    conventional_mass: float
    """m_c from its certificate."""
    expanded: float
    """U of m_c from its certificate."""
    k: float
    certificate: str
    density: Density
    drift: float
    """Half-width D of its drift since its certificate."""
    drift_note: str
    convection: float = 0.0
    """Half-width Δm_conv at the settings' temperature difference."""

    def buoyancy(self, air_density: float) -> float:
        """δm_B = -m_c (ρ_a - ρ_0)(1/ρ - 1/ρ_c) (cg-18 7.1.2.2), g."""
        rho = self.density.value
        return -self.conventional_mass * (air_density - RHO_0) * (1 / rho - 1 / RHO_C)


@dataclass(frozen=True)
class Density:
    """A weight's density as a budget input: ρ, u(ρ) (kg/m³), its distribution, its source."""

    value: float
    u: float
    distribution: Literal["normal", "rectangular"]
    note: str


def weight_density(mass: ConventionalMass, own: WeightSettings | None, fallback: float) -> Density:
    """The certificate's density with the uncertainty the lab gives (else its class's), or
    ρ_c with u(ρ) from the class's R111-1 Table 5 limits, or ρ_c with ``fallback`` (the
    setting weight_density_uncertainty) when there is neither."""
    from_class: tuple[float, str] | None = None
    if mass.weight_class is not None:
        low, high = density_limits(mass.weight_class, convert(mass.nominal, mass.unit, UNIT))
        if high is not None:
            u = (high - low) / math.sqrt(12)
            limits = f"{low:.0f} to {high:.0f} kg/m³, u(ρ) = (ρmax - ρmin)/√12"
        else:
            u = (RHO_C - low) / math.sqrt(3)
            limits = f"at least {low:.0f} kg/m³, u(ρ) = (ρc - ρmin)/√3"
        from_class = (
            u,
            f"class {mass.weight_class} limits {limits} (OIML R111-1 Table 5, as recalled)",
        )
    if mass.density is not None:
        stated = f"ρ = {mass.density:g} kg/m³ (certificate"
        if own is not None and own.density_uncertainty is not None:
            u = own.density_uncertainty
            return Density(
                mass.density,
                u,
                "normal",
                f"{stated}), u(ρ) = {u:g} kg/m³ (settings weights.ID.density_uncertainty)",
            )
        if from_class is not None:
            return Density(
                mass.density,
                from_class[0],
                "rectangular",
                f"{stated}, without an uncertainty), u(ρ) = {from_class[0]:.3g} kg/m³ from "
                f"its {from_class[1]}",
            )
        return Density(
            mass.density,
            fallback,
            "normal",
            f"{stated}), u(ρ) = {fallback:g} kg/m³ (setting weight_density_uncertainty)",
        )
    if from_class is not None:
        return Density(
            RHO_C,
            from_class[0],
            "rectangular",
            f"ρ = ρc = {RHO_C:g} kg/m³ (no density on the certificate), u(ρ) = "
            f"{from_class[0]:.3g} kg/m³ from its {from_class[1]}",
        )
    return Density(
        RHO_C,
        fallback,
        "normal",
        f"ρ = ρc = {RHO_C:g} kg/m³, neither density nor class: u(ρ) = {fallback:g} kg/m³ "
        "(setting weight_density_uncertainty)",
    )


def _drift(
    mass: ConventionalMass, expanded: float, own: WeightSettings | None, settings: Settings
) -> tuple[float, str]:
    """D (g) and its source: the weight's history, else a fraction of its class's MPE, else
    the U of its certificate."""
    if own is not None and own.drift is not None:
        basis = f": {own.drift_basis}" if own.drift_basis else ""
        return convert(own.drift, own.unit, UNIT), (
            f"D = {own.drift:g} {own.unit} from the history of its certificates{basis} "
            "(settings weights.ID.drift)"
        )
    if mass.weight_class is not None:
        try:
            mpe = OimlR111(kind="oiml_r111", weight_class=mass.weight_class).mpe(
                convert(mass.nominal, mass.unit, UNIT)
            )
        except MetrologyError:
            pass
        else:
            fraction = settings.drift_fraction
            return convert(fraction * mpe, "mg", UNIT), (
                f"D = {fraction:.3g}·MPE = {fraction * mpe:.3g} mg, MPE = {mpe:g} mg of class "
                f"{mass.weight_class} (OIML R111-1 Table 1; no history: setting drift_fraction)"
            )
    return expanded, (
        f"D = U = {expanded * 1000:.3g} mg of its certificate (no history, no class with an MPE "
        "for its nominal value)"
    )


def reference_weight(standard: Standard, settings: Settings) -> Weight:
    """The register's entry of a weight and the settings' knowledge of it, as budget inputs;
    a PlanError when the standard is not a weight with a conventional mass."""
    mass = standard.corrections
    if not isinstance(mass, ConventionalMass):
        raise PlanError(f"{standard.id} is not a weight with a conventional mass")
    own = settings.weights.get(standard.id)
    u = standard.uncertainty
    expanded = convert(u.value, u.unit, UNIT)
    drift, drift_note = _drift(mass, expanded, own, settings)
    convection = 0.0
    if settings.temperature_difference > 0 and own is not None and own.convection is not None:
        convection = convert(own.convection, own.unit, UNIT)
    return Weight(
        id=standard.id,
        nominal=convert(mass.nominal, mass.unit, UNIT),
        conventional_mass=convert(mass.conventional_mass, mass.unit, UNIT),
        expanded=expanded,
        k=u.k,
        certificate=standard.certificate.number,
        density=weight_density(mass, own, settings.weight_density_uncertainty),
        drift=drift,
        drift_note=drift_note,
        convection=convection,
    )


def reference_mass(weights: Sequence[Weight], air_density: float) -> float:
    """m_ref = Σ (m_c,i + δm_B,i), g: what a perfect balance indicates for the load."""
    return sum(w.conventional_mass + w.buoyancy(air_density) for w in weights)


# -- the budget of an error of indication (cg-18 7.1) --------------------------------------

INDICATION = "indication"
ROUND_ZERO = "rounding at zero"
ROUND_LOAD = "rounding at load"
REPEAT = "repeatability"
ECCENTRICITY = "eccentricity"
AIR = "air density"
CONVECTION = "convection"


def _certificate_name(weight: Weight) -> str:
    return f"reference weight {weight.id}"


def _density_name(weight: Weight) -> str:
    return f"density of {weight.id}"


def _drift_name(weight: Weight) -> str:
    return f"drift of {weight.id}"


@dataclass(frozen=True)
class Indication:
    """What the balance showed at a test load, and the results of the other two tests."""

    value: float
    """I, g."""
    resolution: float
    """d, g."""
    repeatability: float
    """s of one indication, g."""
    repeatability_dof: int
    loadings: int
    repeatability_load: float
    eccentricity: float
    """|ΔI_ecc,i|max, g."""
    eccentricity_load: float
    """L_ecc, g."""


def _error_model(weights: Sequence[Weight]) -> Model:
    def error(x: Mapping[str, Any]) -> Any:
        indication = x[INDICATION] + x[ROUND_LOAD] - x[ROUND_ZERO] + x[REPEAT] + x[ECCENTRICITY]
        reference = x[CONVECTION]
        for w in weights:
            buoyancy = (x[AIR] - RHO_0) * (1 / x[_density_name(w)] - 1 / RHO_C)
            reference = reference + x[_certificate_name(w)] * (1 - buoyancy) + x[_drift_name(w)]
        return indication - reference

    return error


def error_budget(
    shown: Indication,
    weights: Sequence[Weight],
    *,
    air_density: float,
    u_air_density: float,
    air_note: str = "",
    temperature_difference: float = 0.0,
) -> Budget:
    """The model E = I - m_ref of cg-18 7.1 with every input, for GTC to evaluate.

    Pure: no instruments, so the tests recompute it term by term."""
    d = shown.resolution
    half_ecc = shown.eccentricity / (2 * shown.eccentricity_load) * shown.value
    budget = Budget("error of indication", UNIT, model=_error_model(weights))
    budget.add(
        Contribution(
            INDICATION,
            shown.value,
            0.0,
            UNIT,
            note="I, the stable indication at the test load; E = I - m_ref (cg-18 7.1)",
        ),
        resolution(ROUND_ZERO, d, UNIT, note=f"u = d₀/(2√3), d₀ = {d:g} g (cg-18 7.1.1.1)"),
        resolution(ROUND_LOAD, d, UNIT, note=f"u = d_I/(2√3), d_I = {d:g} g (cg-18 7.1.1.2)"),
        standard_deviation(
            REPEAT,
            shown.repeatability,
            UNIT,
            shown.repeatability_dof,
            note=f"u = s = {shown.repeatability:.3g} g of {shown.loadings} loadings of "
            f"{shown.repeatability_load:g} g, ν = n - 1 (cg-18 7.1.1.3)",
        ),
        rectangular(
            ECCENTRICITY,
            half_ecc,
            UNIT,
            note=f"u = |ΔI_ecc|max/(2·L_ecc·√3)·I, |ΔI_ecc|max = {shown.eccentricity:.3g} g, "
            f"L_ecc = {shown.eccentricity_load:g} g (cg-18 7.1.1.4)",
        ),
    )
    for w in weights:
        budget.add(
            certificate(
                _certificate_name(w),
                w.expanded,
                w.k,
                UNIT,
                value=w.conventional_mass,
                note=f"m_c = {w.conventional_mass:.10g} g, u = U/k, "
                f"U = {w.expanded * 1000:.3g} mg, k = {w.k:g}, certificate {w.certificate}; "
                "the pieces of a load correlated r = 1 (cg-18 7.1.2.1, 7.1.2.5)",
            )
        )
    budget.add(
        Contribution(
            AIR,
            air_density,
            u_air_density,
            "kg/m³",
            note=(air_note or f"ρa = {air_density:.5g} kg/m³")
            + f", u(ρa) = {u_air_density:g} kg/m³; in δm_B = -m_c(ρa - ρ0)(1/ρ - 1/ρc), "
            "ρ0 = 1.2 kg/m³, ρc = 8000 kg/m³ (cg-18 7.1.2.2; OIML D 28)",
        )
    )
    for w in weights:
        budget.add(
            Contribution(
                _density_name(w),
                w.density.value,
                w.density.u,
                "kg/m³",
                distribution=w.density.distribution,
                note=f"{w.density.note}; in δm_B (cg-18 7.1.2.2)",
            ),
            rectangular(
                _drift_name(w),
                w.drift,
                UNIT,
                note=f"u = D/√3, {w.drift_note}; the pieces of a load correlated r = 1 "
                "(cg-18 7.1.2.4)",
            ),
        )
    convection = sum(w.convection for w in weights)
    budget.add(
        rectangular(
            CONVECTION,
            convection,
            UNIT,
            note=(
                f"u = Δm_conv/√3, Δm_conv = {convection * 1000:.3g} mg, the pieces' half-widths "
                f"at ΔT = {temperature_difference:g} K added (settings weights.ID.convection; "
                "cg-18 7.1.2.3, Table F.2)"
                if temperature_difference > 0
                else "weights acclimatised to the balance (setting temperature_difference = "
                "0 K): no convection (cg-18 7.1.2.3)"
            ),
        )
    )
    for first, second in itertools.combinations(weights, 2):
        budget.correlate(_certificate_name(first), _certificate_name(second), 1.0)
        budget.correlate(_drift_name(first), _drift_name(second), 1.0)
    return budget


# -- the weighing result in use (cg-18 7.4, 7.5, Annex C) ----------------------------------


@dataclass(frozen=True)
class MeasuredError:
    """One error of indication as the calibration found it."""

    indication: float
    error: float
    u: float
    """u(E) = U/k as reported."""


@dataclass(frozen=True)
class ErrorCurve:
    """E_appr(R) = a₀ + a₁·R by weighted least squares (weights 1/u²(E_j)), cg-18 Annex C."""

    kind: Literal["through_zero", "linear"]
    a0: float
    a1: float
    var_a0: float
    var_a1: float
    cov: float
    chi2: float
    dof: int
    scale: float
    """max(1, χ²/ν): the variances are multiplied by it when the errors scatter about the
    curve more than their uncertainties allow (the Birge ratio squared)."""
    floor: float
    """min_j u(E_j)/I_j: u(E_appr(R)) is never below floor·R (the errors are correlated
    through the weights, buoyancy and eccentricity: averaging cannot beat them)."""

    def at(self, reading: float) -> float:
        return self.a0 + self.a1 * reading

    def u(self, reading: float) -> float:
        variance = self.var_a0 + 2 * reading * self.cov + reading**2 * self.var_a1
        return max(math.sqrt(max(variance, 0.0)), self.floor * abs(reading))


def fit_error_curve(
    errors: Sequence[MeasuredError], kind: Literal["through_zero", "linear"] = "through_zero"
) -> ErrorCurve:
    """The error curve through the measured errors (see ``ErrorCurve``)."""
    if not errors:
        raise MetrologyError("no errors of indication to approximate")
    if any(e.u <= 0 for e in errors):
        raise MetrologyError("every error of indication needs an uncertainty above 0")
    p = [1 / e.u**2 for e in errors]
    x = [e.indication for e in errors]
    y = [e.error for e in errors]
    floor = min((e.u / abs(e.indication) for e in errors if e.indication), default=0.0)
    if kind == "through_zero":
        sxx = sum(pj * xj * xj for pj, xj in zip(p, x, strict=True))
        a0, a1 = 0.0, sum(pj * xj * yj for pj, xj, yj in zip(p, x, y, strict=True)) / sxx
        var_a0, var_a1, cov = 0.0, 1 / sxx, 0.0
        dof = len(errors) - 1
    else:
        s = sum(p)
        sx = sum(pj * xj for pj, xj in zip(p, x, strict=True))
        sy = sum(pj * yj for pj, yj in zip(p, y, strict=True))
        sxx = sum(pj * xj * xj for pj, xj in zip(p, x, strict=True))
        sxy = sum(pj * xj * yj for pj, xj, yj in zip(p, x, y, strict=True))
        delta = s * sxx - sx * sx
        if delta <= 0:
            raise MetrologyError("a linear error curve needs at least two distinct loads")
        a0, a1 = (sxx * sy - sx * sxy) / delta, (s * sxy - sx * sy) / delta
        var_a0, var_a1, cov = sxx / delta, s / delta, -sx / delta
        dof = len(errors) - 2
    chi2 = sum(pj * (yj - a0 - a1 * xj) ** 2 for pj, xj, yj in zip(p, x, y, strict=True))
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    return ErrorCurve(
        kind, a0, a1, var_a0 * scale, var_a1 * scale, cov * scale, chi2, dof, scale, floor
    )


@dataclass(frozen=True)
class UseConditions:
    """The terms of a reading in use besides the error curve (cg-18 7.4.1, 7.4.3)."""

    resolution: float
    repeatability: float
    repeatability_dof: int
    eccentricity: float
    """|ΔI_ecc|max, g."""
    eccentricity_load: float
    temperature_coefficient: float
    """K_T, 1/K."""
    temperature_range: float
    """ΔT, K (full range)."""
    adjustment_drift: float = 0.0
    air_density_change: float = 0.0
    """kg/m³, half-width."""
    temperature_note: str = ""


READING = "reading R"
CURVE = "error curve E_appr(R)"
ROUND_READING = "rounding of the reading"
TEMPERATURE = "temperature"
ADJUSTMENT = "adjustment drift"
AIR_CHANGE = "air density change"


def _result_model(x: Mapping[str, Any]) -> Any:
    reading = x[READING] + x[ROUND_READING] - x[ROUND_ZERO] + x[REPEAT] + x[ECCENTRICITY]
    return reading - x[CURVE] + x[TEMPERATURE] + x[ADJUSTMENT] + x[AIR_CHANGE]


def result_budget(reading: float, curve: ErrorCurve, use: UseConditions) -> Budget:
    """W = R - E_appr(R) + δR_dig0 + δR_digL + δR_rep + δR_ecc + δR_temp + δR_adj + δR_buoy
    (cg-18 7.4): the weighing result for a reading R and its budget. Pure."""
    d = use.resolution
    half_ecc = use.eccentricity / (2 * use.eccentricity_load) * reading
    line = (
        f"E_appr(R) = a₁·R, a₁ = {curve.a1:.4g}"
        if curve.kind == "through_zero"
        else f"E_appr(R) = a₀ + a₁·R, a₀ = {curve.a0:.4g} g, a₁ = {curve.a1:.4g}"
    )
    return Budget("weighing result in use", UNIT, model=_result_model).add(
        Contribution(READING, reading, 0.0, UNIT, note="R, a reading in use (cg-18 7.4.1)"),
        resolution(ROUND_ZERO, d, UNIT, note=f"u = d₀/(2√3), d₀ = {d:g} g (cg-18 7.4.1)"),
        resolution(ROUND_READING, d, UNIT, note=f"u = d/(2√3), d = {d:g} g (cg-18 7.4.1)"),
        standard_deviation(
            REPEAT,
            use.repeatability,
            UNIT,
            use.repeatability_dof,
            note=f"u = s = {use.repeatability:.3g} g from the calibration (cg-18 7.4.1)",
        ),
        rectangular(
            ECCENTRICITY,
            half_ecc,
            UNIT,
            note=f"u = |ΔI_ecc|max/(2·L_ecc·√3)·R, |ΔI_ecc|max = {use.eccentricity:.3g} g, "
            f"L_ecc = {use.eccentricity_load:g} g (cg-18 7.4.1, 7.1.1.4)",
        ),
        Contribution(
            CURVE,
            curve.at(reading),
            curve.u(reading),
            UNIT,
            note=f"{line} by weighted least squares over the errors of indication; "
            f"u² = u²(a₀) + 2R·u(a₀,a₁) + R²u²(a₁), not below R·min(u(E_j)/I_j) = "
            f"R·{curve.floor:.3g}; χ² = {curve.chi2:.3g}, ν = {curve.dof}, variances × "
            f"{curve.scale:.3g} (cg-18 7.4.2, Annex C)",
        ),
        rectangular(
            TEMPERATURE,
            use.temperature_coefficient * use.temperature_range / 2 * reading,
            UNIT,
            note=f"u = K_T·ΔT·R/√12, K_T = {use.temperature_coefficient:.3g}/K, "
            f"ΔT = {use.temperature_range:g} K{use.temperature_note} (cg-18 7.4.3.1)",
        ),
        rectangular(
            ADJUSTMENT,
            use.adjustment_drift * reading,
            UNIT,
            note=f"u = δ_adj·R/√3, δ_adj = {use.adjustment_drift:g} (setting "
            "in_use.adjustment_drift; cg-18 7.4.3.3)",
        ),
        rectangular(
            AIR_CHANGE,
            use.air_density_change / RHO_C * reading,
            UNIT,
            note=f"u = Δρa/ρc·R/√3, Δρa = {use.air_density_change:g} kg/m³ between the "
            "balance's adjustment and its use (setting in_use.air_density_change; "
            "cg-18 7.4.3.2)",
        ),
    )


R76_TEMPERATURE_RANGE = {"I": 5.0, "II": 15.0, "III": 30.0, "IIII": 30.0}
"""K: the least temperature range OIML R76-1 (3.9.2.2, as recalled) requires of a class."""


def temperature_coefficient(
    settings: Settings, tolerance: Tolerance, capacity: float
) -> tuple[float, str]:
    """K_T (1/K) and where it comes from: the setting, else the R76 class's MPE at Max over
    its temperature range (the instrument meets its MPE over that range), else 0 with why."""
    given = settings.in_use.temperature_coefficient
    if given is not None:
        return given, " (setting in_use.temperature_coefficient)"
    if isinstance(tolerance, OimlR76):
        initial = OimlR76(
            kind="oiml_r76",
            accuracy_class=tolerance.accuracy_class,
            e=tolerance.e,
            unit=tolerance.unit,
        )
        try:
            mpe = convert(
                initial.mpe(convert(capacity, UNIT, tolerance.unit)), tolerance.unit, UNIT
            )
        except MetrologyError as exc:
            raise PlanError(f"in use: {exc} (give in_use.temperature_coefficient)") from None
        span = R76_TEMPERATURE_RANGE[tolerance.accuracy_class]
        return mpe / (capacity * span), (
            f", K_T = MPE(Max)/(Max·ΔT_R76) = {mpe * 1000:g} mg/({capacity:g} g·{span:g} K), "
            f"OIML R76-1 class {tolerance.accuracy_class}"
        )
    return 0.0, (
        ", no K_T: the plan's tolerance is not an OIML R76 class and the setting "
        "in_use.temperature_coefficient is not given"
    )


@dataclass(frozen=True)
class InUseResult:
    curve: ErrorCurve
    readings: tuple[float, ...]
    evaluations: tuple[Evaluation, ...]
    """U(W) at each reading (the last at Max)."""

    @property
    def alpha(self) -> float:
        """U(W) ≈ α + β·R for 0 ≤ R ≤ Max: α = U(0)."""
        return self.evaluations[0].expanded

    @property
    def beta(self) -> float:
        """β: the least slope with α + β·R ≥ U(W) at every reading evaluated."""
        return max(
            (e.expanded - self.alpha) / r
            for r, e in zip(self.readings, self.evaluations, strict=True)
            if r > 0
        )

    def global_uncertainty(self, index: int) -> float:
        """U_gl = U(W) + |E_appr(R)|: a reading used without the correction (cg-18 7.5.2)."""
        reading = self.readings[index]
        return round_uncertainty(
            self.evaluations[index].expanded + abs(self.curve.at(reading)), up=True
        )

    def values(self) -> dict[str, float]:
        top = self.readings[-1]
        found: dict[str, float] = {
            "U(W) at 0 g": self.alpha,
            f"U(W) at {top:g} g": self.evaluations[-1].expanded,
            f"U_gl(W) at {top:g} g": self.global_uncertainty(len(self.readings) - 1),
            "U(W) alpha": self.alpha,
            "U(W) beta": self.beta,
            "a0": self.curve.a0,
            "a1": self.curve.a1,
            "u(a0)": math.sqrt(self.curve.var_a0),
            "u(a1)": math.sqrt(self.curve.var_a1),
            "cov(a0, a1)": self.curve.cov,
            "chi2": self.curve.chi2,
            "fit dof": self.curve.dof,
            "max": top,
        }
        for index, (reading, evaluation) in enumerate(
            zip(self.readings, self.evaluations, strict=True)
        ):
            found[f"E_appr at {reading:g} g"] = self.curve.at(reading)
            found[f"U(W) at {reading:g} g"] = evaluation.expanded
            found[f"k at {reading:g} g"] = evaluation.k
            found[f"U_gl(W) at {reading:g} g"] = self.global_uncertainty(index)
        return found


def in_use(
    errors: Sequence[MeasuredError],
    use: UseConditions,
    *,
    loads: Sequence[float],
    capacity: float,
    kind: Literal["through_zero", "linear"] = "through_zero",
    probability: float = 95.45,
) -> InUseResult:
    """The error curve and U(W) at 0, at each test load and at Max. Pure."""
    curve = fit_error_curve(errors, kind)
    readings = tuple(sorted({0.0, *loads, capacity}))
    evaluations = tuple(
        result_budget(r, curve, use).evaluate(probability=probability) for r in readings
    )
    return InUseResult(curve, readings, evaluations)


# -- the run -------------------------------------------------------------------------------


def air(environment: Environment) -> tuple[float, str]:
    """ρa from the conditions (OIML R111-1 (E.3-1)) and how they were found: as the plan
    states them, or as its environment monitors measured them."""
    density = air_density_approximation(
        environment.temperature, environment.pressure, environment.humidity
    )
    source = (
        f"measured by {', '.join(environment.monitors)} (what they do not measure as stated)"
        if environment.monitors
        else "the plan's environment"
    )
    return density, (
        f"ρa = {density:.5g} kg/m³ from {source}: {environment.temperature:g} °C, "
        f"{environment.pressure:g} hPa, {environment.humidity:g} % by OIML R111-1 (E.3-1)"
    )


@dataclass
class _Load:
    standards: list[Standard]
    weights: list[Weight]
    nominal: float

    def describe(self) -> str:
        return " + ".join(w.id for w in self.weights)


def _load(ctx: Context, settings: Settings, load: Load) -> _Load:
    standards = [ctx.register.standard(w) for w in load.weights]
    return _Load(standards, [reference_weight(s, settings) for s in standards], load.load)


def _uses(ctx: Context, load: _Load) -> list[dict[str, Any]]:
    return [
        ctx.use_standard(s, w.nominal, UNIT).snapshot()
        for s, w in zip(load.standards, load.weights, strict=True)
    ]


async def _weigh(
    ctx: Context, balance: Balance, balance_id: str, load: _Load, mass: float, position: str
) -> float:
    """Place the load at ``position``, read the stable indication, take the load off."""
    await ctx.ask(
        f"Place {load.describe()} ({load.nominal:g} g) on the {position} of the pan",
        instrument=balance_id,
        action=Action(balance_id, "place", {"mass_g": mass, "position": position}),
    )
    reading = await ctx.read(balance.weigh)
    await ctx.ask(
        "Take the weights off the pan",
        instrument=balance_id,
        action=Action(balance_id, "remove", {}),
    )
    return convert(reading.value, reading.unit, UNIT)


async def run(ctx: Context, settings: Settings) -> None:
    uut = ctx.uuts[0]
    balance_id = uut.instrument
    balance = ctx.as_role(balance_id, Balance)
    await ctx.ask(
        "Clear the pan, check the balance is level and acclimatised",
        instrument=balance_id,
        action=Action(balance_id, "remove", {}),
    )

    if (repeat := ctx.done("repeatability")) is None:
        ctx.start_point("repeatability")
        load = _load(ctx, settings, settings.repeatability)
        uses = _uses(ctx, load)
        mass = reference_mass(load.weights, air(await ctx.environment())[0])
        await balance.zero()
        indications = [
            await _weigh(ctx, balance, balance_id, load, mass, "centre")
            for _ in range(settings.repeatability.loadings)
        ]
        repeat = await ctx.record(
            Point(
                key="repeatability",
                kind="repeatability",
                uut=uut.id,
                nominal=settings.repeatability.load,
                unit=UNIT,
                readings={"indication": indications},
                values={
                    "mean": statistics.fmean(indications),
                    "s": statistics.stdev(indications),
                    "dof": len(indications) - 1,
                },
                standards=uses,
            )
        )

    if (eccentric := ctx.done("eccentricity")) is None:
        ctx.start_point("eccentricity")
        load = _load(ctx, settings, settings.eccentricity)
        uses = _uses(ctx, load)
        mass = reference_mass(load.weights, air(await ctx.environment())[0])
        await balance.zero()
        shown = {p: await _weigh(ctx, balance, balance_id, load, mass, p) for p in POSITIONS}
        deviations = {p: shown[p] - shown["centre"] for p in POSITIONS}
        eccentric = await ctx.record(
            Point(
                key="eccentricity",
                kind="eccentricity",
                uut=uut.id,
                nominal=settings.eccentricity.load,
                unit=UNIT,
                readings={p: [v] for p, v in shown.items()},
                values={
                    "max_deviation": max(abs(d) for d in deviations.values()),
                    **{f"deviation_{p}": d for p, d in deviations.items()},
                },
                standards=uses,
            )
        )

    found: list[Point] = []
    for test in settings.test_loads:
        key = f"indication {test.load:g} g"
        if (point := ctx.done(key)) is None:
            ctx.start_point(key)
            point = await _indication(ctx, settings, balance, balance_id, test, repeat, eccentric)
        found.append(point)

    if ctx.done(IN_USE) is None:
        ctx.start_point(IN_USE)
        await ctx.record(_in_use_point(ctx, settings, found, repeat, eccentric))


async def _indication(
    ctx: Context,
    settings: Settings,
    balance: Balance,
    balance_id: str,
    test: Load,
    repeat: Point,
    eccentric: Point,
) -> Point:
    uut = ctx.uuts[0]
    load = _load(ctx, settings, test)
    uses = _uses(ctx, load)
    # cg-18 7.1.2.2: the air density at this point, from the conditions measured by the
    # plan's environment monitors where it names any, else as the plan states them
    air_density, air_note = air(await ctx.environment())
    reference = reference_mass(load.weights, air_density)
    await balance.zero()
    indication = await _weigh(ctx, balance, balance_id, load, reference, "centre")
    budget = error_budget(
        Indication(
            value=indication,
            resolution=settings.resolution,
            repeatability=repeat.values["s"],
            repeatability_dof=int(repeat.values["dof"]),
            loadings=int(repeat.values["dof"]) + 1,
            repeatability_load=repeat.nominal or settings.repeatability.load,
            eccentricity=eccentric.values["max_deviation"],
            eccentricity_load=eccentric.nominal or settings.eccentricity.load,
        ),
        load.weights,
        air_density=air_density,
        u_air_density=settings.air_density_uncertainty,
        air_note=air_note,
        temperature_difference=settings.temperature_difference,
    )
    judgement = ctx.judge(budget, nominal=test.load, at=reference)
    main = dict(judgement.checks)[MAIN]
    return await ctx.record(
        Point.judged(
            judgement,
            key=f"indication {test.load:g} g",
            kind="indication",
            uut=uut.id,
            nominal=test.load,
            unit=UNIT,
            readings={"indication": [indication]},
            values={
                "indication": indication,
                "reference": reference,
                "conventional_mass": sum(w.conventional_mass for w in load.weights),
                "buoyancy_correction": sum(w.buoyancy(air_density) for w in load.weights),
                "air_density": air_density,
                "error": judgement.evaluation.value,
                "mpe": half_width(main.lower, main.upper),
            },
            standards=uses,
        )
    )


def _in_use_point(
    ctx: Context, settings: Settings, found: list[Point], repeat: Point, eccentric: Point
) -> Point:
    errors = []
    for point in found:
        assert point.budget is not None
        budget = point.budget
        errors.append(
            MeasuredError(
                point.values["indication"],
                point.values["error"],
                budget["expanded_uncertainty"] / budget["coverage_factor"],
            )
        )
    capacity = settings.max
    k_t, k_t_note = temperature_coefficient(settings, ctx.plan.tolerance, capacity)
    span = settings.in_use.temperature_range
    if span is None:
        span = 2 * ctx.plan.environment.temperature_uncertainty
        k_t_note += "; ΔT = 2 × the plan's environment temperature_uncertainty"
    use = UseConditions(
        resolution=settings.resolution,
        repeatability=repeat.values["s"],
        repeatability_dof=int(repeat.values["dof"]),
        eccentricity=eccentric.values["max_deviation"],
        eccentricity_load=eccentric.nominal or settings.eccentricity.load,
        temperature_coefficient=k_t,
        temperature_range=span,
        adjustment_drift=settings.in_use.adjustment_drift,
        air_density_change=settings.in_use.air_density_change,
        temperature_note=k_t_note,
    )
    try:
        result = in_use(
            errors,
            use,
            loads=[t.load for t in settings.test_loads],
            capacity=capacity,
            kind=settings.in_use.error_curve,
            probability=ctx.plan.coverage_probability,
        )
    except MetrologyError as exc:
        raise PlanError(f"in use: {exc}") from None
    return Point(
        key=IN_USE,
        kind="in use",
        uut=ctx.uuts[0].id,
        nominal=capacity,
        unit=UNIT,
        readings={
            "indication": [e.indication for e in errors],
            "error": [e.error for e in errors],
            "u(error)": [e.u for e in errors],
        },
        values=result.values(),
        budget=result.evaluations[-1].as_dict(),
        note=f"W = R - E_appr(R), {settings.in_use.error_curve.replace('_', ' ')} error curve; "
        f"U(W) ≤ {result.alpha:.2g} g + {result.beta:.3g}·R for 0 ≤ R ≤ {capacity:g} g; "
        "U_gl(W) = U(W) + |E_appr(R)| for a reading used without the correction "
        "(cg-18 7.4, 7.5, Annex C)",
    )
