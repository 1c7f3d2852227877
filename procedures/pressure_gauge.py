"""Pressure gauges per DKD-R 6-1 (2014) / EURAMET cg-17: preloads, rising and falling
series, hold times, zero deviation, hysteresis and repeatability.

The controller makes each test pressure; the reference standard (corrected with its
certificate's correction table) and the UUT are read once the reference is stable and the
hold time has passed. The UUT may be read by Modbus, SCPI or by the operator (manual entry).
Sequences (DKD-R 6-1 table 2): A = 3 preloads and four series (up, down, up, down) for
accuracy better than 0.1 %; B = 2 preloads, up, down, up (0.1 % to 0.6 %); C = 1 preload,
up, down (above 0.6 %). Per point: mean indication, error, hysteresis h, repeatability b',
zero deviation f0, each a rectangular contribution of half-width x/2 (DKD-R 6-1 6.3).
"""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daq.engine.checks import Checkpoint
from daq.engine.context import Context
from daq.engine.plan import Plan
from daq.engine.record import Point
from daq.metrology.budget import (
    Budget,
    Contribution,
    certificate,
    rectangular,
    resolution,
    type_a,
)
from daq.standards import CorrectionTable, Standard, Use
from daq.units import check_unit, convert, convert_difference
from drivers.roles import PressureController, PressureGauge

VERSION = "1.0"

SEQUENCES: dict[str, tuple[int, tuple[bool, ...]]] = {
    "A": (3, (True, False, True, False)),
    "B": (2, (True, False, True)),
    "C": (1, (True, False)),
}
"""Sequence -> (preloads, series as rising?)."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[float] = Field(min_length=2)
    """Test pressures in ``unit``, ascending, from the lower to the upper range value."""
    unit: str = "bar"
    sequence: Literal["A", "B", "C"] = "C"
    hold: float = Field(30.0, ge=0)
    """Seconds at each point before reading (DKD-R 6-1: at least 30 s)."""
    top_hold: float = Field(120.0, ge=0)
    """Seconds at the upper range value before a falling series."""
    preload_hold: float = Field(30.0, ge=0)
    reference_readings: int = Field(3, ge=1, le=100)
    uut_resolution: float = Field(gt=0)
    """Digit step or readable fraction of a scale interval of the UUT, in ``unit``."""

    @field_validator("points")
    @classmethod
    def _ascending(cls, points: list[float]) -> list[float]:
        if points != sorted(set(points)):
            raise ValueError("test pressures must be ascending, each once")
        return points

    @field_validator("unit")
    @classmethod
    def _unit(cls, unit: str) -> str:
        return check_unit(unit)


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


class _Bench:
    """Controller, reference and UUT, with the unit conversions between them."""

    def __init__(self, ctx: Context, settings: Settings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.controller = ctx.instrument("controller", PressureController)
        self.reference = ctx.instrument("reference", PressureGauge)
        self.standard: Standard = ctx.standard("reference")
        self.uut = ctx.uuts[0]
        self.gauge = ctx.as_role(self.uut.instrument, PressureGauge)

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
            at = convert(nominal, self.settings.unit, table.unit)
            value = convert(value, unit, table.unit) + table.correction(at)
            unit = table.unit
        return convert(value, unit, self.settings.unit)

    async def measure(self, series: int, rising: bool, pressure: float, use: Use) -> Point:
        ctx, settings = self.ctx, self.settings
        taken = await ctx.readings(self.reference.pressure, settings.reference_readings, 1.0)
        references = [self.corrected(r.value, r.unit, pressure) for r in taken]
        shown = await ctx.read(self.gauge.pressure)
        indication = convert(shown.value, shown.unit, settings.unit)
        return Point(
            key=_series_key(series, pressure, settings.unit),
            kind="series",
            uut=self.uut.id,
            nominal=pressure,
            unit=settings.unit,
            readings={"reference": references, "uut": [indication]},
            values={
                "reference": statistics.fmean(references),
                "indication": indication,
                "series": series,
                "rising": float(rising),
            },
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
            use = ctx.use_standard(bench.standard, pressure, unit)
            at_top = not rising and pressure == settings.points[-1]
            await bench.go_to(pressure, settings.top_hold if at_top else settings.hold, "hold")
            await ctx.record(await bench.measure(number, rising, pressure, use))
    await bench.controller.vent()
    for pressure in settings.points:
        if not ctx.done(_result_key(pressure, unit)):
            await ctx.record(_result(ctx, settings, pressure, len(series)))


def _result(ctx: Context, settings: Settings, pressure: float, series: int) -> Point:
    unit = settings.unit
    taken = [ctx.done(_series_key(i, pressure, unit)) for i in range(1, series + 1)]
    measured = [p for p in taken if p is not None]
    up = [p.values["indication"] for p in measured if p.values["rising"]]
    down = [p.values["indication"] for p in measured if not p.values["rising"]]
    zero = [ctx.done(_series_key(i, settings.points[0], unit)) for i in range(1, series + 1)]
    zeros = [p.values["indication"] for p in zero if p is not None]
    indications = up + down
    references = [r for p in measured for r in p.readings["reference"]]
    mean = statistics.fmean(indications)
    reference = statistics.fmean(references)
    error = mean - reference
    hysteresis = max((abs(d - u) for u, d in zip(up, down, strict=False)), default=0.0)
    repeat_up = abs(up[-1] - up[0]) if len(up) > 1 else 0.0
    repeat_down = abs(down[-1] - down[0]) if len(down) > 1 else 0.0
    repeatability = max(repeat_up, repeat_down)
    zero_deviation = max(zeros) - min(zeros) if zeros else 0.0
    standard = ctx.standard("reference")
    u = standard.uncertainty
    # DKD-R 6-1 6.3: error = mean indication - reference, with f0, b' and h as rectangles
    budget = Budget("error of indication", unit).add(
        Contribution("UUT indication (mean)", mean, 0.0, unit),
        certificate(
            f"reference {standard.id} calibration",
            convert_difference(u.value, u.unit, unit),
            u.k,
            unit,
            -1.0,
        ),
        resolution("UUT resolution", settings.uut_resolution, unit),
        rectangular("zero deviation f0", zero_deviation / 2, unit),
        rectangular("repeatability b'", repeatability / 2, unit),
        rectangular("hysteresis h", hysteresis / 2, unit),
    )
    if len(references) > 1:
        budget.add(type_a("reference readings (mean)", references, unit, -1.0))
    else:
        budget.add(Contribution("reference reading", reference, 0.0, unit, -1.0))
    each = {
        f"M{int(p.values['series'])} {'rising' if p.values['rising'] else 'falling'}": (
            p.values["indication"] - p.values["reference"]
        )
        for p in measured
    }
    judgement = ctx.judge(
        budget, nominal=pressure, at=reference, each=each, bounded={"hysteresis": hysteresis}
    )
    return Point.judged(
        judgement,
        key=_result_key(pressure, unit),
        kind="pressure",
        uut=ctx.uuts[0].id,
        nominal=pressure,
        unit=unit,
        readings={"rising": up, "falling": down, "reference": references},
        values={
            "reference": reference,
            "indication": mean,
            **({"rising": statistics.fmean(up)} if up else {}),
            **({"falling": statistics.fmean(down)} if down else {}),
            "error": error,
            "hysteresis": hysteresis,
            "repeatability": repeatability,
            "zero_deviation": zero_deviation,
        },
        standards=[s for p in measured for s in p.standards][:1],
    )
