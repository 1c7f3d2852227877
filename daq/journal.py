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
import hashlib
import json
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, astuple, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from daq import spill
from daq.chain import (
    REGISTER_GENESIS,
    Link,
    canonical,
    genesis,
    make_link,
    register_link,
    stream_genesis,
    stream_hash,
)
from daq.core.clock import Clock
from daq.core.reading import Reading, Status
from daq.signing import Signature, Signer, SigningError, SigningSettings, load_signer
from daq.text import cap_id, cap_message

log = logging.getLogger("daq.journal")
T = TypeVar("T")

SCHEMA_VERSION = 7
REGISTER_SCHEMA = 7
"""The schema that added the register of issued certificates (filled from the rows)."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    instrument TEXT NOT NULL,
    quantity TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    timestamp REAL NOT NULL,
    status TEXT NOT NULL,
    raw TEXT NOT NULL DEFAULT '',
    run TEXT,
    chain TEXT
);
CREATE INDEX IF NOT EXISTS readings_by_instrument ON readings (instrument, timestamp);
CREATE INDEX IF NOT EXISTS readings_by_run ON readings (run) WHERE run IS NOT NULL;
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
    record_hash TEXT NOT NULL,
    replaces TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS certificate_register (
    seq INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    run TEXT NOT NULL,
    replaces TEXT NOT NULL,
    issued REAL NOT NULL,
    hash TEXT NOT NULL,
    previous TEXT NOT NULL,
    link TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signatures (
    subject TEXT NOT NULL,
    hash TEXT NOT NULL,
    key TEXT NOT NULL,
    signed REAL NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (subject, hash)
);
CREATE TABLE IF NOT EXISTS sink_cursors (
    sink TEXT NOT NULL,
    stream TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (sink, stream)
);
CREATE TABLE IF NOT EXISTS journal_facts (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_anchors (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    heads TEXT NOT NULL,
    previous TEXT NOT NULL,
    digest TEXT NOT NULL,
    key TEXT,
    signed REAL,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS sink_states (
    sink TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS command_nonces (
    key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (key, nonce)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    sink TEXT NOT NULL,
    stream TEXT NOT NULL,
    row INTEGER NOT NULL,
    error TEXT NOT NULL,
    timestamp REAL NOT NULL,
    PRIMARY KEY (sink, stream, row)
);
"""
MIGRATIONS = {
    1: ("ALTER TABLE events ADD COLUMN run TEXT",),
    4: (
        "ALTER TABLE readings ADD COLUMN run TEXT",
        "ALTER TABLE certificates ADD COLUMN replaces TEXT NOT NULL DEFAULT ''",
    ),
    5: ("ALTER TABLE readings ADD COLUMN chain TEXT",),
}
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
class CertificateRow:
    """An issued certificate as the journal records it."""

    number: str
    run: str
    format: str
    language: str
    issued: float
    issued_by: str
    function: str
    record_hash: str
    """The final hash of the run's record it was issued from."""
    replaces: str = ""
    """The number of the certificate this one replaces (a re-issue), else ""."""

    def digest(self) -> str:
        """The hash the lab signs for an issued certificate: everything its row records."""
        return hashlib.sha256(canonical(asdict(self)).encode()).hexdigest()


@dataclass(frozen=True)
class RegisterEntry:
    """One issued number in the chained register of certificates: once there, a number
    cannot be issued again, and its certificate's row cannot be removed unseen."""

    seq: int
    number: str
    run: str
    replaces: str
    issued: float
    hash: str
    """The certificate row's digest when it was issued."""
    previous: str
    link: str

    def content(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "number": self.number,
            "run": self.run,
            "replaces": self.replaces,
            "issued": self.issued,
            "hash": self.hash,
        }


def register_subject(number: str) -> str:
    """What the lab's signature of a register entry names."""
    return f"certificate-register:{number}"


