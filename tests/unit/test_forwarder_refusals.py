"""The forwarder against a sink that refuses some records for good: they are found by
halving the batch and set aside as dead letters, everything else arrives once and in order;
a sink that refuses everything is down instead (a proxy answering 400 to all, say)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from daq.core.reading import Reading
from daq.forwarder import Forwarder
from daq.journal import Journal
from daq.sinks.base import Batch, SinkRefused, rows_batch


class RefusingSink:
    """Refuses any batch holding one of the ``bad`` reading rows (all of them: ``None``)."""

    name = "test"

    def __init__(self, bad: set[int] | None) -> None:
        self.streams = ["readings"]
        self.bad = bad
        self.taken: list[int] = []
        self.writes = 0

    async def fetch(self, journal: Journal, stream: str, after: int, limit: int) -> Batch | None:
        return await rows_batch(journal, stream, after, limit)

    async def write(self, batch: Batch) -> None:
        self.writes += 1
        rows = [row[0] for row in batch.payload]
        if self.bad is None or self.bad.intersection(rows):
            raise SinkRefused(f"HTTP 400: bad row in {rows[0]}..{rows[-1]}")
        self.taken.extend(rows)

    async def close(self) -> None:
        return None


async def forward(journal: Journal, sink: RefusingSink, until: str) -> Forwarder:
    forwarder = Forwarder(journal, sink, batch_size=1000)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if until == "down" and forwarder.state == "down":
            break
        if until == "drained" and not (await journal.backlog(sink.name))["readings"]:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    await journal.flush()  # the events it queued
    return forwarder


async def test_bad_records_are_set_aside_and_the_rest_arrives(tmp_path: Path) -> None:
    bad = {2, 500, 501, 502, 1000, 1777}
    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.record_many(Reading("b", "mass", float(i), "g", float(i)) for i in range(2000))
        await journal.flush()
        sink = RefusingSink(bad)
        forwarder = await forward(journal, sink, until="drained")
        kinds = [e.kind for e in await journal.events()]
    assert sink.taken == [i for i in range(1, 2001) if i not in bad]  # once each, in order
    assert forwarder.delivered == 2000 - len(bad) and forwarder.state == "ok"
    assert sink.writes < 2 + len(bad) * 2 * 10  # about two writes per halving, not per row
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        kept = db.execute("SELECT sink, stream, row, error FROM dead_letters ORDER BY row")
        rows = kept.fetchall()
    assert [r[:3] for r in rows] == [("test", "readings", b) for b in sorted(bad)]
    assert rows[0][3] == "HTTP 400: bad row in 2..2"  # what the sink said of that record
    assert kinds.count("dead_letter") == len(bad) and "sink_down" not in kinds


async def test_a_sink_refusing_everything_is_down_not_emptied(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.record_many(Reading("b", "mass", float(i), "g", float(i)) for i in range(50))
        await journal.flush()
        forwarder = await forward(journal, RefusingSink(None), until="down")
        kinds = [e.kind for e in await journal.events()]
        (state,) = await journal.sink_states()
        assert await journal.dead_letter_summary() == {}
        assert await journal.cursor("test", "readings") == 0
    assert forwarder.state == "down" and "refuses everything" in state[2]
    assert "sink_down" in kinds and "dead_letter" not in kinds


async def test_a_record_is_set_aside_once(tmp_path: Path) -> None:
    """A batch sent again after a crash finds its record set aside already."""
    async with Journal(tmp_path / "j.sqlite") as journal:
        assert await journal.dead_letter("influxdb", "events", 7, "HTTP 413: too large")
        assert not await journal.dead_letter("influxdb", "events", 7, "HTTP 413: too large")
        assert await journal.dead_letter("influxdb", "readings", 9, "HTTP 400: " + "x" * 5000)
        await journal.flush()
        summary = await journal.dead_letter_summary()
        events = await journal.events("dead_letter")
    assert list(summary) == ["influxdb"] and summary["influxdb"].count == 2
    assert summary["influxdb"].error.startswith("HTTP 400: xxx")  # the last one's
    assert len(summary["influxdb"].error) == 1000
    assert len(events) == 2 and "events row 7" in events[0].message
