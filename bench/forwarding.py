"""Streaming benchmark: store-and-forward throughput and MQTT latency.

1. throughput: 1,000,000 readings committed in a journal are forwarded to VictoriaMetrics
   (the v2 write path through influxdb-client) by the agent's forwarder (reading the journal
   after its cursor, line protocol, cursor commits), against bare influxdb-client loops
   writing the same line-protocol batches from memory, as lists of lines and as joined
   text; each into a fresh server;
2. MQTT throughput: a journal's readings published to mosquitto (QoS 1) by the forwarder
   and the MQTT sink with 1, 10, 20 and 50 publishes in flight, against a bare aiomqtt loop
   publishing the same payloads one at a time and with the same windows;
3. latency: readings recorded at 1,000/s travel journal -> forwarder -> mosquitto -> a
   subscriber; p50/p99 of (arrival - reading timestamp), at the journal's default 0.5 s
   commit interval and at 0.05 s.

Each figure is the median and range of ``--repeat`` runs; the machine's load is printed.

Run: `python bench/forwarding.py [--readings 1000000] [--rate 1000] [--seconds 10]`; needs
the victoria-metrics and mosquitto binaries (apt-get install victoria-metrics mosquitto).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiomqtt
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from daq.core.clock import Clock
from daq.core.reading import Reading
from daq.forwarder import Forwarder
from daq.journal import Journal
from daq.sinks.influx import InfluxSink
from daq.sinks.lineprotocol import lines
from daq.sinks.mqtt import MqttLink, MqttSink
from daq.sinks.settings import InfluxSettings, MqttSettings
from simulators.servers import free_tcp_port

BATCH = 5000
INSTRUMENTS = 100


def _wait_http(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def victoria_metrics() -> Iterator[str]:
    exe = shutil.which("victoria-metrics")
    if exe is None:
        raise SystemExit("victoria-metrics is not installed (apt-get install victoria-metrics)")
    with tempfile.TemporaryDirectory() as folder:
        port = free_tcp_port()
        process = subprocess.Popen(
            [
                exe,
                f"-storageDataPath={folder}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-dedup.minScrapeInterval=1ms",
                "-retentionPeriod=100y",
                "-loggerLevel=ERROR",
            ],
        )
        try:
            _wait_http(f"http://127.0.0.1:{port}/health")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(30)


@contextmanager
def mosquitto() -> Iterator[int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as folder:
        port = free_tcp_port()
        conf = Path(folder) / "m.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\nset_tcp_nodelay true\n"
        )
        process = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        try:
            yield port
        finally:
            process.terminate()
            process.wait(10)


async def fill(journal: Journal, count: int) -> None:
    start = time.time() - 86400
    per = count // INSTRUMENTS
    for i in range(INSTRUMENTS):
        journal.record_many(
            Reading(f"instr-{i:03d}", "pressure", 1.0 + n * 1e-6, "bar", start + n * 0.01, raw="x")
            for n in range(per)
        )
        await journal.flush()


async def _bare(url: str, batches: list[list[str]] | list[str]) -> float:
    """Seconds for a bare influxdb-client loop to write the batches, no journal, no agent."""
    client = InfluxDBClientAsync(url, token="", org="-", timeout=60_000)
    write = client.write_api()
    began = time.perf_counter()
    for batch in batches:
        await write.write(bucket="daq", record=batch)
    seconds = time.perf_counter() - began
    await client.close()  # type: ignore[no-untyped-call]
    return seconds


async def throughput(count: int) -> dict[str, float]:
    """Readings/s of two bare loops (each batch a list of lines, as influxdb-client takes
    records, and each batch one pre-joined text, its fastest input) and of the agent."""
    with tempfile.TemporaryDirectory() as folder:
        async with Journal(Path(folder) / "j.sqlite", batch_interval=3600) as journal:
            await fill(journal, count)
            rows = await journal.outbox("readings", 0, count)
            listed = [lines(rows[i : i + BATCH], "lab", {}) for i in range(0, len(rows), BATCH)]
            joined = ["\n".join(batch) for batch in listed]
            del rows
            with victoria_metrics() as url:
                bare_lists = await _bare(url, listed)
            with victoria_metrics() as url:
                bare_text = await _bare(url, joined)
            with victoria_metrics() as url:
                sink = InfluxSink(InfluxSettings(url=url, timeout=60), "lab", {})
                forwarder = Forwarder(journal, sink, BATCH)
                stop = asyncio.Event()
                began = time.perf_counter()
                task = asyncio.create_task(forwarder.run(stop))
                while forwarder.delivered < count:
                    await asyncio.sleep(0.01)
                agent = time.perf_counter() - began
                stop.set()
                await task
                await sink.close()
    return {
        "bare_lists": count / bare_lists,
        "bare_text": count / bare_text,
        "agent": count / agent,
    }


SUBSCRIBER = """
import asyncio, json, sys, time
import aiomqtt

async def main(port, total, out):
    delays = []
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("bench/lab/+/+/readings/#", qos=1)
        print("ready", flush=True)
        async with asyncio.timeout(120):
            async for message in client.messages:
                delays.append(time.time() - json.loads(message.payload)["timestamp"])
                if len(delays) == total:
                    break
    with open(out, "w") as f:
        json.dump(delays, f)

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


