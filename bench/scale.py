"""Scale benchmark: the agent polling 10 to 3,000 instruments at 1 Hz over phase slots,
beside a bare loop that makes the same exchanges on the same schedule with nothing else.

For each size the simulators run in one `daq simulate` process on the second core; each
measurement is a fresh child process on the first core (so that its resident memory is its
own), alternating bare and agent ``--runs`` times. Printed per size, median and range:
readings/s, CPU per reading of each side and their ratio, the agent's resident memory and
its p99 sampling jitter, with the machine's load.

Run: `python bench/scale.py [--sizes 10,100,500,1000,2000,3000] [--seconds 15] [--runs 3]
[--journal-readings 0]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from acquisition import (
    Simulators,
    agent_loop,
    agent_run,
    bare_run,
    lab_yaml,
    machine,
    measure,
    percentile,
    spread,
    states,
)

from daq.config import parse_lab
from daq.descriptors import raise_open_files
from daq.monitor import MIN_SLOTS, PER_SLOT, slots_for


def child(side: str, lab_file: Path, seconds: float, slots: int, loop: str, held: int) -> None:
    """One measurement, printed as JSON on the last line."""
    lab = parse_lab(lab_file.read_text(), str(lab_file))
    raise_open_files(sum(1 for _ in lab.instruments()))
    if side == "agent":
        run = measure(lambda: agent_run(lab, seconds, slots or None, held), loop)
        p99 = percentile(run.jitter(), 0.99)
        failing = sum(1 for s in states(run) if s.failures)
    else:
        count = sum(1 for _ in lab.instruments())
        run = measure(lambda: bare_run(lab, seconds, slots or slots_for(count)), loop)
        p99, failing = 0.0, 0
    figures = {"rate": run.rate, "cpu_us": run.cpu_per_reading * 1e6, "rss": run.rss,
               "p99_ms": p99 * 1000, "failing": failing}  # fmt: skip
    print(json.dumps(figures))


def measured(side: str, lab_file: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", side, str(lab_file), str(args.seconds),
               str(args.phase_slots), args.loop, str(args.journal_readings)]  # fmt: skip
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        command = ["taskset", "-c", str(cores[0]), *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


@contextmanager
def simulators(lab_file: Path, size: int, folder: Path) -> Iterator[None]:
    """`daq simulate` for a lab of ``size``; a port the system gave out again meanwhile (to
    one of thousands of connections) fails the start, so a new lab is tried, three times."""
    for attempt in range(3):
        lab_file.write_text(lab_yaml(size, 1.0, folder / "s.sqlite"))
        try:
            started = Simulators(lab_file).__enter__()
        except RuntimeError:
            if attempt == 2:
                raise
            continue
        try:
            yield
        finally:
            started.__exit__()
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500,1000,2000,3000")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase-slots", type=int, default=0, help="0: as the agent chooses")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default=agent_loop())
    parser.add_argument(
        "--journal-readings", type=int, default=0,
        help="readings the agent's journal holds before it starts (0: an empty journal)",
    )  # fmt: skip
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, lab_file, seconds, slots, loop, held = args.child
        child(side, Path(lab_file), float(seconds), int(slots), loop, int(held))
        return
    slots = (
        args.phase_slots or f"the agent's own ({PER_SLOT} instruments a slot, at least {MIN_SLOTS})"
    )
    print(f"{machine(args.loop)}; 1 Hz each, phase slots: {slots}, "
          f"{args.seconds:g} s a run, median (range) of {args.runs} runs, the agent's journal "
          f"holding {args.journal_readings:,} readings at the start")  # fmt: skip
    print("| instruments | readings/s | bare µs/reading | agent µs/reading | agent/bare CPU "
          "| agent RSS MB | agent p99 jitter ms | failed |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in (int(s) for s in args.sizes.split(",")):
        raise_open_files(size)
        with tempfile.TemporaryDirectory() as tmp:
            lab_file = Path(tmp) / "scale.yaml"
            bare: list[dict[str, float]] = []
            agent: list[dict[str, float]] = []
            with simulators(lab_file, size, Path(tmp)):
                for _ in range(args.runs):
                    bare.append(measured("bare", lab_file, args))
                    agent.append(measured("agent", lab_file, args))
        ratio = [a["cpu_us"] / b["cpu_us"] for a, b in zip(agent, bare, strict=True)]
        print(f"| {size:,} | {spread([a['rate'] for a in agent], '{:.0f}')} "
              f"| {spread([b['cpu_us'] for b in bare])} | {spread([a['cpu_us'] for a in agent])} "
              f"| {spread(ratio, '{:.2f}')}x | {spread([a['rss'] for a in agent], '{:.0f}')} "
              f"| {spread([a['p99_ms'] for a in agent])} "
              f"| {max(a['failing'] for a in agent):.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
