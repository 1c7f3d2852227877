"""The readings of one instrument, found fast in a journal of any size.

An ordinary SQLite index on ``(instrument, timestamp)`` costs every commit one entry in a
different leaf page per instrument, each page then written whole to the WAL: at 1,000
instruments and 500,000 readings, about 20 µs a reading, growing with the journal.
``reading_index`` holds the same entries but is brought up to date in sorted batches
(``INDEX_BATCH`` readings), so each leaf page takes many entries at once. Readings after
``indexed_upto`` (the unindexed tail, at most about a batch) are found by scanning them in
id order, and every query by instrument reads both parts in one statement (one snapshot).
"""

from __future__ import annotations

import sqlite3

INDEX_BATCH = 20_000
"""Readings committed between two index updates: a tail this long is scanned in a few ms."""

UPTO = "COALESCE((SELECT CAST(value AS INTEGER) FROM journal_facts WHERE name = 'indexed_upto'), 0)"
"""The last reading id in ``reading_index``, as a constant of the statement using it."""


def catch_up(db: sqlite3.Connection) -> None:
    """Index the readings after ``indexed_upto``, in order, within the caller's write
    transaction (an entry already there, in a journal edited by hand, is left)."""
    db.execute(
        "INSERT OR IGNORE INTO reading_index (instrument, timestamp, id) "
        "SELECT instrument, timestamp, id "
        f"FROM readings WHERE id > {UPTO} ORDER BY instrument, timestamp, id"
    )
    db.execute(
        "UPDATE journal_facts SET value = (SELECT COALESCE(MAX(id), 0) FROM readings) "
        "WHERE name = 'indexed_upto'"
    )


def unindexed(db: sqlite3.Connection) -> int:
    """Readings in the tail, not yet in ``reading_index``."""
    return int(db.execute(f"SELECT COUNT(*) FROM readings WHERE id > {UPTO}").fetchone()[0])


def newest_of(columns: str, where: str = "TRUE") -> str:
    """A statement selecting ``columns`` of one instrument's newest readings by time (ties:
    by id), newest first: ``:instrument``, ``:limit`` and ``where``'s own named parameters
    (conditions on ``readings`` as ``r``). The indexed part is walked backwards and stops
    at the limit."""
    return (
        f"SELECT {columns} FROM (SELECT * FROM (SELECT r.* FROM reading_index x "
        f"JOIN readings r ON r.id = x.id WHERE x.instrument = :instrument AND {where} "
        "ORDER BY x.timestamp DESC, x.id DESC LIMIT :limit) UNION ALL "
        f"SELECT * FROM readings r WHERE r.id > {UPTO} AND r.instrument = :instrument "
        f"AND {where}) ORDER BY timestamp DESC, id DESC LIMIT :limit"
    )


def all_of(columns: str, where: str = "TRUE") -> str:
    """A statement selecting ``columns`` of every reading of one instrument, in id order:
    ``:instrument`` and ``where``'s own named parameters (conditions on ``readings`` as
    ``r``)."""
    return (
        f"SELECT {columns} FROM (SELECT r.* FROM reading_index x JOIN readings r "
        f"ON r.id = x.id WHERE x.instrument = :instrument AND {where} UNION ALL "
        f"SELECT * FROM readings r WHERE r.id > {UPTO} AND r.instrument = :instrument "
        f"AND {where}) ORDER BY id"
    )
