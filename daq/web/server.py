"""Serving the console: inside ``daq agent`` on its event loop, or alone (``daq web``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import ValidationError

from daq.config import LabConfig, WebSettings, message_of, split_listen
from daq.journal import Journal

if TYPE_CHECKING:
    from daq.agent import Agent

log = logging.getLogger("daq.web")


class ConsoleUnavailable(Exception):
    """The console's address cannot be listened on."""


def listening_socket(listen: str) -> socket.socket:
    host, port = split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConsoleUnavailable(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """Leaves the signals to the program serving it (the agent stops it)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


async def serve_console(
    listen: str, lab: LabConfig, journal: Journal, agent: Agent | None, stop: asyncio.Event
) -> None:
    """Serve the console on ``listen`` until ``stop``; raises ``ConsoleUnavailable`` when
    the address cannot be listened on, or needs HTTPS the lab file does not give."""
    import uvicorn

    from daq.web.app import create_app

    settings = lab.web or WebSettings(listen=listen)
    if lab.web is None or lab.web.listen != listen:
        try:  # HTTPS off the loopback
            settings = WebSettings.model_validate({**settings.model_dump(), "listen": listen})
        except ValidationError as exc:
            problem = message_of(exc.errors()[0])
            raise ConsoleUnavailable(
                f"{lab.file}: web: {problem} (listening on {listen})"
            ) from None
        lab = lab.model_copy(update={"web": settings})
    sock = listening_socket(listen)
    app = create_app(lab, journal, agent)
    tls = {}
    if settings.certificate is not None and settings.key is not None:
        tls = {"ssl_certfile": str(settings.certificate), "ssl_keyfile": str(settings.key)}
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        proxy_headers=settings.behind_proxy,
        timeout_graceful_shutdown=2,
        **tls,  # type: ignore[arg-type]
    )
    server = _server_class()(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 10)
        sock.close()
