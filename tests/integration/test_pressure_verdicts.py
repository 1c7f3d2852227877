"""Verdicts of pressure gauge calibrations (procedure pressure_gauge) on the real simulators,
run in-process: two verdicts that were once wrong, a % of reading tolerance at 0 bar, the
number of points of a sequence, and a reference measuring absolute pressure for a gauge UUT.

EN 837-1 (as summarised in /work/shared/reference/metrology.md, "Conformity and reporting"):
every indication, rising and falling, must be within the MPE at every test point and the
hysteresis must not exceed |MPE|; judging only the mean of the series lets a gauge failing on
its falling series pass. Class 1.6 on a 10 bar span: MPE = 1.6 % · 10 bar = 0.16 bar.

The UUT with a hysteresis is a simulated KELLER transmitter (transmitter-2 made to follow
controller-1): its simulator has the sensor model of ``simulators/pressure.py`` (indication =
p + zero_error ∓ hysteresis/2, -h/2 after a rise and +h/2 after a fall of the set pressure),
which the simulated dial gauge (gauge-1, ``simulators/manual.py``: a constant ``error`` only)
lacks. The dead band follows the last change of the set pressure, so the falling series'
reading at the upper range value (no fall yet) and both readings at 0 bar (after the preload's
fall) sit on one branch: the verdicts below are asserted at the interior points, where the
rising and falling series are h apart. Margins are 0.02 bar and more against a simulated noise
of 2e-5 bar.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.config import ConfigError, LabConfig, parse_lab
from daq.core.clock import Clock
from daq.engine.checks import check_plan
from daq.engine.document import RunDocument
from daq.engine.plan import Plan, parse_plan
from daq.engine.record import Point
from daq.engine.runner import Runner
from daq.session import lab_session
from daq.standards import load_standards
from tests.conftest import CONFIG, lab_text

MPE = 0.16
"""bar: EN 837-1 class 1.6, 1.6 % of the 10 bar span."""
POINTS = [0.0, 2.5, 5.0, 7.5, 10.0]
INTERIOR = ["2.5 bar", "5 bar", "7.5 bar"]
"""Where the rising and the falling series are a hysteresis apart (see the module)."""
PLAN_FILE = "plans/pressure-short.yaml"


class Quiet:
    def begin(self, run: str, title: str, total: int, done: int) -> None: ...
    def point(self, label: str) -> None: ...
    def status(self, text: str) -> None: ...
    def sample(self, reading: object, verdict: object) -> None: ...
    def completed(self, point: object) -> None: ...


def lab(tmp: Path, simulators: dict[str, dict[str, object]] | None = None) -> LabConfig:
    return parse_lab(lab_text(tmp, poll_interval=0.1, simulators=simulators), "lab.yaml")


def keller_uut(zero_error: float, hysteresis: float) -> dict[str, dict[str, object]]:
    """transmitter-2 on controller-1's test port, with these errors of indication (bar)."""
    return {
        "transmitter-2": {
            "follows": "controller-1",
            "range_min": -0.5,
            "range_max": 10.5,
            "zero_error": zero_error,
            "hysteresis": hysteresis,
        }
    }


def plan(*, uut: str = "gauge-1", **changes: Any) -> Plan:
    """The demo plan, sequence C with 5 points and short holds; ``changes`` to its top level
    (``settings`` entries are merged)."""
    raw = yaml.safe_load((CONFIG / "plans" / "pressure-gauge.yaml").read_text())
    raw["uuts"][0].update(instrument=uut, serial="" if uut != "gauge-1" else "P-3301")
    raw["settings"].update(points=POINTS, hold=1, top_hold=2, preload_hold=1)
    raw["settings"].update(changes.pop("settings", {}))
    raw.update(changes)
    return parse_plan(yaml.safe_dump(raw, allow_unicode=True), PLAN_FILE)


async def calibrate(config: LabConfig, chosen: Plan) -> RunDocument:
    register = load_standards(CONFIG / "standards.yaml")
    async with lab_session(config, Clock(400), simulate=True) as session:
        return await Runner(session, register, Quiet()).start(chosen, PLAN_FILE)


def results(document: RunDocument) -> dict[str, Point]:
    assert document.run.status == "completed", document.run.reason
    return {p.key: p for p in document.points if p.kind == "pressure"}


def checks(point: Point) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in point.checks}


