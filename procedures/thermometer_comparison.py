"""Thermometers by comparison against a reference PRT in a bath or metrology well.

Several UUT probes are calibrated at once against a reference PRT whose reading is converted
through the Callendar-Van Dusen coefficients of its certificate. At each set point the source
is set, the reference must be stable, the probes soak, then reference and UUTs are read in
turn N times (paired rounds: the reference, then every UUT). Per UUT and point: the error of
indication E = t_UUT - t_ref and the correction -E, the budget of E as a model evaluated with
GTC (``error_budget``, a pure function of the readings and settings; the terms and their
sources are in docs/METROLOGY.md, "Thermometers by comparison") and the conformity decision
against the plan's tolerance (typically an IEC 60751 class).

The Type A term is the mean of the paired differences t_UUT,i - t_ref,i, which removes the
source's fluctuation common to both thermometers; consecutive differences may still be
autocorrelated (a well oscillating slower than a round), so the standard deviation of their
mean uses the effective number of observations n_eff = n(1 - r1)/(1 + r1) from the lag-1
autocorrelation r1 when r1 > 0 (Zhang, Metrologia 43 (2006) S276), with nu = n_eff - 1.

A set point outside the range the reference's certificate states its CVD coefficients for is
a problem of the standard's use (``daq.standards.problems_with``): the run is refused there,
and no override waives it (the coefficients are certified for no value there).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.core.reading import Reading
from daq.core.units import convert, convert_difference
from daq.engine.checks import Checkpoint
from daq.engine.context import Context, PlanError
from daq.engine.plan import Plan, Uut
from daq.engine.record import Point
from daq.metrology.budget import Budget, Contribution, certificate, rectangular, resolution
from daq.metrology.cvd import IEC_60751, Coefficients
from daq.metrology.errors import MetrologyError
from daq.standards import CallendarVanDusen, Standard, Use
from drivers.roles import TemperatureSource, Thermometer

VERSION = "2.0"
UNIT = "°C"

HalfWidth = Annotated[float, Field(ge=0)]


class Settings(BaseModel):
    """The plan's ``settings``; every half-width is in °C and bounds a rectangular
    distribution (u = a/√3, GUM 4.3.7) unless said otherwise."""

    model_config = ConfigDict(extra="forbid")

    set_points: list[float] = Field(min_length=1)
    """°C, in the order they are run."""
    readings: int = Field(10, ge=2, le=1000)
    """Rounds of readings per point (each round: the reference, then every UUT)."""
    interval: float = Field(5.0, gt=0)
    """Seconds between rounds of readings."""
    soak: float = Field(300.0, ge=0)
    """Seconds after the reference is stable before the readings start."""
    reference_channel: int = Field(1, ge=1)
    readout_conversion: Literal["iec_60751", "certificate"] = "iec_60751"
    """What the readout applies to the reference channel: the IEC 60751 standard curve (undone
    here, then the certificate's coefficients applied) or already the certificate's."""
    reference_drift: HalfWidth = 0.01
    """Half-width of the reference PRT's drift since its calibration (its history)."""
    readout_accuracy: HalfWidth = 0.005
    """Half-width of the readout's error on the reference channel, as a temperature."""
    uut_readout_accuracy: HalfWidth | dict[Annotated[int, Field(ge=1)], HalfWidth] = 0.005
    """Half-width of the readout's error on the UUT channels: one value for every UUT channel
    or one per channel ({2: 0.005, 3: 0.008}); every UUT on the reference readout needs one.
    A UUT read through an indicator of its own has no such term (its indicator is part of
    what is calibrated)."""
    axial_uniformity: HalfWidth = 0.02
    """Half-width of the source's axial non-uniformity over the sensing lengths (EURAMET
    cg-13: axial homogeneity of the measuring zone)."""
    radial_uniformity: HalfWidth = 0.01
    """Half-width of the temperature difference between the borings (or positions) of the
    reference and the UUTs (EURAMET cg-13: radial homogeneity)."""
    stability: HalfWidth = 0.0
    """Least half-width of the source's change between the reference reading and a UUT
    reading of one round (e.g. the source's specified stability); the drift per round of the
    reference readings is used when larger. The faster fluctuation is in the Type A term."""
    immersion: HalfWidth = 0.01
    """Half-width of the stem-conduction (immersion) error of the comparison, e.g. the change
    of the UUT's reading when withdrawn by 20 mm."""
    self_heating: HalfWidth = 0.005
    """Half-width of the self-heating of the thermometers at the readout's measuring current
    not covered by the reference's certificate (difference between UUT and reference)."""
    uut_resolution: float = Field(0.001, gt=0)
    """°C, the digit step of the UUT indication."""

    def uut_readout(self, channel: int) -> float | None:
        """The half-width for a UUT on ``channel`` of the reference readout (None: not given
        for that channel)."""
        if isinstance(self.uut_readout_accuracy, dict):
            return self.uut_readout_accuracy.get(channel)
        return self.uut_readout_accuracy


def key(set_point: float, uut: str) -> str:
    return f"{set_point:g} °C {uut}"


def points(settings: Settings, uuts: list[str]) -> list[str]:
    return [key(t, u) for t in settings.set_points for u in uuts]


def checkpoints(settings: Settings, plan: Plan) -> list[Checkpoint]:
    reference = plan.standards.get("reference")
    used = {"standards.reference": reference} if reference else {}
    return [Checkpoint(f"{t:g} °C", t, UNIT, used) for t in settings.set_points]


# -- the statistics of paired rounds (pure) ------------------------------------------------


def lag1_autocorrelation(values: Sequence[float]) -> float:
    """r₁ = Σᵢ (xᵢ - x̄)(xᵢ₊₁ - x̄) / Σᵢ (xᵢ - x̄)², the usual estimator of the lag-1
    autocorrelation (the sample autocorrelation at lag 1 of Box and Jenkins, as Zhang 2006
    uses it; cited from memory); 0 for constant values."""
    mean = statistics.fmean(values)
    deviations = [x - mean for x in values]
    total = sum(d * d for d in deviations)
    if total == 0:
        return 0.0
    return sum(a * b for a, b in pairwise(deviations)) / total


def effective_observations(n: int, r1: float) -> float:
    """n_eff = n(1 - r₁)/(1 + r₁) for r₁ > 0 (the variance of the mean of a first-order
    autoregressive series, σ²/n·(1 + ρ)/(1 - ρ) for large n); n when r₁ ≤ 0 (no credit is
    taken for a negative correlation); at least 1."""
    if r1 <= 0:
        return float(n)
    return max(1.0, n * (1 - r1) / (1 + r1))


def drift_per_round(values: Sequence[float]) -> float:
    """The least-squares slope of ``values`` against the round number, per round."""
    n = len(values)
    middle = (n - 1) / 2
    mean = statistics.fmean(values)
    spread = sum((i - middle) ** 2 for i in range(n))
    return sum((i - middle) * (x - mean) for i, x in enumerate(values)) / spread


@dataclass(frozen=True)
class Rounds:
    """The paired rounds of one UUT at one point: reference temperatures (through the
    certificate's CVD) and UUT indications, in °C, round by round."""

    reference: tuple[float, ...]
    indications: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.reference) != len(self.indications):
            raise MetrologyError(
                f"{len(self.reference)} reference readings for {len(self.indications)} UUT "
                "readings: the rounds are paired"
            )
        if len(self.reference) < 2:
            raise MetrologyError("a Type A evaluation needs at least two rounds")

    @property
    def n(self) -> int:
        return len(self.reference)

    @property
    def differences(self) -> tuple[float, ...]:
        """dᵢ = t_UUT,i - t_ref,i."""
        return tuple(u - r for u, r in zip(self.indications, self.reference, strict=True))

    @property
    def t_ref(self) -> float:
        return statistics.fmean(self.reference)

    @property
    def t_uut(self) -> float:
        return statistics.fmean(self.indications)

    @property
    def s(self) -> float:
        """s(d), the experimental standard deviation of the differences (GUM 4.2.2)."""
        return statistics.stdev(self.differences)

    @property
    def r1(self) -> float:
        return lag1_autocorrelation(self.differences)

    @property
    def n_eff(self) -> float:
        return effective_observations(self.n, self.r1)

    @property
    def u_type_a(self) -> float:
        """s(d)/√n_eff: the standard deviation of the mean difference."""
        return self.s / math.sqrt(self.n_eff)

    @property
    def dof(self) -> float:
        """ν = n_eff - 1, at least 1."""
        return max(1.0, self.n_eff - 1)

    @property
    def drift(self) -> float:
        """|drift per round| of the reference readings, °C."""
        return abs(drift_per_round(self.reference))