CERTIFICATE_COLUMNS = (
    "number, run, format, language, issued, issued_by, function, record_hash, replaces"
)
REGISTER_COLUMNS = "seq, number, run, replaces, issued, hash, previous, link"


class NumberTaken(Exception):
    """A certificate number is issued once; this one already was."""


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


@dataclass(frozen=True)
class DeadLetters:
    """The records one sink refused for good (``daq status`` shows them)."""

    count: int
    last: float
    """When the last was set aside."""
    error: str
    """What the sink said of the last."""


AnchorRow = tuple[int, float, str, str, str, str | None, float | None, str | None]


def stored_reading(r: Reading) -> dict[str, Any]:
    """A reading's fields as the readings table stores them, in column order: what a
    monitored reading's chain hash covers (so it can be recomputed from the row)."""
    return {
        "instrument": r.instrument,
        "quantity": r.quantity,
        # as SQLite gives it back: a float, and -0.0 read back as 0.0
        "value": None if math.isnan(r.value) else float(r.value) + 0.0,
        "unit": r.unit,
        "timestamp": r.timestamp,
        "status": r.status.value,
        "raw": r.raw,
    }


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
        memory_limit: int = 1_000_000,
        spill_folder: Path | None = None,
        close_timeout: float = 10.0,
        signing: SigningSettings | None = None,
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
        self._heads: dict[str, str] | None = None
        """Instrument -> hash of its last chained reading outside runs (loaded on first
        commit; replaced only once a commit succeeds)."""
        """Run -> (seq, hash) of its last record, for the runs being recorded."""
        self._db: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None
        self.committed_readings = 0
        self.last_error: str | None = None
        self.memory_limit = memory_limit
        """Readings kept in memory while the journal cannot be written; beyond, the oldest
        are dropped and counted (a ``readings_lost`` event says how many, and when)."""
        self.spill_folder = spill_folder or self.path.parent
        self.signing = signing
        """The lab's keys: spill files are signed with its key and taken back only when a
        registered key signed them."""
        self.close_timeout = close_timeout
        """Real seconds ``close`` keeps trying to write before it spills what it holds."""
        self.on_trouble: Callable[[str, str], None] | None = None
        """Told (kind, message) when writing fails and recovers, so the agent can raise the
        alarm over MQTT without the journal."""
        self._lost: list[float] = []
        """Count, first and last timestamp of the readings dropped (empty: none)."""
        self._committed: asyncio.Event | None = None

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _take_back_spills(self) -> list[tuple[str, str]]:
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
                told.append(("spill_refused", f"{file} was not taken back: {exc}"))
                continue
            file.rename(file.with_suffix(".imported"))
            told.append(
                (
                    "spill_imported",
                    f"{len(readings)} readings, {len(events)} events and {len(links)} run "
                    f"records taken back from {file}",
                )
            )
        return told

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
        db: sqlite3.Connection | None = None
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
            before_register = REGISTER_SCHEMA - 1
            if 0 < version < before_register:  # all or nothing, the new version with them
                db.execute("BEGIN")
                for old in range(version, before_register):
                    for statement in MIGRATIONS.get(old, ()):
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={before_register}")
                db.execute("COMMIT")
            db.executescript(SCHEMA)
            # readings up to here were recorded before the streams were chained: none, in a
            # new journal; every later reading outside runs must be chained
            db.execute(
                "INSERT OR IGNORE INTO journal_facts (name, value) SELECT 'chained_after', "
                "COALESCE(MAX(id), 0) FROM readings"
            )
            if version < REGISTER_SCHEMA:  # the register's step, all or nothing with its version
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM certificate_register")
                for row in db.execute(
                    f"SELECT {CERTIFICATE_COLUMNS} FROM certificates ORDER BY rowid"
                ).fetchall():  # certificates issued before the register: taken in, unsigned
                    with contextlib.suppress(sqlite3.IntegrityError):  # a number reused once
                        self._register_blocking(db, CertificateRow(*row), None)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.close()  # a failed open holds no lock on the file
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self._db = db

    async def open(self) -> Journal:
        await self._run(self._open_blocking)
        if not self.read_only:
            for kind, message in await self._run(self._take_back_spills):
                self.event(kind, message, Severity.WARNING)
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
        """Keep an event. Its texts are capped and made printable here (``daq.text``), since
        they may carry anything sent to the agent: nothing kept is too long for a sink."""
        kind, message = cap_id(kind), cap_message(message)
        instrument = None if instrument is None else cap_id(instrument)
        run = None if run is None else cap_id(run)
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
            row = stored_reading(r)
            chain = None
            if r.run is None:  # a run's readings are in its own chain
                previous = heads.get(r.instrument) or stream_genesis(r.instrument)
                chain = heads[r.instrument] = stream_hash(previous, row)
            rows.append((*row.values(), r.run, chain))
        try:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO readings (instrument, quantity, value, unit, timestamp, status, raw,"
                " run, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
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
            self._heads = heads
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
                    self.event("journal_write_failed", message, Severity.ERROR)
                    self._tell("journal_write_failed", message)
                if message != self.last_error:
                    log.error("%s", message)
                self.last_error = message
                return
            self.committed_readings += len(readings)
            self._signal_commit()
            if self.last_error is not None:
                self.last_error = None
                self.event("journal_recovered", f"journal {self.path} writable again")
                self._tell("journal_recovered", f"journal {self.path} writable again")
                if self._lost:
                    self.event("readings_lost", self._lost_message(), Severity.ERROR)
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

    def _tell(self, kind: str, message: str) -> None:
        if self.on_trouble is not None:
            try:
                self.on_trouble(kind, message)
            except Exception:  # the alarm is best effort; the journal keeps working
                log.exception("could not pass on %s", kind)

    async def stream_heads(self) -> dict[str, str]:
        """Instrument -> hash of its last committed reading outside runs."""
        return dict(await self._run(self._load_heads_blocking))

    async def chained_after(self) -> int:
        """The last reading id recorded before the streams were chained (0: none)."""
        rows = await self._run(
            self._query_blocking,
            "SELECT value FROM journal_facts WHERE name = 'chained_after'",
            (),
        )
        return int(rows[0][0]) if rows else 0

    async def record_anchor(
        self,
        timestamp: float,
        heads: dict[str, str],
        previous: str,
        digest: str,
        signature: Any = None,
    ) -> None:
        """Keep an anchor of the reading streams (``signature``: a daq.signing.Signature)."""
        await self._write_now(
            "INSERT INTO stream_anchors (timestamp, heads, previous, digest, key, signed, "
            "signature) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                timestamp,
                canonical(heads),
                previous,
                digest,
                getattr(signature, "key", None),
                getattr(signature, "signed", None),
                getattr(signature, "value", None),
            ),
        )

    async def anchors(self) -> list[AnchorRow]:
        """Every anchor: id, timestamp, heads (JSON), previous, digest, key, signed,
        signature."""
        rows: list[AnchorRow] = await self._run(
            self._query_blocking,
            "SELECT id, timestamp, heads, previous, digest, key, signed, signature FROM "
            "stream_anchors ORDER BY id",
            (),
        )
        return rows

    async def stream_rows(self, instrument: str) -> list[tuple[int, dict[str, Any], str | None]]:
        """An instrument's readings outside runs, in order: id, stored fields, chain hash."""
        rows = await self._run(
            self._query_blocking,
            "SELECT id, instrument, quantity, value, unit, timestamp, status, raw, chain "
            "FROM readings WHERE run IS NULL AND instrument = ? ORDER BY id",
            (instrument,),
        )
        names = ("instrument", "quantity", "value", "unit", "timestamp", "status", "raw")
        return [(row[0], dict(zip(names, row[1:8], strict=True)), row[8]) for row in rows]

    async def stream_instruments(self) -> list[str]:
        rows = await self._run(
            self._query_blocking,
            "SELECT DISTINCT instrument FROM readings WHERE run IS NULL ORDER BY instrument",
            (),
        )
        return [str(r[0]) for r in rows]

    @property
    def pending(self) -> int:
        """Readings, events and run records not written yet."""
        return len(self._readings) + len(self._events) + len(self._links)

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
            self.event("readings_lost", self._lost_message(), Severity.ERROR)
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

    async def start_run(self, run: RunRow) -> str:
        """Record a new run as ``run.id``, or ``run.id-2``, ``-3``... where that id is taken
        (two runs of one plan started in the same second, by two processes too): the id the
        run got."""
        await self.flush()

        def claim(db: sqlite3.Connection) -> str:
            for n in range(1, 1000):
                ident = run.id if n == 1 else f"{run.id}-{n}"
                try:
                    db.execute(
                        f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        astuple(replace(run, id=ident)),
                    )
                except sqlite3.IntegrityError:
                    continue  # taken: the next suffix
                except sqlite3.Error as exc:
                    raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
                return ident
            raise JournalError(f"no free run id after {run.id}-999 in {self.path}")

        ident = await self.read_with(claim)
        self._signal_commit()
        return ident

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

    async def claim_nonce(self, key: str, nonce: str, timestamp: int, keep: float) -> bool:
        """Record a command's nonce, committed before the command is carried out; False if
        it was recorded already (a replay). Nonces received more than ``keep`` seconds ago
        are forgotten. Raises ``JournalError`` when it cannot be recorded."""
        now = self.clock.now()

        def claim(db: sqlite3.Connection) -> bool:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM command_nonces WHERE received < ?", (now - keep,))
                added = db.execute(
                    "INSERT OR IGNORE INTO command_nonces (key, nonce, timestamp, received) "
                    "VALUES (?, ?, ?, ?)",
                    (key, nonce, timestamp, now),
                ).rowcount
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
            return added == 1

        assert self._db is not None, "journal not opened"
        fresh: bool = await self._run(claim, self._db)
        return fresh

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

    async def dead_letter(self, sink: str, stream: str, row: int, error: str) -> bool:
        """Set aside row ``row`` of ``stream``, which ``sink`` refuses for good (malformed, too
        large), so that its cursor can move past; recorded with a ``dead_letter`` event. False
        if it was set aside already (a batch sent again after a crash)."""
        error = cap_message(error)

        def insert(db: sqlite3.Connection) -> bool:
            added = db.execute(
                "INSERT OR IGNORE INTO dead_letters (sink, stream, row, error, timestamp) "
                "VALUES (?, ?, ?, ?, ?)",
                (sink, stream, row, error, self.clock.now()),
            ).rowcount
            return bool(added == 1)

        assert self._db is not None, "journal not opened"
        try:
            added: bool = await self._run(insert, self._db)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
        if added:
            self.event(
                "dead_letter",
                f"{sink} refuses {stream} row {row} for good ({error[:300]}); it is set aside "
                "in the journal's dead_letters and the rest goes on",
                Severity.ERROR,
            )
        return added

    async def dead_letter_summary(self) -> dict[str, DeadLetters]:
        """Per sink: how many records it refused for good, and the last one's error."""

        def summary(db: sqlite3.Connection) -> dict[str, DeadLetters]:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'dead_letters'").fetchone():
                return {}  # a journal written before dead letters existed, opened read-only
            rows = db.execute(  # SQLite takes ``error`` from the row holding the MAX
                "SELECT sink, COUNT(*), MAX(timestamp), error FROM dead_letters GROUP BY sink"
            ).fetchall()
            return {s: DeadLetters(int(n), float(t), str(e)) for s, n, t, e in rows}

        return await self.read_with(summary)

    # -- certificates and signatures -----------------------------------------------------

    async def certificate_number(
        self, run: str, number_format: str, lab: str, bench: str = ""
    ) -> tuple[str, str]:
        """The number of a new certificate of ``run`` and the number it replaces: the year's
        next, or for a re-issue the run's first number with a revision (``N-R1`` replaces
        ``N``, ``N-R2`` replaces ``N-R1``), as ISO/IEC 17025 7.8.8.2 asks."""

        def number(db: sqlite3.Connection) -> tuple[str, str]:
            found = [
                str(n)
                for (n,) in db.execute(
                    "SELECT number FROM certificate_register WHERE run = ? ORDER BY seq", (run,)
                )
            ]
            if found:
                return f"{found[0]}-R{len(found)}", found[-1]
            year = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year
            (issued,) = db.execute(
                "SELECT COUNT(*) FROM certificate_register WHERE replaces = '' AND "
                "strftime('%Y', issued, 'unixepoch') = ?",
                (str(year),),
            ).fetchone()
            number = number_format.format(lab=lab, bench=bench, year=year, seq=int(issued) + 1)
            return number, ""

        return await self.read_with(number)

    async def certificate(self, number: str) -> CertificateRow | None:
        rows = await self._run(
            self._query_blocking,
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE number = ? ORDER BY rowid "
            "LIMIT 1",
            (number,),
        )
        return CertificateRow(*rows[0]) if rows else None

    async def certificates(self, run: str) -> list[CertificateRow]:
        """Every issue of ``run``'s certificates, oldest first."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE run = ? ORDER BY rowid",
            (run,),
        )
        return [CertificateRow(*row) for row in rows]

    async def record_issue(
        self, issue: CertificateRow, signature: Signature | None, signer: Signer | None = None
    ) -> None:
        """Issuing a certificate, who issued it and the lab's signature go on record, once
        per number, with the number's entry in the register (signed by ``signer``): a number
        already issued raises ``NumberTaken``."""
        await self.flush()

        def record(db: sqlite3.Connection) -> None:
            try:
                db.execute("BEGIN IMMEDIATE")
                taken = db.execute(
                    "SELECT run, record_hash FROM certificates WHERE number = ? UNION ALL "
                    "SELECT run, '(its row is gone)' FROM certificate_register WHERE number = ? "
                    "LIMIT 1",
                    (issue.number, issue.number),
                ).fetchone()
                if taken:
                    db.execute("ROLLBACK")
                    other = "the same" if taken[1] == issue.record_hash else "another"
                    raise NumberTaken(
                        f"certificate number {issue.number} was already issued, for run "
                        f"{taken[0]} with record hash {taken[1]} ({other} record): a number "
                        "is issued once"
                    )
                db.execute(
                    f"INSERT INTO certificates ({CERTIFICATE_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    astuple(issue),
                )
                if signature is not None:
                    self._insert_signature(db, signature)
                self._register_blocking(db, issue, signer)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

        await self.read_with(record)
        self._signal_commit()
        replacing = f", replacing {issue.replaces}" if issue.replaces else ""
        self.event(
            "certificate_issued",
            f"{issue.number} ({issue.format}, {issue.language}) for {issue.run} by "
            f"{issue.issued_by}, {issue.function}{replacing}",
        )

    def _register_blocking(
        self, db: sqlite3.Connection, issue: CertificateRow, signer: Signer | None
    ) -> None:
        """Append ``issue``'s number to the register (inside the caller's transaction)."""
        last = db.execute("SELECT seq, link FROM certificate_register ORDER BY seq DESC LIMIT 1")
        seq, previous = last.fetchone() or (0, REGISTER_GENESIS)
        entry = RegisterEntry(
            seq + 1, issue.number, issue.run, issue.replaces, issue.issued, issue.digest(), "", ""
        )
        link = register_link(previous, entry.content())
        db.execute(
            f"INSERT INTO certificate_register ({REGISTER_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            astuple(replace(entry, previous=previous, link=link)),
        )
        if signer is not None:
            subject = register_subject(issue.number)
            self._insert_signature(db, signer.sign(subject, link, self.clock.now()))

    async def register(self) -> list[RegisterEntry]:
        """The register of issued certificates, in order."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {REGISTER_COLUMNS} FROM certificate_register ORDER BY seq",
            (),
        )
        return [RegisterEntry(*row) for row in rows]

    async def all_certificates(self) -> list[CertificateRow]:
        """Every issued certificate's row, oldest first."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates ORDER BY rowid",
            (),
        )
        return [CertificateRow(*row) for row in rows]

    @staticmethod
    def _insert_signature(db: sqlite3.Connection, signature: Signature) -> None:
        db.execute(
            "INSERT OR REPLACE INTO signatures (subject, hash, key, signed, signature) "
            "VALUES (?, ?, ?, ?, ?)",
            (signature.subject, signature.hash, signature.key, signature.signed, signature.value),
        )

    async def record_signature(self, signature: Signature) -> None:
        """Keep the lab's signature of a record (after the record itself is written)."""
        await self.flush()

        def insert(db: sqlite3.Connection) -> None:
            try:
                self._insert_signature(db, signature)
            except sqlite3.Error as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

        await self.read_with(insert)
        self._signal_commit()

    async def record_first_signatures(self, signatures: list[Signature]) -> bool:
        """Keep ``signatures`` all at once, only if the journal holds none yet (checked in the
        same transaction, so two writers cannot both begin); whether they were kept."""
        await self.flush()

        def insert(db: sqlite3.Connection) -> bool:
            try:
                db.execute("BEGIN IMMEDIATE")
                if db.execute("SELECT 1 FROM signatures LIMIT 1").fetchone():
                    db.execute("ROLLBACK")
                    return False
                for signature in signatures:
                    self._insert_signature(db, signature)
                db.execute("COMMIT")
                return True
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

        kept = await self.read_with(insert)
        self._signal_commit()
        return kept

    async def signature_count(self) -> int:
        """How many signatures the journal holds."""
        rows = await self._run(self._query_blocking, "SELECT COUNT(*) FROM signatures", ())
        return int(rows[0][0])

    async def signatures_under(self, prefix: str) -> list[tuple[str, str, str, float, str]]:
        """(subject, hash, key, signed, signature) of every signature whose subject starts
        with ``prefix``."""
        rows: list[tuple[str, str, str, float, str]] = await self._run(
            self._query_blocking,
            "SELECT subject, hash, key, signed, signature FROM signatures "
            "WHERE substr(subject, 1, ?) = ? ORDER BY subject",
            (len(prefix), prefix),
        )
        return rows

    async def signatures(self, subject: str) -> list[tuple[str, str, float, str]]:
        """(hash, key, signed, signature) of every signature of ``subject``."""
        rows: list[tuple[str, str, float, str]] = await self._run(
            self._query_blocking,
            "SELECT hash, key, signed, signature FROM signatures WHERE subject = ? ORDER BY signed",
            (subject,),
        )
        return rows

    async def run_readings(self, run: str) -> list[tuple[Any, ...]]:
        """(id, instrument, quantity, value, unit, timestamp, status, raw) of every reading
        tagged with ``run``, in order."""
        rows: list[tuple[Any, ...]] = await self._run(
            self._query_blocking,
            "SELECT id, instrument, quantity, value, unit, timestamp, status, raw FROM readings "
            "WHERE run = ? ORDER BY id",
            (run,),
        )
        return rows

    async def last_result(self, run: str) -> tuple[str, int | None, int] | None:
        """(status, conforms, failures) of the newest ``results`` row of ``run``."""
        rows = await self._run(
            self._query_blocking,
            "SELECT status, conforms, failures FROM results WHERE run = ? ORDER BY id DESC LIMIT 1",
            (run,),
        )
        return (str(rows[0][0]), rows[0][1], int(rows[0][2])) if rows else None
