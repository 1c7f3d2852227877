"""Pressure gauges per DKD-R 6-1:2014 / EURAMET cg-17: preloads, rising and falling series,
hold times, and per test point the DKD-R 6-1 budget of the error of the mean indication.

The controller makes each test pressure (in the UUT's mode: gauge or absolute); the reference
standard (corrected with its certificate's correction table) and the UUT are read once the
reference is stable and the hold time has passed. The UUT may be read by Modbus, SCPI or by
the operator (manual entry). Sequences (DKD-R 6-1:2014 §5): A = 3 preloads and four series
(up, down, up, down), at least 9 points, for accuracy better than 0.1 %; B = 2 preloads, up,
down, up, at least 9 points (0.1 % to 0.6 %); C = 1 preload, up, down, at least 5 points
(above 0.6 %).

The model of a point (``point_budget``, a pure function; docs/METROLOGY.md gives every term
with its formula and source)::

    E = (x̄ + δr + δf0 + δb' + δh) - (p̄_ref + δcal + δdrift + δr_ref + Δp_head + σ·p_atm)
    Δp_head = (ρ_fl - ρ_air)·g·Δh        (ρ_air only for a UUT measuring gauge pressure)

with σ = -1 for a reference measuring absolute and a UUT gauge pressure, +1 for the reverse,
0 when both measure alike. The decision judges the error of every series' indication
(``each``) and the hysteresis within |MPE| (``bounded``), EN 837-1, not only the mean.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from daq.core.units import check_unit, convert, convert_difference
from daq.engine.checks import Checkpoint
from daq.engine.context import Context, PlanError
from daq.engine.plan import Environment, Plan
from daq.engine.record import Point
from daq.metrology.air import air_density_approximation
from daq.metrology.budget import (
    Budget,
    Contribution,
    certificate,
    rectangular,
    resolution,
)
from daq.metrology.errors import MetrologyError
from daq.standards import CorrectionTable, Standard, Use
from drivers.roles import PressureController, PressureGauge

VERSION = "2.0"
UUTS = 1
"""One UUT per run: its points are keyed by test load or pressure alone."""

SEQUENCES: dict[str, tuple[int, tuple[bool, ...]]] = {
    "A": (3, (True, False, True, False)),
    "B": (2, (True, False, True)),
    "C": (1, (True, False)),
}
"""Sequence -> (preloads, series as rising?), DKD-R 6-1:2014 §5."""
MINIMUM_POINTS = {"A": 9, "B": 9, "C": 5}
"""Test points per sequence, the zero point included (DKD-R 6-1:2014 §5; EURAMET cg-17 has the
same sequences). Clause numbers of DKD-R 6-1 and cg-17 in this module are as recalled: their
text was not at hand to check them."""
STANDARD_ATMOSPHERE = 1013.25
"""hPa: scales a gas's density when no barometric pressure is stated or read."""

Mode = Literal["gauge", "absolute"]

# Names of the model's inputs (the rows of the budget).
INDICATION = "UUT indication (mean)"
UUT_RESOLUTION = "UUT resolution"
ZERO = "zero deviation f0"
REPEATABILITY = "repeatability b'"
HYSTERESIS = "hysteresis h"
REFERENCE = "reference readings (mean)"
REFERENCE_RESOLUTION = "reference resolution"
HEIGHT = "head: height difference Δh"
DENSITY = "head: density of the pressure medium ρ_fl"
AIR = "head: air density ρ_air"
ATMOSPHERE = "barometric pressure p_atm"