async def test_a_gauge_failing_only_on_its_falling_series_fails(tmp_path: Path) -> None:
    # rising +0.10 bar, falling +0.20 bar: the mean +0.15 is inside ±0.16, the falling
    # indication is not (EN 837-1: each indication); h = 0.10 is within |MPE|
    document = await calibrate(lab(tmp_path, keller_uut(0.15, 0.10)), plan(uut="transmitter-2"))
    points = results(document)
    assert document.result.conforms is False
    failed = {f.point for f in document.result.failures}
    for key in INTERIOR:
        point = points[key]
        found = checks(point)
        assert point.values["rising"] - point.values["reference"] == pytest.approx(0.10, abs=0.005)
        assert point.values["falling"] - point.values["reference"] == pytest.approx(0.20, abs=0.005)
        assert point.values["error"] == pytest.approx(0.15, abs=0.005)
        assert found["error"]["outcome"] == "pass"  # the mean alone: the old, wrong verdict
        assert found["M1 rising"]["outcome"] == "pass"
        assert found["hysteresis"]["outcome"] == "pass"
        assert found["M2 falling"]["outcome"] == "fail"
        assert point.decision is not None and point.decision["check"] == "M2 falling"
        assert point.decision["value"] == pytest.approx(0.20, abs=0.005)
        assert point.decision["tolerance_upper"] == pytest.approx(MPE)
        assert key in failed
    failure = next(f for f in document.result.failures if f.point == "5 bar")
    assert failure.value == pytest.approx(0.20, abs=0.005)  # the falling series' error
    assert failure.excess == pytest.approx(0.04, abs=0.005)


async def test_the_same_gauge_just_inside_passes(tmp_path: Path) -> None:
    # rising +0.02 bar, falling +0.14 bar: every indication and h = 0.12 inside 0.16
    document = await calibrate(lab(tmp_path, keller_uut(0.08, 0.12)), plan(uut="transmitter-2"))
    points = results(document)
    assert document.result.conforms is True and not document.result.failures
    for key in INTERIOR:
        point = points[key]
        assert point.values["falling"] - point.values["reference"] == pytest.approx(0.14, abs=0.005)
        assert point.values["hysteresis"] == pytest.approx(0.12, abs=0.005)
        assert {c: d["outcome"] for c, d in checks(point).items()} == {
            "error": "pass",
            "M1 rising": "pass",
            "M2 falling": "pass",
            "hysteresis": "pass",
        }


async def test_hysteresis_beyond_the_mpe_fails_with_every_indication_inside(
    tmp_path: Path,
) -> None:
    # ±0.10 bar around the true pressure: both indications inside, h = 0.20 > |MPE| = 0.16
    document = await calibrate(lab(tmp_path, keller_uut(0.0, 0.20)), plan(uut="transmitter-2"))
    points = results(document)
    assert document.result.conforms is False
    for key in INTERIOR:
        point = points[key]
        found = checks(point)
        assert found["error"]["outcome"] == "pass"
        assert found["M1 rising"]["outcome"] == found["M2 falling"]["outcome"] == "pass"
        assert found["M1 rising"]["value"] == pytest.approx(-0.10, abs=0.005)
        assert found["M2 falling"]["value"] == pytest.approx(0.10, abs=0.005)
        assert point.decision is not None and point.decision["check"] == "hysteresis"
        assert point.decision["outcome"] == "fail"
        assert point.decision["value"] == pytest.approx(0.20, abs=0.005)
        assert point.decision["tolerance_upper"] == pytest.approx(MPE)
        # the hysteresis enters the budget as a rectangle of half-width h/2 (DKD-R 6-1)
        rows = {c["name"]: c for c in point.budget["contributions"]} if point.budget else {}
        assert rows["hysteresis h"]["standard_uncertainty"] == pytest.approx(
            0.10 / 3**0.5, abs=0.003
        )


PERCENT_OF_READING = {"kind": "percent_of_reading", "percent": 0.5, "unit": "bar"}
SPECIFICATION = {
    "kind": "specification",
    "percent_of_reading": 0.5,
    "digits": 1,
    "resolution": 0.02,
    "unit": "bar",
}


