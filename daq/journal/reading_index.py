"""The readings of one instrument, found fast in a journal of any size.

An ordinary SQLite index on ``(instrument, timestamp)`` costs every commit one entry in a
different leaf page per instrument, each page then written whole to the WAL: at 1,000
instruments and 500,000 readings, about 20 µs a reading, growing with the journal.
``reading_index`` holds the same entries but is brought up to date in sorted batches
(``INDEX_BATCH`` readings), so each leaf page takes many entries at once. Readings after
``indexed_upto`` (the unindexed tail, about a batch for each process writing) are found
by scanning them in id order. A query by instrument reads both parts in one statement or
one read transaction, so it sees one snapshot: no batch indexed between the two. An index
entry counts only while its row still has its instrument and time and its id is not past
``indexed_upto``, so a row edited or removed by hand does not show another in its place;
verification reads the table, never this.
"""

from __future__ import annotations

import sqlite3

INDEX_BATCH = 20_000
"""Readings committed between two index updates: a tail this long is scanned in 1-3 ms."""

UPTO = "COALESCE((SELECT CAST(value AS INTEGER) FROM journal_facts WHERE name = 'indexed_upto'), 0)"
"""The highest reading id when ``reading_index`` was last brought up to date, as a constant
of the statement using it."""
ENTRY = (
    f"r.id = x.id AND r.instrument = x.instrument AND r.timestamp = x.timestamp AND x.id <= {UPTO}"
)
"""An index entry ``x`` of the row ``r`` as it is now."""
HIGHEST = "(SELECT COALESCE(MAX(id), 0) FROM readings)"
"""The highest reading id there is (0: none)."""


def catch_up(db: sqlite3.Connection) -> None:
    """Index the readings after ``indexed_upto``, in order, within the caller's write
    transaction (an entry already there, in a journal edited by hand, is left)."""
    db.execute(
        "INSERT OR IGNORE INTO reading_index (instrument, timestamp, id) "
        "SELECT instrument, timestamp, id "
        f"FROM readings WHERE id > {UPTO} ORDER BY instrument, timestamp, id"
    )
    db.execute(f"UPDATE journal_facts SET value = {HIGHEST} WHERE name = 'indexed_upto'")


def keep_in_reach(db: sqlite3.Connection) -> None:
    """Move ``indexed_upto`` back to the highest id there is, and drop the entries past it,
    within the caller's write transaction, before readings are added: after the newest rows
    were removed by hand, SQLite gives their ids again, and those readings must be in the
    tail."""
    if db.execute(
        f"UPDATE journal_facts SET value = {HIGHEST} "
        f"WHERE name = 'indexed_upto' AND {UPTO} > {HIGHEST}"
    ).rowcount:
        db.execute(f"DELETE FROM reading_index WHERE id > {HIGHEST}")


def unindexed(db: sqlite3.Connection) -> int:
    """Readings in the tail, not yet in ``reading_index``."""
    return int(db.execute(f"SELECT COUNT(*) FROM readings WHERE id > {UPTO}").fetchone()[0])


def newest_of(columns: str, where: str = "TRUE") -> str:
    """A statement selecting ``columns`` of one instrument's newest readings by time (ties:
    by id), newest first: ``:instrument``, ``:limit`` and ``where``'s own named parameters
    (conditions on ``readings`` as ``r``), from the index and the tail."""
    return (
        f"SELECT {columns} FROM ({newest_indexed('*', where)} UNION ALL "
        "SELECT * FROM readings WHERE id IN (SELECT id FROM readings r "
        f"WHERE r.id > {UPTO} AND r.instrument = :instrument AND {where} "
        "ORDER BY r.timestamp DESC, r.id DESC LIMIT :limit)) ORDER BY timestamp DESC, id DESC "
        "LIMIT :limit"
    )


def newest_indexed(columns: str, where: str = "TRUE") -> str:
    """``columns`` of ``:instrument``'s newest ``:limit`` indexed readings meeting ``where``,
    newest first: the index walked backwards, stopping at the limit."""
    return (
        f"SELECT {columns} FROM (SELECT r.* FROM reading_index x JOIN readings r "
        f"ON {ENTRY} WHERE x.instrument = :instrument AND {where} "
        "ORDER BY x.timestamp DESC, x.id DESC LIMIT :limit)"
    )


def newest_in_tail(columns: str, instruments: int) -> str:
    """``columns`` of the tail's newest ``:limit`` readings by time (ties: by id) of each
    of ``instruments`` instruments (named ``:i0``, ``:i1``...), in one scan (only the
    ids sorted, then their rows read)."""
    names = ", ".join(f":i{n}" for n in range(instruments))
    return (
        f"SELECT {columns} FROM readings r WHERE r.id IN (SELECT id FROM (SELECT id, "
        "ROW_NUMBER() OVER (PARTITION BY instrument ORDER BY timestamp DESC, id DESC) AS place "
        f"FROM readings WHERE id > {UPTO} AND instrument IN ({names})) WHERE place <= :limit)"
    )
