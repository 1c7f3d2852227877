"""The readings of one instrument, found through ``reading_index`` and the unindexed tail,
against the same question answered by brute force over every reading recorded."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from daq.core.reading import Reading, Status
from daq.journal import SCHEMA_VERSION, Journal
from daq.journal.reading_index import INDEX_BATCH, newest_in_tail, newest_indexed, newest_of

INSTRUMENTS = ("balance-1", "keller-1", "readout-1")
QUANTITIES = ("pressure", "temperature")


def lab_readings(seed: int, count: int) -> list[Reading]:
    """Readings of three instruments and two quantities whose times go back now and then
    (a clock set back, a spill taken back) and sometimes tie."""
    pick = random.Random(seed)
    readings, now = [], 1_000.0
    for k in range(count):
        now += pick.choice((1.0, 1.0, 0.0, -5.0))
        readings.append(
            Reading(
                pick.choice(INSTRUMENTS),
                pick.choice(QUANTITIES),
                float(k),
                "bar",
                now,
                Status.OK,
                f"{k}",
                run=pick.choice((None, None, None, "run-1")),
            )
        )
    return readings


def newest(
    recorded: list[Reading], instrument: str, quantity: str | None, limit: int
) -> list[Reading]:
    """By brute force: the newest by time, ties by order recorded, returned oldest first."""
    ordered = sorted(
        (
            (r.timestamp, index, r)
            for index, r in enumerate(recorded)
            if r.instrument == instrument and quantity in (None, r.quantity)
        ),
        key=lambda item: (item[0], item[1]),
    )
    return [replace_run(r) for _, _, r in ordered[-limit:]] if limit else []


def replace_run(reading: Reading) -> Reading:
    """A reading as the journal's readings queries give it back (no run tag)."""
    return Reading(*(getattr(reading, f) for f in Reading.__dataclass_fields__ if f != "run"))


def index_parts(path: Path) -> tuple[int, int]:
    """(readings in reading_index, readings in the tail)."""
    with sqlite3.connect(path) as db:
        indexed = db.execute("SELECT COUNT(*) FROM reading_index").fetchone()[0]
        upto = db.execute(
            "SELECT CAST(value AS INTEGER) FROM journal_facts WHERE name = 'indexed_upto'"
        ).fetchone()[0]
        tail = db.execute("SELECT COUNT(*) FROM readings WHERE id > ?", (upto,)).fetchone()[0]
    return int(indexed), int(tail)


async def recorded_in(path: Path, readings: list[Reading], index_batch: int = 10) -> None:
    """``readings`` committed at once to the journal at ``path``."""
    async with Journal(path, batch_interval=60, index_batch=index_batch) as journal:
        journal.record_many(readings)
        await journal.flush()


async def everything_found(journal: Journal, recorded: list[Reading]) -> None:
    """Every instrument's readings, one by one and all at once, as brute force finds them."""
    many = await journal.recent_readings_of(list(INSTRUMENTS), 1000)
    for instrument in INSTRUMENTS:
        expected = newest(recorded, instrument, None, 1000)
        assert await journal.recent_readings(instrument, limit=1000) == expected
        assert many[instrument] == expected