async def latency(
    rate: int, seconds: float, batch_interval: float, in_flight: int
) -> dict[str, float]:
    """The subscriber is a process of its own, as it would be on another machine."""
    total = int(rate * seconds)
    with mosquitto() as port, tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "delays.json"
        subscriber = subprocess.Popen(
            [sys.executable, "-c", SUBSCRIBER, str(port), str(total), str(out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert subscriber.stdout is not None
        assert subscriber.stdout.readline().strip() == "ready"
        settings = MqttSettings(
            host="127.0.0.1", port=port, prefix="bench", streams=["readings"], in_flight=in_flight
        )
        async with Journal(Path(folder) / "j.sqlite", batch_interval=batch_interval) as journal:
            link = MqttLink(settings, "lab", Clock())
            stop = asyncio.Event()
            linking = asyncio.create_task(link.run(stop))
            forwarder = Forwarder(journal, MqttSink(link, {}), 1000)
            forwarding = asyncio.create_task(forwarder.run(stop))
            while not link.connected:
                await asyncio.sleep(0.01)
            began = time.monotonic()
            for n in range(total):
                journal.record(Reading("instr", "pressure", float(n), "bar", time.time()))
                await asyncio.sleep(max(0.0, began + (n + 1) / rate - time.monotonic()))
            await asyncio.to_thread(subscriber.wait, 120)
            stop.set()
            await asyncio.gather(linking, forwarding)
        delays = sorted(json.loads(out.read_text()))
    return {
        "received": len(delays),
        "p50_ms": 1000 * statistics.median(delays),
        "p99_ms": 1000 * delays[int(0.99 * (len(delays) - 1))],
    }


async def mqtt_throughput(count: int, in_flight: int) -> dict[str, float]:
    """Readings per second from a filled journal to the broker's acknowledgements, through
    the agent's forwarder, and the same payloads published by aiomqtt alone."""
    with mosquitto() as port, tempfile.TemporaryDirectory() as folder:
        settings = MqttSettings(
            host="127.0.0.1", port=port, prefix="bench", streams=["readings"], in_flight=in_flight
        )
        async with Journal(Path(folder) / "j.sqlite") as journal:
            await fill(journal, count)
            link = MqttLink(settings, "lab", Clock())
            sink = MqttSink(link, {})
            rows = await journal.outbox("readings", 0, count)
            messages = [m for row in rows for m in sink.messages(row)]
            stop = asyncio.Event()
            linking = asyncio.create_task(link.run(stop))
            while not link.connected:
                await asyncio.sleep(0.01)
            began = time.perf_counter()
            forwarding = asyncio.create_task(Forwarder(journal, sink, 1000).run(stop))
            while await journal.cursor("mqtt", "readings") < rows[-1].id:
                await asyncio.sleep(0.005)
            agent = count / (time.perf_counter() - began)
            stop.set()
            await asyncio.gather(linking, forwarding)
        async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=in_flight) as client:
            client.pending_calls_threshold = in_flight + 10
            began = time.perf_counter()
            window: deque[asyncio.Future[None]] = deque()
            for topic, payload, retain in messages:
                if len(window) >= in_flight:
                    await window.popleft()
                data = json.dumps(payload, separators=(",", ":")).encode()
                window.append(asyncio.ensure_future(client.publish(topic, data, 1, retain)))
            await asyncio.gather(*window)
            bare = count / (time.perf_counter() - began)
    return {"agent": agent, "bare": bare}


def spread(values: list[float], form: str = "{:,.0f}") -> str:
    return (
        f"{form.format(statistics.median(values))} "
        f"({form.format(min(values))}–{form.format(max(values))})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--mqtt-readings", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--in-flight", type=int, default=MqttSettings.model_fields["in_flight"].default
    )
    parser.add_argument("--only", choices=("influx", "mqtt", "latency"), default=None)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.only in (None, "influx"):
        for attempt in range(1, args.repeat + 1):
            result = asyncio.run(throughput(args.readings))
            agent = result["agent"]
            print(
                f"[{attempt}] forwarding {args.readings:,} readings to VictoriaMetrics: "
                f"bare (lists of lines) {result['bare_lists']:,.0f}/s, bare (joined text) "
                f"{result['bare_text']:,.0f}/s, agent {agent:,.0f}/s = "
                f"{agent / result['bare_lists']:.0%} / {agent / result['bare_text']:.0%} of them"
            )
    if args.only in (None, "mqtt"):
        for window in (1, 10, 20, 50):
            found = [asyncio.run(mqtt_throughput(args.mqtt_readings, window))
                     for _ in range(args.repeat)]  # fmt: skip
            ratio = [f["agent"] / f["bare"] for f in found]
            print(
                f"MQTT QoS 1, {window} in flight, {args.mqtt_readings:,} readings: agent "
                f"{spread([f['agent'] for f in found])}/s, bare aiomqtt "
                f"{spread([f['bare'] for f in found])}/s, agent/bare {spread(ratio, '{:.0%}')}"
            )
    if args.only in (None, "latency"):
        for interval in (0.5, 0.05):
            runs = [asyncio.run(latency(args.rate, args.seconds, interval, args.in_flight))
                    for _ in range(args.repeat)]  # fmt: skip
            print(
                f"MQTT latency at {args.rate}/s, journal batch {interval:g} s, "
                f"{args.in_flight} in flight: received {min(r['received'] for r in runs):.0f}+, "
                f"p50 {spread([r['p50_ms'] for r in runs])} ms, "
                f"p99 {spread([r['p99_ms'] for r in runs])} ms"
            )


if __name__ == "__main__":
    main()