async def test_percent_of_reading_at_zero_is_refused_before_anything_is_measured(
    tmp_path: Path,
) -> None:
    config = lab(tmp_path)
    refused = plan(tolerance=PERCENT_OF_READING)
    problems = check_plan(refused, PLAN_FILE, config, load_standards(CONFIG / "standards.yaml"))
    assert [(p.path, "at 0 bar" in p.message) for p in problems] == [("tolerance", True)]
    with pytest.raises(ConfigError) as caught:
        await calibrate(config, refused)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "tolerance" in text and "0 bar" in text and "2.5 bar" not in text
    assert recorded(Path(config.journal.path)) == 0


def recorded(journal: Path) -> int:
    """Runs, points and readings in the journal (none when it was never written)."""
    if not journal.exists():
        return 0
    with sqlite3.connect(journal) as db:
        tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master")}
        return sum(
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in sorted({"runs", "points", "readings"} & tables)
        )


async def test_a_specification_with_a_digit_judges_zero_against_that_digit(
    tmp_path: Path,
) -> None:
    document = await calibrate(lab(tmp_path), plan(tolerance=SPECIFICATION))
    points = results(document)
    zero = points["0 bar"]
    # ±(0.5 % · 0 bar + 1 · 0.02 bar) = ±0.02 bar, for the mean, each series and h
    for check in zero.checks:
        assert (check["tolerance_lower"], check["tolerance_upper"]) == pytest.approx((-0.02, 0.02))
    assert zero.outcome is not None and zero.outcome.conforms
    top = points["10 bar"].checks[0]  # ±(0.05 + 0.02) bar at 10 bar
    # the narrower of the limits at 10 bar and at the measured reference (just below 10 bar)
    assert (top["tolerance_lower"], top["tolerance_upper"]) == pytest.approx(
        (-0.07, 0.07), rel=1e-3
    )
    assert top["tolerance_upper"] <= 0.07


def test_too_few_points_for_the_sequence_are_refused(tmp_path: Path) -> None:
    config = lab(tmp_path)
    register = load_standards(CONFIG / "standards.yaml")
    four = plan(settings={"points": [0, 4, 8, 10]})
    problems = check_plan(four, PLAN_FILE, config, register)
    assert [p.path for p in problems] == ["settings.points"]
    assert "at least 5" in problems[0].message and "DKD-R 6-1" in problems[0].message
    eight = [float(p) for p in range(8)]  # sequence B needs 9 (DKD-R 6-1 table 2)
    problems = check_plan(
        plan(settings={"points": eight, "sequence": "B"}), PLAN_FILE, config, register
    )
    assert [p.path for p in problems] == ["settings.points"] and "at least 9" in problems[0].message
    assert check_plan(plan(), PLAN_FILE, config, register) == []


async def test_an_absolute_reference_is_converted_with_the_barometer(tmp_path: Path) -> None:
    # transmitter-1 reads absolute pressure (the controller's gauge pressure + 1.01325 bar);
    # transmitter-2, left alone at 1.01325 bar, is the barometer; the dial reads gauge
    p_atm = 1.01325
    simulators: dict[str, dict[str, object]] = {
        "transmitter-1": {"zero_error": p_atm},
        "transmitter-2": {"pressure": p_atm},
    }
    chosen = plan(
        settings={
            "points": [0, 2, 4, 6, 8],
            "reference_mode": "absolute",
            "uut_mode": "gauge",
            "barometer_uncertainty": 0.3,
        },
        instruments={
            "controller": "controller-1",
            "reference": "transmitter-1",
            "barometer": "transmitter-2",
        },
    )
    config = lab(tmp_path, simulators)
    document = await calibrate(config, chosen)
    points = results(document)
    assert document.result.conforms is True
    for nominal, point in zip([0, 2, 4, 6, 8], points.values(), strict=True):
        assert point.values["atmosphere"] == pytest.approx(p_atm * 1000, abs=0.1)  # hPa
        assert point.values["reference"] == pytest.approx(nominal, abs=0.002)  # gauge, at the UUT
        assert abs(point.values["error"]) < 0.02  # not -1.01 bar
        rows = {c["name"]: c for c in point.budget["contributions"]} if point.budget else {}
        barometer = rows["barometric pressure p_atm"]
        # p_gauge = p_abs - p_atm: ∂E/∂p_atm = +1 hPa per hPa = 0.001 bar/hPa, u = U/2
        assert barometer["sensitivity"] == pytest.approx(0.001)
        assert barometer["standard_uncertainty"] == pytest.approx(0.15)
        assert barometer["unit"] == "hPa"
