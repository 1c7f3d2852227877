"""The outbox the sinks read: each stream in order of an ever-growing row id, each sink's
cursors and state, and the records a sink refused for good."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from daq.journal.records import (
    DeadLetters,
    EventKind,
    EventRow,
    JournalError,
    PointRow,
    ReadingRow,
    ResultRow,
    Severity,
    SinkState,
    StreamRow,
)
from daq.journal.writer import BatchedWriter
from daq.text import cap_message

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
ROW_TYPES: dict[str, type[StreamRow]] = {
    "readings": ReadingRow,
    "events": EventRow,
    "points": PointRow,
    "results": ResultRow,
}


_READING_LINES = """
SELECT max(id), count(*), count(line), group_concat(line, char(10)) FROM (
    SELECT r.id AS id, p.prefix
        || CASE WHEN r.value IS NULL OR r.value != r.value
                  OR abs(r.value) > 1.7976931348623157e308 THEN ' status="'
                ELSE ' value=' || printf('%!.17g', r.value) || ',status="' END
        || r.status || '" ' || CAST(round(r.timestamp * 1e9) AS INTEGER) AS line
    FROM readings r LEFT JOIN temp.{table} p
        ON p.instrument = r.instrument AND p.quantity = r.quantity AND p.unit = r.unit
    WHERE r.id > ? ORDER BY r.id LIMIT ?)
"""
_NEW_SERIES = """
SELECT DISTINCT r.instrument, r.quantity, r.unit
FROM (SELECT instrument, quantity, unit FROM readings WHERE id > ? ORDER BY id LIMIT ?) r
LEFT JOIN temp.{table} p
    ON p.instrument = r.instrument AND p.quantity = r.quantity AND p.unit = r.unit
WHERE p.prefix IS NULL
"""


class Outbox(BatchedWriter):
    """The streams as the sinks read them."""

    async def reading_lines(
        self,
        after: int,
        limit: int,
        prefix: Callable[[str, str, str], str],
        key: str,
    ) -> tuple[int, int, str] | None:
        """The next ``limit`` readings after row id ``after`` as one line-protocol text, made
        by SQLite on the journal's thread: (last row id, count, text). Each series' measurement
        and tags (``prefix(instrument, quantity, unit)``) are made once, in Python, into a
        temporary table named after ``key``; the rest of each line (value in 17 digits,
        status, nanoseconds) by SQL, without a Python object per row."""
        table = "series_" + hashlib.sha256(key.encode()).hexdigest()[:12]

        def shape(db: sqlite3.Connection) -> tuple[int, int, str] | None:
            db.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {table} (instrument TEXT, quantity TEXT, "
                "unit TEXT, prefix TEXT NOT NULL, PRIMARY KEY (instrument, quantity, unit))"
            )
            new = db.execute(_NEW_SERIES.format(table=table), (after, limit)).fetchall()
            if new:
                db.executemany(
                    f"INSERT INTO temp.{table} VALUES (?, ?, ?, ?)",
                    [(i, q, u, prefix(i, q, u)) for i, q, u in new],
                )
            last, count, formed, text = db.execute(
                _READING_LINES.format(table=table), (after, limit)
            ).fetchone()
            if not count:
                return None
            if formed != count:  # never: every series has its prefix by now
                raise RuntimeError(
                    f"{count - formed} readings after row {after} could not be formatted"
                )
            return int(last), int(count), str(text)

        return await self.read_with(shape)

    async def outbox(self, stream: str, after: int, limit: int) -> list[StreamRow]:
        """Up to ``limit`` committed rows of ``stream`` with row id above ``after``."""
        row_type = ROW_TYPES[stream]
        rows: list[tuple[Any, ...]] = await self._run(
            self._query_blocking, STREAMS[stream], (after, limit)
        )
        return [row_type(*row) for row in rows]

    async def journal_id(self) -> str:
        """The journal's own UUID, made when it was created: with a row id, the identity of
        a message in a fleet (no new journal reuses an old one's ids)."""
        rows = await self._run(
            self._query_blocking, "SELECT value FROM journal_facts WHERE name = 'journal_id'", ()
        )
        return str(rows[0][0])

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

    async def set_sink_state(self, sink: str, state: SinkState, detail: str = "") -> None:
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

    async def backlog(self, sink: str, streams: Iterable[str] | None = None) -> dict[str, int]:
        """Rows of each stream the sink has not taken yet (of ``streams``, those it takes;
        default: every stream)."""
        found = {}
        for stream in STREAMS if streams is None else [s for s in STREAMS if s in streams]:
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
                EventKind.DEAD_LETTER,
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
