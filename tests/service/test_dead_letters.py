"""Nothing from outside can jam the outbox (issue 11, item 4), against real VictoriaMetrics
and InfluxDB 1.6: a 1 MB string in an event is capped and flows; a record a server refuses
for good (HTTP 400) is found by bisection and set aside as a dead letter while the rest of
its batch and everything after arrive; server errors and 404 stay "sink down"."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.core.clock import Clock
from daq.core.reading import Reading, Status
from daq.forwarder import Forwarder
from daq.journal import Journal, Severity
from daq.sinks.base import Batch, SinkRefused
from daq.sinks.influx import InfluxSink
from daq.sinks.mqtt import MqttLink
from daq.sinks.settings import InfluxSettings, MqttSettings
from tests.conftest import lab_text
from tests.e2e.processes import run
from tests.services import Service, influx_query, victoria_metrics_service, vm_series

BENCHES = {"balance-1": "mass-bench"}


def readings(count: int, start: float) -> list[Reading]:
    return [
        Reading("balance-1", "mass", 100.0 + i * 1e-4, "g", start + i * 0.01, Status.OK)
        for i in range(count)
    ]


async def forward_all(journal: Journal, forwarder: Forwarder, timeout: float = 20) -> None:
    """Run the forwarder until the sink has taken every row (or the deadline passes)."""
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await journal.flush()
        if not sum((await journal.backlog(forwarder.sink.name)).values()):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    await journal.flush()  # the forwarder's last events, committed before anyone reads them
    backlog = await journal.backlog(forwarder.sink.name)
    assert not sum(backlog.values()), f"{forwarder.sink.name} is stuck: {backlog}"


def vm_samples(service: Service, match: str, expected: int) -> list[float]:
    return [v for s in vm_series(service, match, expected) for v in s["values"]]


async def test_a_1_mb_event_does_not_jam_the_outbox(
    tmp_path: Path, victoria_metrics: Service
) -> None:
    """The finding: a 1 MB command id copied into ``command_rejected`` made VictoriaMetrics
    refuse the line (HTTP 400) forever. Also a row stored in full by an earlier version."""
    now = time.time() - 60
    huge = "x" * 1_000_000
    async with Journal(tmp_path / "j.sqlite", clock=Clock(), batch_interval=0.05) as journal:
        journal.record_many(readings(500, now))
        journal.event("command_rejected", f"command {huge}: unauthorised", Severity.WARNING)
        await journal.flush()

        def stored_by_an_earlier_version(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO events (timestamp, kind, severity, message) "
                "VALUES (?, 'command_rejected', 'warning', ?)",
                (now, huge),
            )

        await journal.read_with(stored_by_an_earlier_version)
        journal.record_many(readings(500, now + 10))
        sink = InfluxSink(InfluxSettings(url=victoria_metrics.url), "demo-lab", BENCHES)
        forwarder = Forwarder(journal, sink, batch_size=300)
        await forward_all(journal, forwarder)
        await sink.close()
        (capped, _) = [e.message for e in await journal.events("command_rejected")]
        kinds = [e.kind for e in await journal.events()]
    assert "sink_down" not in kinds and "dead_letter" not in kinds
    assert len(capped) == 1000 and capped.startswith("command xxx")
    assert capped.endswith("… (1000022 characters)")
    assert len(vm_samples(victoria_metrics, '{__name__="event_id"}', 2)) == 2
    assert len(vm_samples(victoria_metrics, '{__name__="reading_value"}', 1000)) == 1000


def dead_letters(journal: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(journal) as db:
        return db.execute(
            "SELECT sink, stream, row, error FROM dead_letters ORDER BY row"
        ).fetchall()


async def test_a_record_refused_on_the_way_to_victoria_metrics_is_set_aside(
    tmp_path: Path, victoria_metrics: Service
) -> None:
    """VictoriaMetrics refuses no line within the caps: it skips a malformed one itself
    (HTTP 204, a log entry), and its ``-influx.maxLineSize`` only stops a line longer than a
    64 KiB read. The record refused here is one no line can be made of: a point row that is
    not JSON, in a batch with a good one, between events and readings."""
    now = time.time() - 60
    async with Journal(tmp_path / "daq.sqlite", clock=Clock(), batch_interval=0.05) as journal:
        journal.record_many(readings(1000, now))
        journal.event("note_before", "short")
        journal.event("note_long", "y" * 5000)  # capped at 1,000
        journal.record_many(readings(1000, now + 30))
        await journal.flush()

        def points(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO runs (id, plan, procedure, started, status, setup) "
                "VALUES ('r-1', 'p', 'comparison', ?, 'running', '{}')",
                (now,),
            )
            db.executemany(
                "INSERT INTO points (run, seq, key, timestamp, data) VALUES ('r-1', ?, ?, ?, ?)",
                [
                    (1, "a", now, '{"kind": "c", "nominal": 1.5}'),
                    (2, "b", now + 1, "not JSON"),
                    (3, "c", now + 2, '{"kind": "c", "nominal": 2.5}'),
                ],
            )

        await journal.read_with(points)
        journal.event("note_after", "short")
        sink = InfluxSink(InfluxSettings(url=victoria_metrics.url), "demo-lab", BENCHES)
        forwarder = Forwarder(journal, sink, batch_size=500)
        await forward_all(journal, forwarder)
        await sink.close()
        kinds = [e.kind for e in await journal.events()]
        (state,) = await journal.sink_states()
        positions = [await journal.cursor("influxdb", s) for s in ("points", "events")]
    assert "sink_down" not in kinds and state[1] == "ok"  # no backoff: no slowing down
    assert kinds.count("dead_letter") == 1 and positions == [3, 4]
    ((sink_name, stream, row, error),) = dead_letters(tmp_path / "daq.sqlite")
    assert (sink_name, stream, row) == ("influxdb", "points", 2) and "JSONDecodeError" in error
    assert forwarder.delivered == 2000 + 2 + 2 + 2  # readings, points, notes, dead_letter
    sent = {
        s["metric"]["kind"]: s["values"]
        for s in vm_series(victoria_metrics, '{__name__="event_id"}', 4)
    }
    assert sent == {"note_before": [1], "note_long": [2], "note_after": [3], "dead_letter": [4]}
    nominal = vm_samples(victoria_metrics, '{__name__="calibration_point_nominal"}', 2)
    assert sorted(nominal) == [1.5, 2.5]
    assert len(vm_samples(victoria_metrics, '{__name__="reading_value"}', 2000)) == 2000
    lab = yaml.safe_load(lab_text(tmp_path))
    lab["influxdb"] = {"url": victoria_metrics.url}
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(lab))
    status = run("status", "--lab", str(tmp_path / "lab.yaml"), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert re.search(
        r"dead letters of influxdb: 1, the last at .* UTC: points row not writable", status.stdout
    ), status.stdout


async def test_a_record_influxdb_1_6_refuses_is_set_aside(
    tmp_path: Path, influxdb_v1: Service
) -> None:
    """InfluxDB 1.x stores times up to 2262 only: a reading stamped later (a bench PC whose
    clock is wrong) is refused (HTTP 400, "partial write") with the batch it is in."""
    now = time.time() - 60
    settings = InfluxSettings(url=influxdb_v1.url, api="v1", database="lab")
    async with Journal(tmp_path / "daq.sqlite", clock=Clock(), batch_interval=0.05) as journal:
        taken = readings(1500, now)
        taken[700] = Reading("balance-1", "mass", 1.0, "g", 1e10, Status.OK)  # in 2286
        journal.record_many(taken)
        sink = InfluxSink(settings, "demo-lab", BENCHES)
        forwarder = Forwarder(journal, sink)  # one batch of 5,000: all 1,500 in it
        await forward_all(journal, forwarder)
        await sink.close()
        kinds = [e.kind for e in await journal.events()]
    assert "sink_down" not in kinds and kinds.count("dead_letter") == 1
    ((sink_name, stream, row, error),) = dead_letters(tmp_path / "daq.sqlite")
    assert (sink_name, stream, row) == ("influxdb", "readings", 701)
    assert "HTTP 400" in error and "time outside range" in error
    assert forwarder.delivered == 1499 + 1  # the other readings, and the dead_letter event
    (series,) = influx_query(influxdb_v1, "lab", 'SELECT count("value") FROM "reading"')
    assert series["values"][0][1] == 1499
    (events,) = influx_query(influxdb_v1, "lab", 'SELECT "message" FROM "event"')
    assert "readings row 701" in events["values"][0][1]


class CountedSink(InfluxSink):
    """The real sink, counting its attempts."""

    attempts = 0

    async def write(self, batch: Batch) -> None:
        self.attempts += 1
        await super().write(batch)


def refuses_writes(service: Service) -> bool:
    """Once VictoriaMetrics, seeing too little free disk, has gone read-only (HTTP 503)."""
    request = urllib.request.Request(f"{service.url}/api/v2/write", b"probe v=1", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except urllib.error.HTTPError as exc:
        return exc.code == 503
    return False


async def test_server_errors_and_404_are_sink_down_not_dead_letters(
    tmp_path: Path, influxdb_v1: Service
) -> None:
    """A 5xx (VictoriaMetrics read-only for want of disk) and a 404 (the v2 API asked of
    InfluxDB 1.6, which has none) say nothing of the records: the batch waits, retried."""
    folder = tmp_path / "vm-full"
    folder.mkdir()
    full = victoria_metrics_service(folder, "-storage.minFreeDiskSpaceBytes=1000000GB").start()
    try:
        deadline = time.monotonic() + 15
        while not refuses_writes(full) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        cases = [(full.url, "HTTP 503"), (influxdb_v1.url, "HTTP 404")]
        for n, (url, said) in enumerate(cases):
            path = tmp_path / f"j{n}.sqlite"
            async with Journal(path, clock=Clock(), batch_interval=0.05) as journal:
                journal.record_many(readings(100, time.time() - 60))
                await journal.flush()
                sink = CountedSink(InfluxSettings(url=url, api="v2"), "demo-lab", BENCHES)
                forwarder = Forwarder(journal, sink)
                stop = asyncio.Event()
                task = asyncio.create_task(forwarder.run(stop))
                deadline = time.monotonic() + 15
                while sink.attempts < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                stop.set()
                await task
                await sink.close()
                (state,) = await journal.sink_states()
                kinds = [e.kind for e in await journal.events()]
                assert sink.attempts >= 3, f"{url}: retried"
                assert state[1] == "down" and said in state[2], state
                assert "sink_down" in kinds and "dead_letter" not in kinds
                assert await journal.cursor("influxdb", "readings") == 0
                assert await journal.dead_letter_summary() == {}
    finally:
        full.stop()


async def test_mqtt_refusing_a_message_as_such_is_a_refusal(mosquitto: Service) -> None:
    """The MQTT client refuses a topic with a wildcard (or a payload over 256 MB) as such: a
    record to set aside, not an outage (nor an exception that ends the forwarder). Topics
    the link makes never hold one."""
    link = MqttLink(MqttSettings(host="127.0.0.1", port=mosquitto.port), "lab", Clock())
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    try:
        deadline = time.monotonic() + 10
        while not link.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        with pytest.raises(SinkRefused, match="wildcards"):
            await link.publish("daq/lab/events/#", {"id": 1})
        await link.publish(link.topic("events", "a/+#"), {"id": 2})
    finally:
        stop.set()
        await task
