"""A full disk loses nothing silently: the journal on a small tmpfs fills up while the agent
streams; the alarm reaches MQTT without the journal, `daq status` still reads, SIGTERM spills
what memory holds to another disk and exits non-zero saying so, and the next start takes the
spill back into the journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from daq.core.reading import Reading
from daq.journal import Journal, JournalError
from tests.conftest import lab_text
from tests.e2e.processes import DAQ, run
from tests.service.test_agent import PREFIX, subscriber, until
from tests.services import Service


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (needs root: CI runs as root; elsewhere the test is skipped)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs in CI: {mounted.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def readings_in(journal: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])


def fill(disk: Path) -> None:
    """Take every free byte of the disk."""
    chunk = b"\0" * 65536
    with contextlib.suppress(OSError), (disk / "filler").open("wb") as out:
        while True:
            out.write(chunk)
            out.flush()


def start_agent(lab: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*DAQ, "agent", "--lab", str(lab), "--simulate", "--time-scale", "5"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


async def test_memory_is_bounded_and_the_loss_is_counted(small_disk: Path) -> None:
    """While the disk is full the journal holds at most ``memory_limit`` readings; the
    oldest beyond are dropped and, once it can write again, a readings_lost event says how
    many were lost and when they were taken."""
    async with Journal(small_disk / "j.sqlite", memory_limit=10, close_timeout=1) as journal:
        journal.record(Reading("balance-1", "mass", 1.0, "g", 1_000_000.0))
        await journal.flush()
        fill(small_disk)
        for second in range(50):
            journal.record(Reading("balance-1", "mass", 2.0, "g", 1_000_100.0 + second))
        await journal.flush()
        assert journal.last_error is not None and "disk" in journal.last_error
        assert journal.pending >= 10 and len(journal._readings) == 10
        (small_disk / "filler").unlink()
        await journal.flush()
        assert journal.last_error is None
        await journal.flush()  # the events that say so
        events = {e.kind: e.message for e in await journal.events()}
        assert "journal_write_failed" in events and "journal_recovered" in events
        assert events["readings_lost"].startswith("40 readings taken from 1970-01-12 13:48:20")
        assert len(await journal.readings(limit=100)) == 11


async def test_a_stop_on_a_full_disk_spills_and_the_next_open_takes_it_back(
    tmp_path: Path, small_disk: Path
) -> None:
    """SIGTERM while the disk is full: ``close`` keeps trying for ``close_timeout``, then
    writes what memory holds to a spill file on another disk and says so (JournalError, so
    the program exits non-zero); the next journal opened for writing takes it back."""
    spill_folder = tmp_path / "spill"
    spill_folder.mkdir()
    path = small_disk / "j.sqlite"
    journal = Journal(path, spill_folder=spill_folder, close_timeout=0.5)
    await journal.open()
    journal.record(Reading("balance-1", "mass", 1.0, "g", 1_000_000.0))
    await journal.flush()
    fill(small_disk)
    for second in range(30):
        journal.record(Reading("balance-1", "mass", 2.0, "g", 1_000_100.0 + second))
    with pytest.raises(JournalError, match=r"30 readings, \d+ events and 0 run records were "):
        await journal.close()
    [spilled] = spill_folder.glob("j.sqlite.spill-*.jsonl")
    (small_disk / "filler").unlink()
    async with Journal(path, spill_folder=spill_folder) as again:
        assert len(await again.readings(limit=100)) == 31
        await again.flush()
        assert "spill_imported" in {e.kind for e in await again.events()}
    assert not spilled.exists() and spilled.with_suffix(".imported").exists()
    async with Journal(path, read_only=True) as check:  # the spilled readings chain on
        from daq.streams import verify_streams

        assert (await verify_streams(check, None)).problems == []


async def test_full_disk_alarm_status_spill_and_take_back(
    tmp_path: Path, small_disk: Path, mosquitto: Service
) -> None:
    journal = small_disk / "daq.sqlite"
    spill_folder = tmp_path / "spill"  # another disk
    raw = yaml.safe_load(lab_text(tmp_path, poll_interval=0.2))
    raw["journal"] = {
        "path": str(journal),
        "batch_interval": 0.1,
        "spill": str(spill_folder),
        "close_timeout": 2,
    }
    raw["mqtt"] = {"host": "127.0.0.1", "port": mosquitto.port, "prefix": PREFIX}
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump(raw, allow_unicode=True))
    spill_folder.mkdir()
    process = start_agent(lab, tmp_path)
    try:
        async with subscriber(mosquitto, "#") as client:
            await until(client, lambda t, p: t.endswith("agent/status") and p["state"] == "online")
            deadline = time.monotonic() + 60
            while readings_in(journal) == 0 and time.monotonic() < deadline:
                await until(client, lambda t, p: "/readings/" in t)
            fill(small_disk)
            _, alarm = await until(
                client, lambda t, p: t.endswith("alarms/journal") and p.get("state") == "active"
            )
            assert "cannot write the journal" in alarm["message"]
        status = run("status", "--lab", str(lab), cwd=tmp_path)
        assert status.returncode == 0, status.stderr  # read-only: works on the full disk
        before = readings_in(journal)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    spills = list(spill_folder.glob("daq.sqlite.spill-*.jsonl"))
    if process.returncode == 0:
        # SQLite may reuse its write-ahead log's own pages and so commit the last batch on a
        # full disk: then everything is in the journal, and nothing was spilled or lost
        assert spills == [] and "agent stopped" in out, out + err
        with contextlib.closing(sqlite3.connect(journal)) as db:
            kinds = [k for (k,) in db.execute("SELECT kind FROM events")]
        assert "readings_lost" not in kinds
        return
    [spilled] = spills  # not a clean stop: it says what it kept, and where
    assert str(spilled) in err and "readings" in err
    lines = [json.loads(line) for line in spilled.read_text().splitlines()]
    held = sum(1 for line in lines if "reading" in line)
    assert held > 0

    (small_disk / "filler").unlink()  # space again
    listed = run("runs", "--lab", str(lab), cwd=tmp_path)  # only looks: takes nothing back
    assert listed.returncode == 0, listed.stderr
    assert readings_in(journal) == before and spilled.exists()
    again = start_agent(lab, tmp_path)  # the next writer takes the spill back as it opens
    try:
        deadline = time.monotonic() + 60
        while not spilled.with_suffix(".imported").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=120)
    assert not spilled.exists() and spilled.with_suffix(".imported").exists()
    with contextlib.closing(sqlite3.connect(journal)) as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM events")]
        kept = set(db.execute("SELECT instrument, quantity, timestamp, value FROM readings"))
    assert "spill_imported" in kinds
    taken = {
        (r["instrument"], r["quantity"], r["timestamp"], r["value"])
        for r in (line["reading"] for line in lines if "reading" in line)
    }
    assert len(taken) == held and taken <= kept  # every spilled reading is back, once
