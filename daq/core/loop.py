"""The event loop the commands run on: uvloop when installed (``benchdaq[fast]``), else
asyncio's own. uvloop takes 12–17 % less CPU per reading (docs/PERFORMANCE.md); setting
``DAQ_EVENT_LOOP=asyncio`` keeps asyncio's loop, to rule the loop out when chasing a fault."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory() -> LoopFactory:
    if os.environ.get("DAQ_EVENT_LOOP", "").lower() == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop

