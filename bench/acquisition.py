"""Acquisition benchmark: the agent's monitor machinery against a bare protocol-library loop.

Simulators run in a separate process (`daq simulate`) pinned to the second core; the measured
process is pinned to the first. Two figures:

1. throughput: N instruments (a third each MT-SICS over TCP, Fluke 1529 over VISA socket,
   KELLER over Modbus TCP) polled back to back for a fixed time, by the agent (drivers,
   monitor, journal commits) and by a bare loop that uses asyncio streams, pyvisa and the
   pymodbus client directly with no agent; readings/s and CPU share of each, and the ratio;
2. schedule: 500 instruments at 1 Hz each through the agent; p50/p99 sampling jitter (how
   late each poll starts against its schedule) and CPU share.

Run: `make bench` or `python bench/acquisition.py [--instruments 100] [--seconds 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvisa
import yaml
from pymodbus.client import AsyncModbusTcpClient

from daq.config import LabConfig, parse_lab
from daq.core.clock import Clock
from daq.core.prompts import NoPrompter
from daq.instruments import build_driver
from daq.journal import Journal
from daq.monitor import Monitor
from simulators.servers import free_tcp_port

KINDS = ("mt_sics", "fluke_1529", "keller_s30")


def lab_yaml(count: int, interval: float, journal: Path) -> str:
    instruments: list[dict[str, Any]] = []
    ports: set[int] = set()
    for n in range(count):
        kind = KINDS[n % 3]
        port = free_tcp_port()
        while port in ports:  # the OS may offer a port it offered a moment ago
            port = free_tcp_port()
        ports.add(port)
        connection: dict[str, Any] = {
            "mt_sics": {"type": "tcp", "host": "127.0.0.1", "port": port, "timeout": 5},
            "fluke_1529": {
                "type": "visa",
                "resource": f"TCPIP::127.0.0.1::{port}::SOCKET",
                "timeout": 5,
            },
            "keller_s30": {"type": "modbus_tcp", "host": "127.0.0.1", "port": port, "timeout": 5},
        }[kind]
        role = {"mt_sics": "balance", "fluke_1529": "thermometer", "keller_s30": "pressure_gauge"}
        instruments.append(
            {
                "id": f"{kind}-{n}",
                "driver": kind,
                "role": role[kind],
                "simulate": True,
                "poll_interval": interval,
                "connection": connection,
            }
        )
    lab = {
        "lab": {"id": "bench"},
        "journal": {"path": str(journal), "batch_interval": 0.5},
        "benches": [{"id": "b", "instruments": instruments}],
    }
    return yaml.safe_dump(lab)


class Simulators:
    """`daq simulate` in a child process on the second core."""

    def __init__(self, lab_file: Path) -> None:
        self.lab_file = lab_file
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Simulators:
        cores = sorted(os.sched_getaffinity(0))
        command = [sys.executable, "-m", "daq", "simulate", "--lab", str(self.lab_file)]
        if len(cores) > 1:
            command = ["taskset", "-c", str(cores[-1]), *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the table is printed once everything listens
            if line.startswith("└"):
                return self
        raise RuntimeError("the simulators did not start; see the error above")

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    readings: int
    wall: float
    cpu: float
    monitor: Monitor | None = None

    @property
    def rate(self) -> float:
        return self.readings / self.wall

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall


def measure(work: Callable[[], Coroutine[Any, Any, tuple[int, Monitor | None]]]) -> Run:
    wall, cpu = time.perf_counter(), cpu_seconds()
    readings, monitor = asyncio.run(work())
    return Run(readings, time.perf_counter() - wall, cpu_seconds() - cpu, monitor)


async def agent_run(lab: LabConfig, seconds: float, slots: int = 1) -> tuple[int, Monitor | None]:
    """The agent's own machinery: drivers, transports, monitor (polls over ``slots`` phase
    slots) and journal commits."""
    clock = Clock()
    async with Journal(lab.journal.path, batch_interval=lab.journal.batch_interval) as journal:
        pairs = [(i, build_driver(i, clock, NoPrompter())) for _, i in lab.instruments()]
        monitor = Monitor(pairs, journal, clock, keep_lateness=True, phase_slots=slots)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await monitor.run(stop)
        await journal.flush()
        return journal.committed_readings, monitor


async def bare_run(lab: LabConfig, seconds: float) -> tuple[int, Monitor | None]:
    """The same exchanges with the protocol libraries directly: no drivers, monitor, journal."""
    deadline = time.perf_counter() + seconds
    counts = [0]
    manager = pyvisa.ResourceManager("@py")
    loop = asyncio.get_running_loop()

    async def sics(host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            writer.write(b"SI\r\n")
            line = await reader.readuntil(b"\n")
            float(line.split()[2])
            counts[0] += 1
        writer.close()

    async def visa(resource_name: str) -> None:
        instrument: Any = await loop.run_in_executor(
            None, lambda: manager.open_resource(resource_name, read_termination="\n")
        )
        while time.perf_counter() < deadline:
            float(await loop.run_in_executor(None, instrument.query, "FETC? 1"))
            counts[0] += 1
        instrument.close()

    async def modbus(host: str, port: int) -> None:
        client = AsyncModbusTcpClient(host, port=port)
        await client.connect()
        while time.perf_counter() < deadline:
            response = await client.read_holding_registers(0x0100, count=4, device_id=1)
            client.convert_from_registers(response.registers[:2], client.DATATYPE.FLOAT32)
            client.convert_from_registers(response.registers[2:], client.DATATYPE.FLOAT32)
            counts[0] += 2
        client.close()

    tasks = []
    for _, instrument in lab.instruments():
        c: Any = instrument.connection
        if instrument.driver == "mt_sics":
            tasks.append(sics(c.host, c.port))
        elif instrument.driver == "fluke_1529":
            tasks.append(visa(c.resource))
        else:
            tasks.append(modbus(c.host, c.port))
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32))  # as many as the agent's
    await asyncio.gather(*tasks)
    return counts[0], None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--schedule-instruments", type=int, default=500)
    parser.add_argument("--schedule-seconds", type=float, default=30.0)
    parser.add_argument(
        "--phase-slots", type=int, default=10, help="of the schedule (1: all polls at once)"
    )
    args = parser.parse_args()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lab_file = folder / "throughput.yaml"
        lab_file.write_text(lab_yaml(args.instruments, 0.0001, folder / "t.sqlite"))
        lab = parse_lab(lab_file.read_text(), str(lab_file))
        with Simulators(lab_file):
            bare = measure(lambda: bare_run(lab, args.seconds))
            agent = measure(lambda: agent_run(lab, args.seconds))
        print(
            f"throughput, {args.instruments} instruments polled back to back, {args.seconds:g} s:"
        )
        print(f"  bare loop : {bare.rate:7.0f} readings/s, CPU {bare.cpu_share:4.0%} of one core")
        print(f"  agent     : {agent.rate:7.0f} readings/s, CPU {agent.cpu_share:4.0%} of one core")
        print(f"  ratio     : {agent.rate / bare.rate:7.0%} of the bare loop's rate")

        lab_file = folder / "schedule.yaml"
        lab_file.write_text(lab_yaml(args.schedule_instruments, 1.0, folder / "s.sqlite"))
        lab = parse_lab(lab_file.read_text(), str(lab_file))
        with Simulators(lab_file):
            scheduled = measure(lambda: agent_run(lab, args.schedule_seconds, args.phase_slots))
        assert scheduled.monitor is not None
        states = scheduled.monitor.states.values()
        jitter = [late for state in states for late in state.lateness[1:]]
        failing = sum(1 for state in states if state.failures)
        print(
            f"schedule, {args.schedule_instruments} instruments at 1 Hz over "
            f"{args.phase_slots} phase slots, {scheduled.wall:.0f} s:"
        )
        print(f"  {scheduled.rate:.0f} readings/s, CPU {scheduled.cpu_share:.0%} of one core")
        print(
            f"  jitter p50 {statistics.median(jitter) * 1000:.1f} ms, "
            f"p99 {percentile(jitter, 0.99) * 1000:.1f} ms, max {max(jitter) * 1000:.1f} ms "
            f"over {len(jitter)} polls; instruments that ever failed: {failing}"
        )


if __name__ == "__main__":
    main()
