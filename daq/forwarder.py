"""Store-and-forward: each sink drains the journal from its own cursor.

Delivery is at least once: a batch is sent, then the cursor moves past it, both in order, so
a crash between the two resends the batch, which the sinks write idempotently (a point's
identity comes from its journal row). While a sink is down nothing is dropped: the journal
holds the backlog and the forwarder retries with capped backoff, then drains it at full
speed. State changes are events, and ``daq status`` reads the state and the backlog.

A batch the sink refuses as such (``SinkRefused``: malformed, too large) is halved until the
records at fault are found; the rest is delivered, those are set aside in the journal's
dead letters, and the cursor moves on, so no record can hold a stream up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from daq.journal import EventKind, Journal, JournalError, Severity, SinkState
from daq.sinks.base import Batch, Sink, SinkError, SinkRefused

log = logging.getLogger("daq.forwarder")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
IN_FLIGHT = 2
"""Batches sent before the first is acknowledged."""
ROUND = 20
"""Batches of one stream per round, so that no stream waits behind a long backlog."""
CURSOR_SAVE = 0.5
"""Seconds between cursor writes while a backlog drains."""
IDLE_WAIT = 1.0
"""Seconds an idle forwarder waits for a commit before looking again anyway."""


class Forwarder:
    def __init__(self, journal: Journal, sink: Sink, batch_size: int = 5000) -> None:
        self.journal = journal
        self.sink = sink
        self.batch_size = batch_size
        self.state = SinkState.STARTING
        self.delivered = 0
        self._backoff = FIRST_BACKOFF
        self._down_since: float | None = None
        self._unsaved: dict[str, int] = {}
        self._saved_at = 0.0
        self._accepted = False
        """The sink took a write in this round: then a record it refuses is at fault, not
        the sink (which, refusing everything, is down: a proxy answering 400, say)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Forward until ``stop`` is set; then finish the batch in hand and return."""
        cursors = {s: await self.journal.cursor(self.sink.name, s) for s in self.sink.streams}
        while not stop.is_set():
            try:
                moved = await self._forward_once(cursors)
            except (SinkError, JournalError) as exc:  # server down, or the journal unreadable
                await self._failed(str(exc))
                await _sleep_unless(stop, self._backoff)
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                continue
            await self._succeeded()
            if not moved:
                waiter = asyncio.ensure_future(self.journal.wait_for_commit(IDLE_WAIT))
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()

    async def _forward_once(self, cursors: dict[str, int]) -> int:
        """Up to ``ROUND`` batches of each stream; the number of rows delivered.

        Two batches are in flight at once, so the next is read and encoded while the server
        takes the last; the cursor only ever moves past batches delivered, in order.
        """
        moved = 0
        self._accepted = False
        for stream, position in cursors.items():
            in_flight: list[tuple[asyncio.Future[None], Batch]] = []
            batch = await self.sink.fetch(self.journal, stream, position, self.batch_size)
            sent = 0
            try:
                while batch is not None or in_flight:
                    if batch is not None and len(in_flight) < IN_FLIGHT and sent < ROUND:
                        in_flight.append((asyncio.ensure_future(self.sink.write(batch)), batch))
                        sent += 1
                        batch = (
                            await self.sink.fetch(self.journal, stream, batch.last, self.batch_size)
                            if sent < ROUND
                            else None
                        )
                        continue
                    oldest, done = in_flight.pop(0)
                    try:
                        await oldest
                    except SinkRefused as exc:
                        set_aside = await self._isolate(done, cursors[stream], exc)
                    else:
                        set_aside, self._accepted = 0, True
                    cursors[stream] = self._unsaved[stream] = done.last
                    await self._save_cursors(force=False)
                    moved += done.count
                    self.delivered += done.count - set_aside
            finally:
                for pending, _ in in_flight:
                    pending.cancel()
                await asyncio.gather(*(p for p, _ in in_flight), return_exceptions=True)
        await self._save_cursors(force=True)
        return moved

    async def _isolate(self, batch: Batch, after: int, refusal: SinkRefused) -> int:
        """Deliver what the sink takes of a refused ``batch`` (the rows after ``after``) and
        set the records it refuses aside as dead letters; how many were."""
        refused: list[tuple[int, str]] = []
        await self._bisect(batch, after, str(refusal), refused)
        if not self._accepted:
            raise SinkError(f"{refusal} (it refuses everything it is sent)")
        for row, error in refused:
            await self.journal.dead_letter(self.sink.name, batch.stream, row, error)
            log.warning("%s refuses %s row %s: %s", self.sink.name, batch.stream, row, error)
        return len(refused)

    async def _bisect(
        self, batch: Batch, after: int, error: str, refused: list[tuple[int, str]]
    ) -> None:
        """Write the two halves of a refused batch, halving again what is refused, down to
        the single records at fault (into ``refused``, with what the sink said of each)."""
        if batch.count == 1:
            refused.append((batch.last, error))
            return
        for limit in (batch.count // 2, batch.count - batch.count // 2):
            part = await self.sink.fetch(self.journal, batch.stream, after, limit)
            if part is None:
                return
            try:
                await self.sink.write(part)
            except SinkRefused as exc:
                await self._bisect(part, after, str(exc), refused)
            else:
                self._accepted = True
            after = part.last

    async def _save_cursors(self, *, force: bool) -> None:
        """Write the cursors at most every ``CURSOR_SAVE`` seconds while draining: a crash
        in between resends a few batches, which the sinks write idempotently."""
        now = time.monotonic()
        if not self._unsaved or (not force and now - self._saved_at < CURSOR_SAVE):
            return
        for stream, position in self._unsaved.items():
            await self.journal.advance(self.sink.name, stream, position)
        self._unsaved.clear()
        self._saved_at = now

    async def _failed(self, message: str) -> None:
        if self.state != SinkState.DOWN:
            self.state = SinkState.DOWN
            self._down_since = self.journal.clock.now()
            self.journal.event(
                EventKind.SINK_DOWN,
                f"{self.sink.name}: {message}; readings are kept in the journal and sent on "
                "recovery",
                Severity.WARNING,
            )
            log.warning("%s down: %s", self.sink.name, message)
        await self._record_state(message)

    async def _succeeded(self) -> None:
        self._backoff = FIRST_BACKOFF
        if self.state == SinkState.OK:
            return
        if self.state == SinkState.DOWN and self._down_since is not None:
            outage = self.journal.clock.now() - self._down_since
            self.journal.event(
                EventKind.SINK_RECOVERED, f"{self.sink.name} back after {outage:.0f} s"
            )
        self.state = SinkState.OK
        await self._record_state("")

    async def _record_state(self, detail: str) -> None:
        try:
            await self.journal.set_sink_state(self.sink.name, self.state, detail)
        except JournalError as exc:  # the state is for display; forwarding goes on
            log.warning("cannot record the state of %s: %s", self.sink.name, exc)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
