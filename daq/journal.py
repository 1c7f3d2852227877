"""The journal: the local system of record (SQLite in WAL mode).

Readings and events are queued in memory and committed in batches every
``batch_interval`` seconds on a thread of their own, so the event loop never waits on the
disk. A ``kill -9`` loses at most the batch not yet committed. When a commit fails (disk
full, file locked) the batch stays queued and is retried: nothing already taken is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from daq.chain import Link, canonical, genesis, make_link
from daq.chain import verify as verify_chain
from daq.clock import Clock
from daq.reading import Reading, Status

log = logging.getLogger("daq.journal")
T = TypeVar("T")

SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    instrument TEXT NOT NULL,
    quantity TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    timestamp REAL NOT NULL,
    status TEXT NOT NULL,
    raw TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS readings_by_instrument ON readings (instrument, timestamp);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    instrument TEXT,
    message TEXT NOT NULL,
    run TEXT
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    procedure TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    abort_request TEXT,
    setup TEXT NOT NULL,
    document TEXT
);
CREATE TABLE IF NOT EXISTS points (
    run TEXT NOT NULL REFERENCES runs (id),
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    timestamp REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    run TEXT NOT NULL,
    plan TEXT NOT NULL,
    timestamp REAL NOT NULL,
    status TEXT NOT NULL,
    conforms INTEGER,
    failures INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_records (
    run TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    previous TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);
CREATE TABLE IF NOT EXISTS certificates (
    number TEXT NOT NULL,
    run TEXT NOT NULL,
    format TEXT NOT NULL,
    language TEXT NOT NULL,
    issued REAL NOT NULL,
    issued_by TEXT NOT NULL,
    function TEXT NOT NULL,
    record_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sink_cursors (
    sink TEXT NOT NULL,
    stream TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (sink, stream)
);
CREATE TABLE IF NOT EXISTS sink_states (
    sink TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
MIGRATIONS = {1: "ALTER TABLE events ADD COLUMN run TEXT"}
"""Statements that bring a journal of schema version N to N + 1 (before ``SCHEMA`` runs);
a version that only adds tables needs none."""

STREAMS = {
    "readings": "SELECT id, instrument, quantity, value, unit, timestamp, status, raw "
    "FROM readings WHERE id > ? ORDER BY id LIMIT ?",
    "events": "SELECT id, timestamp, kind, severity, instrument, message, run "
    "FROM events WHERE id > ? ORDER BY id LIMIT ?",
    "points": "SELECT points.rowid, points.run, runs.plan, points.key, points.timestamp, "
    "points.data FROM points JOIN runs ON runs.id = points.run "
    "WHERE points.rowid > ? ORDER BY points.rowid LIMIT ?",
    "results": "SELECT id, run, plan, timestamp, status, conforms, failures "
    "FROM results WHERE id > ? ORDER BY id LIMIT ?",
}
"""The journal as an outbox: each stream is read in order of an ever-growing row id."""
RUN_COLUMNS = "id, plan, procedure, started, finished, status, reason, abort_request, setup"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: an instrument failed or recovered, the agent started..."""

    timestamp: float
    kind: str
    severity: Severity
    message: str
    instrument: str | None = None
    run: str | None = None
    """The calibration run it belongs to, if any."""


@dataclass(frozen=True)
class Audit:
    """A run's record checked: its final hash, how many records, what is wrong."""

    final: str | None
    records: int
    problems: list[str]
    certified: str
    """The final hash the result document states ("" while the run is unfinished)."""


@dataclass(frozen=True)
class RunRow:
    """A calibration run as the journal holds it (``setup`` and ``document`` are JSON)."""

    id: str
    plan: str
    procedure: str
    started: float
    finished: float | None
    status: str
    reason: str
    abort_request: str | None
    setup: str


class JournalError(Exception):
    """The journal file cannot be opened or used."""


