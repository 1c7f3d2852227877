"""A fleet of 20 agents on a three-node NATS cluster with two archive processes, through
the failures a city's network meets: the stream's leader killed mid-stream, then a second
node while the first is still down (the stream loses its quorum and the agents wait), a lab
cut off from the cluster (its agent's only server stopped), and an archive process killed.
Every reading recorded reaches the archive's store exactly once.

The agents are journals with their forwarders and NATS sinks in this process (the agent's
own parts, without instruments: what is tested is the path from the journal on); the
archives are `daq archive` processes; the servers are real. Each step waits for a state
(messages stored, backlog empty), never for a time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import yaml

from daq.core.clock import Clock
from daq.core.reading import Reading, Status
from daq.forwarder import Forwarder
from daq.journal import Journal, SinkState
from daq.sinks.nats import NatsSink
from daq.sinks.settings import NatsSettings
from tests.service.test_fleet import until
from tests.services import FLEET_OF_20, NatsCluster, Service, vm_series

PER_STEP = 40
"""Readings each agent records at each step."""


class Bench:
    """One agent: its journal, NATS sink and forwarder, running."""

    def __init__(self, folder: Path, lab: str, agent: str, servers: list[str], password: str):
        os.environ[f"TEST_FLEET_{agent}".replace("-", "_")] = password
        self.lab, self.agent = lab, agent
        self.instrument = f"balance-{agent}"
        self.settings = NatsSettings(servers=servers, agent_id=agent, user=f"{lab}.{agent}",
                                     password_env=f"TEST_FLEET_{agent}".replace("-", "_"),
                                     timeout=3, streams=["readings"])  # fmt: skip
        self.journal = Journal(folder / f"{agent}.sqlite", clock=Clock())
        self.recorded = 0
        self.stop = asyncio.Event()

    async def start(self) -> None:
        await self.journal.open()
        sink = NatsSink(self.settings, self.lab, {self.instrument: f"bench-{self.agent}"})
        self.forwarder = Forwarder(self.journal, sink, batch_size=100)
        self.task = asyncio.create_task(self.forwarder.run(self.stop))

    def record(self, start: float) -> None:
        self.journal.record_many(
            [Reading(self.instrument, "mass", 100.0 + (self.recorded + i) * 1e-4, "g",
                     start + (self.recorded + i) * 0.01, Status.OK) for i in range(PER_STEP)]
        )  # fmt: skip
        self.recorded += PER_STEP

    async def backlog(self) -> int:
        await self.journal.flush()
        sink = self.forwarder.sink
        return sum((await self.journal.backlog(sink.name, sink.streams)).values())

    async def close(self) -> None:
        self.stop.set()
        await self.task
        await self.forwarder.sink.close()
        await self.journal.close()


async def stored(cluster: NatsCluster, nodes: list[int]) -> int:
    """Messages ever stored in the fleet's stream (its last sequence: the archives remove
    what they have written, a duplicate takes no sequence), asked of one of ``nodes`` (0
    while it has no leader); the agents send only their readings, so these are readings."""
    servers = [cluster.servers[i] for i in nodes]
    try:
        client = await nats.connect(servers, user="archive", password=cluster.passwords["archive"],
                                    connect_timeout=2, max_reconnect_attempts=1)  # fmt: skip
    except Exception:
        return 0
    try:
        return int((await client.jetstream(timeout=2).stream_info("DAQ")).state.last_seq)
    except Exception:
        return 0
    finally:
        await client.close()


async def leader(cluster: NatsCluster) -> int:
    client = await nats.connect(cluster.servers, user="archive",
                                password=cluster.passwords["archive"])  # fmt: skip
    try:
        info = await client.jetstream().stream_info("DAQ")
        assert info.cluster is not None and info.cluster.leader is not None
        return int(info.cluster.leader.removeprefix("nats-")) - 1
    finally:
        await client.close()


def archive_process(
    folder: Path, cluster: NatsCluster, store: Service, name: str
) -> subprocess.Popen[bytes]:
    settings = {
        "nats": {"servers": cluster.servers, "agent_id": name, "user": "archive",
                 "password_env": "TEST_FLEET_ARCHIVE", "timeout": 3},
        "store": {"url": store.url},
        "replicas": 3,
        "ack_wait": 2,
        "batch": 200,
    }  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "TEST_FLEET_ARCHIVE": cluster.passwords["archive"]}
    log = (folder / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "daq", "archive", str(path)], env=env,
                            stdout=log, stderr=log)  # fmt: skip


def kill(node: Service) -> None:
    assert node.process is not None
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(10)
    node.process = None


async def test_twenty_agents_lose_nothing_and_double_nothing_through_the_failures(
    tmp_path: Path, nats_cluster: NatsCluster, victoria_metrics: Service
) -> None:
    cluster = nats_cluster
    archives = [archive_process(tmp_path, cluster, victoria_metrics, f"archive-{i}")
                for i in (1, 2)]  # fmt: skip
    try:
        await until(lambda: stored_made(cluster), timeout=60)
        benches = [Bench(tmp_path, lab, agent, cluster.servers, cluster.passwords[f"{lab}.{agent}"])
                   for lab, agent in FLEET_OF_20[1:]]  # fmt: skip
        lab, agent = FLEET_OF_20[0]  # a lab that reaches the cluster through one node only
        cut_off = Bench(
            tmp_path, lab, agent, cluster.servers[2:], cluster.passwords[f"{lab}.{agent}"]
        )
        everyone = [cut_off, *benches]
        for bench in everyone:
            await bench.start()
        start = time.time() - 3600

        async def step() -> None:
            for bench in everyone:
                bench.record(start)

        async def all_stored(nodes: list[int]) -> bool:
            return await stored(cluster, nodes) == sum(b.recorded for b in everyone)

        await step()
        await until(lambda: all_stored([0, 1, 2]), timeout=60)
        first = await leader(cluster)
        kill(cluster.nodes[first])  # the stream's leader, mid-stream
        await step()
        up = [i for i in range(3) if i != first]
        if 2 not in up:  # the cut-off lab's node is down with the leader: it waits
            await until(lambda: all_stored_except(cluster, everyone, cut_off, up), timeout=90)
        else:
            await until(lambda: all_stored(up), timeout=90)
        second = up[0]
        kill(cluster.nodes[second])  # a second node while the first is down: no quorum
        await step()
        await until(lambda: all_down(everyone), timeout=60)  # refused, the readings kept
        assert all([await b.backlog() >= PER_STEP for b in everyone])
        cluster.nodes[second].start()
        await until(lambda: all_stored_except(cluster, everyone, cut_off, up), timeout=120)
        os.kill(archives[0].pid, signal.SIGKILL)  # an archive, mid-stream
        archives[0].wait(10)
        cluster.nodes[first].start()
        await step()
        await until(lambda: all_stored([0, 1, 2]), timeout=120)
        for bench in everyone:
            await until(lambda b=bench: backlog_empty(b), timeout=120)  # type: ignore[misc]
        total = sum(b.recorded for b in everyone)
        assert total == 20 * 4 * PER_STEP
        series = vm_series(victoria_metrics, '{__name__="reading_value"}', total, timeout=120)
        assert len(series) == 20
        for found in series:
            assert len(found["timestamps"]) == len(set(found["timestamps"])) == 4 * PER_STEP
        assert sum(len(s["values"]) for s in series) == total
        for bench in everyone:
            await bench.close()
    finally:
        for process in archives:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(20)


async def stored_made(cluster: NatsCluster) -> bool:
    try:
        await stored(cluster, [0, 1, 2])
        client = await nats.connect(cluster.servers, user="archive",
                                    password=cluster.passwords["archive"])  # fmt: skip
        try:
            await client.jetstream(timeout=2).stream_info("DAQ")
            return True
        finally:
            await client.close()
    except Exception:
        return False


async def all_stored_except(
    cluster: NatsCluster, everyone: list[Bench], cut_off: Bench, up: list[int]
) -> bool:
    """Every agent's readings stored but the cut-off lab's, while its node is down (some of
    its last batch may be stored, unacknowledged: they are sent again, and dropped then)."""
    waiting = await cut_off.backlog() if 2 not in up else 0
    total = sum(b.recorded for b in everyone)
    return total - waiting <= await stored(cluster, up) <= total


async def backlog_empty(bench: Bench) -> bool:
    return await bench.backlog() == 0


async def all_down(everyone: list[Bench]) -> bool:
    return all(b.forwarder.state == SinkState.DOWN for b in everyone)
