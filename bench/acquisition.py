"""Acquisition benchmark: the agent's monitor machinery against a bare protocol-library loop.

Simulators run in a separate process (`daq simulate`) pinned to the second core; the measured
process is pinned to the first. Two figures, each the median and range of ``--runs`` runs,
printed with the machine's load:

1. throughput: N instruments (a third each MT-SICS over TCP, Fluke 1529 over VISA socket,
   KELLER over Modbus TCP) polled back to back for a fixed time, by the agent (drivers,
   monitor, journal commits with the readings' hash chains) and by a bare loop that makes
   the same exchanges with asyncio streams and the pymodbus client and nothing else;
   readings/s and CPU per reading of each, and the ratios, both on the same event loop;
2. schedule: 500 instruments at 1 Hz each through the agent over phase slots; p50/p99/max
   sampling jitter (how late each poll starts against its schedule) and CPU share.

bench/scale.py runs the schedule from 10 to 3,000 instruments beside the bare loop.

Run: `make bench` or `python bench/acquisition.py [--instruments 100] [--runs 3]`.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pymodbus.client import AsyncModbusTcpClient

from daq.config import LabConfig, parse_lab
from daq.core.clock import Clock
from daq.core.loop import loop_factory, prefer_the_loop
from daq.core.prompts import NoPrompter
from daq.core.reading import Reading
from daq.instruments import build_driver
from daq.journal import Journal
from daq.monitor import InstrumentState, Monitor, phase, slots_for
from drivers.transports.settings import VISA_SOCKET
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


def rss_megabytes() -> float:
    """This process's resident memory now (ru_maxrss would keep an earlier run's peak)."""
    status = Path("/proc/self/status").read_text()
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
    return int(kilobytes) / 1024


@dataclass
class Run:
    readings: int
    wall: float
    cpu: float
    monitor: Monitor | None = None
    rss: float = 0.0

    @property
    def rate(self) -> float:
        return self.readings / self.wall

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall

    @property
    def cpu_per_reading(self) -> float:
        return self.cpu / max(1, self.readings)

    def jitter(self) -> list[float]:
        """How late each poll started against its schedule (the first, at once, left out)."""
        return [late for s in states(self) for late in s.lateness[1:]]


WARMUP = 2.0
"""Seconds left out of the figures at the start of a run: connecting, the first reading of
every instrument at once, the first units parsed."""


@dataclass
class Steady:
    """Readings and CPU from the end of the warm-up to the end of a run."""

    readings: int = 0
    wall: float = 0.0
    cpu: float = 0.0


async def steady(count: Callable[[], int], seconds: float, stop: asyncio.Event) -> Steady:
    """Watch ``count`` (readings so far) after the warm-up; set ``stop`` at the end."""
    await asyncio.sleep(WARMUP)
    wall, cpu, readings = time.perf_counter(), cpu_seconds(), count()
    await asyncio.sleep(max(0.0, seconds - WARMUP))
    window = Steady(count() - readings, time.perf_counter() - wall, cpu_seconds() - cpu)
    stop.set()
    return window


Work = Callable[[], Coroutine[Any, Any, tuple[Steady, Monitor | None]]]


def measure(work: Work, loop: str) -> Run:
    """``work`` on a fresh event loop of the kind named (as the agent's commands make it)."""
    factory = uvloop_factory() if loop == "uvloop" else asyncio.new_event_loop
    prefer_the_loop()  # as the agent's commands do
    with asyncio.Runner(loop_factory=factory) as runner:
        window, monitor = runner.run(work())
        rss = rss_megabytes()
    return Run(window.readings, window.wall, window.cpu, monitor, rss)


def agent_loop() -> str:
    """The loop the agent's commands run on here (uvloop when installed)."""
    return "asyncio" if loop_factory() is asyncio.new_event_loop else "uvloop"


def uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    import uvloop

    return uvloop.new_event_loop


async def agent_run(
    lab: LabConfig, seconds: float, slots: int | None = 1, held: int = 0
) -> tuple[Steady, Monitor | None]:
    """The agent's own machinery: drivers, transports, monitor (polls over ``slots`` phase
    slots, None: as many as the agent chooses) and journal commits, with every reading
    hashed into its instrument's chain. Every run starts on a new journal (one left by an
    earlier run would make the later runs dearer), first made to hold ``held`` readings of
    the lab's instruments (as after a while of monitoring), outside the figures."""
    clock = Clock()
    for file in lab.journal.path.parent.glob(f"{lab.journal.path.name}*"):
        file.unlink()  # the bench's own temporary journal, its WAL and shared memory
    async with Journal(lab.journal.path, batch_interval=lab.journal.batch_interval) as journal:
        await fill(journal, [i.id for _, i in lab.instruments()], held)
        pairs = [(i, build_driver(i, clock, NoPrompter())) for _, i in lab.instruments()]
        monitor = Monitor(pairs, journal, clock, keep_lateness=True, phase_slots=slots)
        stop = asyncio.Event()
        polled = asyncio.create_task(monitor.run(stop))
        window = await steady(
            lambda: sum(s.readings for s in monitor.states.values()), seconds, stop
        )
        await polled
        await journal.flush()
        return window, monitor


async def fill(journal: Journal, instruments: list[str], held: int) -> None:
    """Make the journal hold at least ``held`` monitored readings, the instruments in turn."""
    missing, count = held - await journal.count_readings(), len(instruments)
    start = time.time() - missing // max(1, count) - 1  # once a second each, all in the past
    for first in range(0, max(0, missing), 10_000):
        journal.record_many(
            Reading(instruments[n % count], "mass", 1.0, "g", start + n // count, raw="1")
            for n in range(first, min(missing, first + 10_000))
        )
        await journal.flush()


async def bare_run(
    lab: LabConfig, seconds: float, slots: int | None = None
) -> tuple[Steady, Monitor | None]:
    """The same exchanges with asyncio streams and the pymodbus client directly: no drivers,
    monitor or journal. Back to back, or (``slots``) each instrument on its own interval
    over the same phase slots as the agent's."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + seconds + 0.5  # still polling when the measured window closes
    counts = [0]

    async def due(index: int, interval: float, polls: int) -> bool:
        """Wait for the next poll; False once the time is up."""
        if slots is None:
            return loop.time() < deadline
        at = start + phase(index, slots, interval) + polls * interval if polls else start
        if at >= deadline:
            return False
        await asyncio.sleep(max(0.0, at - loop.time()))
        return True

    async def line(index: int, interval: float, host: str, port: int, ask: bytes) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        polls = 0
        while await due(index, interval, polls):
            writer.write(ask)
            reply = await reader.readuntil(b"\n")
            float(reply.split()[2] if ask == b"SI\r\n" else reply)
            counts[0] += 1
            polls += 1
        writer.close()

    async def modbus(index: int, interval: float, host: str, port: int) -> None:
        client = AsyncModbusTcpClient(host, port=port)
        await client.connect()
        polls = 0
        while await due(index, interval, polls):
            response = await client.read_holding_registers(0x0100, count=4, device_id=1)
            client.convert_from_registers(response.registers[:2], client.DATATYPE.FLOAT32)
            client.convert_from_registers(response.registers[2:], client.DATATYPE.FLOAT32)
            counts[0] += 2
            polls += 1
        client.close()

    tasks = []
    for index, (_, instrument) in enumerate(lab.instruments()):
        c: Any = instrument.connection
        interval = instrument.poll_interval
        if instrument.driver == "mt_sics":
            tasks.append(line(index, interval, c.host, c.port, b"SI\r\n"))
        elif instrument.driver == "fluke_1529":
            host, port = VISA_SOCKET.match(c.resource).groups()  # type: ignore[union-attr]
            tasks.append(line(index, interval, host, int(port), b"FETC? 1\n"))
        else:
            tasks.append(modbus(index, interval, c.host, c.port))
    stop = asyncio.Event()
    watching = asyncio.ensure_future(steady(lambda: counts[0], seconds, stop))
    await asyncio.gather(watching, *tasks)
    return watching.result(), None


def states(run: Run) -> list[InstrumentState]:
    assert run.monitor is not None
    return list(run.monitor.states.values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float], form: str = "{:.1f}") -> str:
    """The median and, in brackets, the range of a figure over the runs."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{form.format(mid)} ({form.format(low)}–{form.format(high)})"


def machine(loop: str) -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"Python {sys.version.split()[0]}, {loop} loop"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--schedule-instruments", type=int, default=500)
    parser.add_argument("--schedule-seconds", type=float, default=20.0)
    parser.add_argument(
        "--phase-slots", type=int, default=0, help="1: all polls at once; 0: as the agent does"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default=agent_loop())
    parser.add_argument(
        "--journal-readings", type=int, default=0,
        help="readings the journal holds before the schedule starts (0: an empty journal)",
    )  # fmt: skip
    args = parser.parse_args()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(machine(args.loop))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lab_file = folder / "throughput.yaml"
        lab_file.write_text(lab_yaml(args.instruments, 0.0001, folder / "t.sqlite"))
        lab = parse_lab(lab_file.read_text(), str(lab_file))
        bare: list[Run] = []
        agent: list[Run] = []
        with Simulators(lab_file):
            for _ in range(args.runs):  # alternated, so a change of load touches both
                bare.append(measure(lambda: bare_run(lab, args.seconds), args.loop))
                agent.append(measure(lambda: agent_run(lab, args.seconds), args.loop))
        print(
            f"throughput, {args.instruments} instruments polled back to back, "
            f"{args.seconds:g} s, median (range) of {args.runs} runs:"
        )
        for name, runs in (("bare loop", bare), ("agent", agent)):
            print(
                f"  {name:9} : {spread([r.rate for r in runs], '{:.0f}')} readings/s, "
                f"CPU {spread([r.cpu_per_reading * 1e6 for r in runs])} µs/reading"
            )
        rates = [a.rate / b.rate for a, b in zip(agent, bare, strict=True)]
        cpus = [a.cpu_per_reading / b.cpu_per_reading for a, b in zip(agent, bare, strict=True)]
        print(
            f"  agent/bare: rate {spread(rates, '{:.0%}')}, "
            f"CPU per reading {spread(cpus, '{:.2f}')}x"
        )

        lab_file = folder / "schedule.yaml"
        lab_file.write_text(lab_yaml(args.schedule_instruments, 1.0, folder / "s.sqlite"))
        lab = parse_lab(lab_file.read_text(), str(lab_file))
        with Simulators(lab_file):
            scheduled = [
                measure(
                    lambda: agent_run(
                        lab, args.schedule_seconds, args.phase_slots or None, args.journal_readings
                    ),
                    args.loop,
                )
                for _ in range(args.runs)
            ]
        failing = sum(1 for r in scheduled for s in states(r) if s.failures)
        print(
            f"schedule, {args.schedule_instruments} instruments at 1 Hz over "
            f"{args.phase_slots or slots_for(args.schedule_instruments)} phase slots, "
            f"{args.schedule_seconds:g} s, {args.runs} runs, the journal holding "
            f"{args.journal_readings:,} readings at the start:"
        )
        print(
            f"  {spread([r.rate for r in scheduled], '{:.0f}')} readings/s, "
            f"CPU {spread([r.cpu_share * 100 for r in scheduled], '{:.1f}')} % of one core"
        )
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            values = [percentile(r.jitter(), q) * 1000 for r in scheduled]
            print(f"  jitter {name} {spread(values)} ms")
        print(f"  instruments that ever failed: {failing}")


if __name__ == "__main__":
    main()
