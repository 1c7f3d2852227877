"""The `daq` command as a user runs it, in real processes with real signals."""

from __future__ import annotations

import datetime
import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from simulators.servers import free_tcp_port
from tests.e2e.processes import DAQ, run, simulating


def test_monitor_simulate_on_embedded_default(tmp_path: Path) -> None:
    result = run("monitor", "--simulate", "--duration", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "readings committed to data/daq.sqlite" in result.stderr  # stdout: the readings
    db = sqlite3.connect(tmp_path / "data" / "daq.sqlite")
    instruments = {i for (i,) in db.execute("SELECT DISTINCT instrument FROM readings")}
    assert instruments == {
        "balance-1",
        "readout-1",
        "well-1",
        "transmitter-1",
        "controller-1",
        "transmitter-2",
    }
    kinds = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds[0] == "monitor_started" and kinds[-1] == "monitor_stopped"


def test_instruments_and_read(lab_file: Path, tmp_path: Path) -> None:
    listed = run("instruments", "--simulate", "--lab", str(lab_file), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for expected in ("Mettler Toledo", "HART 1529", "KELLER", "balance-1", "transmitter-2"):
        assert expected in listed.stdout
    reading = run("read", "readout-1", "--simulate", "--lab", str(lab_file), cwd=tmp_path)
    assert reading.returncode == 0, reading.stderr
    assert "readout-1 temperature_ch1:" in reading.stdout and "°C" in reading.stdout


def test_a_bad_simulator_setting_is_named_by_file_and_field_when_simulating(
    tmp_path: Path,
) -> None:
    """Simulator settings are checked by the simulators (loaded only to simulate), still
    reported as the lab file's problems, before anything starts."""
    from tests.conftest import lab_text

    raw = yaml.safe_load(lab_text(tmp_path, simulators={"balance-1": {"noyse": 1}}))
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump(raw))
    where = f"{lab}: benches[mass-bench].instruments[balance-1].simulator.noyse: unknown field"
    for args in (["read", "balance-1", "--simulate"], ["config", "check", str(lab)]):
        result = run(*args, *(["--lab", str(lab)] if args[0] == "read" else []), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert where in " ".join(result.stderr.split()), result.stderr
    unsimulated = run("read", "balance-1", "--lab", str(lab), cwd=tmp_path)
    assert "simulator.noyse" not in unsimulated.stderr  # only what is simulated is checked


def test_read_unknown_instrument_says_what_to_do(lab_file: Path, tmp_path: Path) -> None:
    result = run("read", "nope", "--lab", str(lab_file), cwd=tmp_path)
    assert result.returncode == 2  # an unknown name, like a usage error
    assert "no instrument 'nope'" in result.stderr and "daq instruments" in result.stderr


def test_instruments_exits_non_zero_when_one_does_not_answer(
    lab_file: Path, tmp_path: Path
) -> None:
    result = run("instruments", "--lab", str(lab_file), cwd=tmp_path)  # no simulators
    assert result.returncode == 1
    said = " ".join(result.stderr.split())
    assert "instrument(s) did not answer: balance-1," in said and "daq read ID" in said


def test_read_of_an_absent_instrument_fails_clearly_and_is_recorded(
    lab_file: Path, tmp_path: Path
) -> None:
    result = run("read", "transmitter-1", "--lab", str(lab_file), cwd=tmp_path)  # no simulator
    assert result.returncode == 1
    assert "cannot connect" in result.stderr and "Check the connection" in result.stderr
    db = sqlite3.connect(tmp_path / "daq.sqlite")
    [(kind, instrument)] = db.execute("SELECT kind, instrument FROM events").fetchall()
    assert (kind, instrument) == ("instrument_failed", "transmitter-1")


def test_simulate_serves_the_lab_file_addresses_for_a_separate_agent(
    lab_file: Path, tmp_path: Path
) -> None:
    with simulating(lab_file, tmp_path, free_tcp_port()) as banner:
        assert "transmitter-2" in banner and "modbus-rtu" in banner
        for instrument in ("balance-1", "readout-1", "transmitter-1", "transmitter-2"):
            result = run("read", instrument, "--lab", str(lab_file), cwd=tmp_path)
            assert result.returncode == 0, (instrument, result.stderr)


def test_monitor_without_a_terminal_prints_a_line_per_reading(
    lab_file: Path, tmp_path: Path
) -> None:
    watched = run("monitor", "--simulate", "--duration", "3", "--lab", str(lab_file), cwd=tmp_path)
    assert watched.returncode == 0, watched.stderr
    lines = [ln for ln in watched.stdout.splitlines() if " balance-1 mass: " in ln]
    assert lines and all(re.fullmatch(r"\S+Z? balance-1 mass: .+ g.*", ln) for ln in lines)
    as_json = run("monitor", "--simulate", "--duration", "3", "--json", "--lab", str(lab_file),
                  cwd=tmp_path)  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    rows = [json.loads(ln) for ln in as_json.stdout.splitlines() if ln]  # nothing else
    assert "readings committed" in as_json.stderr
    seen = {(r["instrument"], r["quantity"]) for r in rows}
    assert ("balance-1", "mass") in seen and ("transmitter-1", "pressure") in seen
    assert all(set(r) == {"instrument", "quantity", "value", "unit", "timestamp", "status"}
               for r in rows)  # fmt: skip
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        kept = {
            (i, q, t)
            for i, q, t in db.execute("SELECT instrument, quantity, timestamp FROM readings")
        }
    assert {(r["instrument"], r["quantity"], r["timestamp"]) for r in rows} <= kept


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_monitor_stops_cleanly_on_signal(lab_file: Path, tmp_path: Path, sig: int) -> None:
    monitor = subprocess.Popen(
        [*DAQ, "monitor", "--simulate", "--lab", str(lab_file)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db_path = tmp_path / "daq.sqlite"
    deadline = time.monotonic() + 20
    count = 0
    while time.monotonic() < deadline and count < 5:
        time.sleep(0.3)
        if db_path.exists():
            try:
                count = (
                    sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM readings").fetchone()[0]
                )
            except sqlite3.OperationalError:
                count = 0
    monitor.send_signal(sig)
    out, err = monitor.communicate(timeout=15)
    assert monitor.returncode == 0, err
    assert "readings committed" in err and " balance-1 mass: " in out
    kinds = [k for (k,) in sqlite3.connect(db_path).execute("SELECT kind FROM events ORDER BY id")]
    assert kinds[-1] == "monitor_stopped"


def test_standards_lists_days_until_due_and_warns(lab_file: Path, tmp_path: Path) -> None:
    today = datetime.date.today()
    register = yaml.safe_load((Path(__file__).parents[2] / "config" / "standards.yaml").read_text())
    dues = {"prt-ref-1": 10, "pressure-ref-1": -3, "weight-1kg-f1": 400}
    for standard in register["standards"]:
        certificate = standard["certificate"]
        certificate["due"] = today + datetime.timedelta(days=dues.get(standard["id"], 400))
        certificate["calibrated"] = today - datetime.timedelta(days=365)
    (tmp_path / "standards.yaml").write_text(yaml.safe_dump(register, allow_unicode=True))
    lab = yaml.safe_load(lab_file.read_text())
    lab["standards"] = "standards.yaml"  # beside the lab file
    lab_file.write_text(yaml.safe_dump(lab, allow_unicode=True))

    result = run("standards", "--lab", str(lab_file), "--warn-days", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for expected in ("prt-ref-1", "DEMO-T-2026-0117", "-40 to 420 °C", "0.02 °C (2)"):
        assert expected in result.stdout
    assert "prt-ref-1 is due in 10 days" in result.stdout
    assert "pressure-ref-1 is 3 days overdue: do not use it" in result.stdout
    assert "weight-1kg-f1 is" not in result.stdout
