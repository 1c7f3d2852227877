"""``daq archive`` (the fleet's central archive service) and ``daq fleet status``."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from daq.cli_common import LabOption, console, fail, lab_problems, load, run

if TYPE_CHECKING:
    from daq.sinks.settings import NatsSettings

fleet_app = typer.Typer(
    rich_markup_mode=None, help="The fleet of agents on a NATS cluster: its status."
)
ArchiveFile = Annotated[
    Path,
    typer.Argument(metavar="ARCHIVE", help="The archive's settings (deploy/fleet/archive.yaml)."),
]


def archive(settings_file: ArchiveFile) -> None:
    """Run the fleet's archive until SIGTERM or Ctrl-C: consume the fleet's stream and write
    every reading, event, point and result to the store, acknowledging each after its write.
    Several archives may run at once: they share the work."""
    import asyncio

    from daq.archive import Archive, load_settings
    from daq.config import ConfigError

    try:
        settings = load_settings(settings_file)
    except ConfigError as exc:
        raise lab_problems(exc) from None
    archive = Archive(settings)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        console.print(
            f"archive: stream {settings.nats.stream} on {', '.join(settings.nats.servers)} "
            f"to {settings.store.url}; SIGTERM or Ctrl-C stops"
        )
        await archive.run(stop)

    run(serve())
    console.print(f"archive stopped: {archive.written} messages written, {archive.refused} refused")


def _settings(lab: Path | None, archive_file: Path | None) -> NatsSettings:
    """The NATS settings of the lab file's ``nats`` sink, or of an archive's file."""
    if archive_file is not None:
        from daq.archive import load_settings
        from daq.config import ConfigError

        try:
            return load_settings(archive_file).nats
        except ConfigError as exc:
            raise lab_problems(exc) from None
    from daq.sinks.settings import NatsSettings

    config = load(lab)
    entries = [s for s in config.sinks if s.type == "nats"]
    if not entries:
        raise fail(
            f"{config.file} has no sink of type nats",
            "Name the fleet's cluster in the lab file (sinks: [{type: nats, settings: ...}]) "
            "or give --archive ARCHIVE.",
            2,
        )
    return NatsSettings.model_validate(entries[0].settings)


@fleet_app.command("status")
def status(
    lab: LabOption = None,
    archive_file: Annotated[
        Path | None, typer.Option("--archive", help="Connect as this archive's file says.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fleet as JSON.")] = False,
) -> None:
    """Every agent of the fleet: its benches, last contact, sinks' backlog, standards coming
    due and open alarms, as each agent last reported them."""
    from daq.fleet import fleet_status
    from daq.sinks.base import SinkError

    settings = _settings(lab, archive_file)
    try:
        agents = run(fleet_status(settings))
    except SinkError as exc:
        raise fail(str(exc), "Check that the cluster is reachable from here.") from None
    if as_json:
        console.print_json(json.dumps(agents))
        return
    if not agents:
        console.print("no agent has reported to the fleet yet")
        return
    table = Table(title=f"Fleet on {settings.servers[0]}", title_justify="left")
    for column in ("lab", "agent", "benches", "last contact", "backlog", "standards due",
                   "alarms"):  # fmt: skip
        table.add_column(column)
    now = time.time()
    for agent in agents:  # every text as written, never as markup
        if "unreadable" in agent:
            table.add_row(
                "?",
                escape(str(agent.get("key", "?"))),
                f"unreadable: {escape(agent['unreadable'])}",
            )
            continue
        ago = dt.timedelta(seconds=round(max(0.0, now - agent["timestamp"])))
        contact = f"{ago} ago" + (" (stopped)" if agent["stopped"] else "")
        benches = ", ".join(f"{b} ({len(i)})" for b, i in agent["benches"].items())
        backlog = sum(s["backlog"] for s in agent["sinks"].values())
        due = ", ".join(f"{d['id']} ({d['days_left']} d)" for d in agent["standards_due"])
        alarms = ", ".join(agent["alarms"]) or "none"
        cells = [agent["lab"], agent["agent"], benches, contact, str(backlog), due or "none",
                 alarms]  # fmt: skip
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