class Head(BaseModel):
    """The head correction between the reference level of the standard and that of the UUT:
    Δp = (ρ_fl - ρ_air)·g·Δh is added to the reference (DKD-R 6-1 §6; EURAMET cg-17)."""

    model_config = ConfigDict(extra="forbid")

    height: float = Field(ge=-10, le=10)
    """m, the reference level of the standard minus that of the UUT (positive: the standard
    above the UUT, which then sees the higher pressure)."""
    height_uncertainty: float = Field(ge=0, le=1)
    """m, half-width of ``height`` (rectangular)."""
    medium: Literal["gas", "liquid"]
    density: float = Field(gt=0, le=20000)
    """kg/m³: of a liquid; of a gas at the laboratory's atmospheric pressure and temperature,
    scaled with the absolute pressure at the point (ideal gas: ρ = density·p_abs/p_atm)."""
    density_uncertainty: float = Field(ge=0)
    """kg/m³, half-width of ``density`` (rectangular; scaled with it for a gas)."""
    air_density_uncertainty: float = Field(0.02, ge=0)
    """kg/m³, half-width of the air density computed from the plan's environment (0.02
    covers about ±2 °C and ±10 hPa around the stated conditions)."""
    gravity: float = Field(9.80665, ge=9.76, le=9.84)
    """m/s², local acceleration due to gravity (the standard value by default: its error
    is negligible in a head correction)."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequence: Literal["A", "B", "C"] = "C"
    points: list[float] = Field(min_length=2)
    """Test pressures in ``unit``, ascending, from the lower to the upper range value: at
    least 9 for sequences A and B, 5 for C (DKD-R 6-1:2014 §5), spread over the range."""
    unit: str = "bar"
    hold: float = Field(30.0, ge=0)
    """Seconds at each point before reading (DKD-R 6-1: at least 30 s)."""
    top_hold: float = Field(120.0, ge=0)
    """Seconds at the upper range value before a falling series."""
    preload_hold: float = Field(30.0, ge=0)
    reference_readings: int = Field(3, ge=1, le=100)
    uut_resolution: float = Field(gt=0)
    """Digit step or readable fraction of a scale interval of the UUT, in ``unit``."""
    reference_resolution: float = Field(gt=0)
    """Digit step of the reference standard's reading, in ``unit``."""
    reference_drift: float = Field(ge=0)
    """Half-width of the reference standard's drift since its calibration (its history of
    certificates, or the maker's stability per year), in ``unit``."""
    reference_mode: Mode = "gauge"
    """What the reference standard measures."""
    uut_mode: Mode = "gauge"
    """What the UUT measures (and the controller is set in)."""
    barometer_uncertainty: float | None = Field(None, ge=0, validate_default=True)
    """hPa, expanded uncertainty (k = 2) of the barometric pressure used when the two modes
    differ: the barometer's certificate, or for a pressure stated in the plan's environment
    how far it may be from the pressure during the run."""
    head: Head
    """The heights of the reference levels and the pressure medium (``height: 0`` with its
    uncertainty when both are at one level)."""

    @field_validator("points")
    @classmethod
    def _ascending_and_enough(cls, points: list[float], info: ValidationInfo) -> list[float]:
        if points != sorted(set(points)):
            raise ValueError("test pressures must be ascending, each once")
        sequence = info.data.get("sequence")
        if sequence in MINIMUM_POINTS and len(points) < MINIMUM_POINTS[sequence]:
            raise ValueError(
                f"settings.points has {len(points)} test pressures; sequence {sequence} needs "
                f"at least {MINIMUM_POINTS[sequence]}, the zero point included, spread over the "
                "range (DKD-R 6-1:2014 §5)"
            )
        return points

    @field_validator("unit")
    @classmethod
    def _unit(cls, unit: str) -> str:
        return check_unit(unit)

    @field_validator("barometer_uncertainty")
    @classmethod
    def _barometer_when_modes_differ(
        cls, value: float | None, info: ValidationInfo
    ) -> float | None:
        modes = info.data.get("reference_mode"), info.data.get("uut_mode")
        if value is None and None not in modes and modes[0] != modes[1]:
            raise ValueError(
                f"the reference measures {modes[0]} and the UUT {modes[1]} pressure: give the "
                "expanded uncertainty (k = 2, hPa) of the barometric pressure"
            )
        return value


def mode_sign(settings: Settings) -> int:
    """σ in p_uut = p_ref + σ·p_atm: -1 absolute reference for a gauge UUT, +1 the reverse."""
    if settings.reference_mode == settings.uut_mode:
        return 0
    return -1 if settings.reference_mode == "absolute" else 1


def medium_density(settings: Settings, nominal: float, atmosphere: float) -> tuple[float, float]:
    """(ρ_fl, half-width) at a test point of ``nominal`` (UUT mode, ``settings.unit``);
    ``atmosphere`` in hPa."""
    head = settings.head
    if head.medium == "liquid":
        return head.density, head.density_uncertainty
    p_atm = convert(atmosphere, "hPa", settings.unit)
    absolute = nominal + (p_atm if settings.uut_mode == "gauge" else 0.0)
    scale = max(absolute, 0.0) / p_atm
    return head.density * scale, head.density_uncertainty * scale


def head_correction(
    settings: Settings, nominal: float, atmosphere: float, air_density: float
) -> float:
    """Δp = (ρ_fl - ρ_air)·g·Δh in ``settings.unit`` (ρ_air only for a gauge UUT: an
    absolute pressure has no air column to subtract)."""
    density, _ = medium_density(settings, nominal, atmosphere)
    air = air_density if settings.uut_mode == "gauge" else 0.0
    pascal = (density - air) * settings.head.gravity * settings.head.height
    return convert_difference(pascal, "Pa", settings.unit)


@dataclass(frozen=True)
class SeriesReading:
    """One series at one test point, as measured."""

    number: int
    """M1, M2, ...: the series' number in the sequence."""
    rising: bool
    indication: float
    """The UUT's indication, in the plan's unit and the UUT's mode."""
    references: tuple[float, ...]
    """The reference standard's readings corrected by its certificate, in the plan's unit
    and the reference's mode."""
    atmosphere: float | None = None
    """hPa, the barometer's reading at this point (None: the stated pressure is used)."""


@dataclass(frozen=True)
class ReferenceStandard:
    id: str
    expanded: float
    """U of its certificate, in the plan's unit."""
    k: float


@dataclass(frozen=True)
class PointBudget:
    """The model of one test point and what is judged besides its value."""

    budget: Budget
    reference: float
    """p̄ of the standard at the UUT, in the UUT's mode: what the CMC is evaluated at."""
    indication: float
    error: float
    """E from the model at the estimates (the budget's value)."""
    each: dict[str, float]
    """Error of each series' indication (EN 837-1: each must conform)."""
    hysteresis: float
    """h per DKD-R 6-1 (mean over the up/down pairs)."""
    hysteresis_max: float
    """The largest hysteresis of a pair: bounded by |MPE| (EN 837-1)."""
    repeatability: float
    zero_deviation: float
    head: float
    """Δp_head in the plan's unit."""
    atmosphere: float | None
    """hPa, p_atm used (None when both modes agree)."""


def _pairs(series: Sequence[SeriesReading]) -> list[tuple[SeriesReading, SeriesReading]]:
    """(rising M2k-1, falling M2k): the up/down cycles of a sequence."""
    by_number = {s.number: s for s in series}
    return [
        (up, by_number[up.number + 1])
        for up in series
        if up.rising and up.number + 1 in by_number and not by_number[up.number + 1].rising
    ]


def _pooled_reference(series: Sequence[SeriesReading], unit: str, mean: float) -> Contribution:
    """The mean of every reference reading of the point, with the pooled within-series
    standard deviation s_p (GUM 4.2.8): the differences between the series' pressures are
    real and met by the UUT's indications, only the scatter within a series is noise."""
    groups = [s.references for s in series if len(s.references) > 1]
    total = sum(len(s.references) for s in series)
    dof = sum(len(g) - 1 for g in groups)
    if not dof:
        return Contribution(
            REFERENCE,
            mean,
            0.0,
            unit,
            note="p̄_ref, one reading per series: no Type A estimate (its scatter is within "
            "the reference's resolution term)",
        )
    squares = sum((r - statistics.fmean(g)) ** 2 for g in groups for r in g)
    pooled = math.sqrt(squares / dof)
    return Contribution(
        REFERENCE,
        mean,
        pooled / math.sqrt(total),
        unit,
        dof=dof,
        distribution="Type A",
        evaluation="A",
        note=f"p̄_ref of N = {total} readings; u = s_p/√N, s_p pooled within the series, "
        f"ν = N - m = {dof} (GUM 4.2.3, 4.2.8)",
    )


def point_budget(
    settings: Settings,
    nominal: float,
    series: Sequence[SeriesReading],
    zeros: Mapping[int, float],
    standard: ReferenceStandard,
    *,
    atmosphere: float | None,
    air_density: float,
) -> PointBudget:
    """The DKD-R 6-1 model of the error of the mean indication at ``nominal`` (all pressures
    in ``settings.unit``). ``zeros``: series number -> the UUT's indication at the lower
    range value in that series (the zero readings before a rising and after a falling
    series); ``atmosphere``: the stated barometric pressure in hPa, for series without a
    barometer reading; ``air_density`` in kg/m³. Pure: the same inputs, the same budget."""
    unit = settings.unit
    if not series:
        raise MetrologyError(f"{nominal:g} {unit}: no series measured")
    sign = mode_sign(settings)
    pressures = [s.atmosphere if s.atmosphere is not None else atmosphere for s in series]
    known = [p for p in pressures if p is not None]
    if sign and len(known) < len(pressures):
        raise MetrologyError(
            f"the reference measures {settings.reference_mode} and the UUT "
            f"{settings.uut_mode} pressure: a barometric pressure is needed"
        )
    p_atm = statistics.fmean(known) if known else None
    hpa = convert_difference(1.0, "hPa", unit)
    pascal = convert_difference(1.0, "Pa", unit)

    indications = [s.indication for s in series]
    references = [r for s in series for r in s.references]
    mean = statistics.fmean(indications)
    reference_mean = statistics.fmean(references)

    cycles = _pairs(series)
    loops = [abs(down.indication - up.indication) for up, down in cycles]
    hysteresis = statistics.fmean(loops) if loops else 0.0
    hysteresis_max = max(loops, default=0.0)
    zero_steps = [
        abs(zeros[down.number] - zeros[up.number])
        for up, down in cycles
        if up.number in zeros and down.number in zeros
    ]
    zero_deviation = max(zero_steps, default=0.0)
    rising = [s.indication for s in series if s.rising]
    falling = [s.indication for s in series if not s.rising]
    b_up = abs(rising[1] - rising[0]) if len(rising) > 1 else None
    b_down = abs(falling[1] - falling[0]) if len(falling) > 1 else None
    repeatability = max(b for b in (b_up, b_down, 0.0) if b is not None)

    head = settings.head
    scale_at = p_atm if p_atm is not None else STANDARD_ATMOSPHERE
    density, density_half_width = medium_density(settings, nominal, scale_at)
    gauge_uut = settings.uut_mode == "gauge"
    correction = head_correction(settings, nominal, scale_at, air_density)
    g = head.gravity
    calibration = f"reference {standard.id} calibration"
    drift = f"reference {standard.id} drift"

    def model(x: Mapping[str, Any]) -> Any:
        indication = x[INDICATION] + x[UUT_RESOLUTION] + x[ZERO] + x[REPEATABILITY]
        indication = indication + x[HYSTERESIS]
        air = x[AIR] if gauge_uut else 0.0
        head_term = (x[DENSITY] - air) * g * x[HEIGHT] * pascal
        reference = x[REFERENCE] + x[calibration] + x[drift] + x[REFERENCE_RESOLUTION]
        reference = reference + head_term
        if sign:
            reference = reference + sign * x[ATMOSPHERE] * hpa
        return indication - reference

    if b_up is None:
        repeat_note = (
            "not determined: sequence C has one rising series (DKD-R 6-1 §5); "
            "its effect on the mean is within h"
        )
    else:
        repeat_note = (
            f"a = b'/2, b' = max(|M3 - M1| rising = {b_up:.6g}"
            + (f", |M4 - M2| falling = {b_down:.6g}" if b_down is not None else "")
            + f") {unit}; u = a/√3 (DKD-R 6-1 §6; cg-17)"
        )
    budget = Budget("error of indication", unit, model=model).add(
        Contribution(
            INDICATION,
            mean,
            0.0,
            unit,
            note=f"x̄, mean of the {len(series)} series' indications (DKD-R 6-1 §6); their "
            "scatter is in f0, b' and h",
        ),
        resolution(
            UUT_RESOLUTION,
            settings.uut_resolution,
            unit,
            note=f"u = r/(2√3), r = {settings.uut_resolution:g} {unit} (DKD-R 6-1 §6; "
            "EA-4/02 M:2022 S3)",
        ),
        rectangular(
            ZERO,
            zero_deviation / 2,
            unit,
            note=f"a = f0/2, f0 = max|x_zero after the falling - before the rising series| = "
            f"{zero_deviation:.6g} {unit}; u = a/√3 (DKD-R 6-1 §6; cg-17)",
        ),
        rectangular(REPEATABILITY, repeatability / 2, unit, note=repeat_note),
        rectangular(
            HYSTERESIS,
            hysteresis / 2,
            unit,
            note=f"a = h/2, h = mean over the up/down pairs of |x_down - x_up| = "
            f"{hysteresis:.6g} {unit}; u = a/√3 (DKD-R 6-1 §6; cg-17)",
        ),
        _pooled_reference(series, unit, reference_mean),
        certificate(
            calibration,
            standard.expanded,
            standard.k,
            unit,
            note=f"u = U/k, U = {standard.expanded:g} {unit}, k = {standard.k:g}, from the "
            "certificate (GUM 4.3.3; DKD-R 6-1 §6)",
        ),
        rectangular(
            drift,
            settings.reference_drift,
            unit,
            note=f"a = {settings.reference_drift:g} {unit} since its calibration; u = a/√3 "
            "(GUM 4.3.7; cg-17)",
        ),
        resolution(
            REFERENCE_RESOLUTION,
            settings.reference_resolution,
            unit,
            note=f"u = d/(2√3), d = {settings.reference_resolution:g} {unit} (EA-4/02 M:2022 S3)",
        ),
        rectangular(
            HEIGHT,
            head.height_uncertainty,
            "m",
            value=head.height,
            note=f"Δh = {head.height:g} m ± {head.height_uncertainty:g} m, u = a/√3; "
            f"Δp_head = (ρ_fl - ρ_air)·g·Δh, g = {g:g} m/s² (DKD-R 6-1 §6; cg-17)",
        ),
        rectangular(
            DENSITY,
            density_half_width,
            "kg/m³",
            value=density,
            note=(
                f"ρ_fl = {head.density:g} kg/m³ (liquid) ± {head.density_uncertainty:g}"
                if head.medium == "liquid"
                else f"ρ_fl = {head.density:g} kg/m³·p_abs/p_atm (gas, ideal) = "
                f"{density:.5g} kg/m³ ± {density_half_width:.3g}"
            )
            + "; u = a/√3 (GUM 4.3.7; DKD-R 6-1 §6)",
        ),
    )
    if gauge_uut:
        budget.add(
            rectangular(
                AIR,
                head.air_density_uncertainty,
                "kg/m³",
                value=air_density,
                note=f"ρ_air = {air_density:.5g} kg/m³ from the laboratory conditions (OIML R111-1 "
                f"E.3-1) ± {head.air_density_uncertainty:g}; u = a/√3 (GUM 4.3.7)",
            )
        )
    if sign:
        assert p_atm is not None and settings.barometer_uncertainty is not None
        budget.add(
            certificate(
                ATMOSPHERE,
                settings.barometer_uncertainty,
                2.0,
                "hPa",
                value=p_atm,
                note=f"p_{settings.uut_mode} = p_{settings.reference_mode} "
                f"{'-' if sign < 0 else '+'} p_atm, p_atm = {p_atm:.6g} hPa; u = U/2 "
                "(barometer certificate or stated pressure; GUM 4.3.3)",
            )
        )
    each = {}
    for s, p in zip(series, pressures, strict=True):
        at_uut = statistics.fmean(s.references) + correction + sign * (p or 0.0) * hpa
        each[f"M{s.number} {'rising' if s.rising else 'falling'}"] = s.indication - at_uut
    reference = reference_mean + correction + sign * (p_atm or 0.0) * hpa
    estimates = {c.name: c.value for c in budget.contributions}
    return PointBudget(
        budget=budget,
        reference=reference,
        indication=mean,
        error=float(model(estimates)),
        each=each,
        hysteresis=hysteresis,
        hysteresis_max=hysteresis_max,
        repeatability=repeatability,
        zero_deviation=zero_deviation,
        head=correction,
        atmosphere=p_atm if sign else None,
    )


