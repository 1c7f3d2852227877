"""The simulators' control interface over its socket, and the monitor living through faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from daq.config import LabConfig
from daq.core.clock import Clock
from daq.core.reading import Status
from daq.monitor import Health, Monitor
from daq.session import lab_session
from simulators.control import ControlError, ControlServer, send
from simulators.faults import Fault
from simulators.mettler_toledo import MtSicsSimulator
from tests.integration.test_monitor_recovery import until


async def raw(port: int, line: bytes) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(line)
    await writer.drain()
    reply: dict[str, Any] = json.loads(await reader.readline())
    writer.close()
    return reply


async def test_requests_act_on_the_running_simulators(fast_lab: LabConfig) -> None:
    async with lab_session(fast_lab, Clock(), simulate=True) as session:
        assert session.simulation is not None
        control = await ControlServer(session.simulation).start(port=0)
        try:
            port = control.port
            request = {"command": "inject", "instrument": "transmitter-2", "fault": "garbled"}
            assert await send(request, port=port) == ["garbled"]
            assert session.simulation.simulator("transmitter-2").has(Fault.GARBLED)
            place = {"command": "act", "instrument": "balance-1", "action": "place"}
            await send({**place, "args": [50.0]}, port=port)
            balance = session.simulation.simulator("balance-1")
            assert isinstance(balance, MtSicsSimulator)
            await until(lambda: abs(balance.gross() - 150.0) < 1e-3)
            status = await send({"command": "status"}, port=port)
            assert status["transmitter-2"]["faults"] == ["garbled"]
            assert status["balance-1"]["family"] == "mt_sics"
            clear = {"command": "clear", "instrument": "transmitter-2"}
            assert await send(clear, port=port) == []
        finally:
            await control.stop()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json\n", "bad request"),
        (b'{"command": "inject", "instrument": "balance-1", "fault": "melted"}\n', "fault"),
        (b'{"command": "inject", "instrument": "balance-9", "fault": "drop"}\n', "balance-9"),
        (b'{"command": "reboot"}\n', "bad request"),
        (b'{"command": "status", "sudo": true}\n', "sudo"),
        (b'{"command": "act", "instrument": "balance-1", "action": "__init__"}\n', "no action"),
        (b'{"command": "act", "instrument": "balance-1", "action": "place"}\n', "refused"),
    ],
)
async def test_bad_requests_are_refused_with_the_reason(
    fast_lab: LabConfig, line: bytes, problem: str
) -> None:
    async with lab_session(fast_lab, Clock(), simulate=True) as session:
        assert session.simulation is not None
        control = await ControlServer(session.simulation).start(port=0)
        try:
            reply = await raw(control.port, line)
            assert reply["ok"] is False and problem in reply["error"]
            assert all(not sim.faults for sim in session.simulation.simulators.values())
            with pytest.raises(ControlError, match=problem):
                await send(json.loads(line) if line.startswith(b"{") else {}, port=control.port)
        finally:
            await control.stop()


async def test_the_monitor_records_each_fault_and_recovers(fast_lab: LabConfig) -> None:
    async with lab_session(fast_lab, Clock(), simulate=True) as session:
        simulation = session.simulation
        assert simulation is not None
        monitor = Monitor(session.drivers(), session.journal, session.clock)
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        balance = monitor.states["balance-1"]
        await until(lambda: balance.health is Health.OK)
        for fault in (Fault.NO_REPLY, Fault.GARBLED, Fault.DROP, Fault.ERROR_REPLY):
            simulation.inject("balance-1", fault)
            await until(lambda: balance.health is Health.FAILING)
            simulation.clear("balance-1")
            await until(lambda: balance.health is Health.OK, timeout=20)
        simulation.inject("balance-1", Fault.OVERLOAD)
        await until(lambda: bool(balance.last) and balance.last[0].status is Status.OVERLOAD)
        simulation.clear("balance-1")
        await until(lambda: bool(balance.last) and balance.last[0].status is Status.OK)
        stop.set()
        await task
        await session.journal.flush()
        events = [e.kind for e in await session.journal.events() if e.instrument == "balance-1"]
    assert events.count("instrument_failed") == 4
    assert events.count("instrument_recovered") == 4
    assert "reading_overload" in events
