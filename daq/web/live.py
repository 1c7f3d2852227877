"""Server-sent events: the console's pages hear when the run, the prompts or the bench
change, and fetch the part that changed (htmx)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from daq.web.console import Console, console_of
from daq.web.security import COOKIE

router = APIRouter()
KEEPALIVE = 15.0
BENCH_EVERY = 1.0
"""Seconds between bench updates (the monitor polls at about 1 Hz)."""


@router.get("/live/events")
async def live_events(request: Request) -> StreamingResponse:
    """``run`` when the run's view changes, ``prompts`` when the open prompts do."""
    console = console_of(request)
    agent = console.agent

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        if agent is None:
            return
        seen_run, seen_prompts = -1, -1
        while await _listening(request, console):
            if agent.prompter.changes.version != seen_prompts:
                seen_prompts = agent.prompter.changes.version
                ids = sorted(agent.prompter.open)
                yield f"event: prompts\ndata: {json.dumps(ids)}\n\n"
            if agent.live.changes.version != seen_run:
                seen_run = agent.live.changes.version
                yield f"event: run\ndata: {seen_run}\n\n"
            waits = [
                asyncio.ensure_future(agent.live.changes.wait(seen_run, KEEPALIVE)),
                asyncio.ensure_future(agent.prompter.changes.wait(seen_prompts, KEEPALIVE)),
            ]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            await asyncio.sleep(0.2)  # at most five updates a second
            yield ": keepalive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.get("/bench/events")
async def bench_events(request: Request) -> StreamingResponse:
    """``bench`` once a second while the agent polls."""
    console = console_of(request)
    agent = console.agent

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        if agent is None:
            return
        tick = 0
        while await _listening(request, console):
            tick += 1
            yield f"event: bench\ndata: {tick}\n\n"
            await asyncio.sleep(BENCH_EVERY)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def _listening(request: Request, console: Console) -> bool:
    """The browser is still there and its login has not ended (logged out, timed out)."""
    login = console.sessions.find(request.cookies.get(COOKIE), touch=False)
    return login is not None and not await request.is_disconnected()
