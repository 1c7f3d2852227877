"""Thermometers by comparison against a reference PRT in a bath or metrology well.

Several UUT probes are calibrated at once against a reference PRT whose reading is converted
through the Callendar-Van Dusen coefficients of its certificate. At each set point the source
is set, the reference must be stable, the probes soak, then reference and UUTs are read in
turn N times. Per UUT and point: correction (t_ref - t_uut), the budget of the error of
indication (EURAMET cg-8 / EA-4/02 comparison model) and the conformity decision against the
plan's tolerance (typically an IEC 60751 class).
"""

from __future__ import annotations

import statistics
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.engine.checks import Checkpoint
from daq.engine.context import Context, PlanError
from daq.engine.plan import Plan, Uut
from daq.engine.record import Point
from daq.metrology.budget import Budget, certificate, rectangular, resolution, type_a
from daq.metrology.cvd import IEC_60751, Coefficients
from daq.standards import CallendarVanDusen, Standard, Use
from drivers.roles import TemperatureSource, Thermometer

VERSION = "1.0"
UNIT = "°C"
KELVIN_PER = {"°C": 1.0, "K": 1.0, "degC": 1.0, "mK": 1e-3}
"""Temperature differences (uncertainties) in kelvin."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set_points: list[float] = Field(min_length=1)
    """°C, in the order they are run."""
    readings: int = Field(10, ge=2, le=1000)
    """Readings of the reference and of each UUT per point."""
    interval: float = Field(5.0, gt=0)
    """Seconds between rounds of readings."""
    soak: float = Field(300.0, ge=0)
    """Seconds after the reference is stable before the readings start."""
    reference_channel: int = Field(1, ge=1)
    readout_conversion: Literal["iec_60751", "certificate"] = "iec_60751"
    """What the readout applies to the reference channel: the IEC 60751 standard curve (undone
    here, then the certificate's coefficients applied) or already the certificate's."""
    reference_drift: float = Field(0.01, ge=0)
    """°C, half-width of the reference's drift since its calibration (rectangular)."""
    readout_accuracy: float = Field(0.005, ge=0)
    """°C, half-width of the readout's error on the reference channel (rectangular)."""
    uniformity: float = Field(0.02, ge=0)
    """°C, half-width of the source's axial and radial non-uniformity (rectangular)."""
    uut_resolution: float = Field(0.001, gt=0)
    """°C, the digit step of the UUT indication."""


def key(set_point: float, uut: str) -> str:
    return f"{set_point:g} °C {uut}"


def points(settings: Settings, uuts: list[str]) -> list[str]:
    return [key(t, u) for t in settings.set_points for u in uuts]


def checkpoints(settings: Settings, plan: Plan) -> list[Checkpoint]:
    reference = plan.standards.get("reference")
    used = {"standards.reference": reference} if reference else {}
    return [Checkpoint(f"{t:g} °C", t, UNIT, used) for t in settings.set_points]


async def run(ctx: Context, settings: Settings) -> None:
    source = ctx.instrument("source", TemperatureSource)
    readout = ctx.instrument("reference", Thermometer)
    prt = ctx.standard("reference")
    if not isinstance(prt.corrections, CallendarVanDusen):
        raise PlanError(f"{prt.id} has no Callendar-Van Dusen coefficients in its certificate")
    cvd = prt.corrections
    coefficients = Coefficients(cvd.r0, cvd.a, cvd.b, cvd.c)
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
                (await ctx.read(lambda: readout.temperature(settings.reference_channel))).value
            )
            for uut in ctx.uuts:
                reading = await ctx.read(partial(uuts[uut.id].temperature, uut.channel))
                indications[uut.id].append(reading.value)
        reference = [reference_temperature(t) for t in shown]
        for uut in ctx.uuts:
            await ctx.record(
                _point(
                    ctx, settings, uut, set_point, reference, indications[uut.id], prt, use
                ).model_copy(update={"stability": [trace.as_dict()]})
            )


def _point(
    ctx: Context,
    settings: Settings,
    uut: Uut,
    set_point: float,
    reference: list[float],
    indications: list[float],
    prt: Standard,
    use: Use,
) -> Point:
    t_ref = statistics.fmean(reference)
    t_uut = statistics.fmean(indications)
    error = t_uut - t_ref
    if prt.uncertainty.unit not in KELVIN_PER:
        raise PlanError(f"{prt.id}: give its uncertainty in °C, K or mK")
    u_prt = prt.uncertainty.value * KELVIN_PER[prt.uncertainty.unit]
    budget = Budget("error of indication", UNIT).add(
        type_a("UUT readings (mean)", indications, UNIT),
        resolution("UUT resolution", settings.uut_resolution, UNIT),
        type_a("reference readings (mean), source stability", reference, UNIT, -1.0),
        certificate(f"reference PRT {prt.id} calibration", u_prt, prt.uncertainty.k, UNIT, -1.0),
        rectangular("reference PRT drift", settings.reference_drift, UNIT, -1.0),
        rectangular("readout, reference channel", settings.readout_accuracy, UNIT, -1.0),
        rectangular("source uniformity", settings.uniformity, UNIT),
    )
    judgement = ctx.judge(budget, nominal=set_point, at=t_ref)
    return Point.judged(
        judgement,
        key=key(set_point, uut.id),
        kind="comparison",
        uut=uut.id,
        nominal=set_point,
        unit=UNIT,
        readings={"reference": reference, "uut": indications},
        values={
            "reference": t_ref,
            "indication": t_uut,
            "error": error,
            "correction": -error,
        },
        standards=[use.snapshot()],
    )
