"""Laboratory conditions measured during a run: where the plan names monitors (a
thermohygrometer, a barometer), their readings replace the stated values, are journalled
with the run and reach the result; an implausible measured value stops the run with the
instrument named. Against simulated declarative devices over real sockets and Modbus."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from daq.config import LabConfig, load_lab
from daq.core.clock import Clock
from daq.engine.document import RunDocument
from daq.engine.plan import parse_plan
from daq.engine.runner import Runner
from daq.session import lab_session
from daq.standards import load_standards
from tests.conftest import CONFIG, lab_text
from tests.integration.test_custom_devices import BAROMETER, HYGROMETER

CONDITIONS = '''
"""Reads the conditions once and records them as one point."""
from pydantic import BaseModel
from daq.engine.record import Point
VERSION = "1"
class Settings(BaseModel):
    pass
def points(settings, uuts):
    return ["conditions"]
async def run(ctx, settings):
    env = await ctx.environment()
    await ctx.record(Point(key="conditions", kind="check", values={
        "temperature": env.temperature, "humidity": env.humidity, "pressure": env.pressure}))
'''


class Quiet:
    def begin(self, run: str, title: str, total: int, done: int) -> None: ...
    def point(self, label: str) -> None: ...
    def status(self, text: str) -> None: ...
    def sample(self, reading: object, verdict: object) -> None: ...
    def completed(self, point: object) -> None: ...


def monitored_lab(tmp: Path, barometer_hpa: float) -> LabConfig:
    folder = tmp / "procedures"
    folder.mkdir(exist_ok=True)
    (folder / "conditions.py").write_text(CONDITIONS)
    raw = yaml.safe_load(lab_text(tmp))
    raw["procedures"] = str(folder)
    barometer = copy.deepcopy(BAROMETER)
    barometer["simulator"]["registers"][0].update(value=barometer_hpa, noise=0.0)
    for device in (HYGROMETER, barometer):
        raw["benches"][0]["instruments"].append({**device, "simulate": True})
    lab_file = tmp / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return load_lab(lab_file)


async def run_conditions(lab: LabConfig, **environment: Any) -> RunDocument:
    raw = yaml.safe_load((CONFIG / "plans" / "balance.yaml").read_text())
    raw.update(procedure="conditions", settings={})
    raw["environment"].update(environment)
    plan = parse_plan(yaml.safe_dump(raw, allow_unicode=True), "conditions.yaml")
    async with lab_session(lab, Clock(), simulate=True) as session:
        runner = Runner(session, load_standards(CONFIG / "standards.yaml"), Quiet())
        return await runner.start(plan, "conditions.yaml")


async def test_measured_conditions_replace_the_stated_ones(tmp_path: Path) -> None:
    lab = monitored_lab(tmp_path, 1002.5)
    document = await run_conditions(lab, monitors=["hygro-1", "baro-1"], humidity=40)
    assert document.run.status == "completed", document.run.reason
    values = document.points[0].values
    assert values["humidity"] == 45.0  # the hygrometer's; stated 40 %
    assert values["pressure"] == 1002.5  # the barometer's; stated 1005 hPa in the plan
    # both monitors report a temperature (21.5 °C and 22.34 °C): the last one named wins
    assert abs(values["temperature"] - 22.34) < 0.01  # stated 20.5 °C
    [measured] = document.environment["measured"]
    assert measured["pressure"] == 1002.5 and "timestamp" in measured
    assert document.environment["pressure"] == 1005  # the statement is kept beside it


async def test_without_monitors_the_statement_is_used(tmp_path: Path) -> None:
    lab = monitored_lab(tmp_path, 1002.5)
    document = await run_conditions(lab)
    assert document.run.status == "completed", document.run.reason
    assert document.points[0].values["pressure"] == 1005
    assert "measured" not in document.environment


async def test_an_implausible_measured_pressure_stops_the_run(tmp_path: Path) -> None:
    """A barometer configured in Pa but declared in hPa reads 101325 'hPa'."""
    lab = monitored_lab(tmp_path, 101325.0)
    document = await run_conditions(lab, monitors=["baro-1"])
    assert document.run.status == "error"
    assert "environment monitors baro-1" in document.run.reason
    assert "101325 hPa is not a plausible air pressure" in document.run.reason
    assert document.points == []
