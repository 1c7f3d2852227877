"""What every transport shares: per-port locks, reconnect backoff and the I/O trace."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from daq.core.errors import ConnectionLost, InstrumentTimeout

T = TypeVar("T")

trace_log = logging.getLogger("daq.io")

_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def loop_registry() -> dict[str, Any]:
    """Objects shared per physical port within one event loop (locks and clients bind to it)."""
    return _per_loop.setdefault(asyncio.get_running_loop(), {})


def port_lock(port_key: str) -> asyncio.Lock:
    """One lock per physical port, so devices sharing an RS-485 bus never talk at once."""
    registry = loop_registry()
    lock = registry.get(f"lock:{port_key}")
    if lock is None:
        lock = registry[f"lock:{port_key}"] = asyncio.Lock()
    assert isinstance(lock, asyncio.Lock)
    return lock


async def with_retries(attempt: Callable[[], Awaitable[T]], retries: int) -> T:
    """``attempt()`` again after a timeout or a lost link, up to ``retries`` more times (the
    stream transport writes the same loop out in its query, to keep it one coroutine). Only
    for exchanges that are safe to repeat (queries); the last failure is raised as it is."""
    for remaining in range(retries, -1, -1):
        try:
            return await attempt()
        except (InstrumentTimeout, ConnectionLost):
            if not remaining:
                raise
    raise AssertionError("retries is never negative")


@dataclass
class Backoff:
    """Exponential delay between reconnect attempts, reset by a success."""

    initial: float = 0.5
    maximum: float = 30.0
    failures: int = 0
    retry_at: float = field(default=0.0)
    reason: str = ""

    def delay(self) -> float:
        return min(self.maximum, self.initial * 2.0 ** max(0, self.failures - 1))

    def failed(self, reason: str) -> None:
        self.reason = reason
        self.failures += 1
        self.retry_at = time.monotonic() + self.delay()

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = 0.0

    def check(self) -> None:
        """Refuse an attempt while the backoff window after a failure is still open."""
        wait = self.retry_at - time.monotonic()
        if wait > 0:
            raise ConnectionLost(f"{self.reason}; next reconnect attempt in {wait:.1f} s")


class LineTransport(Protocol):
    """A text line link: write a command, read reply lines, terminators handled here."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def query(
        self, command: str, *, retries: int | None = None, timeout: float | None = None
    ) -> str:
        """Send ``command``, return its reply line; ``timeout`` overrides the link's for
        commands the instrument answers only when done (a balance's stable weight)."""
        ...

    async def query_lines(self, command: str, count: int) -> list[str]: ...

    async def write(self, command: str) -> None: ...

    async def read_line(self) -> str: ...


class RegisterTransport(Protocol):
    """A Modbus device: register reads and writes at one device id."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def read_holding_registers(self, address: int, count: int) -> list[int]: ...

    async def read_input_registers(self, address: int, count: int) -> list[int]: ...

    async def write_registers(self, address: int, values: list[int]) -> None: ...
