"""The fleet on a real nats-server (the shipped deploy/fleet configuration and permissions):
the JetStream sink, the central archive into VictoriaMetrics, and the fleet's status."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest

from daq.archive import Archive, ArchiveSettings, line_of
from daq.core.clock import Clock
from daq.fleet import FleetReporter, agent_status, fleet_status
from daq.forwarder import Forwarder
from daq.journal import Journal, Severity
from daq.sinks.base import SinkError
from daq.sinks.nats import NatsSink
from daq.sinks.settings import NatsSettings
from tests.e2e.processes import run
from tests.service.test_influx_sink import BENCHES, drain, readings
from tests.services import NatsCluster, Service, vm_series


def agent_settings(cluster: NatsCluster, lab: str = "lab-a", agent: str = "bench-pc-1",
                   **kw: Any) -> NatsSettings:  # fmt: skip
    import os

    os.environ[f"TEST_NATS_{lab}_{agent}".replace("-", "_")] = cluster.passwords[f"{lab}.{agent}"]
    return NatsSettings(servers=cluster.servers, agent_id=agent, user=f"{lab}.{agent}",
                        password_env=f"TEST_NATS_{lab}_{agent}".replace("-", "_"),
                        **{"timeout": 5, **kw})  # fmt: skip


def archive_settings(cluster: NatsCluster, store: Service, **kw: Any) -> ArchiveSettings:
    import os

    os.environ["TEST_NATS_ARCHIVE"] = cluster.passwords["archive"]
    nats_settings = {"servers": cluster.servers, "agent_id": "archive-1", "user": "archive",
                     "password_env": "TEST_NATS_ARCHIVE", "timeout": 5}  # fmt: skip
    return ArchiveSettings.model_validate(
        {"nats": nats_settings, "store": {"url": store.url}, "ack_wait": 2, **kw}
    )


def spawn(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A `daq` process of its own (the agent, as systemd runs it)."""
    from tests.e2e.processes import DAQ

    return subprocess.Popen([*DAQ, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


async def stream_made(folder: Path, cluster: NatsCluster) -> None:
    """The fleet's stream and status bucket, made as the archive makes them (by running
    one until they exist)."""
    stop = asyncio.Event()
    running = await started(Archive(archive_settings(cluster, nowhere(folder))), stop, cluster)
    stop.set()
    await running


def nowhere(folder: Path) -> Service:
    """A store no archive reaches (for tests that only need the stream made)."""
    return Service("none", [], 1, lambda s: True, folder)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not reached in time")


async def stream_info(cluster: NatsCluster) -> Any:
    client = await nats.connect(cluster.servers, user="archive",
                                password=cluster.passwords["archive"])  # fmt: skip
    try:
        return await client.jetstream().stream_info("DAQ")
    finally:
        await client.close()


async def started(
    archive: Archive, stop: asyncio.Event, cluster: NatsCluster
) -> asyncio.Task[None]:
    """The archive running, once it has made the stream and the status bucket."""
    task = asyncio.create_task(archive.run(stop))

    async def made() -> bool:
        try:
            await stream_info(cluster)
            return True
        except Exception:
            return False

    await until(made)
    return task


async def test_rows_reach_the_archive_once_even_when_sent_twice(
    tmp_path: Path, nats_server: NatsCluster, victoria_metrics: Service
) -> None:
    now = time.time() - 60
    settings = archive_settings(nats_server, victoria_metrics)
    client = await nats.connect(nats_server.servers, user="archive",
                                password=nats_server.passwords["archive"])  # fmt: skip
    js = client.jetstream()
    await ensure_stream(js, settings)  # as the archive makes it, before it consumes
    async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
        journal.record_many(readings(1500, now))
        journal.event("instrument_failed", "cable pulled", Severity.ERROR, "balance-1")
        sink = NatsSink(agent_settings(nats_server), "lab-a", BENCHES)
        await drain(journal, Forwarder(journal, sink, batch_size=400))
        stored = (await stream_info(nats_server)).state.last_seq
        assert stored == 1501
        # a crash between the acknowledgement and the cursor: everything is sent again, and
        # the stream drops it as duplicates of the same journal rows
        await journal.advance(sink.name, "readings", 0)
        await drain(journal, Forwarder(journal, sink, batch_size=700))
        assert (await stream_info(nats_server)).state.messages == stored
        journal_id = await journal.journal_id()
        await sink.close()
    # the message id is the journal's own UUID with the stream and row
    first = await js.get_msg("DAQ", 1)
    assert first.headers is not None
    assert first.headers["Nats-Msg-Id"] == f"{journal_id}.readings.1"
    assert first.subject == "daq.lab-a.bench-pc-1.readings.mass-bench.balance-1.mass"
    await client.close()
    stop = asyncio.Event()
    archive = Archive(settings)
    running = asyncio.create_task(archive.run(stop))
    await until(lambda: asyncio.sleep(0, archive.written >= 1501))
    stop.set()
    await running
    assert archive.refused == 0
    # a work queue: what the archive wrote is gone from the stream
    assert (await stream_info(nats_server)).state.messages == 0
    series = vm_series(victoria_metrics, '{__name__="reading_value"}', 1500)
    assert len(series) == 1 and len(series[0]["values"]) == 1500
    assert series[0]["metric"] == {"__name__": "reading_value", "lab": "lab-a",
                                   "bench": "mass-bench", "instrument": "balance-1",
                                   "quantity": "mass", "unit": "g"}  # fmt: skip
    assert series[0]["values"][:2] == [100.0, 100.0001]
    events = vm_series(victoria_metrics, '{__name__="event_id"}')
    assert events[0]["metric"]["kind"] == "instrument_failed"


async def test_an_agent_cannot_publish_under_another_lab(
    tmp_path: Path, nats_server: NatsCluster
) -> None:
    """lab-b's agent, configured (by mistake or malice) with lab-a's id: the server refuses
    its messages, the sink reports the outage, and the rows wait in the journal."""
    stop = asyncio.Event()
    archive = Archive(
        archive_settings(nats_server, Service("none", [], 1, lambda s: True, tmp_path))
    )
    running = await started(archive, stop, nats_server)
    stop.set()
    await running
    async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
        journal.record_many(readings(10, time.time()))
        await journal.flush()
        posing = NatsSink(agent_settings(nats_server, "lab-b", "bench-pc-1", timeout=2), "lab-a",
                          BENCHES)  # fmt: skip
        batch = await posing.fetch(journal, "readings", 0, 10)
        assert batch is not None
        with pytest.raises(SinkError, match="NATS"):
            await posing.write(batch)
        await posing.close()
        assert (await stream_info(nats_server)).state.last_seq == 0
        own = NatsSink(agent_settings(nats_server, "lab-b", "bench-pc-1"), "lab-b", BENCHES)
        await own.write(batch)  # under its own lab it may
        await own.close()
        assert (await stream_info(nats_server)).state.last_seq == 10


def test_a_message_that_is_not_a_row_of_ours_is_refused_not_written() -> None:
    good = {"lab": "lab-a", "agent": "pc-1", "id": 7, "bench": "b", "instrument": "i",
            "quantity": "mass", "value": 1.5, "unit": "g", "timestamp": 1.0,
            "status": "ok"}  # fmt: skip
    subject = "daq.lab-a.pc-1.readings.b.i.mass"
    newer = {**good, "added_by_a_later_agent": 1}  # ignored: agents may be upgraded first
    assert line_of(subject, json.dumps(newer).encode(), "daq") == (
        'reading,bench=b,instrument=i,lab=lab-a,quantity=mass,unit=g value=1.5,status="ok" '
        "1000000000"
    )
    from daq.archive import NotOurs

    for data, where, why in (
        (b"not json", subject, "readings message"),
        (json.dumps({**good, "lab": "lab-b"}).encode(), subject, "says it is from lab-b/pc-1"),
        (
            json.dumps({k: v for k, v in good.items() if k != "unit"}).encode(),
            subject,
            "Field required",
        ),
        (json.dumps(good).encode(), "daq.lab-a.pc-1.nothing.x", "is not daq"),
        (json.dumps({**good, "value": "1.5x"}).encode(), subject, "readings message"),
        # a status that would end the line and start another, in another lab's name
        (
            json.dumps({**good, "status": 'ok" 1\nreading,lab=lab-b value=9 2'}).encode(),
            subject,
            "readings message",
        ),
        (
            b'{"lab": "lab-a", "agent": "pc-1", "id": 7, "bench": "b", "instrument": "i", '
            b'"quantity": "mass", "value": 1.5, "unit": "g", "timestamp": Infinity, '
            b'"status": "ok"}',
            subject,
            "readings message",
        ),
        (json.dumps({**good, "timestamp": 1e12}).encode(), subject, "readings message"),
        (
            json.dumps({**good, "lab": "lab.a"}).encode(),
            "daq.lab_a.pc-1.readings.b.i.mass",
            "says it is from lab.a",
        ),
        (
            json.dumps(
                {
                    "lab": "lab-a",
                    "agent": "pc-1",
                    "id": 1,
                    "run": "r",
                    "plan": "p",
                    "key": "k",
                    "timestamp": 1.0,
                    "point": {"nominal": 10**400, "uut": 5},
                }
            ).encode(),
            "daq.lab-a.pc-1.points.r",
            "no line",
        ),
    ):
        with pytest.raises(NotOurs, match=why):
            line_of(where, data, "daq")


async def test_the_fleet_status_lists_each_agent_with_what_it_reported(
    tmp_path: Path, nats_server: NatsCluster
) -> None:
    from daq.standards import load_standards
    from tests.conftest import CONFIG

    stop = asyncio.Event()
    archive = Archive(
        archive_settings(nats_server, Service("none", [], 1, lambda s: True, tmp_path))
    )
    running = await started(archive, stop, nats_server)
    stop.set()
    await running
    clock = Clock()
    register = load_standards(CONFIG / "standards.yaml")
    async with Journal(tmp_path / "j.sqlite", clock=clock) as journal:
        await journal.set_sink_state("nats", "down", "cluster away")  # type: ignore[arg-type]
        journal.record_many(readings(5, time.time()))
        await journal.flush()
        settings = agent_settings(nats_server, status_interval=0.2)

        async def status() -> dict[str, Any]:
            return await agent_status(settings=settings, lab="lab-a", benches=dict(BENCHES),
                                      journal=journal, clock=clock, register=register,
                                      alarms=["bath-temperature"], due_days=100_000)  # fmt: skip

        reporter = FleetReporter(settings, "lab-a", status)
        halt = asyncio.Event()
        task = asyncio.create_task(reporter.run(halt))
        await until(lambda: asyncio.sleep(0, reporter.reported >= 2))
        halt.set()
        await task
    import os

    os.environ["TEST_NATS_OBSERVER"] = nats_server.passwords["observer"]
    observer = NatsSettings(servers=nats_server.servers, user="observer",
                            password_env="TEST_NATS_OBSERVER")  # fmt: skip
    [agent] = await fleet_status(observer)
    assert (agent["lab"], agent["agent"], agent["stopped"]) == ("lab-a", "bench-pc-1", True)
    assert agent["benches"] == {"mass-bench": ["balance-1"], "pressure-bench": ["transmitter-1"]}
    assert agent["sinks"]["nats"] == {"state": "down", "detail": "cluster away", "backlog": 5}
    assert agent["alarms"] == ["bath-temperature"]
    assert {d["id"] for d in agent["standards_due"]} == {s.id for s in register.standards}
    assert abs(agent["timestamp"] - time.time()) < 60


async def test_a_running_agent_streams_to_the_fleet_and_reports_its_status(
    tmp_path: Path, nats_server: NatsCluster, victoria_metrics: Service
) -> None:
    """`daq agent --simulate` with a nats sink: its readings reach the archive's store, and
    `daq fleet status` shows it with its benches, then stopped."""
    import os
    import signal

    import yaml

    from tests.conftest import lab_text

    stop = asyncio.Event()
    archive = Archive(archive_settings(nats_server, victoria_metrics))
    running = await started(archive, stop, nats_server)
    raw = yaml.safe_load(lab_text(tmp_path, poll_interval=0.2))
    raw["sinks"] = [{"type": "nats", "settings": {
        "servers": nats_server.servers, "agent_id": "bench-pc-9", "user": "demo-lab.bench-pc-9",
        "password_env": "TEST_AGENT_NATS", "status_interval": 0.5}}]  # fmt: skip
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump(raw, allow_unicode=True))
    env = {**os.environ, "TEST_AGENT_NATS": nats_server.passwords["demo-lab.bench-pc-9"]}
    agent = spawn(["agent", "--lab", str(lab), "--simulate"], tmp_path, env)
    os.environ["TEST_NATS_OBSERVER"] = nats_server.passwords["observer"]
    observer = NatsSettings(servers=nats_server.servers, user="observer",
                            password_env="TEST_NATS_OBSERVER")  # fmt: skip
    try:

        async def reporting() -> bool:
            found = await fleet_status(observer)
            sink = found[0]["sinks"].get("nats", {}) if found else {}
            return sink.get("state") == "ok" and archive.written >= 20

        await until(reporting, timeout=60)
        [status] = await fleet_status(observer)
        assert (status["lab"], status["agent"]) == ("demo-lab", "bench-pc-9")
        assert set(status["benches"]) == {b["id"] for b in raw["benches"]}
        assert status["sinks"]["nats"]["state"] == "ok"
    finally:
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, out + err
    observer_file = tmp_path / "observer.yaml"  # `daq fleet status` as a person runs it
    observer_file.write_text(yaml.safe_dump({
        "nats": {"servers": nats_server.servers, "user": "observer",
                 "password_env": "TEST_NATS_OBSERVER"},
        "store": {"url": victoria_metrics.url}}))  # fmt: skip
    shown = run("fleet", "status", "--archive", str(observer_file), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    [listed] = json.loads(shown.stdout)
    assert listed["agent"] == "bench-pc-9" and listed["stopped"] is True
    stop.set()
    await running
    series = vm_series(victoria_metrics, '{__name__="reading_value",lab="demo-lab"}')
    assert series and all(s["metric"]["lab"] == "demo-lab" for s in series)


async def test_an_agent_authenticates_with_an_nkey_seed_file(tmp_path: Path) -> None:
    """An NKey user (the seed in a file only the service user reads) has the same rights as
    a password user: its own subjects, not another lab's."""
    import os

    import nkeys

    from tests.services import nats_cluster_service

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    seed_file = tmp_path / "agent.nk"
    seed_file.write_bytes(seed)
    seed_file.chmod(0o600)
    cluster = nats_cluster_service(tmp_path, 1, [], [("lab-c", "bench-pc-3", public)])
    try:
        await stream_made(tmp_path, cluster)
        async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
            journal.record_many(readings(5, time.time()))
            await journal.flush()
            settings = {"servers": cluster.servers, "agent_id": "bench-pc-3", "timeout": 2,
                        "nkey_seed_file": str(seed_file)}  # fmt: skip
            own = NatsSink(NatsSettings.model_validate(settings), "lab-c", BENCHES)
            batch = await own.fetch(journal, "readings", 0, 5)
            assert batch is not None
            await own.write(batch)
            await own.close()
            other = NatsSink(NatsSettings.model_validate(settings), "lab-a", BENCHES)
            with pytest.raises(SinkError):
                await other.write(batch)
            await other.close()
        assert (await stream_info(cluster)).state.last_seq == 5
    finally:
        for node in cluster.nodes:
            node.stop()


async def test_an_agent_reaches_the_cluster_over_tls_with_its_certificate(
    tmp_path: Path, certificates: Path
) -> None:
    """The server checked against the lab's CA and the agent's own certificate presented;
    without one the server refuses the connection, and the sink says the cluster is down."""
    from tests.services import nats_cluster_service

    cluster = nats_cluster_service(
        tmp_path, 1, [("lab-b", "bench-pc-1")], certificates=certificates
    )
    try:
        import os
        import ssl

        context = ssl.create_default_context(cafile=certificates / "ca.pem")
        context.load_cert_chain(certificates / "observer" / "observer.pem",
                                certificates / "observer" / "observer.key")  # fmt: skip
        admin = await nats.connect(cluster.servers, user="archive",
                                   password=cluster.passwords["archive"], tls=context)  # fmt: skip
        await ensure_stream(
            admin.jetstream(timeout=5), archive_settings(cluster, nowhere(tmp_path))
        )
        await admin.close()
        os.environ["TEST_NATS_TLS"] = cluster.passwords["lab-b.bench-pc-1"]
        common = {"servers": [u.replace("nats://", "tls://") for u in cluster.servers],
                  "agent_id": "bench-pc-1", "user": "lab-b.bench-pc-1",
                  "password_env": "TEST_NATS_TLS", "timeout": 3, "tls": True,
                  "ca_file": str(certificates / "ca.pem")}  # fmt: skip
        client = certificates / "other-lab"
        with_certificate = {**common, "cert_file": str(client / "other-lab.pem"),
                            "key_file": str(client / "other-lab.key")}  # fmt: skip
        async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
            journal.record_many(readings(3, time.time()))
            await journal.flush()
            sink = NatsSink(NatsSettings.model_validate(with_certificate), "lab-b", BENCHES)
            batch = await sink.fetch(journal, "readings", 0, 3)
            assert batch is not None
            await sink.write(batch)
            await sink.close()
            without = NatsSink(NatsSettings.model_validate(common), "lab-b", BENCHES)
            with pytest.raises(SinkError, match="NATS"):
                await without.write(batch)
            await without.close()
    finally:
        for node in cluster.nodes:
            node.stop()


async def ensure_stream(js: Any, settings: ArchiveSettings) -> None:
    from daq.archive import ensure_stream as made

    for _ in range(100):  # JetStream takes a moment to be ready
        try:
            await made(js, settings)
            return
        except Exception:
            await asyncio.sleep(0.1)
    await made(js, settings)


async def test_a_poison_message_stops_no_archive(
    tmp_path: Path, nats_server: NatsCluster, victoria_metrics: Service
) -> None:
    """Messages an agent could not have sent (an injected line, a time no store takes) are
    terminated and counted; the rows around them are archived."""
    stop = asyncio.Event()
    archive = Archive(archive_settings(nats_server, victoria_metrics))
    running = await started(archive, stop, nats_server)
    client = await nats.connect(nats_server.servers, user="archive",
                                password=nats_server.passwords["archive"])  # fmt: skip
    js = client.jetstream()
    good = {"lab": "lab-a", "agent": "bench-pc-1", "bench": "b", "instrument": "i",
            "quantity": "mass", "unit": "g", "status": "ok"}  # fmt: skip
    subject = "daq.lab-a.bench-pc-1.readings.b.i.mass"
    now = time.time() - 60
    for i in range(10):
        await js.publish(subject, json.dumps({**good, "id": i, "value": 1.0 + i,
                                              "timestamp": now + i}).encode())  # fmt: skip
        if i == 4:
            await js.publish(subject, json.dumps({**good, "id": 99, "value": 1.0,
                                                  "timestamp": 1e12}).encode())  # fmt: skip
            await js.publish(subject, b'{"lab": "lab-a", "status": "ok\\"\\nx y=1 1"}')
    await client.close()
    await until(lambda: asyncio.sleep(0, archive.written + archive.refused >= 12))
    stop.set()
    await running
    assert (archive.written, archive.refused) == (10, 2)
    series = vm_series(victoria_metrics, '{__name__="reading_value"}', 10)
    assert sorted(v for s in series for v in s["values"]) == [1.0 + i for i in range(10)]


async def test_the_fleet_view_trusts_no_entry_further_than_it_checks(
    tmp_path: Path, nats_server: NatsCluster
) -> None:
    """Entries of the status bucket that are not statuses, or pose as another agent, are
    listed as unreadable; the table prints names as text, never as markup."""
    import os

    await stream_made(tmp_path, nats_server)
    client = await nats.connect(nats_server.servers, user="archive",
                                password=nats_server.passwords["archive"])  # fmt: skip
    bucket = await client.jetstream().key_value("daq_fleet")
    now = time.time()
    markup = {"agent": "bench-pc-1", "lab": "lab-a", "timestamp": now, "alarms": ["[/oops]"]}
    await bucket.put("lab-a.bench-pc-1", json.dumps(markup).encode())
    await bucket.put("lab-a.bench-pc-2", json.dumps(
        {"agent": "bench-pc-1", "lab": "lab-a", "timestamp": now}).encode())  # fmt: skip
    await bucket.put("lab-a.bench-pc-3", b"[1, 2]")
    await bucket.put("lab-a.bench-pc-4", json.dumps(
        {"agent": "bench-pc-4", "lab": "lab-a", "timestamp": "soon"}).encode())  # fmt: skip
    await client.close()
    os.environ["TEST_NATS_OBSERVER"] = nats_server.passwords["observer"]
    observer = NatsSettings(servers=nats_server.servers, user="observer",
                            password_env="TEST_NATS_OBSERVER")  # fmt: skip
    first, posing, junk, wrong = await fleet_status(observer)
    assert first["alarms"] == ["[/oops]"] and first["stopped"] is False
    assert posing == {"key": "lab-a.bench-pc-2", "unreadable": "says it is lab-a.bench-pc-1"}
    assert junk["key"] == "lab-a.bench-pc-3" and "unreadable" in junk
    assert wrong["key"] == "lab-a.bench-pc-4" and "unreadable" in wrong
    archive_file = tmp_path / "observer.yaml"
    archive_file.write_text(json.dumps({
        "nats": {"servers": nats_server.servers, "user": "observer",
                 "password_env": "TEST_NATS_OBSERVER"},
        "store": {"url": "http://127.0.0.1:1"}}))  # fmt: skip
    shown = run("fleet", "status", "--archive", str(archive_file), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "[/oops]" in shown.stdout and "unreadable" in shown.stdout


async def test_no_agent_can_wipe_the_fleets_status(
    tmp_path: Path, nats_server: NatsCluster
) -> None:
    """A rollup header on an agent's own key would purge every key of a default bucket: the
    archive's bucket refuses it, and the other agents' status stays."""
    import os

    await stream_made(tmp_path, nats_server)
    archive = await nats.connect(nats_server.servers, user="archive",
                                 password=nats_server.passwords["archive"])  # fmt: skip
    bucket = await archive.jetstream().key_value("daq_fleet")
    await bucket.put("lab-a.bench-pc-1", b'{"agent": "bench-pc-1"}')
    await archive.close()
    os.environ["TEST_NATS_B"] = nats_server.passwords["lab-b.bench-pc-1"]
    settings = agent_settings(nats_server, "lab-b", "bench-pc-1")
    from daq.sinks.nats import connect

    agent = await connect(settings, "lab-b.bench-pc-1")
    try:
        js = agent.jetstream(timeout=3)
        with pytest.raises(Exception, match=r"(?i)rollup"):
            await js.publish("$KV.daq_fleet.lab-b.bench-pc-1", b"{}",
                             headers={"Nats-Rollup": "all"})  # fmt: skip
        await js.publish("$KV.daq_fleet.lab-b.bench-pc-1", b"{}")  # its own status: yes
    finally:
        await agent.close()
    archive = await nats.connect(nats_server.servers, user="archive",
                                 password=nats_server.passwords["archive"])  # fmt: skip
    bucket = await archive.jetstream().key_value("daq_fleet")
    assert (await bucket.get("lab-a.bench-pc-1")).value == b'{"agent": "bench-pc-1"}'
    await archive.close()
