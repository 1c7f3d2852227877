"""The event loop the commands run on: uvloop when installed (``benchdaq[fast]``), else
asyncio's own. uvloop takes less CPU per reading (docs/PERFORMANCE.md); setting
``DAQ_EVENT_LOOP=asyncio`` keeps asyncio's loop, to rule the loop out when chasing a fault."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

SWITCH_INTERVAL = 0.001
"""Seconds another thread (the journal hashing and committing a batch, a pyvisa call) may
hold the interpreter while the event loop waits for it. Python's 5 ms showed in the polls'
sampling jitter; 1 ms costs nothing measurable (docs/PERFORMANCE.md)."""


def prefer_the_loop() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)


def loop_factory() -> LoopFactory:
    if os.environ.get("DAQ_EVENT_LOOP", "").lower() == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop
