"""Server-sent events: the console's pages hear when the run, the prompts or the bench
change, and fetch the part that changed (htmx). A stream lasts as long as its login: it
ends when the person logs out, the login times out, or their user is disabled or their
password reset (from the console or `daq users`); it never keeps a login alive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from daq.web.console import Console, console_of
from daq.web.security import COOKIE

router = APIRouter()
CHECK = 5.0
"""Seconds at most between looks at the login (a user disabled from the command line is
seen only in the journal); each look sends a comment that keeps the connection open."""
PACE = 0.2
"""Seconds at least between updates: at most five a second."""
BENCH_EVERY = 1.0
"""Seconds between bench updates (the monitor polls at about 1 Hz)."""
BENCH_ALONE_EVERY = 5.0
"""Seconds between bench updates of a console served alone: read again from the journal,
which the agent commits every half second or so."""


class Versions(Protocol):
    """Something that changes: its version, and a wait until it moves past one seen."""

    @property
    def version(self) -> int: ...

    async def wait(self, seen: int, timeout: float) -> int: ...


class Ticks:
    """A version that moves every ``period`` seconds: the bench, whose hundreds of polls a
    second are not worth a wake-up each."""

    def __init__(self, period: float) -> None:
        self.period = period

    @property
    def version(self) -> int:
        return int(time.monotonic() / self.period)

    async def wait(self, seen: int, timeout: float) -> int:
        if self.version == seen:
            await asyncio.sleep(min(timeout, (seen + 1) * self.period - time.monotonic()))
        return self.version


@dataclass(frozen=True)
class Feed:
    """An event of a stream: what it follows, and what it says when that changes."""

    versions: Versions
    data: Callable[[int], str]


@router.get("/live/events")
async def live_events(request: Request) -> StreamingResponse:
    """``run`` when the run's view changes, ``prompts`` when the open prompts do."""
    agent = console_of(request).agent
    feeds = {}
    if agent is not None:
        prompter = agent.prompter
        feeds = {
            "prompts": Feed(prompter.changes, lambda _: json.dumps(sorted(prompter.open))),
            "run": Feed(agent.live.changes, str),
        }
    return _streamed(request, feeds)


@router.get("/bench/events")
async def bench_events(request: Request) -> StreamingResponse:
    """``bench`` once a second while the agent polls; every few seconds over the journal
    alone."""
    every = BENCH_EVERY if console_of(request).agent is not None else BENCH_ALONE_EVERY
    return _streamed(request, {"bench": Feed(Ticks(every), str)})


def _streamed(request: Request, feeds: dict[str, Feed]) -> StreamingResponse:
    """Each feed's event when it changes, while the browser listens and its login lasts."""
    console = console_of(request)
    token = request.cookies.get(COOKIE)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        if not feeds:  # served alone: nothing live to follow
            return
        seen = dict.fromkeys(feeds, -1)
        ended = console.sessions.ended.version
        while await _listening(request, console, token):
            for name, feed in feeds.items():
                if (version := feed.versions.version) != seen[name]:
                    seen[name] = version
                    yield f"event: {name}\ndata: {feed.data(version)}\n\n"
            waits = [
                *(asyncio.ensure_future(f.versions.wait(seen[n], CHECK)) for n, f in feeds.items()),
                asyncio.ensure_future(console.sessions.ended.wait(ended, CHECK)),
            ]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            ended = console.sessions.ended.version
            await asyncio.sleep(PACE)
            yield ": keepalive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


async def _listening(request: Request, console: Console, token: str | None) -> bool:
    """The browser is still there and its login lasts (not logged out, timed out, nor its
    user disabled or their password reset since)."""
    login = await console.sessions.lasting(token, console.journal)
    return login is not None and not await request.is_disconnected()