# -- the budget (pure) ---------------------------------------------------------------------

UUT = "UUT indication t_UUT (mean)"
REF = "reference temperature t_ref (mean)"
TYPE_A = "paired differences t_UUT - t_ref (Type A)"
RESOLUTION = "UUT resolution"
READOUT_UUT = "readout, UUT channel"
IMMERSION = "immersion (stem conduction)"
SELF_HEATING = "self-heating"
READOUT_REF = "readout, reference channel"
CALIBRATION = "reference PRT calibration"
DRIFT = "reference PRT drift"
FIT = "reference PRT CVD fit residual"
AXIAL = "source axial uniformity"
RADIAL = "source radial uniformity"
STABILITY = "source stability within a round"

UUT_SIDE = (UUT, TYPE_A, RESOLUTION, READOUT_UUT, IMMERSION, SELF_HEATING)
"""Inputs of t_UUT: the indication and the corrections to it."""
REFERENCE_SIDE = (REF, CALIBRATION, DRIFT, FIT, AXIAL, RADIAL, STABILITY)
"""Inputs of the temperature at the UUT: the reference and the corrections to it (the
reference-channel readout enters with its own sensitivity)."""


def conversion_sensitivity(settings: Settings, cvd: CallendarVanDusen, t_ref: float) -> float:
    """∂t_ref/∂t_shown: how an error of the readout's reference channel (in °C as shown)
    reaches t_ref. With the IEC 60751 conversion undone and the certificate's applied,
    t_ref = f_cert⁻¹(R_IEC(t_shown)), so the sensitivity is R'_IEC(t_shown)/R'_cert(t_ref);
    1 when the readout already applies the certificate's coefficients."""
    if settings.readout_conversion == "certificate":
        return 1.0
    own = Coefficients(cvd.r0, cvd.a, cvd.b, cvd.c)
    shown = IEC_60751.temperature(own.resistance(t_ref))
    return IEC_60751.slope(shown) / own.slope(t_ref)


