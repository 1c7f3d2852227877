"""Monitored readings outside runs are tamper-evident: each instrument's readings are
chained as they are committed, anchors keep (and sign) the heads, and `verify_streams` names
an altered, inserted or removed reading, and a chain cut or rebuilt after an anchor; a
journal from before the chains opens, its old readings counted as unchained."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from daq.chain import stream_genesis, stream_hash
from daq.core.clock import Clock
from daq.core.reading import Reading
from daq.journal import Journal
from daq.signing import RegisteredKey, SigningSettings, generate, load_signer
from daq.streams import anchor, verify_streams

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()


class Fixed(Clock):
    def now(self) -> float:
        return NOW


def readings(instrument: str, count: int, start: float = NOW) -> list[Reading]:
    return [
        Reading(instrument, "pressure", 1.0 + i / 1000, "bar", start + i, raw=f"{i}")
        for i in range(count)
    ]


async def journal_with(path: Path, count: int = 10) -> None:
    async with Journal(path, clock=Fixed()) as journal:
        for reading in readings("transmitter-1", count) + readings("balance-1", count):
            journal.record(reading)
        journal.record(Reading("balance-1", "mass", 5.0, "g", NOW, run="run-1"))  # a run's
        await journal.flush()


def execute(path: Path, sql: str, *params: object) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(sql, params)


async def audit(path: Path, signing: SigningSettings | None = None) -> list[str]:
    async with Journal(path, clock=Fixed()) as journal:
        return (await verify_streams(journal, signing)).problems


@pytest.mark.parametrize("page", [3, 10_000])  # read in pages of 3 readings, or all at once
async def test_intact_streams_verify(
    tmp_path: Path, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daq.streams.PAGE", page)
    path = tmp_path / "j.sqlite"
    await journal_with(path)
    async with Journal(path, clock=Fixed()) as journal:
        found = await verify_streams(journal, None)
        heads = await journal.stream_heads()
    assert (found.streams, found.readings, found.unchained, found.problems) == (2, 20, 0, [])
    # the head recomputed by hand from the stored fields, reading by reading
    previous = stream_genesis("transmitter-1")
    for reading in readings("transmitter-1", 10):
        fields = {
            "instrument": reading.instrument,
            "quantity": reading.quantity,
            "value": reading.value,
            "unit": reading.unit,
            "timestamp": reading.timestamp,
            "status": "ok",
            "raw": reading.raw,
        }
        previous = stream_hash(previous, fields)
    assert heads["transmitter-1"] == previous


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        (
            "UPDATE readings SET value = 1.5 WHERE instrument = 'balance-1' AND raw = '4'",
            "of balance-1 (pressure",
        ),
        (
            "DELETE FROM readings WHERE instrument = 'transmitter-1' AND raw = '3'",
            "of transmitter-1",
        ),
        (
            "INSERT INTO readings (instrument, quantity, value, unit, timestamp, status, raw) "
            "VALUES ('balance-1', 'pressure', 9, 'bar', 0, 'ok', 'forged')",
            "not chained",
        ),
        (
            "INSERT INTO readings (id, instrument, quantity, value, unit, timestamp, status, raw)"
            " VALUES (-9223372036854775808, 'balance-1', 'pressure', 9, 'bar', 0, 'ok', '')",
            "reading -9223372036854775808 of balance-1 (pressure, 1970-01-01 00:00:00 UTC): "
            "not chained",
        ),
    ],
    ids=["altered", "removed", "inserted", "inserted-with-the-lowest-id"],
)
@pytest.mark.parametrize("page", [3, 10_000])
async def test_an_edit_is_named(
    tmp_path: Path, sql: str, found: str, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daq.streams.PAGE", page)
    path = tmp_path / "j.sqlite"
    await journal_with(path)
    execute(path, sql)
    problems = await audit(path)
    assert len(problems) == 1 and found in problems[0], problems


async def test_anchors_catch_a_cut_or_rebuilt_chain_and_are_signed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    pem, public = generate()
    key_file = tmp_path / "lab.key"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    key = RegisteredKey.model_validate(
        {"id": "lab-k1", "public_key": public, "valid_from": "2026-01-01"}
    )
    signing = SigningSettings(key_file=key_file, keys=[key])
    await journal_with(path)
    async with Journal(path, clock=Fixed()) as journal:
        made = await anchor(journal, load_signer(signing, NOW), None)
        assert made is not None
        heads, payload = made
        assert payload["signature"]["key"] == "lab-k1" and payload["heads"] == heads
        assert payload["previous"] == ""  # the first anchor
        assert await anchor(journal, None, heads) is None  # nothing new: no second anchor
        found = await verify_streams(journal, signing)
    assert (found.anchors, found.signed, found.problems) == (1, 1, [])

    # the last reading cut off: every hash left still chains, the anchor does not
    execute(
        path,
        "DELETE FROM readings WHERE id = (SELECT MAX(id) FROM readings WHERE "
        "instrument = 'balance-1' AND run IS NULL)",
    )
    problems = await audit(path, signing)
    assert problems == [
        f"anchor 1 of {dt.datetime.fromtimestamp(NOW, dt.UTC):%Y-%m-%d %H:%M:%S} UTC: the "
        "reading of balance-1 it anchors is no longer in the journal (the stream was altered, "
        "rebuilt or cut after it)"
    ]
    # rebuilt without the key: the anchor's heads rewritten to match, its signature fails
    execute(path, "UPDATE stream_anchors SET heads = '{}', digest = 'x'")
    assert any("do not match its digest" in p for p in await audit(path, signing))


async def test_unsigned_anchors_after_signing_began_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    _, public = generate()
    key = RegisteredKey.model_validate(
        {"id": "lab-k1", "public_key": public, "valid_from": "2026-01-01"}
    )
    await journal_with(path)
    async with Journal(path, clock=Fixed()) as journal:
        await anchor(journal, None, None)
    problems = await audit(path, SigningSettings(keys=[key]))
    assert len(problems) == 1 and "unsigned" in problems[0]


async def test_a_journal_from_before_the_chains_opens_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    await journal_with(path, count=3)
    with contextlib.closing(sqlite3.connect(path)) as db:  # as schema 5 had it: no chains
        db.execute("ALTER TABLE readings DROP COLUMN chain")
        db.execute("DROP TABLE journal_facts")
        db.execute("PRAGMA user_version=5")
    async with Journal(path, clock=Fixed()) as journal:
        for reading in readings("balance-1", 2, start=NOW + 100):
            journal.record(reading)
        await journal.flush()
        found = await verify_streams(journal, None)
    assert (found.readings, found.unchained, found.problems) == (8, 6, [])


async def test_a_removed_anchor_or_an_unchained_reading_is_named(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await journal_with(path, count=3)
    async with Journal(path, clock=Fixed()) as journal:
        await anchor(journal, None, None)
        for step in range(2):
            journal.record(Reading("balance-1", "mass", 2.0, "g", NOW + 10 + step))
            await journal.flush()
            await anchor(journal, None, None)
        assert len(await journal.anchors()) == 3
    execute(path, "DELETE FROM stream_anchors WHERE id = 2")
    execute(
        path,
        "INSERT INTO readings (id, instrument, quantity, value, unit, timestamp, status, raw) "
        "VALUES (-5, 'balance-1', 'mass', 1, 'g', 0, 'ok', '')",
    )
    problems = await audit(path)
    assert any("anchor 3 of" in p and "the anchor before it was removed" in p for p in problems)
    assert any("reading -5 of balance-1" in p and "not chained" in p for p in problems)


async def test_in_a_signing_lab_old_readings_in_no_anchor_are_named(tmp_path: Path) -> None:
    """Every anchor deleted (or a stream made up): readings older than two anchor intervals
    that no anchor covers are a problem where the lab signs its anchors."""
    path = tmp_path / "j.sqlite"
    _, public = generate()
    key = RegisteredKey.model_validate(
        {"id": "lab-k1", "public_key": public, "valid_from": "2026-01-01"}
    )
    await journal_with(path, count=3)
    later = Fixed()
    later.now = lambda: NOW + 3600  # type: ignore[method-assign]
    async with Journal(path, clock=later) as journal:
        found = await verify_streams(journal, SigningSettings(keys=[key]), anchor_interval=300)
    assert len(found.problems) == 2
    assert all("are in no anchor" in p for p in found.problems)
