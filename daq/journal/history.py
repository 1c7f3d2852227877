"""What was recorded, read back: readings, events, and the monitored streams' chains and
anchors."""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from daq.chain import (
    canonical,
)
from daq.core.reading import Reading, Status
from daq.journal.reading_index import newest_in_tail, newest_indexed, newest_of
from daq.journal.records import (
    AnchorRow,
    Event,
    Severity,
)
from daq.journal.writer import BatchedWriter

READING_COLUMNS = "instrument, quantity, value, unit, timestamp, status, raw"
FEW = 16
"""Instruments whose newest readings are read one by one, each scanning the unindexed tail
(1-3 ms each); for more, one scan sorts the whole tail's (tens of ms, however many)."""


class History(BatchedWriter):
    """Readings, events and the monitored streams as recorded."""

    async def readings(self, limit: int = 1000) -> list[Reading]:
        """The newest committed readings, oldest first."""
        return self._as_readings(
            await self._run(
                self._query_blocking,
                f"SELECT {READING_COLUMNS} FROM readings ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        )

    async def recent_readings(
        self, instrument: str, quantity: str | None = None, limit: int = 1
    ) -> list[Reading]:
        """The newest readings of ``instrument`` (of one quantity) by time, oldest first:
        found through ``reading_index``, however many the journal holds."""
        where = "TRUE" if quantity is None else "r.quantity = :quantity"
        return self._as_readings(
            await self._run(
                self._query_blocking,
                newest_of(READING_COLUMNS, where),
                {"instrument": instrument, "quantity": quantity, "limit": limit},
            )
        )

    async def recent_readings_of(
        self, instruments: list[str], limit: int
    ) -> dict[str, list[Reading]]:
        """The newest ``limit`` readings by time of each of ``instruments``, oldest first (a
        page showing many instruments): beyond ``FEW``, read in one snapshot, the unindexed
        tail scanned once for all of them."""
        if len(instruments) <= FEW:
            return {i: await self.recent_readings(i, limit=limit) for i in instruments}

        def read(db: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
            columns = f"{READING_COLUMNS}, id"
            db.execute("BEGIN")  # one snapshot: no batch indexed between the two parts
            try:
                found = {
                    i: db.execute(
                        newest_indexed(columns), {"instrument": i, "limit": limit}
                    ).fetchall()
                    for i in instruments
                }
                named = {f"i{n}": i for n, i in enumerate(instruments)}
                tail = newest_in_tail(columns, len(instruments))
                for row in db.execute(tail, {**named, "limit": limit}):
                    found[row[0]].append(row)
            finally:
                db.execute("COMMIT")
            return found

        def newest_first(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            rows.sort(key=lambda row: (row[4], row[-1]), reverse=True)  # timestamp, id
            return [row[:-1] for row in rows[:limit]]

        found = await self.read_with(read)
        return {i: self._as_readings(newest_first(rows)) for i, rows in found.items()}

    @staticmethod
    def _as_readings(newest_first: list[tuple[Any, ...]]) -> list[Reading]:
        return [
            Reading(i, q, math.nan if v is None else v, u, t, Status(s), raw)
            for i, q, v, u, t, s, raw in reversed(newest_first)
        ]

    async def events(
        self,
        kind: str | None = None,
        limit: int = 1000,
        run: str | None = None,
        severity: str | None = None,
    ) -> list[Event]:
        """The newest ``limit`` events of this kind, run and severity, oldest first."""
        wanted = (("kind = ?", kind), ("run = ?", run), ("severity = ?", severity))
        clauses = [(c, v) for c, v in wanted if v is not None]
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

    async def stream_rows(
        self, after: float, limit: int
    ) -> list[tuple[int, dict[str, Any], str | None]]:
        """Up to ``limit`` readings outside runs after id ``after``, in id order: id, stored
        fields, chain hash. Read from the table itself, never through an index, so that a
        row put in by hand is seen."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT id, {READING_COLUMNS}, chain FROM readings WHERE run IS NULL AND id > ? "
            "ORDER BY id LIMIT ?",
            (after, limit),
        )
        names = ("instrument", "quantity", "value", "unit", "timestamp", "status", "raw")
        return [(row[0], dict(zip(names, row[1:8], strict=True)), row[8]) for row in rows]