def error_budget(
    settings: Settings, prt: Standard, rounds: Rounds, uut_readout: float | None
) -> Budget:
    """The model of E = t_UUT - t_ref at one point and its inputs, in °C:

    E = (t̄_UUT + δ_A + δ_res + δ_ro,UUT + δ_imm + δ_sh)
        - (t̄_ref + c_ro·δ_ro,ref + δ_cal + δ_drift + δ_fit + δ_ax + δ_rad + δ_stab)

    ``uut_readout`` is the half-width of the readout's error on this UUT's channel (None:
    the UUT is read by its own indicator, no such term). Pure: the same inputs give the same
    budget (tests/unit/test_thermometer_budget.py recomputes it by hand)."""
    cvd = prt.corrections
    if not isinstance(cvd, CallendarVanDusen):
        raise MetrologyError(f"{prt.id} has no Callendar-Van Dusen coefficients")
    expanded = prt.uncertainty
    try:
        u_cert = convert_difference(expanded.value, expanded.unit, UNIT)
    except ValueError:
        raise MetrologyError(
            f"{prt.id}: its uncertainty is in {expanded.unit}, not a temperature"
        ) from None
    t_ref = rounds.t_ref
    c_ro = conversion_sensitivity(settings, cvd, t_ref)
    a_stab = max(settings.stability, rounds.drift)
    stab_from = (
        "the drift per round of the reference readings (least-squares slope)"
        if rounds.drift > settings.stability
        else "setting stability"
    )
    inputs: list[Contribution] = [
        Contribution(
            UUT,
            rounds.t_uut,
            0.0,
            UNIT,
            note=f"mean of {rounds.n} indications; their scatter is in the paired Type A term",
        ),
        Contribution(
            TYPE_A,
            0.0,
            rounds.u_type_a,
            UNIT,
            dof=rounds.dof,
            distribution="Type A",
            evaluation="A",
            note=(
                f"u = s(d)/√n_eff, dᵢ = t_UUT,i - t_ref,i per round, s(d) = {rounds.s:.3g} °C, "
                f"n = {rounds.n}, r₁ = {rounds.r1:.3f}, n_eff = n(1 - r₁)/(1 + r₁) for r₁ > 0 "
                f"(else n) = {rounds.n_eff:.3g}, ν = max(n_eff - 1, 1) (GUM 4.2.2, 4.2.3; "
                "autocorrelation: Zhang, Metrologia 43 (2006) S276)"
            ),
        ),
        resolution(
            RESOLUTION,
            settings.uut_resolution,
            UNIT,
            note=f"u = d/(2√3), d = {settings.uut_resolution:g} °C (GUM F.2.2.1; EA-4/02 M:2022)",
        ),
    ]
    if uut_readout is not None:
        inputs.append(
            rectangular(
                READOUT_UUT,
                uut_readout,
                UNIT,
                note=f"u = a/√3, a = {uut_readout:g} °C, readout accuracy on the UUT's "
                "channel (setting uut_readout_accuracy; GUM 4.3.7, EURAMET cg-11)",
            )
        )
    inputs += [
        rectangular(
            IMMERSION,
            settings.immersion,
            UNIT,
            note=f"u = a/√3, a = {settings.immersion:g} °C (setting immersion; heat "
            "conduction along the stems, EURAMET cg-13 / cg-8; GUM 4.3.7)",
        ),
        rectangular(
            SELF_HEATING,
            settings.self_heating,
            UNIT,
            note=f"u = a/√3, a = {settings.self_heating:g} °C (setting self_heating; "
            "IEC 60751 self-heating; GUM 4.3.7)",
        ),
        Contribution(
            REF,
            t_ref,
            0.0,
            UNIT,
            note=f"mean of {rounds.n} reference readings through the certificate's CVD "
            f"(R0 = {cvd.r0:.10g} Ω, A = {cvd.a:.10g}, B = {cvd.b:.10g}, "
            f"C = {cvd.c:.10g}); their scatter is in the paired Type A term",
        ),
        rectangular(
            READOUT_REF,
            settings.readout_accuracy,
            UNIT,
            note=f"u = a/√3, a = {settings.readout_accuracy:g} °C (setting readout_accuracy), "
            f"sensitivity c = R'_IEC(t_shown)/R'_cert(t_ref) = {c_ro:.6f} "
            f"({settings.readout_conversion} conversion; GUM 4.3.7, 5.1.3)",
        ),
        certificate(
            CALIBRATION,
            u_cert,
            expanded.k,
            UNIT,
            note=f"u = U/k, U = {expanded.value:g} {expanded.unit}, k = {expanded.k:g}, "
            f"{prt.id} certificate {prt.certificate.number} (GUM 4.3.3)",
        ),
        rectangular(
            DRIFT,
            settings.reference_drift,
            UNIT,
            note=f"u = a/√3, a = {settings.reference_drift:g} °C since its calibration "
            "(setting reference_drift; GUM 4.3.7)",
        ),
        rectangular(
            FIT,
            cvd.fit_residual,
            UNIT,
            note=f"u = r/√3, r = {cvd.fit_residual:g} °C, the largest residual of the "
            "certificate's points from its CVD fit (standards register fit_residual; "
            "GUM 4.3.7)",
        ),
        rectangular(
            AXIAL,
            settings.axial_uniformity,
            UNIT,
            note=f"u = a/√3, a = {settings.axial_uniformity:g} °C (setting axial_uniformity; "
            "EURAMET cg-13 axial homogeneity; GUM 4.3.7)",
        ),
        rectangular(
            RADIAL,
            settings.radial_uniformity,
            UNIT,
            note=f"u = a/√3, a = {settings.radial_uniformity:g} °C (setting "
            "radial_uniformity; EURAMET cg-13 difference between borings; GUM 4.3.7)",
        ),
        rectangular(
            STABILITY,
            a_stab,
            UNIT,
            note=f"u = a/√3, a = max(setting stability, |drift per round|) = {a_stab:.3g} °C "
            f"from {stab_from}: the source's change between the reference and the UUT "
            "reading of a round, which the paired differences cannot show (EURAMET cg-13 "
            "stability; GUM 4.3.7)",
        ),
    ]
    budget = Budget("error of indication", UNIT, model=_model(c_ro))
    return budget.add(*inputs)


