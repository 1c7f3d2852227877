"""Exchange deadlines without a loop timer each.

``asyncio.timeout`` arms a loop timer on entry and cancels it on exit: about 6 µs on uvloop,
paid on every exchange, a tenth of what a monitored reading costs, for a timeout that
nearly never fires. Here an exchange only notes its deadline in its loop's ``Watch``; one
task per loop, awake only while exchanges are in flight, cancels every exchange past its
deadline each ``PERIOD``, and the cancellation comes out of the ``with`` as ``TimeoutError``,
as it does from ``asyncio.timeout`` (a cancellation from anywhere else stays one). A timeout
fires up to one period late. The watch's task ends by itself once nothing is in flight (up
to one period after the last exchange); a loop is expected to be run by ``asyncio.run`` or
an ``asyncio.Runner``, which cancel what is left when they close.
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType

PERIOD = 0.05
"""Seconds between two looks at the exchanges in flight."""


class Deadline:
    """One exchange's deadline (``with watch.deadline(seconds):``)."""

    __slots__ = ("_cancelling", "_seconds", "_task", "_watch", "at", "expired")

    def __init__(self, watch: Watch, seconds: float) -> None:
        self._watch = watch
        self._seconds = seconds
        self.expired = False

    def __enter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        self._task = task
        self._cancelling = task.cancelling()
        self.at = asyncio.get_running_loop().time() + self._seconds
        self._watch.start(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._watch.pending.discard(self)
        # uncancel() whenever this deadline cancelled the task, as asyncio.timeout does
        expired = self.expired and self._task.uncancel() <= self._cancelling
        if expired and kind is asyncio.CancelledError:
            raise TimeoutError from error

    def expire(self) -> None:
        self.expired = True
        self._task.cancel()


class Watch:
    """The deadlines of one event loop's exchanges in flight (it holds no reference to the
    loop, so the loop's entry in ``_watches`` goes with it)."""

    def __init__(self) -> None:
        self.pending: set[Deadline] = set()
        self._watching: asyncio.Task[None] | None = None

    def deadline(self, seconds: float) -> Deadline:
        return Deadline(self, seconds)

    def start(self, deadline: Deadline) -> None:
        self.pending.add(deadline)
        if self._watching is None or self._watching.done():  # (done: it was cancelled)
            loop = asyncio.get_running_loop()
            self._watching = loop.create_task(self._watch(), name="exchange deadlines")

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                await asyncio.sleep(PERIOD)
                now = loop.time()
                for deadline in [d for d in self.pending if d.at <= now]:
                    self.pending.discard(deadline)
                    deadline.expire()
        finally:
            self._watching = None


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watch] = weakref.WeakKeyDictionary()


def watch() -> Watch:
    """The running loop's watch (made on first use, gone with the loop)."""
    loop = asyncio.get_running_loop()
    found = _watches.get(loop)
    if found is None:
        found = _watches[loop] = Watch()
    return found
