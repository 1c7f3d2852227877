"""``daq web``: the operator console alone, over the journal (a PC without instruments)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from daq.cli_common import LabOption, console, fail, journal_of, load, run


def web(
    lab: LabOption = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Where to serve it (default: the lab file's web.listen, else 127.0.0.1:8080).",
        ),
    ] = None,
) -> None:
    """Serve the operator console over the lab's journal until Ctrl-C: runs, certificates,
    standards, events (runs are started where the agent serves it)."""
    import asyncio

    from daq.web.server import ConsoleUnavailable, serve_console

    config = load(lab)
    chosen = listen or (config.web.listen if config.web is not None else "127.0.0.1:8080")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with journal_of(config) as journal:
            console.print(f"operator console of {config.lab.id} on {chosen}; Ctrl-C stops")
            await serve_console(chosen, config, journal, None, stop)

    try:
        run(serve())
    except ConsoleUnavailable as exc:
        raise fail(str(exc), "Choose another --listen, or give web: certificate and key.") from None
    console.print("console stopped")
