"""``daq agent`` (the service) and ``daq status`` (its sinks, backlog and runs)."""

from __future__ import annotations

import datetime as dt
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from daq.cli_common import (
    LabOption,
    SimulateOption,
    TimeScaleOption,
    clock,
    console,
    fail,
    load,
    run,
)
from daq.presence import Presence, PresenceHeld, alive

if TYPE_CHECKING:
    from daq.journal import DeadLetters


def agent(
    lab: LabOption = None,
    simulate: SimulateOption = False,
    time_scale: TimeScaleOption = 1.0,
    web: Annotated[
        str | None,
        typer.Option(
            "--web",
            metavar="HOST:PORT",
            help="Serve the operator console there (default: the lab file's web: section).",
        ),
    ] = None,
) -> None:
    """Run the agent until SIGTERM or Ctrl-C: poll, alarm, forward, take MQTT commands,
    serve the operator console."""
    import asyncio

    from daq.agent import Agent
    from daq.prompts import TerminalPrompter

    config = load(lab)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        outputs = [
            name for name, on in (("InfluxDB", config.influxdb), ("MQTT", config.mqtt)) if on
        ] + [f"{s.key} ({s.type})" for s in config.sinks]
        listen = web or (config.web.listen if config.web is not None else None)
        if listen is not None:
            scheme = "https" if config.web is not None and config.web.certificate else "http"
            console.print(f"operator console: {scheme}://{listen}/")
        console.print(
            f"agent of {config.lab.id}: journal {config.journal.path}, streaming to "
            f"{', '.join(outputs) or 'nothing (no influxdb:, mqtt: or sinks: in the lab file)'}; "
            "SIGTERM or Ctrl-C stops"
        )
        try:
            with Presence(config.journal.path, "agent"):  # `daq status` sees it alive
                terminal = TerminalPrompter() if sys.stdin.isatty() else None
                agent = Agent(
                    config, clock(time_scale), simulate=simulate, web=web, terminal=terminal
                )
                await agent.run(stop)
        except PresenceHeld:
            raise fail(
                f"another agent is already running on {config.journal.path}",
                "Stop it first (systemctl stop daq-agent), or give this one its own journal.",
            ) from None

    run(serve())
    console.print("agent stopped")


def status(
    lab: LabOption = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="One line, exit 0 when the agent runs and every sink is ok, else 1 (a "
            "health check).",
        ),
    ] = False,
) -> None:
    """Show each sink's state, backlog and dead letters, and the runs in progress."""
    from daq.journal import Journal, JournalError

    config = load(lab)

    async def read() -> tuple[
        list[tuple[str, str, str, float, dict[str, int]]], list[str], dict[str, DeadLetters]
    ]:
        # read-only: works on a full disk and never creates a journal where there is none
        async with Journal(config.journal.path, read_only=True) as journal:
            streams = config.sink_streams()
            sinks = [
                (*s, await journal.backlog(s[0], streams.get(s[0])))
                for s in await journal.sink_states()
            ]
            running = [r.id for r in await journal.runs() if r.status == "running"]
            return sinks, running, await journal.dead_letter_summary()

    try:
        sinks, running, dead_letters = run(read())
    except JournalError as exc:
        raise fail(str(exc), "Start `daq agent` (or `daq monitor`) to record into it.") from None
    path = config.journal.path
    agent_alive = alive(path, "agent")
    if check:
        troubles = [] if agent_alive else ["the agent is not running"]
        troubles += [f"{n} {state}: {detail}" for n, state, detail, _, _ in sinks if state != "ok"]
        console.print("healthy" if not troubles else "unhealthy: " + "; ".join(troubles))
        raise typer.Exit(1 if troubles else 0)
    if not agent_alive and sinks:
        console.print(
            Text(
                "the agent is not running: the sink states below are as it left them",
                "yellow",
            )
        )
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
        if not agent_alive:
            state, style = f"{state} (agent stopped)", "yellow"
        table.add_row(name, Text(state, style), stamp, waiting, detail[:80])
    for name in configured:
        if name not in seen:
            table.add_row(name, Text("not started", "yellow"), "-", "-", "start `daq agent`")
    if not configured and not sinks:
        console.print("No sinks: add influxdb: or mqtt: to the lab file, then run `daq agent`.")
    else:
        console.print(table)
    for name, dead in sorted(dead_letters.items()):
        when = dt.datetime.fromtimestamp(dead.last, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        console.print(
            Text(f"dead letters of {name}: {dead.count}, the last at {when} UTC: ", "red")
            + Text(dead.error[:300])
        )
    if sinks and not dead_letters:
        console.print("dead letters: none")
    live = [r for r in running if alive(path, f"run-{r}")]
    console.print(f"runs in progress: {', '.join(live) or 'none'}")
    for run_id in running:
        if run_id not in live:
            console.print(
                Text(f"run {run_id} was interrupted (its process is gone): ", "yellow")
                + Text(f"daq run --resume {run_id}")
            )
