"""What the console shows: the bench's newest value and trend per quantity, the register's
days until due with their state, and run rows with who asked for them."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import yaml

from daq.agent import BenchView
from daq.config import default_lab_text, parse_lab
from daq.core.reading import Reading, Status
from daq.journal import RunRow
from daq.web import records

CONFIG = Path(__file__).parents[2] / "config"


def reading(quantity: str, value: float, unit: str) -> Reading:
    return Reading("transmitter-1", quantity, value, unit, time.time(), Status.OK, "")


def test_the_bench_shows_an_instruments_first_quantity_and_a_trend_per_quantity() -> None:
    bench = BenchView()
    for step in range(3):
        bench.update([reading("pressure", 1.0 + step, "bar"), reading("temperature", 22.5, "°C")])
    assert bench.last["transmitter-1"].quantity == "pressure"
    assert list(bench.trend[("transmitter-1", "pressure")]) == [1.0, 2.0, 3.0]
    assert list(bench.trend[("transmitter-1", "temperature")]) == [22.5] * 3
    assert records.spark([1.0, 2.0, 3.0], width=10, height=10) == "0.0,10.0 5.0,5.0 10.0,0.0"
    assert records.spark([1.0]) == ""


def test_a_runs_readings_keep_the_bench_live_on_the_quantity_each_row_shows() -> None:
    """The monitor does not poll what a run holds: the run's readings (its progress samples)
    move the bench row on, but a reading of another quantity does not take the row over."""
    bench = BenchView()
    bench.update([reading("pressure", 0.0, "bar"), reading("temperature", 22.5, "°C")])
    bench.sample(reading("pressure", 6.0, "bar"), None)
    bench.sample(reading("temperature", 23.0, "°C"), None)
    shown = bench.last["transmitter-1"]
    assert (shown.quantity, shown.value) == ("pressure", 6.0)
    assert list(bench.trend[("transmitter-1", "pressure")]) == [0.0, 6.0]
    assert list(bench.trend[("transmitter-1", "temperature")]) == [22.5, 23.0]


def test_days_until_due_are_stated_ok_due_soon_or_overdue() -> None:
    raw = yaml.safe_load(default_lab_text())
    raw["standards"] = str(CONFIG / "standards.yaml")
    lab = parse_lab(yaml.safe_dump(raw), "lab.yaml")
    found, problem = records.standards(lab, dt.date(2027, 3, 1), warn=30)
    assert problem == ""
    by_id = {s["id"]: s for s in found}
    assert by_id["prt-ref-1"]["days"] == 9 and by_id["prt-ref-1"]["state"] == "due-soon"
    assert by_id["weight-100g-e2"]["state"] == "ok"
    later, _ = records.standards(lab, dt.date(2027, 4, 1), warn=30)
    assert {s["id"]: s["state"] for s in later}["prt-ref-1"] == "overdue"
    assert by_id["prt-ref-1"]["history"][0]["certificate"] == "DEMO-T-2026-0117"


def test_a_run_row_names_who_asked_for_it() -> None:
    setup = {"requested_by": {"user": "an.nguyen", "name": "An Nguyen", "via": "console"}}
    row = RunRow("balance-1", "balance", "weighing", 0.0, None, "running", "", None,
                 json.dumps(setup))  # fmt: skip
    summary = records.run_summary(row)
    assert summary["requested_by"]["name"] == "An Nguyen" and summary["finished"] == ""
    broken = RunRow("b", "balance", "weighing", 0.0, None, "error", "", None, "not json")
    assert records.run_summary(broken)["requested_by"] is None


async def test_a_control_chart_of_check_values_with_the_rules_limits(tmp_path: Path) -> None:
    from pydantic import TypeAdapter

    from daq.alarms import AlarmRule
    from daq.journal import Journal
    from daq.web.charts import charted_rules, control_chart

    rules = TypeAdapter(list[AlarmRule]).validate_python([
        {"id": "prt-check", "kind": "shewhart", "instrument": "readout-1",
         "quantity": "temperature_ch1", "mean": 23.0, "sigma": 0.01, "k": 3},
        {"id": "prt-ewma", "kind": "ewma", "instrument": "readout-1",
         "quantity": "temperature_ch1", "mean": 23.0, "sigma": 0.01},
        {"id": "pan", "kind": "limits", "instrument": "balance-1", "quantity": "mass", "high": 1},
    ])  # fmt: skip
    shewhart, ewma = charted_rules(rules)
    async with Journal(tmp_path / "j.sqlite") as journal:
        assert await control_chart(journal, shewhart) is None  # nothing read yet
        for value in (23.0, 23.01, 22.99, 23.05, 23.0):
            journal.record(Reading("readout-1", "temperature_ch1", value, "°C", time.time(),
                                   Status.OK, ""))  # fmt: skip
        journal.record(Reading("readout-1", "temperature_ch2", 99.0, "°C", time.time(),
                               Status.OK, ""))  # fmt: skip
        await journal.flush()
        chart = await control_chart(journal, shewhart)
        smoothed = await control_chart(journal, ewma)
    assert chart is not None and smoothed is not None
    assert (chart.count, chart.outside, chart.unit) == (5, 1, "°C")  # 23.05 beyond 3σ
    assert chart.upper < chart.centre < chart.lower  # SVG's y grows downwards
    assert smoothed.outside == 0 and round(smoothed.limit, 4) == 0.01


async def test_the_runs_list_finds_older_runs_by_its_filters_in_the_journal(
    tmp_path: Path,
) -> None:
    """The filters are applied where the runs are read: a run older than the newest
    thousand is found by plan, status or part of its id, and every plan stays offered."""
    from daq.journal import Journal

    async with Journal(tmp_path / "j.sqlite") as journal:
        await journal.start_run(RunRow("pressure-gauge-OLD1", "pressure-gauge", "pressure_gauge",
                                       1.0, 2.0, "completed", "", None, "{}"))  # fmt: skip
        for n in range(records.MAX_RUNS + 5):
            await journal.start_run(RunRow(f"balance-{n:05d}", "balance", "weighing",
                                           10.0 + n, None, "aborted", "", None, "{}"))  # fmt: skip
        assert "pressure-gauge-OLD1" not in {r["id"] for r in await records.runs(journal)}
        for found in (await records.runs(journal, plan="pressure-gauge"),
                      await records.runs(journal, status="completed"),
                      await records.runs(journal, text="gauge-old")):  # fmt: skip
            assert [r["id"] for r in found] == ["pressure-gauge-OLD1"]
        assert len(await records.runs(journal, plan="balance", text="BALANCE-0")) == 1000
        assert await journal.run_plans() == ["balance", "pressure-gauge"]


async def test_the_events_severity_filter_finds_an_error_behind_many_newer_events(
    tmp_path: Path,
) -> None:
    from daq.journal import EventKind, Journal, Severity

    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.event(EventKind.INSTRUMENT_FAILED, "balance-1: no reply", Severity.ERROR)
        for n in range(2000):
            journal.event(EventKind.AGENT_STARTED, f"started {n}")
        await journal.flush()
        [error] = await records.events(journal, severity="error")
        newest = await records.events(journal)
    assert error["message"] == "balance-1: no reply"
    assert len(newest) == 300 and newest[0]["message"] == "started 1999"
