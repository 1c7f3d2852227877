"""The batched writer: readings, events and run records queued in memory and committed
in batches every ``batch_interval`` seconds. A ``kill -9`` loses at most the batch not yet
committed; a failed commit (disk full) keeps the batch and retries, within a memory bound,
and a stop that cannot write spills to a file taken back at the next open."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from daq import spill
from daq.chain import (
    Link,
    genesis,
    make_link,
    stored_reading_hash,
    stream_genesis,
)
from daq.core.reading import Reading
from daq.journal.connection import JournalBase, log
from daq.journal.reading_index import catch_up, keep_in_reach, unindexed
from daq.journal.records import (
    Event,
    EventKind,
    JournalError,
    Severity,
    stored_values,
)
from daq.signing import SigningError, load_signer
from daq.text import cap_id, cap_message


class BatchedWriter(JournalBase):
    """Append readings and events; they are committed in batches by a background task."""

    def _take_back_spills(self) -> list[tuple[EventKind, str]]:
        """Commit the spill files a journal that could not write left, oldest first; each is
        renamed once taken (``.imported``) or set aside if unreadable (``.unreadable``)."""
        told = []
        keys = self.signing.keys if self.signing is not None else []
        for file in spill.spill_files(self.spill_folder, self.path):
            try:
                readings, events, links = spill.read(file, keys)
                taken = [
                    Event(
                        float(e["timestamp"]),
                        cap_id(e["kind"]),
                        Severity(e["severity"]),
                        cap_message(e["message"]),
                        None if e["instrument"] is None else cap_id(e["instrument"]),
                        None if e["run"] is None else cap_id(e["run"]),
                    )
                    for e in events
                ]
                self._commit_blocking(readings, taken, links)
            except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as exc:
                with contextlib.suppress(OSError):  # never taken back, never in the way
                    file.rename(file.with_suffix(".refused"))
                told.append((EventKind.SPILL_REFUSED, f"{file} was not taken back: {exc}"))
                continue
            file.rename(file.with_suffix(".imported"))
            told.append(
                (
                    EventKind.SPILL_IMPORTED,
                    f"{len(readings)} readings, {len(events)} events and {len(links)} run "
                    f"records taken back from {file}",
                )
            )
        return told

    def record(self, reading: Reading, run: str | None = None) -> None:
        """Keep a reading; one taken for a calibration ``run`` is tagged with it and joins
        its chained record."""
        self._readings.append(reading if run is None else replace(reading, run=run))
        if run is not None:
            self.chain(
                run,
                "reading",
                {
                    "instrument": reading.instrument,
                    "quantity": reading.quantity,
                    "value": None if not math.isfinite(reading.value) else reading.value,
                    "unit": reading.unit,
                    "timestamp": reading.timestamp,
                    "status": reading.status.value,
                    "raw": reading.raw,
                },
            )

    def chain(self, run: str, kind: str, content: dict[str, Any]) -> Link:
        """Append a record to the run's hash chain (committed with the next batch)."""
        seq, previous = self._chains.get(run, (0, genesis(run)))
        link = make_link(run, seq + 1, previous, kind, content)
        self._chains[run] = (link.seq, link.hash)
        self._links.append(link)
        return link

    async def open_chain(self, run: str) -> None:
        """Continue ``run``'s chain from its last committed record (a new run: its start)."""
        rows = await self._run(
            self._query_blocking,
            "SELECT seq, hash FROM run_records WHERE run = ? ORDER BY seq DESC LIMIT 1",
            (run,),
        )
        self._chains[run] = (int(rows[0][0]), str(rows[0][1])) if rows else (0, genesis(run))

    def close_chain(self, run: str) -> str:
        """Stop chaining ``run``; its final hash."""
        return self._chains.pop(run, (0, genesis(run)))[1]

    def record_many(self, readings: Iterable[Reading]) -> None:
        self._readings.extend(readings)

    def event(
        self,
        kind: EventKind,
        message: str,
        severity: Severity = Severity.INFO,
        instrument: str | None = None,
        run: str | None = None,
    ) -> Event:
        """Keep an event. Its texts are capped and made printable here (``daq.text``), since
        they may carry anything sent to the agent: nothing kept is too long for a sink."""
        kept, message = cap_id(kind), cap_message(message)
        instrument = None if instrument is None else cap_id(instrument)
        run = None if run is None else cap_id(run)
        event = Event(self.clock.now(), kept, severity, message, instrument, run)
        self._events.append(event)
        if run is not None and run in self._chains:
            self.chain(
                run,
                "event",
                {
                    "timestamp": event.timestamp,
                    "kind": kept,
                    "severity": severity.value,
                    "instrument": instrument,
                    "message": message,
                },
            )
        return event

    def _load_heads_blocking(self) -> dict[str, str]:
        assert self._db is not None
        if self._heads is None:
            rows = self._db.execute(
                "SELECT instrument, chain FROM readings WHERE id IN (SELECT MAX(id) FROM "
                "readings WHERE run IS NULL AND chain IS NOT NULL GROUP BY instrument)"
            ).fetchall()
            self._heads = {instrument: chain for instrument, chain in rows}
        return self._heads

    def _commit_blocking(
        self, readings: list[Reading], events: list[Event], links: list[Link]
    ) -> None:
        assert self._db is not None
        db = self._db
        heads = dict(self._load_heads_blocking())
        rows = []
        for r in readings:
            row = stored_values(r)
            chain = None
            if r.run is None:  # a run's readings are in its own chain
                previous = heads.get(r.instrument) or stream_genesis(r.instrument)
                chain = heads[r.instrument] = stored_reading_hash(previous, row)
            rows.append((*row, r.run, chain))
        if self._unindexed is None:
            self._unindexed = unindexed(db)
        unindexed_after = self._unindexed + len(rows)
        try:
            db.execute("BEGIN")
            keep_in_reach(db)
            db.executemany(
                "INSERT INTO readings (instrument, quantity, value, unit, timestamp, status, raw,"
                " run, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if unindexed_after >= self.index_batch:
                catch_up(db)
                unindexed_after = 0
            db.executemany(
                "INSERT INTO events (timestamp, kind, severity, instrument, message, run)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (e.timestamp, e.kind, e.severity.value, e.instrument, e.message, e.run)
                    for e in events
                ],
            )
            db.executemany(
                "INSERT INTO run_records (run, seq, kind, content, previous, hash)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(k.run, k.seq, k.kind, k.content, k.previous, k.hash) for k in links],
            )
            db.execute("COMMIT")
            self._heads, self._unindexed = heads, unindexed_after
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    async def flush(self) -> None:
        """Commit everything queued so far; on failure it stays queued for the next try."""
        assert self._flush_lock is not None, "journal not opened"
        async with self._flush_lock:
            readings, events, links = self._readings, self._events, self._links
            if not readings and not events and not links:
                return
            self._readings, self._events, self._links = [], [], []
            try:
                await self._run(self._commit_blocking, readings, events, links)
            except sqlite3.Error as exc:
                self._readings[:0], self._events[:0] = readings, events
                self._links[:0] = links
                self._bound_memory()
                message = (
                    f"cannot write the journal {self.path}: {exc}; {len(self._readings)} "
                    f"readings are kept in memory (at most {self.memory_limit})"
                )
                if self.last_error is None:
                    self.event(EventKind.JOURNAL_WRITE_FAILED, message, Severity.ERROR)
                    self._tell(EventKind.JOURNAL_WRITE_FAILED, message)
                if message != self.last_error:
                    log.error("%s", message)
                self.last_error = message
                return
            self.committed_readings += len(readings)
            self._signal_commit()
            if self.last_error is not None:
                self.last_error = None
                self.event(EventKind.JOURNAL_RECOVERED, f"journal {self.path} writable again")
                self._tell(EventKind.JOURNAL_RECOVERED, f"journal {self.path} writable again")
                if self._lost:
                    self.event(EventKind.READINGS_LOST, self._lost_message(), Severity.ERROR)
                    self._lost = []

    def _bound_memory(self) -> None:
        excess = len(self._readings) - self.memory_limit
        if excess <= 0:
            return
        dropped, self._readings = self._readings[:excess], self._readings[excess:]
        first = min(r.timestamp for r in dropped)
        last = max(r.timestamp for r in dropped)
        if self._lost:
            count, first, last = self._lost[0] + excess, min(first, self._lost[1]), last
        else:
            count = excess
        self._lost = [count, first, last]

    def _lost_message(self) -> str:
        count, first, last = self._lost
        span = " to ".join(
            dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            for t in (first, last)
        )
        return (
            f"{int(count)} readings taken from {span} UTC were lost: the journal could not be "
            f"written and memory holds at most {self.memory_limit}"
        )

    def _tell(self, kind: EventKind, message: str) -> None:
        if self.on_trouble is not None:
            try:
                self.on_trouble(kind, message)
            except Exception:  # the alarm is best effort; the journal keeps working
                log.exception("could not pass on %s", kind)

    async def stream_heads(self) -> dict[str, str]:
        """Instrument -> hash of its last committed reading outside runs."""
        return dict(await self._run(self._load_heads_blocking))

    @property
    def pending(self) -> int:
        """Readings, events and run records not written yet."""
        return len(self._readings) + len(self._events) + len(self._links)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.batch_interval)
            await self.flush()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        problem = None
        if self._db is not None:
            if not self.read_only:
                problem = await self._write_or_spill()
            db, self._db = self._db, None
            await self._run(db.close)
        self._executor.shutdown(wait=True)
        if problem is not None:
            raise JournalError(problem)

    async def _write_or_spill(self) -> str | None:
        """Write what is queued; if the journal refuses, keep trying for ``close_timeout``
        real seconds, then write it to a spill file. None when everything is in the journal,
        else what was kept and where (or what was lost)."""
        await self.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout
        while self.pending and loop.time() < deadline:
            await asyncio.sleep(min(0.5, self.close_timeout))
            await self.flush()
        if not self.pending:
            return None
        if self._lost:
            self.event(EventKind.READINGS_LOST, self._lost_message(), Severity.ERROR)
        held = (
            f"{len(self._readings)} readings, {len(self._events)} events and "
            f"{len(self._links)} run records"
        )
        target = spill.spill_path(self.spill_folder, self.path, self.clock.now())
        why = f"the journal {self.path} could not be written ({self.last_error})"
        try:
            now = self.clock.now()
            try:
                signer = load_signer(self.signing, now) if self.signing is not None else None
            except SigningError as exc:
                signer, why = None, f"{why}; the spill is unsigned ({exc}): check it by hand"
            await self._run(
                spill.write, target, self._readings, self._events, self._links, signer, now
            )
        except OSError as exc:
            return f"{why}, nor the spill file {target} ({exc}): {held} are lost"
        return (
            f"{why}: {held} were written to {target}; the journal takes them back the next "
            "time it opens"
        )

    async def _write_now(self, sql: str, params: tuple[Any, ...]) -> None:
        await self.flush()  # readings and events first: a point never precedes its evidence
        try:
            await self._run(self._execute_blocking, sql, params)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
        self._signal_commit()