@pytest.mark.parametrize("few", [0, 100])  # many instruments' readings read at once, or one by one
@pytest.mark.parametrize("seed", range(6))
async def test_an_instruments_readings_are_found_in_the_index_and_the_tail(
    tmp_path: Path, seed: int, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daq.journal.history.FEW", few)
    recorded = lab_readings(seed, 240)
    path = tmp_path / "j.sqlite"
    async with Journal(path, batch_interval=60, index_batch=50) as journal:
        pick = random.Random(seed)
        start = 0
        while start < len(recorded):  # commits of 1 to 30 readings
            end = min(len(recorded), start + pick.randint(1, 30))
            for reading in recorded[start:end]:
                journal.record(reading, reading.run)
            await journal.flush()
            start = end
        indexed, tail = index_parts(path)
        assert indexed > 0 and 0 < tail < 50 and indexed + tail == len(recorded)
        for limit in (0, 1, 3, 40, 1000):
            many = await journal.recent_readings_of([*INSTRUMENTS, "not-recorded"], limit)
            assert many == {
                **{i: newest(recorded, i, None, limit) for i in INSTRUMENTS},
                "not-recorded": [],
            }
        for instrument in INSTRUMENTS:
            for quantity in (None, *QUANTITIES):
                for limit in (0, 1, 3, 40, 1000):
                    found = await journal.recent_readings(instrument, quantity, limit)
                    assert found == newest(recorded, instrument, quantity, limit)


async def test_the_index_is_brought_up_to_date_once_a_batch_is_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(7, 30)
    async with Journal(path, batch_interval=60, index_batch=10) as journal:
        journal.record_many(recorded[:9])
        await journal.flush()
        assert index_parts(path) == (0, 9)  # not yet a batch: all in the tail
        journal.record_many(recorded[9:10])
        await journal.flush()
        assert index_parts(path) == (10, 0)  # the commit that makes a batch indexes it
        journal.record_many(recorded[10:14])
        await journal.flush()
    assert index_parts(path) == (10, 4)
    async with Journal(path, batch_interval=60, index_batch=10) as journal:
        journal.record_many(recorded[14:20])  # the tail is counted again on opening
        await journal.flush()
    assert index_parts(path) == (20, 0)


async def test_queries_by_instrument_search_the_index_and_the_tail_never_scan(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    await recorded_in(path, lab_readings(3, 250), index_batch=100)
    indexed, tail = "USING PRIMARY KEY (instrument=?)", "USING INTEGER PRIMARY KEY (rowid>?)"
    with sqlite3.connect(path) as db:
        for statement, parameters, parts in (
            (newest_of("value", "r.quantity = :q"), {"instrument": "a", "q": "b", "limit": 1},
             (indexed, tail)),
            (newest_indexed("value"), {"instrument": "a", "limit": 1}, (indexed,)),
            (newest_in_tail("value", 2), {"i0": "a", "i1": "b", "limit": 1}, (tail,)),
        ):  # fmt: skip
            steps = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            for part in parts:
                assert [s for s in steps if s.endswith(part)], (part, steps)
            assert not [s for s in steps if s.startswith("SCAN") and "subquery" not in s], steps


async def test_a_schema_11_journal_is_indexed_from_its_rows_once(tmp_path: Path) -> None:
    path = tmp_path / "eleven.sqlite"
    recorded = lab_readings(11, 120)
    await recorded_in(path, recorded, index_batch=INDEX_BATCH)
    with sqlite3.connect(path) as db:  # as schema 11 left it
        db.execute("DROP TABLE reading_index")
        db.execute("DELETE FROM journal_facts WHERE name = 'indexed_upto'")
        db.execute("CREATE INDEX readings_by_instrument ON readings (instrument, timestamp)")
        db.execute("PRAGMA user_version=11")
    for _ in range(2):  # opening it again changes nothing
        async with Journal(path, batch_interval=60) as journal:
            await everything_found(journal, recorded)
        assert index_parts(path) == (120, 0)
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
            names = [n for (n,) in db.execute("SELECT name FROM sqlite_master")]
            assert "readings_by_instrument" not in names


async def test_an_index_position_lost_by_hand_neither_hides_nor_stops_readings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(5, 40)
    await recorded_in(path, recorded[:20])
    with sqlite3.connect(path) as db:  # the position set back to the start
        db.execute("UPDATE journal_facts SET value = '0' WHERE name = 'indexed_upto'")
    async with Journal(path, batch_interval=60, index_batch=10) as journal:
        journal.record_many(recorded[20:])  # indexing again what is indexed: no failure
        await journal.flush()
        await everything_found(journal, recorded)
    assert index_parts(path) == (40, 0)


async def test_the_newest_readings_removed_by_hand_and_their_ids_given_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(13, 30)
    await recorded_in(path, recorded[:20])  # all 20 indexed
    with sqlite3.connect(path) as db:  # the five newest removed: their ids come again
        db.execute("DELETE FROM readings WHERE id > 15")
    kept = recorded[:15]
    async with Journal(path, batch_interval=60, index_batch=10) as journal:
        await everything_found(journal, kept)  # no entry shows the row gone
        journal.record_many(recorded[20:23])  # ids 16-18 again, of other instruments
        await journal.flush()
        await everything_found(journal, kept + recorded[20:23])
        journal.record_many(recorded[23:30])  # a batch: indexed, none twice
        await journal.flush()
        await everything_found(journal, kept + recorded[20:30])
    assert index_parts(path) == (25, 0)


async def test_a_reading_edited_by_hand_is_not_shown_for_its_old_instrument(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(17, 20)
    await recorded_in(path, recorded)
    moved = next(r for r in recorded if r.instrument == "balance-1")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE readings SET instrument = 'keller-1' WHERE raw = ?", (moved.raw,))
    async with Journal(path, read_only=True) as journal:
        found = await journal.recent_readings("balance-1", limit=1000)
    assert moved.raw not in [r.raw for r in found]
    assert found == [r for r in newest(recorded, "balance-1", None, 1000) if r.raw != moved.raw]


@pytest.mark.parametrize("few", [0, 100])
async def test_a_lost_index_position_shows_each_reading_once_to_a_reader(
    tmp_path: Path, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daq.journal.history.FEW", few)
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(19, 25)
    await recorded_in(path, recorded)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM journal_facts WHERE name = 'indexed_upto'")
    async with Journal(path, read_only=True) as journal:  # it cannot put the fact back
        await everything_found(journal, recorded)
        assert await journal.recent_readings_of([], 5) == {}


async def test_a_commit_that_fails_as_it_indexes_leaves_nothing_half_done(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(23, 14)
    async with Journal(path, batch_interval=60, index_batch=10) as journal:
        journal.record_many(recorded[:8])
        await journal.flush()
        with sqlite3.connect(path) as db:  # the index refuses entries: the commit fails
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON reading_index "
                "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
            )
        journal.record_many(recorded[8:12])
        await journal.flush()
        assert journal.last_error is not None and "disk trouble" in journal.last_error
        assert index_parts(path) == (0, 8)  # neither the readings nor their index entries
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER refuse")
        await journal.flush()  # the same batch again, and the index with it
        assert index_parts(path) == (12, 0)
        journal.record_many(recorded[12:14])
        await journal.flush()
        assert index_parts(path) == (12, 2)  # counted from where the failed commit left it
        await everything_found(journal, recorded)


async def test_two_processes_writing_one_journal_both_find_every_reading(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    recorded = lab_readings(29, 90)
    async with (
        Journal(path, batch_interval=60, index_batch=7) as one,
        Journal(path, batch_interval=60, index_batch=7) as two,
    ):
        for start in range(0, len(recorded), 5):
            writer = one if start % 10 else two
            writer.record_many(recorded[start : start + 5])
            await writer.flush()
            await everything_found(one, recorded[: start + 5])
            await everything_found(two, recorded[: start + 5])
        indexed, tail = index_parts(path)
    assert indexed > 0 and indexed + tail == len(recorded)
