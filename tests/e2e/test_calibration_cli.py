"""`daq run`, `daq runs`: each procedure end to end on the simulators, passing and failing
UUTs, resume after kill -9, abort, refusal of a standard and its recorded override."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CONFIG, lab_text
from tests.e2e.processes import DAQ, run

FAST = ("--simulate", "--time-scale", "400")


def lab(tmp: Path, simulators: dict[str, dict[str, object]] | None = None, **kw: Any) -> Path:
    path = tmp / "lab.yaml"
    path.write_text(lab_text(tmp, simulators=simulators, **kw))
    return path


def calibrate(tmp: Path, plan: str, lab_file: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    out = tmp / f"{plan}.json"
    result = run(
        "run",
        plan,
        "--lab",
        str(lab_file),
        "--json",
        str(out),
        *FAST,
        *extra,
        cwd=tmp,
        timeout=120,
    )
    document = json.loads(out.read_text()) if out.exists() else {}
    return result.returncode, document, result.stdout + result.stderr


def decided(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in document["points"] if p["decision"] is not None]


def check_document(document: dict[str, Any], plan: str, procedure: str) -> None:
    """What every result must carry (ISO/IEC 17025 7.8 raw material for the certificate)."""
    assert document["run"]["status"] == "completed"
    assert document["plan"]["id"] == plan
    assert document["procedure"]["name"] == procedure and document["procedure"]["version"]
    assert len(document["procedure"]["digest"]) == 64
    assert document["software"]["name"] == "benchdaq"
    assert document["standards"], "no standards snapshot"
    for snapshot in document["standards"]:
        certificate = snapshot["standard"]["certificate"]
        assert certificate["number"] and certificate["traceability"]
    for point in decided(document):
        budget = point["budget"]
        assert budget["expanded_uncertainty"] > 0 and budget["coverage_factor"] >= 2
        assert budget["contributions"] and point["standards"]
        assert point["decision"]["rule"].startswith("simple acceptance")


def test_thermometers_pass_and_one_probe_fails(tmp_path: Path) -> None:
    code, document, output = calibrate(tmp_path, "thermometers", lab(tmp_path))
    assert code == 0, output
    check_document(document, "thermometers", "thermometer_comparison")
    points = decided(document)
    assert len(points) == 6 and all(p["decision"]["outcome"] == "pass" for p in points)
    for point in points:  # the reference reading went through the certificate's CVD
        assert abs(point["values"]["reference"] - point["nominal"]) < 0.1
        assert abs(point["values"]["correction"]) < 0.02
    assert document["result"]["conforms"] is True

    failing = tmp_path / "failing"
    failing.mkdir()
    # probe-2 (channel 2) reads 0.5 °C high: outside IEC 60751 class A (0.15 + 0.002|t|)
    offsets = {"readout-1": {"probe_offsets": [0.0315, 0.5, 0.0, 0.0]}}  # ch 1: as the demo
    code, document, output = calibrate(failing, "thermometers", lab(failing, offsets))
    assert code == 3, output
    failures = document["result"]["failures"]
    assert {f["uut"] for f in failures} == {"probe-2"} and len(failures) == 3
    for failure in failures:
        assert failure["value"] == pytest.approx(0.5, abs=0.02)
        assert failure["excess"] == pytest.approx(failure["value"] - failure["tolerance_upper"])
    assert "fail: 30 °C probe-2" in output
    db = sqlite3.connect(failing / "daq.sqlite")
    flagged = db.execute("SELECT instrument, run FROM events WHERE kind = 'out_of_tolerance'")
    assert {(i, r) for i, r in flagged} == {("probe-2", document["run"]["id"])}


def test_balance_pass_and_fail(tmp_path: Path) -> None:
    code, document, output = calibrate(tmp_path, "balance", lab(tmp_path))
    assert code == 0, output
    check_document(document, "balance", "weighing")
    keys = [p["key"] for p in document["points"]]
    assert keys[:2] == ["repeatability", "eccentricity"] and len(keys) == 8
    assert keys[-1] == "in use" and document["points"][-1]["decision"] is None
    assert document["points"][-1]["values"]["U(W) at 220 g"] > 0  # cg-18 7.5, up to Max
    point = next(p for p in document["points"] if p["key"] == "indication 150 g")
    names = [c["name"] for c in point["budget"]["contributions"]]
    assert "reference weight weight-100g-e2" in names and "eccentricity" in names
    assert {"air density", "drift of weight-50g-e2", "convection"} <= set(names)
    # two weights, fully correlated: their U add linearly (0.05 + 0.03 mg) / 2
    weights = [c for c in point["budget"]["contributions"] if c["name"].startswith("reference")]
    assert sum(c["standard_uncertainty"] for c in weights) == pytest.approx(0.04e-3)
    assert abs(point["values"]["reference"] - 150.000015) < 1e-4  # conventional + buoyancy

    failing = tmp_path / "failing"
    failing.mkdir()
    # a sensitivity error of 1e-5: 2 mg at 200 g, twice the class I MPE of 1 mg, and 0.2 mg
    # at 20 g, well inside its 0.5 mg (the margins far above the balance's drift and rounding)
    code, document, output = calibrate(
        failing, "balance", lab(failing, {"balance-1": {"span_error": 1e-5}})
    )
    assert code == 3, output
    failed = {f["point"] for f in document["result"]["failures"]}
    assert "indication 200 g" in failed and "indication 20 g" not in failed


def test_pressure_gauge_pass_and_fail(tmp_path: Path) -> None:
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab(tmp_path))
    assert code == 0, output
    check_document(document, "pressure-gauge", "pressure_gauge")
    results = decided(document)
    assert [p["nominal"] for p in results] == [0, 2, 4, 6, 8, 10]
    for point in results:
        assert set(point["readings"]) == {"rising", "falling", "reference"}
        names = {c["name"] for c in point["budget"]["contributions"]}
        assert {"hysteresis h", "zero deviation f0", "UUT resolution"} <= names
    series = [p for p in document["points"] if p["kind"] == "series"]
    assert [p["nominal"] for p in series] == [0, 2, 4, 6, 8, 10, 10, 8, 6, 4, 2, 0]

    failing = tmp_path / "failing"
    failing.mkdir()
    code, document, output = calibrate(
        failing, "pressure-gauge", lab(failing, {"gauge-1": {"error": 0.3}})
    )
    assert code == 3, output
    assert len(document["result"]["failures"]) == 6
    assert all(f["excess"] == pytest.approx(0.14, abs=0.03) for f in document["result"]["failures"])


def test_runs_list_and_show(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    listed = run("runs", "--lab", str(lab_file), cwd=tmp_path)
    assert listed.returncode == 0 and run_id in listed.stdout and "completed" in listed.stdout
    shown = run("runs", "show", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert shown.returncode == 0 and "10 bar:" in shown.stdout and "conform" in shown.stdout
    budgets = run("runs", "show", run_id, "--budgets", "--lab", str(lab_file), cwd=tmp_path)
    assert "10 bar: budget of the error of indication" in budgets.stdout
    assert "hysteresis h" in budgets.stdout and "U = " in budgets.stdout
    as_json = run("runs", "show", run_id, "--json", "--lab", str(lab_file), cwd=tmp_path)
    assert json.loads(as_json.stdout)["run"]["id"] == run_id
    missing = run("runs", "show", "nope", "--lab", str(lab_file), cwd=tmp_path)
    assert missing.returncode == 2 and "daq runs" in missing.stderr  # an unknown name


def committed_points(journal: Path) -> list[tuple[str, str, float]]:
    """The points committed so far, read-only ([] while the journal is being made)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
            return list(db.execute("SELECT run, key, timestamp FROM points ORDER BY seq"))
    except sqlite3.OperationalError:
        return []


