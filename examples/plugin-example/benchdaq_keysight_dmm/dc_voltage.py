"""DC voltage verification of a digital multimeter against a multifunction calibrator.

At each test point the operator sets the calibrator (a reference standard of the register)
to the point's voltage and connects its output to the meter (the UUT, a ``Voltmeter``); after
``settle`` seconds the meter is read ``readings`` times on its fixed ``range``. Per point: the
error of indication E = x̄ - V_s, its GUM budget evaluated with GTC, and the decision against
the plan's tolerance (the meter's specification for that range) under the plan's rule.

The model of a point (``error_budget``, a pure function)::

    E = (x̄ + δx_res) - (V_s + δV_s)

x̄ the mean of the readings (Type A, s/√n, GUM 4.2.3); δx_res the rounding of the indication
to its digit step d (u = d/(2√3), EA-4/02 M:2022 S3); V_s the calibrator's set value; δV_s the
deviation of its output from V_s, known from its certificate (u = U/k, GUM 4.3.3). The
register holds one U per standard: it is taken to cover the output at every point of the
calibrated range the register states.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from daq.core.prompts import Action
from daq.core.units import convert, convert_difference
from daq.engine.checks import Checkpoint
from daq.engine.context import Context
from daq.engine.plan import Plan
from daq.engine.record import Point
from daq.metrology.budget import Budget, Contribution, certificate, resolution, type_a
from daq.standards import Standard

from .driver import Voltmeter

VERSION = "1.0"
UUTS = 1
"""One meter per run: its points are keyed by test voltage alone."""
UNIT = "V"
APPLY = "apply"
"""The operator's action at each point (the simulator of the meter offers it too)."""

INDICATION = "meter indication (mean)"
RESOLUTION = "meter resolution"
SET_VALUE = "calibrator set value"

_VOLTAGE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(\S+)")


def _voltage(text: Any) -> str:
    """A test point as the plan writes it, ``100 mV``; normalised to ``<number> <unit>``."""
    if not isinstance(text, str):
        raise ValueError(f"give each test point with its unit ('10 V', '100 mV'), not {text!r}")
    match = _VOLTAGE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a voltage with its unit ('10 V', '100 mV')")
    try:
        convert(float(match[1]), match[2], UNIT)
    except ValueError:
        raise ValueError(f"{text!r}: {match[2]!r} is not a unit of voltage") from None
    return f"{match[1]} {match[2]}"


Voltage = Annotated[str, BeforeValidator(_voltage)]


def volts(point: str) -> float:
    """A test point (``100 mV``) in V."""
    number, unit = point.split(" ")
    return convert(float(number), unit, UNIT)


class Settings(BaseModel):
    """The plan's ``settings``."""

    model_config = ConfigDict(extra="forbid")

    points: list[Voltage] = Field(min_length=1)
    """Test voltages in the order they are run, each with its unit: ``10 V``, ``100 mV``."""
    range: float = Field(gt=0, le=1000)
    """V, the meter's range for every point: the plan's tolerance is this range's spec."""
    resolution: float = Field(gt=0)
    """V, the digit step of the meter's indication on ``range`` (6½ digits on 10 V: 1e-5)."""
    readings: int = Field(10, ge=2, le=1000)
    """Readings per point (the Type A term)."""
    interval: float = Field(1.0, ge=0)
    """Seconds between readings."""
    settle: float = Field(5.0, ge=0)
    """Seconds between the operator's confirmation and the first reading."""

    @field_validator("points")
    @classmethod
    def _each_once(cls, points: list[str]) -> list[str]:
        values = [volts(p) for p in points]
        if len(set(values)) != len(values):
            raise ValueError("give each test voltage once")
        return points


def points(settings: Settings, uuts: list[str]) -> list[str]:
    return list(settings.points)


def checkpoints(settings: Settings, plan: Plan) -> list[Checkpoint]:
    calibrator = plan.standards.get("calibrator")
    used = {"standards.calibrator": calibrator} if calibrator else {}
    return [Checkpoint(p, volts(p), UNIT, used) for p in settings.points]


def error_budget(
    indications: Sequence[float], set_value: float, digit: float, calibrator: Standard
) -> Budget:
    """The model of E = x̄ - V_s at one point, in V. Pure: the same inputs, the same budget."""
    expanded = convert_difference(calibrator.uncertainty.value, calibrator.uncertainty.unit, UNIT)
    k = calibrator.uncertainty.k
    output = f"calibrator {calibrator.id} output"

    def model(x: Mapping[str, Any]) -> Any:
        return x[INDICATION] + x[RESOLUTION] - (x[SET_VALUE] + x[output])

    return Budget("error of indication", UNIT, model=model).add(
        type_a(
            INDICATION,
            indications,
            UNIT,
            note=f"x̄ of n = {len(indications)} readings; u = s/√n, ν = n - 1 (GUM 4.2.3)",
        ),
        resolution(
            RESOLUTION,
            digit,
            UNIT,
            note=f"u = d/(2√3), d = {digit:g} V (EA-4/02 M:2022 S3)",
        ),
        Contribution(SET_VALUE, set_value, 0.0, UNIT, note="V_s, the calibrator's set value"),
        certificate(
            output,
            expanded,
            k,
            UNIT,
            note=f"δV_s, u = U/k, U = {expanded:g} V, k = {k:g}, certificate "
            f"{calibrator.certificate.number} (GUM 4.3.3)",
        ),
    )


async def run(ctx: Context, settings: Settings) -> None:
    uut = ctx.uuts[0]
    meter_id = uut.instrument
    meter = ctx.as_role(meter_id, Voltmeter)
    calibrator = ctx.standard("calibrator")
    name = " ".join(filter(None, (calibrator.manufacturer, calibrator.model, calibrator.id)))
    for point in settings.points:
        if ctx.done(point) is not None:  # recorded before an interruption
            continue
        ctx.start_point(point)
        set_value = volts(point)
        use = ctx.use_standard(calibrator, set_value, UNIT)
        await ctx.ask(
            f"Set the calibrator {name} to {point} DC, output on, into the HI and LO inputs "
            f"of {meter_id}",
            instrument=meter_id,
            action=Action(meter_id, APPLY, {"volts": set_value}),
        )
        await ctx.hold(settings.settle, "meter settling")
        taken = await ctx.readings(
            lambda: meter.measure_dc_voltage(settings.range), settings.readings, settings.interval
        )
        indications = [convert(r.value, r.unit, UNIT) for r in taken]
        budget = error_budget(indications, set_value, settings.resolution, calibrator)
        judgement = ctx.judge(budget, nominal=set_value, at=set_value)
        await ctx.record(
            Point.judged(
                judgement,
                key=point,
                kind="dc voltage",
                uut=uut.id,
                nominal=set_value,
                unit=UNIT,
                readings={"indication": indications},
                values={
                    "reference": set_value,
                    "indication": statistics.fmean(indications),
                    "s": statistics.stdev(indications),
                    "error": judgement.evaluation.value,
                },
                standards=[use.snapshot()],
            )
        )
    await ctx.ask(
        f"Set the calibrator {name} to standby (output off)",
        instrument=meter_id,
        action=Action(meter_id, APPLY, {"volts": 0.0}),
    )