class Journal:
    """Append readings and events; they are committed in batches by a background task."""

    def __init__(
        self,
        path: str | Path,
        *,
        batch_interval: float = 0.5,
        clock: Clock | None = None,
        synchronous: str = "FULL",
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        """Opened only to look (``daq status``): never created, migrated or written, so it
        works on a full disk and beside a running agent."""
        self.batch_interval = batch_interval
        self.clock = clock or Clock()
        self._synchronous = synchronous
        self._readings: list[Reading] = []
        self._events: list[Event] = []
        self._links: list[Link] = []
        self._chains: dict[str, tuple[int, str]] = {}
        """Run -> (seq, hash) of its last record, for the runs being recorded."""
        self._db: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None
        self.committed_readings = 0
        self.last_error: str | None = None
        self._committed: asyncio.Event | None = None

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _open_read_only(self) -> None:
        if not self.path.is_file():
            raise JournalError(f"no journal at {self.path} yet: nothing has been recorded there")
        try:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc
        if version != SCHEMA_VERSION:
            db.close()
            raise JournalError(
                f"{self.path} has journal schema {version}, this daq reads {SCHEMA_VERSION}: "
                "run `daq agent` or `daq monitor` once with this version to upgrade it"
            )
        self._db = db

    def _open_blocking(self) -> None:
        if self.read_only:
            self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path} was written by a newer version (schema {version}); upgrade daq"
                )
            for old in range(version, SCHEMA_VERSION) if version else ():
                if old in MIGRATIONS:
                    db.execute(MIGRATIONS[old])
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self._db = db

    async def open(self) -> Journal:
        await self._run(self._open_blocking)
        self._flush_lock = asyncio.Lock()
        self._committed = asyncio.Event()
        if not self.read_only:
            self._flusher = asyncio.create_task(self._flush_periodically())
        return self

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def record(self, reading: Reading, run: str | None = None) -> None:
        """Keep a reading; one taken for a calibration ``run`` joins its chained record."""
        self._readings.append(reading)
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

    async def audit(self, run: str) -> Audit:
        """Recompute ``run``'s chain and hold the points table and the result document
        against it: what ``daq verify`` prints and what a certificate requires."""
        links = await self.chain_links(run)
        final, problems = verify_chain(run, links)
        chained = {json.loads(k.content)["key"]: k.content for k in links if k.kind == "point"}
        for key, data in await self.points(run):
            if canonical(json.loads(data)) != chained.get(key):
                problems.append(f"point {key!r} in the points table differs from its record")
        document = await self.run_document(run)
        certified = json.loads(document)["run"].get("record_hash", "") if document else ""
        if certified and final != certified:
            problems.append(
                f"the chain ends in {final}, the result document says {certified}: records "
                "were removed or added"
            )
        return Audit(final, len(links), problems, certified)

    async def chain_links(self, run: str) -> list[Link]:
        rows = await self._run(
            self._query_blocking,
            "SELECT run, seq, kind, content, previous, hash FROM run_records WHERE run = ? "
            "ORDER BY seq",
            (run,),
        )
        return [Link(r, int(s), k, c, p, h) for r, s, k, c, p, h in rows]

    def record_many(self, readings: Iterable[Reading]) -> None:
        self._readings.extend(readings)

    def event(
        self,
        kind: str,
        message: str,
        severity: Severity = Severity.INFO,
        instrument: str | None = None,
        run: str | None = None,
    ) -> Event:
        event = Event(self.clock.now(), kind, severity, message, instrument, run)
        self._events.append(event)
        if run is not None and run in self._chains:
            self.chain(
                run,
                "event",
                {
                    "timestamp": event.timestamp,
                    "kind": kind,
                    "severity": severity.value,
                    "instrument": instrument,
                    "message": message,
                },
            )
        return event

    @property
    def pending(self) -> int:
        return len(self._readings) + len(self._events)

    def _commit_blocking(
        self, readings: list[Reading], events: list[Event], links: list[Link]
    ) -> None:
        assert self._db is not None
        db = self._db
        try:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO readings (instrument, quantity, value, unit, timestamp, status, raw)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.instrument,
                        r.quantity,
                        None if math.isnan(r.value) else r.value,
                        r.unit,
                        r.timestamp,
                        r.status.value,
                        r.raw,
                    )
                    for r in readings
                ],
            )
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
                message = (
                    f"cannot write the journal {self.path}: {exc}; readings are kept in memory"
                )
                if self.last_error is None:
                    self.event("journal_write_failed", message, Severity.ERROR)
                if message != self.last_error:
                    log.error("%s", message)
                self.last_error = message
                return
            self.committed_readings += len(readings)
            self._signal_commit()
            if self.last_error is not None:
                self.last_error = None
                self.event("journal_recovered", f"journal {self.path} writable again")

    def _signal_commit(self) -> None:
        if self._committed is not None:
            self._committed.set()

    async def wait_for_commit(self, timeout: float) -> None:
        """Return after the next commit (new rows in the outbox), or after ``timeout``."""
        assert self._committed is not None, "journal not opened"
        self._committed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._committed.wait()

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
        if self._db is not None:
            if not self.read_only:
                await self.flush()
            db, self._db = self._db, None
            await self._run(db.close)
        self._executor.shutdown(wait=True)

    def _query_blocking(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        assert self._db is not None
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc

    async def readings(self, instrument: str | None = None, limit: int = 1000) -> list[Reading]:
        """The newest committed readings (of one instrument), oldest first."""
        where, params = ("WHERE instrument = ?", (instrument,)) if instrument else ("", ())
        rows = await self._run(
            self._query_blocking,
            "SELECT instrument, quantity, value, unit, timestamp, status, raw FROM readings "
            f"{where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            Reading(i, q, math.nan if v is None else v, u, t, Status(s), raw)
            for i, q, v, u, t, s, raw in reversed(rows)
        ]

    async def events(
        self, kind: str | None = None, limit: int = 1000, run: str | None = None
    ) -> list[Event]:
        clauses = [(c, v) for c, v in (("kind = ?", kind), ("run = ?", run)) if v is not None]
        where = ("WHERE " + " AND ".join(c for c, _ in clauses)) if clauses else ""
        rows = await self._run(
            self._query_blocking,
            f"SELECT timestamp, kind, severity, instrument, message, run FROM events {where} "
            "ORDER BY id DESC LIMIT ?",
            (*[v for _, v in clauses], limit),
        )
        return [Event(t, k, Severity(s), m, i, r) for t, k, s, i, m, r in reversed(rows)]

    async def count_readings(self) -> int:
        rows = await self._run(self._query_blocking, "SELECT COUNT(*) FROM readings", ())
        return int(rows[0][0])

    # -- calibration runs: written at once, not batched, so a crash loses no finished point --

    def _execute_blocking(self, sql: str, params: tuple[Any, ...]) -> None:
        assert self._db is not None
        self._db.execute(sql, params)

    async def _write_now(self, sql: str, params: tuple[Any, ...]) -> None:
        await self.flush()  # readings and events first: a point never precedes its evidence
        try:
            await self._run(self._execute_blocking, sql, params)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
        self._signal_commit()

    async def start_run(self, run: RunRow) -> None:
        await self._write_now(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.id,
                run.plan,
                run.procedure,
                run.started,
                run.finished,
                run.status,
                run.reason,
                run.abort_request,
                run.setup,
            ),
        )

    async def set_run_status(self, run: str, status: str, reason: str = "") -> None:
        await self._write_now(
            "UPDATE runs SET status = ?, reason = ?, abort_request = NULL WHERE id = ?",
            (status, reason, run),
        )

    async def finish_run(
        self,
        run: str,
        status: str,
        reason: str,
        finished: float,
        document: str,
        verdict: tuple[bool | None, int],
    ) -> None:
        """Record how the run ended, and append its result to the outbox (``results``)."""
        await self._write_now(
            "UPDATE runs SET status = ?, reason = ?, finished = ?, document = ?, "
            "abort_request = NULL WHERE id = ?",
            (status, reason, finished, document, run),
        )
        conforms, failures = verdict
        await self._write_now(
            "INSERT INTO results (run, plan, timestamp, status, conforms, failures) "
            "SELECT id, plan, ?, ?, ?, ? FROM runs WHERE id = ?",
            (finished, status, None if conforms is None else int(conforms), failures, run),
        )

    async def commit_point(self, run: str, seq: int, key: str, data: str) -> None:
        self.chain(run, "point", json.loads(data))
        await self._write_now(
            "INSERT OR REPLACE INTO points (run, seq, key, timestamp, data) VALUES (?, ?, ?, ?, ?)",
            (run, seq, key, self.clock.now(), data),
        )

    async def request_abort(self, run: str, reason: str) -> None:
        """Ask the process running ``run`` to stop it safely (it polls for this)."""
        await self._write_now("UPDATE runs SET abort_request = ? WHERE id = ?", (reason, run))

    async def runs(self, limit: int = 100) -> list[RunRow]:
        rows = await self._run(
            self._query_blocking,
            f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started DESC LIMIT ?",
            (limit,),
        )
        return [RunRow(*row) for row in rows]

    async def run(self, run: str) -> RunRow | None:
        rows = await self._run(
            self._query_blocking, f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run,)
        )
        return RunRow(*rows[0]) if rows else None

    async def run_document(self, run: str) -> str | None:
        rows = await self._run(
            self._query_blocking, "SELECT document FROM runs WHERE id = ?", (run,)
        )
        return rows[0][0] if rows else None

    async def points(self, run: str) -> list[tuple[str, str]]:
        """(key, data) of every committed point of ``run``, in order."""
        rows = await self._run(
            self._query_blocking, "SELECT key, data FROM points WHERE run = ? ORDER BY seq", (run,)
        )
        return [(key, data) for key, data in rows]

    # -- the outbox: sinks read the streams after their cursor and advance it ------------

    async def outbox(self, stream: str, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` committed rows of ``stream`` with row id above ``after``."""
        rows: list[tuple[Any, ...]] = await self._run(
            self._query_blocking, STREAMS[stream], (after, limit)
        )
        return rows

    async def read_with(self, reader: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``reader`` on the journal's connection, on its thread: for a sink that has
        SQLite shape a large batch without a Python object per row."""

        def guarded() -> T:
            assert self._db is not None, "journal not opened"
            try:
                return reader(self._db)
            except sqlite3.Error as exc:
                raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc

        result: T = await self._run(guarded)
        return result

    async def cursor(self, sink: str, stream: str) -> int:
        rows = await self._run(
            self._query_blocking,
            "SELECT position FROM sink_cursors WHERE sink = ? AND stream = ?",
            (sink, stream),
        )
        return int(rows[0][0]) if rows else 0

    async def advance(self, sink: str, stream: str, position: int) -> None:
        """The sink has everything of ``stream`` up to row id ``position``."""
        try:
            await self._run(
                self._execute_blocking,
                "INSERT INTO sink_cursors (sink, stream, position) VALUES (?, ?, ?) "
                "ON CONFLICT (sink, stream) DO UPDATE SET position = excluded.position",
                (sink, stream, position),
            )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    async def set_sink_state(self, sink: str, state: str, detail: str = "") -> None:
        """The sink's state since it last changed: a retry of an outage keeps its start."""
        await self._run(
            self._execute_blocking,
            "INSERT INTO sink_states (sink, state, detail, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (sink) DO UPDATE SET state = excluded.state, "
            "detail = excluded.detail, updated = CASE WHEN sink_states.state = excluded.state "
            "THEN sink_states.updated ELSE excluded.updated END",
            (sink, state, detail, self.clock.now()),
        )

    async def sink_states(self) -> list[tuple[str, str, str, float]]:
        rows: list[tuple[str, str, str, float]] = await self._run(
            self._query_blocking, "SELECT sink, state, detail, updated FROM sink_states", ()
        )
        return rows

    async def backlog(self, sink: str) -> dict[str, int]:
        """Rows of each stream the sink has not taken yet."""
        found = {}
        for stream in STREAMS:  # each stream is the table of its name
            rows = await self._run(
                self._query_blocking,
                f"SELECT COUNT(*) FROM {stream} WHERE rowid > COALESCE("
                "(SELECT position FROM sink_cursors WHERE sink = ? AND stream = ?), 0)",
                (sink, stream),
            )
            found[stream] = int(rows[0][0])
        return found

    # -- certificates -------------------------------------------------------------------

    async def certificate_number(self, run: str, number_format: str, lab: str) -> str:
        """The run's certificate number: the one it has, else the year's next."""

        def number(db: sqlite3.Connection) -> str:
            found = db.execute(
                "SELECT number FROM certificates WHERE run = ? LIMIT 1", (run,)
            ).fetchone()
            if found:
                return str(found[0])
            year = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year
            (issued,) = db.execute(
                "SELECT COUNT(DISTINCT number) FROM certificates WHERE "
                "strftime('%Y', issued, 'unixepoch') = ?",
                (str(year),),
            ).fetchone()
            return number_format.format(lab=lab, year=year, seq=int(issued) + 1)

        return await self.read_with(number)

    async def record_issue(
        self,
        number: str,
        run: str,
        form: str,
        language: str,
        by: str,
        function: str,
        record_hash: str,
    ) -> None:
        """Issuing a certificate, and who issued it, goes on record."""
        await self._write_now(
            "INSERT INTO certificates (number, run, format, language, issued, issued_by, "
            "function, record_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (number, run, form, language, self.clock.now(), by, function, record_hash),
        )
        self.event(
            "certificate_issued", f"{number} ({form}, {language}) for {run} by {by}, {function}"
        )
