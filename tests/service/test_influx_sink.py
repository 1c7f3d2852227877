"""The InfluxDB sink against real servers: VictoriaMetrics on the v2 write path through
influxdb-client, Debian's InfluxDB 1.6 on the v1 path; data read back through each server's
own query API. Replays do not double points; an outage loses nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from daq.core.clock import Clock
from daq.core.reading import Reading, Status
from daq.forwarder import Forwarder
from daq.journal import Journal, Severity
from daq.sinks.influx import InfluxSink
from daq.sinks.settings import InfluxSettings
from tests.services import Service, influx_query, vm_series

BENCHES = {"balance-1": "mass-bench", "transmitter-1": "pressure-bench"}


def readings(count: int, start: float, instrument: str = "balance-1") -> list[Reading]:
    return [
        Reading(instrument, "mass", 100.0 + i * 1e-4, "g", start + i * 0.01, Status.OK, f"S S {i}")
        for i in range(count)
    ]


async def drain(journal: Journal, forwarder: Forwarder, timeout: float = 30) -> None:
    """Run the forwarder until it has nothing left, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await journal.flush()
        if sum((await journal.backlog(forwarder.sink.name)).values()) == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert sum((await journal.backlog(forwarder.sink.name)).values()) == 0


def samples(service: Service, expected: int) -> list[float]:
    found = vm_series(service, '{__name__="reading_value"}', expected)
    return [v for s in found for v in s["values"]]


async def test_v2_write_to_victoria_metrics_and_replay(
    tmp_path: Path, victoria_metrics: Service
) -> None:
    now = time.time() - 60  # export ends at the present: readings are in the past
    settings = InfluxSettings(url=victoria_metrics.url, bucket="daq")
    async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
        journal.record_many(readings(2000, now))
        journal.record(
            Reading("transmitter-1", "pressure", float("nan"), "bar", now, Status.OVERLOAD)
        )
        journal.event("instrument_failed", 'cable "B" pulled, ok', Severity.ERROR, "balance-1")
        sink = InfluxSink(settings, "demo-lab", BENCHES)
        await drain(journal, Forwarder(journal, sink, batch_size=500))
        series = vm_series(victoria_metrics, '{__name__="reading_value"}', 2000)
        assert len(series) == 1
        labels = series[0]["metric"]
        assert labels == {
            "__name__": "reading_value",
            "lab": "demo-lab",
            "bench": "mass-bench",
            "instrument": "balance-1",
            "quantity": "mass",
            "unit": "g",
        }
        assert len(series[0]["values"]) == 2000
        assert series[0]["values"][:2] == [100.0, 100.0001]
        assert abs(series[0]["timestamps"][0] - now * 1000) < 1  # ms, truncated
        events = vm_series(victoria_metrics, '{__name__="event_id"}')
        assert events[0]["metric"]["kind"] == "instrument_failed"
        # at-least-once: a replay from the start writes the same identities, nothing doubles
        await journal.advance(sink.name, "readings", 0)
        await drain(journal, Forwarder(journal, sink, batch_size=700))
        assert len(samples(victoria_metrics, 2000)) == 2000
        await sink.close()


async def test_v1_write_to_influxdb_1_6(tmp_path: Path, influxdb_v1: Service) -> None:
    now = time.time() - 60  # export ends at the present: readings are in the past
    settings = InfluxSettings(url=influxdb_v1.url, api="v1", database="lab")
    async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
        journal.record_many(readings(1500, now))
        journal.event("run_started", "Pt100 probes", run="thermometers-1")
        sink = InfluxSink(settings, "demo-lab", BENCHES)
        await drain(journal, Forwarder(journal, sink))  # the database is made on first write
        await journal.advance(sink.name, "readings", 700)  # a partial replay
        await drain(journal, Forwarder(journal, sink))
        await sink.close()
    (series,) = influx_query(influxdb_v1, "lab", 'SELECT count("value") FROM "reading"')
    assert series["values"][0][1] == 1500
    (rows,) = influx_query(influxdb_v1, "lab", 'SELECT * FROM "reading" LIMIT 1')
    first = dict(zip(rows["columns"], rows["values"][0], strict=True))
    assert first["time"] == round(now * 1e9)
    assert (first["bench"], first["instrument"], first["status"]) == (
        "mass-bench",
        "balance-1",
        "ok",
    )
    (events,) = influx_query(influxdb_v1, "lab", 'SELECT "message", "run" FROM "event"')
    assert events["values"][0][1:] == ["Pt100 probes", "thermometers-1"]


async def test_outage_loses_nothing_and_is_recorded(
    tmp_path: Path, victoria_metrics: Service
) -> None:
    now = time.time() - 60  # export ends at the present: readings are in the past
    settings = InfluxSettings(url=victoria_metrics.url, timeout=2)
    async with Journal(tmp_path / "j.sqlite", clock=Clock(), batch_interval=0.05) as journal:
        sink = InfluxSink(settings, "demo-lab", BENCHES)
        forwarder = Forwarder(journal, sink, batch_size=300)
        stop = asyncio.Event()
        task = asyncio.create_task(forwarder.run(stop))
        journal.record_many(readings(1000, now))
        while forwarder.delivered < 1000:
            await asyncio.sleep(0.05)
        victoria_metrics.stop()
        journal.record_many(readings(1000, now + 30))
        while forwarder.state != "down":
            await asyncio.sleep(0.05)
        (state,) = [s for s in await journal.sink_states() if s[0] == "influxdb"]
        assert state[1] == "down" and "127.0.0.1" in state[2]
        assert (await journal.backlog("influxdb"))["readings"] == 1000
        victoria_metrics.start()
        deadline = time.monotonic() + 60
        while (await journal.backlog("influxdb"))["readings"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await sink.close()
        await journal.flush()  # the recovery's event may still be queued, not yet committed
        kinds = [e.kind for e in await journal.events()]
    assert "sink_down" in kinds and "sink_recovered" in kinds
    assert len(samples(victoria_metrics, 2000)) == 2000
