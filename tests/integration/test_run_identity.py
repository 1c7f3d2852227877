"""The identity of what was measured: read from the simulated instruments when a run starts
and resumes, a UUT whose serial is not the plan's refused before any point unless a person
accepts it, probes on a readout and instruments read by hand never checked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.config import LabConfig, load_lab
from daq.core.clock import Clock
from daq.engine.document import RunDocument
from daq.engine.order import OrderRefused, with_serial_overrides, with_uut
from daq.engine.plan import Plan, parse_plan
from daq.engine.runner import Runner
from daq.session import lab_session
from daq.standards import Override, load_standards
from tests.conftest import CONFIG, lab_text

TOUCH = '''
"""Reads each UUT once and records it as one point (nothing else)."""
from pydantic import BaseModel
from daq.engine.record import Point
VERSION = "1"
class Settings(BaseModel):
    fail: bool = False
def points(settings, uuts):
    return [f"touch {u}" for u in uuts]
async def run(ctx, settings):
    for uut in ctx.uuts:
        key = f"touch {uut.id}"
        if ctx.done(key):
            continue
        for reading in await ctx.driver(uut.instrument).read():
            ctx.journal.record(reading, ctx.run_id)
        await ctx.record(Point(key=key, kind="check", uut=uut.id))
        if settings.fail:
            raise RuntimeError("stopped on purpose")
'''


class Quiet:
    def begin(self, run: str, title: str, total: int, done: int) -> None: ...
    def point(self, label: str) -> None: ...
    def status(self, text: str) -> None: ...
    def sample(self, reading: object, verdict: object) -> None: ...
    def completed(self, point: object) -> None: ...


def touch_lab(tmp: Path, simulators: dict[str, dict[str, object]] | None = None) -> LabConfig:
    folder = tmp / "procedures"
    folder.mkdir(exist_ok=True)
    (folder / "touch.py").write_text(TOUCH)
    raw = yaml.safe_load(lab_text(tmp, simulators=simulators))
    raw["procedures"] = str(folder)
    lab_file = tmp / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(raw))
    return load_lab(lab_file)


def touch_plan(name: str, **settings: Any) -> Plan:
    raw = yaml.safe_load((CONFIG / "plans" / f"{name}.yaml").read_text())
    raw.update(procedure="touch", settings=settings)
    return parse_plan(yaml.safe_dump(raw, allow_unicode=True), f"{name}.yaml")


async def run_plan(lab: LabConfig, plan: Plan) -> RunDocument:
    async with lab_session(lab, Clock(), simulate=True) as session:
        return await Runner(session, load_standards(CONFIG / "standards.yaml"), Quiet()).start(
            plan, "touch.yaml"
        )


def journal_rows(lab: LabConfig, sql: str, run_id: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(lab.journal.path) as db:
        return list(db.execute(sql, (run_id,)))


RECORDS = "SELECT kind FROM run_records WHERE run = ? ORDER BY seq"


def identities(lab: LabConfig, run_id: str) -> list[dict[str, Any]]:
    """The chained ``identities`` records of the run."""
    rows = journal_rows(
        lab, "SELECT content FROM run_records WHERE run = ? AND kind = 'identities'", run_id
    )
    return [json.loads(content) for (content,) in rows]


async def test_balance_identity_is_recorded_and_checked(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path)
    document = await run_plan(lab, touch_plan("balance"))
    assert document.run.status == "completed", document.run.reason
    [balance] = document.instruments
    assert (balance.id, balance.uuts, balance.source) == (
        "balance-1",
        ["balance-1"],
        "reported by the instrument",
    )
    assert (balance.manufacturer, balance.serial) == ("Mettler Toledo", "B207696838")
    assert balance.model and balance.firmware and balance.serial_override is None
    [record] = identities(lab, document.run.id)
    assert record["read"] == "start"
    kinds = [k for (k,) in journal_rows(lab, RECORDS, document.run.id)]
    assert kinds.index("identities") < kinds.index("reading") < kinds.index("point")
    assert record["instruments"] == [balance.model_dump(mode="json")]


async def test_another_serial_is_refused_before_any_point(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path, {"balance-1": {"serial": "B999"}})
    document = await run_plan(lab, touch_plan("balance"))
    assert document.run.status == "refused"
    reason = document.run.reason
    assert "reports serial B999" in reason and "plan states serial B207696838" in reason
    assert "--accept-serial balance-1" in reason and "--by" in reason
    assert document.points == [] and document.instruments[0].serial == "B999"
    run_id = document.run.id
    kinds = [k for (k,) in journal_rows(lab, RECORDS, run_id)]
    assert "identities" in kinds and "reading" not in kinds and "point" not in kinds
    assert journal_rows(lab, "SELECT COUNT(*) FROM points WHERE run = ?", run_id) == [(0,)]
    assert identities(lab, run_id)[0]["instruments"][0]["serial"] == "B999"
    assert any(e.kind == "run_refused" and "B999" in e.message for e in document.events)


async def test_a_person_may_accept_another_serial(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path, {"balance-1": {"serial": "B999"}})
    plan = touch_plan("balance")
    accepted = Override(by="Jane Doe", reason="serial plate replaced after repair")
    plan.uuts[0] = plan.uuts[0].model_copy(update={"serial_override": accepted})
    document = await run_plan(lab, plan)
    assert document.run.status == "completed", document.run.reason
    [balance] = document.instruments
    assert balance.serial == "B999" and balance.serial_override == accepted
    assert "plan states serial B207696838" in balance.problem
    [event] = [e for e in document.events if e.kind == "serial_override"]
    assert "Jane Doe" in event.message and event.instrument == "balance-1"
    assert document.uuts[0]["serial"] == "B207696838"  # the plan's statement stays as stated


async def test_without_a_plan_serial_the_reported_one_is_recorded(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path, {"balance-1": {"serial": "B999"}})
    plan = touch_plan("balance")
    plan.uuts[0] = plan.uuts[0].model_copy(update={"serial": ""})
    document = await run_plan(lab, plan)
    assert document.run.status == "completed", document.run.reason
    assert document.instruments[0].serial == "B999"
    assert document.uuts[0]["serial"] == "B999"


async def test_probes_on_a_readout_are_not_checked(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path)
    document = await run_plan(lab, touch_plan("thermometers"))
    assert document.run.status == "completed", document.run.reason
    found = {i.id: i for i in document.instruments}
    assert list(found) == ["readout-1", "well-1"]
    readout = found["readout-1"]
    assert readout.readout_of == ["probe-2", "probe-3"] and readout.roles == ["reference"]
    assert (readout.serial, readout.uuts, readout.problem) == ("A12345", [], "")
    assert found["well-1"].roles == ["source"] and found["well-1"].serial == "B12345"
    assert [u["serial"] for u in document.uuts] == ["T-2001", "T-2002"]


async def test_a_gauge_read_by_hand_is_as_the_plan_states(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path, {"transmitter-1": {"serial_number": 7654321}})
    document = await run_plan(lab, touch_plan("pressure-gauge"))
    assert document.run.status == "completed", document.run.reason
    found = {i.id: i for i in document.instruments}
    gauge = found["gauge-1"]
    assert (gauge.source, gauge.uuts, gauge.serial) == ("stated in the plan", ["gauge-1"], "P-3301")
    assert (gauge.manufacturer, gauge.model) == ("Example Gauges", "BG-100")
    assert found["transmitter-1"].serial == "7654321"
    assert found["transmitter-1"].roles == ["reference"]
    assert found["controller-1"].roles == ["controller"]
    assert found["controller-1"].source == "reported by the instrument"


async def test_a_reference_that_cannot_identify_is_recorded_unknown(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path, {"controller-1": {"faults": ["error_reply"]}})
    document = await run_plan(lab, touch_plan("pressure-gauge"))
    assert document.run.status == "completed", document.run.reason
    controller = next(i for i in document.instruments if i.id == "controller-1")
    assert controller.source == "unknown" and "did not identify" in controller.problem
    assert any(
        e.kind == "identity_unknown" and e.instrument == "controller-1" for e in document.events
    )


async def test_a_uut_that_cannot_identify_is_refused_when_the_plan_gives_its_serial(
    tmp_path: Path,
) -> None:
    lab = touch_lab(tmp_path, {"balance-1": {"faults": ["error_reply"]}})
    document = await run_plan(lab, touch_plan("balance"))
    assert document.run.status == "refused"
    assert "not shown to be serial B207696838" in document.run.reason
    assert document.points == []


async def test_resume_refuses_another_item(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path)
    plan = touch_plan("balance", fail=True)
    plan.uuts[0] = plan.uuts[0].model_copy(update={"serial": ""})
    register = load_standards(CONFIG / "standards.yaml")
    async with lab_session(lab, Clock(), simulate=True) as session:
        first = await Runner(session, register, Quiet()).start(plan, "touch.yaml")
        assert first.run.status == "error" and len(first.points) == 1
        assert session.simulation is not None
        session.simulation.simulator("balance-1").config.serial = "B999"  # type: ignore[attr-defined]
        resumed = await Runner(session, register, Quiet()).resume(first.run.id)
    assert resumed.run.status == "refused"
    assert "the run started on serial B207696838" in resumed.run.reason
    assert [r["read"] for r in identities(lab, first.run.id)] == ["start", "resume 1"]


def test_run_order_options(tmp_path: Path) -> None:
    lab = touch_lab(tmp_path)
    plan = touch_plan("pressure-gauge")
    register = load_standards(CONFIG / "standards.yaml")
    moved = with_uut(plan, "transmitter-2", lab, register)  # the plan's serial names gauge-1
    assert (moved.uuts[0].instrument, moved.uuts[0].serial) == ("transmitter-2", "")
    assert with_uut(plan, "gauge-1", lab, register).uuts[0].serial == "P-3301"
    accepted = with_serial_overrides(plan, ["gauge-1"], "Jane Doe", "plate replaced")
    assert accepted.uuts[0].serial_override == Override(by="Jane Doe", reason="plate replaced")
    with pytest.raises(OrderRefused, match="no such UUT"):
        with_serial_overrides(plan, ["gauge-9"], "Jane Doe", "plate replaced")
    with pytest.raises(OrderRefused, match="name of the person"):
        with_serial_overrides(plan, ["gauge-1"], None, "plate replaced")