def _series_key(series: int, pressure: float, unit: str) -> str:
    return f"M{series} {pressure:g} {unit}"


def _result_key(pressure: float, unit: str) -> str:
    return f"{pressure:g} {unit}"


def _order(settings: Settings, rising: bool) -> list[float]:
    return settings.points if rising else settings.points[::-1]


def checkpoints(settings: Settings, plan: Plan) -> list[Checkpoint]:
    reference = plan.standards.get("reference")
    used = {"standards.reference": reference} if reference else {}
    return [
        Checkpoint(_result_key(p, settings.unit), p, settings.unit, used) for p in settings.points
    ]


def points(settings: Settings, uuts: list[str]) -> list[str]:
    _, series = SEQUENCES[settings.sequence]
    keys = [
        _series_key(i, p, settings.unit)
        for i, rising in enumerate(series, 1)
        for p in _order(settings, rising)
    ]
    return keys + [_result_key(p, settings.unit) for p in settings.points]


def _stated_atmosphere(plan: Plan) -> float | None:
    """hPa, the barometric pressure the plan states (``environment: {pressure: ...}``)."""
    environment = plan.environment
    return environment.pressure if "pressure" in environment.model_fields_set else None


def _air_density(env: Environment) -> float:
    """kg/m³ from the laboratory conditions (OIML R111-1 (E.3-1); also outside CIPM-2007's
    15 °C to 27 °C, where its error is still far below the term's half-width)."""
    return air_density_approximation(env.temperature, env.pressure, env.humidity, check_range=False)


