"""Every kind of link on asyncio's loop and on uvloop (``benchdaq[fast]``): serial over a
pty, raw TCP, VISA sockets (on the loop) and VISA serial (pyvisa on its threads), Modbus
TCP and RTU, each simulated instrument read through its driver, then polled by the monitor."""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop
import yaml

from daq.config import LabConfig, parse_lab
from daq.core.clock import Clock
from daq.core.loop import loop_factory
from daq.core.prompts import NoPrompter
from daq.core.reading import Reading, Status
from daq.monitor import Health, Monitor
from daq.session import lab_session
from drivers.transports.settings import describe
from tests.conftest import lab_text

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def run_on(loop: str, work: Coroutine[Any, Any, Any]) -> Any:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(work)


def every_link_lab(tmp_path: Path) -> LabConfig:
    """The demo lab with a second readout on a VISA serial resource (pyvisa's threads)."""
    raw = yaml.safe_load(lab_text(tmp_path, poll_interval=0.05))
    bench = next(b for b in raw["benches"] if b["id"] == "temperature-bench")
    readout = copy.deepcopy(next(i for i in bench["instruments"] if i["id"] == "readout-1"))
    readout["id"] = "readout-2"
    readout["connection"]["resource"] = f"ASRL{tmp_path}/sim/readout-2::INSTR"
    bench["instruments"].append(readout)
    return parse_lab(yaml.safe_dump(raw), "every-link.yaml")


async def read_and_poll(lab: LabConfig) -> tuple[str, dict[str, list[Reading]], Monitor]:
    loop = type(asyncio.get_running_loop()).__module__
    async with lab_session(lab, Clock(), simulate=True, prompter=NoPrompter()) as session:
        read: dict[str, list[Reading]] = {}
        for config, driver in session.drivers():
            if driver.link != "operator":
                try:
                    read[config.id] = await driver.read()
                finally:
                    await driver.close()
        monitor = Monitor(session.drivers(), session.journal, session.clock, phase_slots=4)
        stop = asyncio.Event()
        polling = asyncio.create_task(monitor.run(stop))
        while not all(s.readings >= 3 * len(read[s.id]) for s in monitor.states.values()):
            await asyncio.sleep(0.05)
        stop.set()
        await polling
    return loop, read, monitor


@pytest.mark.parametrize("loop", LOOPS)
def test_every_link_reads_and_polls(loop: str, tmp_path: Path) -> None:
    lab = every_link_lab(tmp_path)
    running, read, monitor = run_on(loop, read_and_poll(lab))
    assert running.startswith(loop)
    links = {describe(i.connection).split()[0] for _, i in lab.instruments() if i.id in read}
    assert {"serial", "tcp", "visa", "modbus-tcp", "modbus-rtu"} <= links
    assert {"readout-1", "readout-2"} <= set(read)
    for instrument, readings in read.items():
        assert readings, instrument
        for reading in readings:
            assert reading.status in (Status.OK, Status.UNSTABLE), reading  # a well settling
            assert math.isfinite(reading.value), reading
    states = monitor.states.values()
    assert all(state.health is Health.OK and not state.failures for state in states)


def test_commands_run_on_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loop_factory() is uvloop.new_event_loop
    monkeypatch.setenv("DAQ_EVENT_LOOP", "asyncio")
    assert loop_factory() is asyncio.new_event_loop
