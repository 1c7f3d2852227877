"""Fleet benchmark: readings through agent -> three-node NATS cluster -> archive ->
VictoriaMetrics, against a bare nats-py publish loop in the same run.

Three phases per run, one after the other so that each side's CPU is its own:

1. bare: nats-py's JetStream ``publish_async`` of N messages like an agent's (same subject
   tree, size, message ids), then every acknowledgement awaited: the floor for a publisher;
2. agent: N readings in a journal, drained by the agent's forwarder and NATS sink (JSON
   rows, message ids, acknowledgement before the cursor moves);
3. archive: the archive consuming those N messages into VictoriaMetrics, acknowledging each
   after its write.

Readings per second and CPU per reading (process CPU time, this process only; the servers
run in their own) for each, the median and range of ``--runs`` runs, with the machine's load.

Run: `python bench/fleet.py [--readings 20000] [--runs 3]` (needs nats-server and
victoria-metrics installed, as the tests do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats

from daq.archive import Archive, ArchiveSettings, ensure_stream
from daq.core.clock import Clock
from daq.core.reading import Reading, Status
from daq.forwarder import Forwarder
from daq.journal import Journal
from daq.sinks.nats import NatsSink
from daq.sinks.settings import NatsSettings
from tests.services import nats_cluster_service, victoria_metrics_service

LAB, AGENT = "lab-1", "bench-pc-1"


def readings(count: int, start: float) -> list[Reading]:
    return [
        Reading(f"balance-{i % 20}", "mass", 100.0 + i * 1e-6, "g", start + i * 1e-3, Status.OK)
        for i in range(count)
    ]


async def bare(servers: list[str], password: str, count: int) -> tuple[float, float]:
    """Seconds and CPU seconds of a bare publish loop of ``count`` agent-like messages."""
    client = await nats.connect(
        servers, user=f"{LAB}.{AGENT}", password=password, inbox_prefix=f"_INBOX.{LAB}.{AGENT}"
    )  # its permitted inbox
    js = client.jetstream(timeout=30)
    base = f"daq.{LAB}.{AGENT}.readings.mass-bench"
    start = time.time() - 86400
    wall, cpu = time.perf_counter(), time.process_time()
    acks = []
    for i in range(count):
        payload = {"lab": LAB, "agent": AGENT, "id": i, "bench": "mass-bench",
                   "instrument": f"balance-{i % 20}", "quantity": "mass", "value": 100.0,
                   "unit": "g", "timestamp": start + i * 1e-3, "status": "ok"}  # fmt: skip
        acks.append(
            await js.publish_async(
                f"{base}.balance-{i % 20}.mass", json.dumps(payload).encode(),
                headers={"Nats-Msg-Id": f"bare.{time.time_ns()}.{i}"},
            )
        )  # fmt: skip
        if len(acks) >= 1000:
            await asyncio.gather(*acks)
            acks.clear()
    await asyncio.gather(*acks)
    result = time.perf_counter() - wall, time.process_time() - cpu
    await client.close()
    return result


async def agent(folder: Path, settings: NatsSettings, count: int) -> tuple[float, float]:
    async with Journal(folder / f"agent-{time.time_ns()}.sqlite", clock=Clock()) as journal:
        journal.record_many(readings(count, time.time() - 3600))
        await journal.flush()
        sink = NatsSink(settings, LAB, {f"balance-{i}": "mass-bench" for i in range(20)})
        forwarder = Forwarder(journal, sink, batch_size=settings.batch_size)
        stop = asyncio.Event()
        wall, cpu = time.perf_counter(), time.process_time()
        task = asyncio.create_task(forwarder.run(stop))
        while sum((await journal.backlog(sink.name, sink.streams)).values()):
            await asyncio.sleep(0.01)
        result = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        await task
        await sink.close()
        return result


async def archived(settings: ArchiveSettings, count: int) -> tuple[float, float]:
    archive = Archive(settings)
    stop = asyncio.Event()
    wall, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(archive.run(stop))
    while archive.written < count:
        await asyncio.sleep(0.01)
    result = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    await task
    return result


def summary(name: str, runs: list[tuple[float, float]], count: int) -> dict[str, float]:
    rates = [count / wall for wall, _ in runs]
    cpu = [c / count * 1e6 for _, c in runs]
    return {
        "rate": statistics.median(rates), "rate_low": min(rates), "rate_high": max(rates),
        "cpu_us": statistics.median(cpu), "cpu_low": min(cpu), "cpu_high": max(cpu),
    }  # fmt: skip


async def main(count: int, runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="daq-fleet-bench-"))
    cluster = nats_cluster_service(folder, 3, [(LAB, AGENT)])
    store = victoria_metrics_service(folder).start()
    os.environ["BENCH_AGENT"] = cluster.passwords[f"{LAB}.{AGENT}"]
    os.environ["BENCH_ARCHIVE"] = cluster.passwords["archive"]
    agent_settings = NatsSettings(servers=cluster.servers, agent_id=AGENT,
                                  user=f"{LAB}.{AGENT}", password_env="BENCH_AGENT",
                                  timeout=30, batch_size=1000)  # fmt: skip
    try:
        results: dict[str, list[tuple[float, float]]] = {"bare": [], "agent": [], "archive": []}
        for _ in range(runs):
            archive_settings = ArchiveSettings.model_validate({
                "nats": {"servers": cluster.servers, "agent_id": "archive", "user": "archive",
                         "password_env": "BENCH_ARCHIVE", "timeout": 30},
                "store": {"url": store.url}, "replicas": 3, "consumer": "archive",
                "batch": 1000,
            })  # fmt: skip
            admin = await nats.connect(cluster.servers, user="archive",
                                       password=cluster.passwords["archive"])  # fmt: skip
            js = admin.jetstream(timeout=30)
            for _ in range(100):
                try:
                    await ensure_stream(js, archive_settings)
                    break
                except Exception:
                    await asyncio.sleep(0.2)
            await js.purge_stream("DAQ")
            await admin.close()
            results["bare"].append(await bare(cluster.servers, os.environ["BENCH_AGENT"], count))
            results["agent"].append(await agent(folder, agent_settings, count))
            # the archive reads the stream: the bare loop's messages and the agent's
            admin = await nats.connect(cluster.servers, user="archive",
                                       password=cluster.passwords["archive"])  # fmt: skip
            state = (await admin.jetstream(timeout=30).stream_info("DAQ")).state
            stored = state.bytes / max(1, state.messages)  # before the archive takes them
            await admin.close()
            results["archive"].append(await archived(archive_settings, 2 * count))
        load = os.getloadavg()
        print(f"{count} readings per phase, {runs} runs; load average {load[0]:.2f} "
              f"(1 min), {os.cpu_count()} cores; servers: 3 nats-server nodes (R3), "
              f"VictoriaMetrics, on this machine; {stored:.0f} bytes a message in the stream "
              "(each replica)")  # fmt: skip
        base = summary("bare", results["bare"], count)
        for name, count_of in (("bare", count), ("agent", count), ("archive", 2 * count)):
            s = summary(name, results[name], count_of)
            print(f"{name:8} {s['rate']:9.0f} readings/s ({s['rate_low']:.0f}-{s['rate_high']:.0f})"
                  f"  CPU {s['cpu_us']:6.1f} µs/reading ({s['cpu_low']:.1f}-{s['cpu_high']:.1f})"
                  f"  = {s['cpu_us'] / base['cpu_us']:.2f}x bare CPU, "
                  f"{s['rate'] / base['rate']:.2f}x bare rate")  # fmt: skip
    finally:
        store.stop()
        for node in cluster.nodes:
            node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.readings, args.runs))
