"""The monitor over all three transports; a killed simulator is recovered from without restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from daq.config import LabConfig
from daq.core.clock import Clock
from daq.core.errors import InstrumentError
from daq.monitor import Health, Monitor
from daq.session import lab_session


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_monitor_survives_a_dead_instrument_and_records_the_outage(
    fast_lab: LabConfig,
) -> None:
    async with lab_session(fast_lab, Clock(), simulate=True) as session:
        assert session.simulation is not None
        monitor = Monitor(session.drivers(), session.journal, session.clock)
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        states = monitor.states
        await until(lambda: all(s.health is Health.OK for s in states.values()))

        await session.simulation.stop_instrument("readout-1")
        await until(lambda: states["readout-1"].health is Health.FAILING)
        others_before = {i: s.readings for i, s in states.items() if i != "readout-1"}
        await until(lambda: all(states[i].readings > n for i, n in others_before.items()))

        await session.simulation.restart_instrument("readout-1")
        await until(lambda: states["readout-1"].health is Health.OK)
        stop.set()
        await task
        await session.journal.flush()
        events = await session.journal.events()
        readings = await session.journal.readings(limit=100000)

    readout_events = [e.kind for e in events if e.instrument == "readout-1"]
    assert readout_events[0] == "instrument_failed"
    assert readout_events[-1] == "instrument_recovered"
    recovered = [e for e in events if e.kind == "instrument_recovered"][-1]
    assert "answering again after" in recovered.message
    kinds = {(r.instrument, r.quantity) for r in readings}
    assert {
        ("balance-1", "mass"),
        ("readout-1", "temperature_ch1"),
        ("readout-1", "temperature_ch2"),
        ("transmitter-1", "pressure"),
        ("transmitter-1", "temperature"),
        ("transmitter-2", "pressure"),
    } <= kinds


async def test_shared_rs485_bus_serves_two_transmitters(fast_lab: LabConfig) -> None:
    bus_lab = fast_lab.model_copy(deep=True)
    second = next(i for i in bus_lab.benches[2].instruments if i.id == "transmitter-2")
    first = second.model_copy(
        update={
            "id": "transmitter-3",
            "connection": second.connection.model_copy(update={"device_id": 3}),
            "simulator": {"pressure": 7.0},
        }
    )
    bus_lab.benches[2].instruments.append(first)
    async with lab_session(bus_lab, Clock(), simulate=True) as session:
        pairs = dict((c.id, d) for c, d in session.drivers())
        readings = await asyncio.gather(
            *(pairs[i].read() for i in ["transmitter-2", "transmitter-3"] * 3)
        )
        for driver in pairs.values():
            await driver.close()
    pressures = [batch[0].value for batch in readings]
    assert all(abs(p - 2.5) < 0.05 for p in pressures[0::2])
    assert all(abs(p - 7.0) < 0.05 for p in pressures[1::2])


async def test_instruments_are_spread_over_the_phase_slots_and_read_once_at_once(
    fast_lab: LabConfig,
) -> None:
    """Each instrument keeps its own slot within the interval (no burst of every poll at
    the same instant), and every one gives its first reading at the start, slot or not."""
    from daq.monitor import phase

    assert [phase(i, 4, 1.0) for i in range(6)] == [0.0, 0.25, 0.5, 0.75, 0.0, 0.25]
    assert phase(7, 1, 2.0) == 0.0  # one slot: all at once, as before
    async with lab_session(fast_lab, Clock(), simulate=True) as session:
        assert fast_lab.agent.phase_slots is None  # the lab leaves it to the monitor
        chosen = Monitor(session.drivers(), session.journal, session.clock, phase_slots=None)
        assert {s.phase for s in chosen.states.values()} == {  # at least 10 slots
            phase(i, 10, 0.1) for i in range(len(chosen.states))
        }
        pairs = [(c, d) for c, d in session.drivers() if d.link != "operator"]  # polled ones
        monitor = Monitor(pairs, session.journal, session.clock, phase_slots=len(pairs))
        intervals = {c.id: session.clock.to_real(c.poll_interval) for c, _ in pairs}
        phases = [monitor.states[c.id].phase / intervals[c.id] for c, _ in pairs]
        assert len(pairs) > 2 and phases == pytest.approx(
            [i / len(pairs) for i in range(len(pairs))]
        )
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        states = monitor.states
        await until(lambda: all(s.readings > 0 for s in states.values()))
        stop.set()
        await task


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_run_has_the_port_to_itself_and_the_monitor_takes_it_back(
    fast_lab: LabConfig, loop: str
) -> None:
    """balance-1 is on a serial line (a pty): were the monitor's link still open while a
    run's own link talks, a reply could be read by the monitor's and be lost to the run (and
    read later as the answer to the monitor's next question). On either event loop."""
    import uvloop

    factory = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}[loop]
    with asyncio.Runner(loop_factory=factory) as runner:
        models, failed = runner.run(_lend_the_balance_to_a_run(fast_lab))
    assert models == ["XS204"] * 100
    assert failed == []


async def _lend_the_balance_to_a_run(lab: LabConfig) -> tuple[list[str], list[str]]:
    async with lab_session(lab, Clock(), simulate=True) as session:
        pairs = session.drivers()
        monitors_own = next(d for c, d in pairs if c.id == "balance-1")
        monitor = Monitor(pairs, session.journal, session.clock)
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        states = monitor.states
        await until(lambda: states["balance-1"].readings >= 3)
        assert monitors_own.transport.is_open
        await monitor.lend({"balance-1"})
        assert not monitors_own.transport.is_open  # the port let go of, not only unpolled
        [(_, runs_own)] = session.drivers(only="balance-1")
        try:
            models = []
            for _ in range(100):
                try:
                    models.append((await runs_own.identify()).model)
                except InstrumentError as exc:
                    models.append(str(exc))
        finally:
            await runs_own.close()
        read_before = states["balance-1"].readings
        monitor.paused.discard("balance-1")  # the run is over: polled again
        await until(lambda: states["balance-1"].readings > read_before + 3)
        stop.set()
        await task
        await session.journal.flush()
        events = await session.journal.events()
    return models, [e.message for e in events if e.instrument == "balance-1"]