class _Bench:
    """Controller, reference, UUT and barometer, with the unit conversions between them."""

    def __init__(self, ctx: Context, settings: Settings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.controller = ctx.instrument("controller", PressureController)
        self.reference = ctx.instrument("reference", PressureGauge)
        self.standard: Standard = ctx.standard("reference")
        self.uut = ctx.uuts[0]
        self.gauge = ctx.as_role(self.uut.instrument, PressureGauge)
        self.sign = mode_sign(settings)
        self.stated = _stated_atmosphere(ctx.plan)
        self.barometer: PressureGauge | None = None
        if self.sign and "barometer" in ctx.plan.instruments:
            self.barometer = ctx.instrument("barometer", PressureGauge)
        elif self.sign and self.stated is None and not ctx.plan.environment.monitors:
            raise PlanError(
                f"the reference measures {settings.reference_mode} and the UUT "
                f"{settings.uut_mode} pressure: name a barometer (instruments: {{barometer: "
                "ID}) or state the barometric pressure (environment: {pressure: hPa})"
            )
        self.air_density = _air_density(ctx.plan.environment)

    def at_reference(self, nominal: float) -> float:
        """The nominal pressure as the reference sees it (its mode), in the plan's unit."""
        atmosphere = self.stated if self.stated is not None else STANDARD_ATMOSPHERE
        return nominal - self.sign * convert(atmosphere, "hPa", self.settings.unit)

    async def go_to(self, pressure: float, hold: float, why: str) -> None:
        unit = self.settings.unit
        await self.controller.set_point(convert(pressure, unit, self.controller.unit))
        await self.ctx.wait_stable(f"the reference at {pressure:g} {unit}", self.reference.pressure)
        await self.ctx.hold(hold, why)

    def corrected(self, value: float, unit: str, nominal: float) -> float:
        """A reference reading corrected with its certificate's table (looked up at the
        nominal pressure, so noise around a table end stays inside it), in the plan's unit."""
        table = self.standard.corrections
        if isinstance(table, CorrectionTable):
            at = convert(self.at_reference(nominal), self.settings.unit, table.unit)
            value = convert(value, unit, table.unit) + table.correction(at)
            unit = table.unit
        return convert(value, unit, self.settings.unit)

    async def measure(self, series: int, rising: bool, pressure: float, use: Use) -> Point:
        ctx, settings = self.ctx, self.settings
        taken = await ctx.readings(self.reference.pressure, settings.reference_readings, 1.0)
        references = [self.corrected(r.value, r.unit, pressure) for r in taken]
        shown = await ctx.read(self.gauge.pressure)
        indication = convert(shown.value, shown.unit, settings.unit)
        readings = {"reference": references, "uut": [indication]}
        values = {"indication": indication, "series": series, "rising": float(rising)}
        # the conditions now: the environment monitors' readings where the plan names them
        self.air_density = _air_density(await ctx.environment())
        atmosphere = self.stated
        measured = ctx.conditions[-1] if ctx.conditions else {}
        if "pressure" in measured:
            atmosphere = measured["pressure"]
            readings["barometer"] = [atmosphere]
            values["atmosphere"] = atmosphere
        if self.barometer is not None:
            read = await ctx.read(self.barometer.pressure)
            atmosphere = convert(read.value, read.unit, "hPa")
            readings["barometer"] = [atmosphere]
            values["atmosphere"] = atmosphere
        if self.sign and atmosphere is None:
            raise PlanError(
                f"the environment monitors {', '.join(ctx.plan.environment.monitors)} report no "
                "barometric pressure, which the reference and UUT modes need"
            )
        scale_at = atmosphere if atmosphere is not None else STANDARD_ATMOSPHERE
        head = head_correction(settings, pressure, scale_at, self.air_density)
        mode = self.sign * convert_difference(atmosphere or 0.0, "hPa", settings.unit)
        values["reference_reading"] = statistics.fmean(references)
        # the reference at the UUT, in its mode (the hysteresis plot draws indication - it)
        values["reference"] = values["reference_reading"] + head + mode
        return Point(
            key=_series_key(series, pressure, settings.unit),
            kind="series",
            uut=self.uut.id,
            nominal=pressure,
            unit=settings.unit,
            readings=readings,
            values=values,
            standards=[use.snapshot()],
        )


async def _preload(bench: _Bench, settings: Settings, times: int) -> None:
    low, high = settings.points[0], settings.points[-1]
    for index in range(times):
        bench.ctx.start_point(f"preload {index + 1} of {times}")
        await bench.go_to(high, settings.preload_hold, "preload at the upper range value")
        await bench.go_to(low, settings.preload_hold, "preload released")


async def run(ctx: Context, settings: Settings) -> None:
    bench = _Bench(ctx, settings)
    preloads, series = SEQUENCES[settings.sequence]
    unit = settings.unit
    # A resumed run exercises the gauge once more: its history before the crash is unknown.
    await _preload(bench, settings, preloads if not ctx.points else 1)
    approached = False
    for number, rising in enumerate(series, 1):
        for pressure in _order(settings, rising):
            key = _series_key(number, pressure, unit)
            if ctx.done(key):
                continue
            if not approached and ctx.points:
                start = settings.points[-1] if not rising else settings.points[0]
                await bench.go_to(start, settings.hold, "approaching from the series' side")
            approached = True
            ctx.start_point(key)
            use = ctx.use_standard(bench.standard, bench.at_reference(pressure), unit)
            at_top = not rising and pressure == settings.points[-1]
            await bench.go_to(pressure, settings.top_hold if at_top else settings.hold, "hold")
            await ctx.record(await bench.measure(number, rising, pressure, use))
    await bench.controller.vent()
    for pressure in settings.points:
        if not ctx.done(_result_key(pressure, unit)):
            await ctx.record(_result(ctx, bench, pressure, len(series)))


def _reading(point: Point) -> SeriesReading:
    return SeriesReading(
        number=int(point.values["series"]),
        rising=bool(point.values["rising"]),
        indication=point.values["indication"],
        references=tuple(point.readings["reference"]),
        atmosphere=point.values.get("atmosphere"),
    )


def _result(ctx: Context, bench: _Bench, pressure: float, series: int) -> Point:
    settings = bench.settings
    unit = settings.unit
    taken = [ctx.done(_series_key(i, pressure, unit)) for i in range(1, series + 1)]
    measured = [p for p in taken if p is not None]
    zero_points = [ctx.done(_series_key(i, settings.points[0], unit)) for i in range(1, series + 1)]
    zeros = {int(p.values["series"]): p.values["indication"] for p in zero_points if p}
    u = bench.standard.uncertainty
    result = point_budget(
        settings,
        pressure,
        [_reading(p) for p in measured],
        zeros,
        ReferenceStandard(bench.standard.id, convert_difference(u.value, u.unit, unit), u.k),
        atmosphere=bench.stated,
        air_density=bench.air_density,
    )
    judgement = ctx.judge(
        result.budget,
        nominal=pressure,
        at=result.reference,
        each=result.each,
        bounded={"hysteresis": result.hysteresis_max},
    )
    up = [p.values["indication"] for p in measured if p.values["rising"]]
    down = [p.values["indication"] for p in measured if not p.values["rising"]]
    return Point.judged(
        judgement,
        key=_result_key(pressure, unit),
        kind="pressure",
        uut=ctx.uuts[0].id,
        nominal=pressure,
        unit=unit,
        readings={
            "rising": up,
            "falling": down,
            "reference": [r for p in measured for r in p.readings["reference"]],
        },
        values={
            "reference": result.reference,
            "indication": result.indication,
            **({"rising": statistics.fmean(up)} if up else {}),
            **({"falling": statistics.fmean(down)} if down else {}),
            "error": result.error,
            "hysteresis": result.hysteresis,
            "hysteresis_max": result.hysteresis_max,
            "repeatability": result.repeatability,
            "zero_deviation": result.zero_deviation,
            "head_correction": result.head,
            **({"atmosphere": result.atmosphere} if result.atmosphere is not None else {}),
        },
        standards=[s for p in measured for s in p.standards][:1],
    )