def _model(c_ro: float) -> Callable[[Mapping[str, Any]], Any]:
    def error(x: Mapping[str, Any]) -> Any:
        t_uut = sum((x[name] for name in UUT_SIDE if name in x), start=0.0)
        t_medium = sum((x[name] for name in REFERENCE_SIDE), start=0.0)
        return t_uut - (t_medium + c_ro * x[READOUT_REF])

    return error


# -- the run -------------------------------------------------------------------------------


def _uut_readouts(ctx: Context, settings: Settings) -> dict[str, float | None]:
    """The readout half-width of each UUT (None for a UUT with its own indicator); a
    PlanError before anything is measured when one is missing or a UUT sits on the
    reference channel."""
    readout = ctx.plan.instruments["reference"]
    found: dict[str, float | None] = {}
    for uut in ctx.uuts:
        if uut.instrument != readout:
            found[uut.id] = None
            continue
        if uut.channel is None or uut.channel == settings.reference_channel:
            raise PlanError(
                f"{uut.id} is on the reference readout {readout}: give it a channel other "
                f"than the reference channel {settings.reference_channel}"
            )
        accuracy = settings.uut_readout(uut.channel)
        if accuracy is None:
            raise PlanError(
                f"settings.uut_readout_accuracy gives no value for channel {uut.channel} ({uut.id})"
            )
        found[uut.id] = accuracy
    return found


