"""``daq agent`` (the service) and ``daq status`` (its sinks, backlog and runs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal

from rich.table import Table
from rich.text import Text

from daq.agent import Agent
from daq.cli_common import LabOption, SimulateOption, TimeScaleOption, clock, console, load, run
from daq.journal import Journal


def agent(
    lab: LabOption = None, simulate: SimulateOption = False, time_scale: TimeScaleOption = 1.0
) -> None:
    """Run the agent until SIGTERM or Ctrl-C: poll, alarm, forward, take MQTT commands."""
    config = load(lab)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        outputs = [
            name for name, on in (("InfluxDB", config.influxdb), ("MQTT", config.mqtt)) if on
        ]
        console.print(
            f"agent of {config.lab.id}: journal {config.journal.path}, streaming to "
            f"{', '.join(outputs) or 'nothing (no influxdb: or mqtt: in the lab file)'}; "
            "SIGTERM or Ctrl-C stops"
        )
        await Agent(config, clock(time_scale), simulate=simulate).run(stop)

    run(serve())
    console.print("agent stopped")


def status(lab: LabOption = None) -> None:
    """Show each sink's state and backlog, and the runs in progress."""
    config = load(lab)

    async def read() -> tuple[list[tuple[str, str, str, float, dict[str, int]]], list[str]]:
        async with Journal(config.journal.path) as journal:
            sinks = [(*s, await journal.backlog(s[0])) for s in await journal.sink_states()]
            running = [r.id for r in await journal.runs() if r.status == "running"]
            return sinks, running

    sinks, running = run(read())
    configured = [n for n, on in (("influxdb", config.influxdb), ("mqtt", config.mqtt)) if on]
    table = Table(title=f"Sinks of {config.journal.path}")
    for column in ("sink", "state", "since (UTC)", "backlog", "detail"):
        table.add_column(column)
    seen = set()
    for name, state, detail, updated, backlog in sinks:
        seen.add(name)
        stamp = dt.datetime.fromtimestamp(updated, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        waiting = ", ".join(f"{n} {s}" for s, n in backlog.items() if n) or "none"
        style = "green" if state == "ok" else "red"
        table.add_row(name, Text(state, style), stamp, waiting, detail[:80])
    for name in configured:
        if name not in seen:
            table.add_row(name, Text("not started", "yellow"), "-", "-", "start `daq agent`")
    if not configured and not sinks:
        console.print("No sinks: add influxdb: or mqtt: to the lab file, then run `daq agent`.")
    else:
        console.print(table)
    console.print(f"runs in progress: {', '.join(running) or 'none'}")
