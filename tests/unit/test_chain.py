"""The hash chain of a run's record: intact, altered, removed, reordered."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from daq.chain import (
    READING_FIELDS,
    Link,
    canonical,
    genesis,
    link_hash,
    make_link,
    reading_text,
    stored_reading_hash,
    stream_hash,
    verify,
)
from daq.core.reading import Reading
from daq.journal.records import stored_values


def chain(run: str, count: int) -> list[Link]:
    links, previous = [], genesis(run)
    for seq in range(1, count + 1):
        link = make_link(
            run, seq, previous, "reading", {"instrument": "b", "quantity": "mass", "value": seq}
        )
        links.append(link)
        previous = link.hash
    return links


def test_intact_chain_verifies() -> None:
    links = chain("r1", 5)
    final, problems = verify("r1", links)
    assert problems == [] and final == links[-1].hash
    assert links[0].previous == genesis("r1") != genesis("r2")
    assert link_hash(links[0].previous, 1, "reading", links[0].content) == links[0].hash


def test_an_altered_record_is_named() -> None:
    links = chain("r1", 5)
    links[2] = dataclasses.replace(
        links[2], content=links[2].content.replace('"value":3', '"value":4')
    )
    _, problems = verify("r1", links)
    assert problems == [
        "record 3 (reading of b mass) was altered: its content no longer has its hash"
    ]


def test_rehashing_an_altered_record_breaks_the_next() -> None:
    links = chain("r1", 5)
    forged = make_link(
        "r1", 3, links[1].hash, "reading", {"instrument": "b", "quantity": "mass", "value": 99}
    )
    links[2] = forged
    _, problems = verify("r1", links)
    assert problems == ["record 4 (reading of b mass) does not follow record 3"]


def test_removed_and_reordered_records() -> None:
    links = chain("r1", 5)
    _, removed = verify("r1", links[:2] + links[3:])
    assert removed == ["record 3 is missing (found 4 instead)"]
    _, moved = verify("r2", chain("r1", 2))  # a record chained for another run
    assert moved[0].startswith("record 1 (reading of b mass) does not follow")


FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e-300])


@given(
    texts=st.lists(st.text(), min_size=5, max_size=5),
    value=st.none() | FLOATS | st.integers(),
    timestamp=FLOATS | st.integers(min_value=0, max_value=2**40),
)
def test_a_readings_text_is_what_the_encoder_writes(
    texts: list[str], value: float | int | None, timestamp: float | int
) -> None:
    """The written-out text of a stored reading hashes as the canonical encoder's would, for
    any text (quotes, control characters, any script) and any number, finite or not."""
    instrument, quantity, unit, status, raw = texts
    row = (instrument, quantity, value, unit, timestamp, status, raw)
    fields = dict(zip(READING_FIELDS, row, strict=True))
    assert reading_text(row) == canonical(fields)
    assert stored_reading_hash("p" * 64, row) == stream_hash("p" * 64, fields)


def test_a_readings_text_written_out() -> None:
    row = ("balance-1", "mass", 100.00012, "g", 1764853200.25, "ok", 'S S    100.00012 g "x"')
    assert reading_text(row) == (
        '{"instrument":"balance-1","quantity":"mass","raw":"S S    100.00012 g \\"x\\"",'
        '"status":"ok","timestamp":1764853200.25,"unit":"g","value":100.00012}'
    )


def test_an_integer_timestamp_is_hashed_as_the_journal_gives_it_back() -> None:
    """SQLite keeps the timestamp as REAL: a reading stamped 5 is read back as 5.0, and its
    hash must be the one recomputed from what was read back."""
    stored = stored_values(Reading("b", "mass", 1.0, "g", 5))
    read_back = dict(zip(READING_FIELDS, ("b", "mass", 1.0, "g", 5.0, "ok", ""), strict=True))
    assert stored_reading_hash("p" * 64, stored) == stream_hash("p" * 64, read_back)