def _celsius(reading: Reading) -> float:
    """A readout set to °F or K (or a driver declaring its own unit) still gives °C here."""
    try:
        return convert(reading.value, reading.unit, UNIT)
    except ValueError as exc:
        raise PlanError(f"{reading.instrument}: {reading.quantity}: {exc}") from None


async def run(ctx: Context, settings: Settings) -> None:
    source = ctx.instrument("source", TemperatureSource)
    readout = ctx.instrument("reference", Thermometer)
    prt = ctx.standard("reference")
    if not isinstance(prt.corrections, CallendarVanDusen):
        raise PlanError(f"{prt.id} has no Callendar-Van Dusen coefficients in its certificate")
    cvd = prt.corrections
    coefficients = Coefficients(cvd.r0, cvd.a, cvd.b, cvd.c)
    uut_readouts = _uut_readouts(ctx, settings)
    uuts = {u.id: ctx.as_role(u.instrument, Thermometer) for u in ctx.uuts}
    if not ctx.points:
        probes = ", ".join(u.id for u in ctx.uuts)
        await ctx.ask(
            f"Insert the reference PRT {prt.id} and the probes {probes} into the "
            "well, to full depth, and confirm",
            instrument=ctx.plan.instruments["source"],
        )

    def reference_temperature(shown: float) -> float:
        if settings.readout_conversion == "certificate":
            return shown
        return coefficients.temperature(IEC_60751.resistance(shown))

    for set_point in settings.set_points:
        if all(ctx.done(key(set_point, u.id)) for u in ctx.uuts):
            continue
        ctx.start_point(f"{set_point:g} °C")
        use = ctx.use_standard(prt, set_point, UNIT)
        await source.set_point(set_point)
        trace = await ctx.wait_stable(
            f"the reference at {set_point:g} °C",
            lambda: readout.temperature(settings.reference_channel),
        )
        await ctx.hold(settings.soak, "probes soaking")
        shown: list[float] = []
        indications: dict[str, list[float]] = {u.id: [] for u in ctx.uuts}
        for index in range(settings.readings):
            if index:
                await ctx.clock.sleep(settings.interval)
            shown.append(
                _celsius(await ctx.read(lambda: readout.temperature(settings.reference_channel)))
            )
            for uut in ctx.uuts:
                reading = await ctx.read(partial(uuts[uut.id].temperature, uut.channel))
                indications[uut.id].append(_celsius(reading))
        try:
            reference = [reference_temperature(t) for t in shown]
        except MetrologyError as exc:
            raise PlanError(f"{set_point:g} °C: the reference reading: {exc}") from None
        for uut in ctx.uuts:
            if ctx.done(key(set_point, uut.id)):  # recorded before an interruption
                continue
            rounds = Rounds(tuple(reference), tuple(indications[uut.id]))
            await ctx.record(
                _point(
                    ctx, settings, uut, set_point, rounds, prt, use, uut_readouts[uut.id]
                ).model_copy(update={"stability": [trace.as_dict()]})
            )


def _point(
    ctx: Context,
    settings: Settings,
    uut: Uut,
    set_point: float,
    rounds: Rounds,
    prt: Standard,
    use: Use,
    uut_readout: float | None,
) -> Point:
    try:
        budget = error_budget(settings, prt, rounds, uut_readout)
    except MetrologyError as exc:
        raise PlanError(f"{set_point:g} °C {uut.id}: {exc}") from None
    judgement = ctx.judge(budget, nominal=set_point, at=rounds.t_ref)
    error = judgement.evaluation.value
    extrapolated = [p for p in use.problems if "Callendar-Van Dusen" in p]
    return Point.judged(
        judgement,
        key=key(set_point, uut.id),
        kind="comparison",
        uut=uut.id,
        nominal=set_point,
        unit=UNIT,
        readings={
            "reference": list(rounds.reference),
            "uut": list(rounds.indications),
            "difference": list(rounds.differences),
        },
        values={
            "reference": rounds.t_ref,
            "indication": rounds.t_uut,
            "error": error,
            "correction": -error,
            "autocorrelation": rounds.r1,
            "effective_observations": rounds.n_eff,
            "reference_drift_per_round": drift_per_round(rounds.reference),
        },
        standards=[use.snapshot()],
        note=(
            f"reference CVD extrapolated under override: {'; '.join(extrapolated)}"
            if extrapolated
            else ""
        ),
    )
