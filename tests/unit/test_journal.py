"""The journal: WAL, batched commits, nothing lost on a full disk or a kill -9."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from daq.core.reading import Reading, Status
from daq.journal import SCHEMA_VERSION, Journal, RunRow, Severity


def reading(value: float, status: Status = Status.OK, instrument: str = "balance-1") -> Reading:
    return Reading(instrument, "mass", value, "g", time.time(), status, f"S S {value} g")


async def test_readings_are_batched_and_round_trip(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite", batch_interval=30) as journal:
        journal.record(reading(1.5))
        journal.record_many([reading(math.nan, Status.OVERLOAD), reading(2.5, instrument="b")])
        assert await journal.count_readings() == 0  # not committed before the batch is due
        await journal.flush()
        assert await journal.count_readings() == 3
        back = await journal.recent_readings("balance-1", limit=10)
    assert back[0].value == 1.5
    assert math.isnan(back[1].value) and back[1].status is Status.OVERLOAD
    assert back[0].raw == "S S 1.5 g"


async def test_wal_mode_and_periodic_commit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with Journal(path, batch_interval=0.05) as journal:
        journal.record(reading(3.0))
        other = sqlite3.connect(path)
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        async with asyncio.timeout(30):  # committed by the timer, not by a flush or close
            while not other.execute("SELECT value FROM readings").fetchall():
                await asyncio.sleep(0.05)
        assert other.execute("SELECT value FROM readings").fetchall() == [(3.0,)]
        other.close()


async def test_events_are_recorded(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.event("instrument_failed", "balance-1: no reply", Severity.ERROR, "balance-1")
        await journal.flush()
        [event] = await journal.events()
    assert event.kind == "instrument_failed" and event.severity is Severity.ERROR
    assert event.instrument == "balance-1"


async def test_full_disk_keeps_readings_in_memory_until_writable(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite", batch_interval=30) as journal:
        await journal.flush()
        db = journal._db
        assert db is not None
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")  # the disk is now "full"
        journal.record_many(reading(float(i)) for i in range(5000))
        await journal.flush()
        assert journal.last_error is not None and "full" in journal.last_error
        assert journal.pending >= 5000
        db.execute("PRAGMA max_page_count=1073741823")  # space freed
        await journal.flush()
        assert journal.last_error is None
        assert await journal.count_readings() == 5000
        await journal.flush()
        kinds = [event.kind for event in await journal.events()]
    assert kinds == ["journal_write_failed", "journal_recovered"]


async def test_refuses_a_journal_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    from daq.journal import JournalError

    try:
        await Journal(path).open()
    except JournalError as exc:
        assert "newer version" in str(exc)
    else:
        raise AssertionError("a newer schema must be refused")


WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from daq.journal import Journal
    from daq.core.reading import Reading

    async def main():
        journal = await Journal(sys.argv[1], batch_interval=0.05).open()
        n = 0
        while True:
            for _ in range(50):
                journal.record(Reading("b", "mass", float(n), "g", time.time()))
                n += 1
            await journal.flush()
            print(journal.committed_readings, flush=True)
            await asyncio.sleep(0.01)

    asyncio.run(main())
    """
)


def test_kill_9_loses_at_most_the_uncommitted_batch(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert writer.stdout is not None
    reported = 0
    for line in writer.stdout:
        reported = int(line)
        if reported >= 2000:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    values = [v for (v,) in db.execute("SELECT value FROM readings ORDER BY id")]
    assert len(values) >= reported  # every batch reported committed survived
    assert values == [float(i) for i in range(len(values))]  # in order, no gaps


async def test_two_runs_of_one_plan_in_the_same_second_get_their_own_ids(
    tmp_path: Path,
) -> None:
    """Two processes start the same plan in the same second: one id each, none refused."""
    row = RunRow("balance-20261203T120000Z", "balance", "weighing", 1.0, None, "running", "",
                 None, "{}")  # fmt: skip
    async with Journal(tmp_path / "j.sqlite") as one, Journal(tmp_path / "j.sqlite") as two:
        ids = await asyncio.gather(one.start_run(row), two.start_run(row), one.start_run(row))
        assert sorted(ids) == [row.id, f"{row.id}-2", f"{row.id}-3"]
        assert sorted(r.id for r in await one.runs()) == sorted(ids)


async def test_a_schema_10_journal_gains_the_issuing_requests(tmp_path: Path) -> None:
    path = tmp_path / "ten.sqlite"
    async with Journal(path) as journal:
        journal.event("agent_started", "before")  # type: ignore[arg-type]
    with sqlite3.connect(path) as db:  # as schema 10 left it
        db.execute("DROP TABLE issue_requests")
        db.execute("PRAGMA user_version=10")
    async with Journal(path) as journal:
        assert await journal.issued_for("a-request-of-the-form") == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