def as_from_a_terminal() -> None:
    """Ctrl-C reaches the program as from a terminal, even when the tests run in the
    background (a background job starts with SIGINT ignored, and Python keeps it so)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [*DAQ, *args],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )


def start_run(tmp: Path, plan: str, lab_file: Path, time_scale: str) -> subprocess.Popen[str]:
    return start(tmp, "run", plan, "--lab", str(lab_file), "--simulate", "--time-scale", time_scale)


def wait_for_points(journal: Path, count: int, timeout: float = 60) -> list[tuple[str, str, float]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        points = committed_points(journal)
        if len(points) >= count:
            return points
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} points committed in {timeout} s")


def test_resume_after_kill_9(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    journal = tmp_path / "daq.sqlite"
    process = start_run(tmp_path, "pressure-gauge", lab_file, "100")
    before = wait_for_points(journal, 3)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    before = committed_points(journal)
    run_id = before[0][0]
    with sqlite3.connect(journal) as db:
        (status,) = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert status == "running"  # as the crash left it
    early = run("report", run_id, "--by", "J", "--function", "QM", "--lab", str(lab_file),
                cwd=tmp_path)  # fmt: skip
    said = " ".join(early.stderr.split())
    assert early.returncode == 1 and f"run {run_id} was interrupted before it finished" in said
    assert f"daq run --resume {run_id}" in said
    out = tmp_path / "resumed.json"
    resumed = run(
        "run",
        "--resume",
        run_id,
        "--lab",
        str(lab_file),
        "--json",
        str(out),
        *FAST,
        cwd=tmp_path,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    document = json.loads(out.read_text())
    assert document["run"]["id"] == run_id and document["run"]["resumed"] == 1
    after = committed_points(journal)
    keys = [k for _, k, _ in after]
    assert len(keys) == len(set(keys)) == 18  # nothing measured twice, nothing missing
    assert after[: len(before)] == before  # the committed points were kept, not re-measured
    kinds = [k for (k,) in sqlite3.connect(journal).execute("SELECT kind FROM events")]
    assert "run_resumed" in kinds
    verified = run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr  # the chain survived the crash
    again = run("run", "--resume", run_id, "--lab", str(lab_file), *FAST, cwd=tmp_path)
    assert again.returncode == 1 and "only an unfinished run resumes" in again.stderr


def test_abort_request_makes_the_source_safe(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    journal = tmp_path / "daq.sqlite"
    process = start(
        tmp_path, "run", "thermometers", "--lab", str(lab_file), "--simulate", "--time-scale", "20"
    )
    deadline = time.monotonic() + 60
    run_id = None
    while run_id is None and time.monotonic() < deadline:
        # read-only: not there yet (an error), or being made (no table yet: an error too)
        with (
            contextlib.suppress(sqlite3.OperationalError),
            sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db,
        ):
            row = db.execute("SELECT id FROM runs").fetchone()
            run_id = row[0] if row else None
        time.sleep(0.1)
    assert run_id is not None
    asked = run(
        "runs", "abort", run_id, "--reason", "bath leaking", "--lab", str(lab_file), cwd=tmp_path
    )
    assert asked.returncode == 0, asked.stderr
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert "bath leaking" in stderr and "--resume" in stderr
    with sqlite3.connect(journal) as db:
        status, reason = db.execute("SELECT status, reason FROM runs").fetchone()
        safe = db.execute("SELECT instrument FROM events WHERE kind = 'safe_state'").fetchall()
    assert status == "aborted" and "bath leaking" in reason
    assert ("well-1",) in safe


def test_ctrl_c_aborts_safely(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    process = start_run(tmp_path, "pressure-gauge", lab_file, "20")
    wait_for_points(tmp_path / "daq.sqlite", 1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        run_id, status, reason = db.execute("SELECT id, status, reason FROM runs").fetchone()
        safe = db.execute("SELECT instrument FROM events WHERE kind = 'safe_state'").fetchall()
        events = db.execute("SELECT kind, instrument, message FROM events").fetchall()
    said = " ".join(stderr.split())
    # the interrupt lands in the run (aborted, recorded) or around it: the run is named
    assert f"run {run_id} aborted" in said and "Ctrl-C" in said, said
    assert f"daq run --resume {run_id}" in said
    assert status == "aborted" and "Ctrl-C" in reason
    assert ("controller-1",) in safe, (events, stderr)


def expired_standards(tmp: Path) -> Path:
    raw = yaml.safe_load((CONFIG / "standards.yaml").read_text())
    prt = next(s for s in raw["standards"] if s["id"] == "prt-ref-1")
    prt["certificate"]["calibrated"] = datetime.date(2024, 1, 10)
    prt["certificate"]["due"] = datetime.date.today() - datetime.timedelta(days=3)
    path = tmp / "standards.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


def test_expired_standard_is_refused_unless_overridden(tmp_path: Path) -> None:
    lab_file = lab(tmp_path, standards=expired_standards(tmp_path))
    code, document, output = calibrate(tmp_path, "thermometers", lab_file)
    assert code == 1
    assert "prt-ref-1" in output and "3 days overdue" in output and "override" in output
    assert document["run"]["status"] == "refused"
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchone() == ("refused",)
        assert db.execute("SELECT COUNT(*) FROM points").fetchone() == (0,)

    code, document, output = calibrate(
        tmp_path,
        "thermometers",
        lab_file,
        "--override",
        "prt-ref-1",
        "--by",
        "Jane Doe",
        "--reason",
        "recalibration booked; check standard agrees within 5 mK",
    )
    assert code == 0, output
    snapshot = next(s for s in document["standards"] if s["standard"]["id"] == "prt-ref-1")
    assert snapshot["overrides"] == [
        {"by": "Jane Doe", "reason": "recalibration booked; check standard agrees within 5 mK"}
    ]
    assert "overdue" in snapshot["problems"][0]
    assert any(e["kind"] == "standard_override" for e in document["events"])
    missing_name = run(
        "run",
        "thermometers",
        "--lab",
        str(lab_file),
        "--override",
        "prt-ref-1",
        *FAST,
        cwd=tmp_path,
    )
    assert missing_name.returncode == 2 and "--by" in missing_name.stderr


def test_out_of_range_standard_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((CONFIG / "standards.yaml").read_text())
    next(s for s in raw["standards"] if s["id"] == "prt-ref-1")["range"]["maximum"] = 100
    standards = tmp_path / "standards.yaml"
    standards.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    code, document, output = calibrate(tmp_path, "thermometers", lab(tmp_path, standards=standards))
    assert code == 1 and "outside the calibrated range" in output
    assert document["run"]["status"] == "refused"
    assert [p["nominal"] for p in document["points"]] == [30, 30, 80, 80]  # up to 140 °C


def test_prompt_without_terminal_fails_clearly(tmp_path: Path) -> None:
    # no balance is connected: without an override the run is refused at identification
    refused = run("run", "balance", "--lab", str(lab(tmp_path)), cwd=tmp_path)
    assert refused.returncode == 1 and "did not identify" in refused.stderr
    accepted = ("--accept-serial", "balance-1", "--by", "A. Tester", "--reason", "test")
    result = run("run", "balance", "--lab", str(lab(tmp_path)), *accepted, cwd=tmp_path)
    assert result.returncode == 1
    assert "no terminal" in result.stderr and "--simulate" in result.stderr


def test_unknown_plan_lists_the_plans(tmp_path: Path) -> None:
    result = run("run", "nope", "--lab", str(lab(tmp_path)), cwd=tmp_path)
    assert result.returncode == 2
    assert "balance" in result.stderr and "thermometers" in result.stderr


def test_verify_finds_an_altered_journal_row(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    run_id, certified = document["run"]["id"], document["run"]["record_hash"]
    assert len(certified) == 64
    intact = run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert intact.returncode == 0 and certified in intact.stdout.replace("\n", "")
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        (data,) = db.execute(
            "SELECT data FROM points WHERE run = ? AND key = 'indication 50 g'", (run_id,)
        ).fetchone()
        db.execute(
            "UPDATE points SET data = ? WHERE run = ? AND key = 'indication 50 g'",
            (data.replace('"outcome":"pass"', '"outcome":"fail"', 1), run_id),
        )
        raw = db.execute(
            "SELECT seq FROM run_records WHERE run = ? AND kind = 'reading' LIMIT 1", (run_id,)
        ).fetchone()[0]
        db.execute(
            'UPDATE run_records SET content = replace(content, \'"status":"ok"\', '
            '\'"status":"unstable"\') WHERE run = ? AND seq = ?',
            (run_id, raw),
        )
    altered = run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert altered.returncode == 1
    said = " ".join(altered.stderr.split())
    assert (
        'point \'indication 50 g\': decision.outcome: "pass" in the record, "fail" in the '
        "points table" in said
    )
    assert f"record {raw} (reading of balance-1 mass) was altered" in altered.stderr


TOUCH = '''
"""Reads the UUT once (no metrology): enough to see a run measure after its identity check."""
from pydantic import BaseModel
from daq.engine.record import Point
VERSION = "1"
class Settings(BaseModel):
    pass
def points(settings, uuts):
    return ["touch"]
async def run(ctx, settings):
    for reading in await ctx.driver(ctx.uuts[0].instrument).read():
        ctx.journal.record(reading, ctx.run_id)
    await ctx.record(Point(key="touch", kind="check", uut=ctx.uuts[0].id))
'''


def test_uut_with_another_serial_is_refused_unless_accepted(tmp_path: Path) -> None:
    (tmp_path / "procedures").mkdir()
    (tmp_path / "procedures" / "touch.py").write_text(TOUCH)
    raw = yaml.safe_load(lab_text(tmp_path, simulators={"balance-1": {"serial": "B999"}}))
    raw["procedures"] = str(tmp_path / "procedures")
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(raw))
    plan = yaml.safe_load((CONFIG / "plans" / "balance.yaml").read_text())
    plan.update(procedure="touch", settings={})
    plan_file = tmp_path / "balance-touch.yaml"
    plan_file.write_text(yaml.safe_dump(plan, allow_unicode=True))

    code, document, output = calibrate(tmp_path, str(plan_file), lab_file)
    assert code == 1 and document["run"]["status"] == "refused"
    assert "reports serial B999" in output and "serial B207696838" in output
    assert "--accept-serial balance-1" in output
    assert document["points"] == [] and document["instruments"][0]["serial"] == "B999"

    accept = ("--accept-serial", "balance-1", "--by", "Jane Doe", "--reason", "plate replaced")
    code, document, output = calibrate(tmp_path, str(plan_file), lab_file, *accept)
    assert code == 0, output
    [balance] = document["instruments"]
    assert balance["serial"] == "B999" and balance["source"] == "reported by the instrument"
    assert balance["serial_override"] == {"by": "Jane Doe", "reason": "plate replaced"}
    assert document["plan"]["uuts"][0]["serial_override"]["by"] == "Jane Doe"
    assert any(e["kind"] == "serial_override" for e in document["events"])
    missing_name = run(
        "run",
        str(plan_file),
        "--lab",
        str(lab_file),
        "--accept-serial",
        "balance-1",
        *FAST,
        cwd=tmp_path,
    )
    assert missing_name.returncode == 2 and "--by" in missing_name.stderr
