"""The tamper-evident record of a run: every record (readings with the instrument's raw
reply, events, points, and last the result document) is chained by SHA-256, each hash
covering the one before it. Changing, removing or reordering any record changes every hash
after it; the last hash is signed with the lab's key and printed on the certificate, so
``daq verify`` (``daq.integrity``) can prove the journal is what was certified."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any


@dataclass(frozen=True)
class Link:
    run: str
    seq: int
    kind: str
    content: str
    """Canonical JSON of the record."""
    previous: str
    hash: str


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""Made once: ``json.dumps`` with these options builds an encoder on every call, which was
half the cost of hashing a monitored reading."""


def canonical(content: dict[str, Any]) -> str:
    return _CANONICAL.encode(content)


def genesis(run: str) -> str:
    """The "previous hash" of a run's first record."""
    return hashlib.sha256(f"benchdaq run {run}".encode()).hexdigest()


def link_hash(previous: str, seq: int, kind: str, content: str) -> str:
    return hashlib.sha256(f"{previous}\n{seq}\n{kind}\n{content}".encode()).hexdigest()


def make_link(run: str, seq: int, previous: str, kind: str, content: dict[str, Any]) -> Link:
    text = canonical(content)
    return Link(run, seq, kind, text, previous, link_hash(previous, seq, kind, text))


def describe(link: Link) -> str:
    """The record in a few words, to name it when it was altered (even into nonsense)."""
    try:
        content = json.loads(link.content)
    except ValueError:
        content = None
    if not isinstance(content, dict):
        return f"record {link.seq} ({link.kind}, not a JSON object)"
    if link.kind == "reading":
        what = f"reading of {content.get('instrument')} {content.get('quantity')}"
    elif link.kind == "event":
        what = f"event {content.get('kind')}"
    elif link.kind == "point":
        what = f"point {content.get('key')!r}"
    else:
        what = link.kind
    return f"record {link.seq} ({what})"


def verify(run: str, links: list[Link]) -> tuple[str | None, list[str]]:
    """(the final hash, problems): empty problems when every record is as chained."""
    problems = []
    previous = genesis(run)
    for expected_seq, link in enumerate(links, start=1):
        if link.seq != expected_seq:
            problems.append(f"record {expected_seq} is missing (found {link.seq} instead)")
            break
        if link.previous != previous:
            problems.append(f"{describe(link)} does not follow record {link.seq - 1}")
        if link_hash(link.previous, link.seq, link.kind, link.content) != link.hash:
            problems.append(f"{describe(link)} was altered: its content no longer has its hash")
        previous = link.hash
    return (links[-1].hash if links else None), problems


def stream_genesis(instrument: str) -> str:
    """The "previous hash" of the first chained reading of an instrument outside runs."""
    return hashlib.sha256(f"benchdaq stream {instrument}".encode()).hexdigest()


def stream_hash(previous: str, reading: dict[str, Any]) -> str:
    """The hash of a monitored reading (its fields as stored), covering the one before it."""
    return hashlib.sha256(f"{previous}\n{canonical(reading)}".encode()).hexdigest()


READING_FIELDS = ("instrument", "quantity", "value", "unit", "timestamp", "status", "raw")
"""A stored reading's fields, in the readings table's column order."""


def stored_reading_hash(previous: str, row: tuple[Any, ...]) -> str:
    """``stream_hash`` of a reading given as its stored values in ``READING_FIELDS`` order."""
    return hashlib.sha256(f"{previous}\n{reading_text(row)}".encode()).hexdigest()


def reading_text(row: tuple[Any, ...]) -> str:
    """``canonical`` of a stored reading, written out for the usual types: the same text
    (a test holds them equal) at a third of the encoder's cost, which was the largest share
    of chaining a monitored reading. Any other type or a non-finite number goes through the
    encoder."""
    instrument, quantity, value, unit, timestamp, status, raw = row
    if (
        type(instrument) is str
        and type(quantity) is str
        and type(unit) is str
        and type(status) is str
        and type(raw) is str
        and type(timestamp) is float
        and math.isfinite(timestamp)
        and (value is None or (type(value) is float and math.isfinite(value)))
    ):
        s = encode_basestring
        shown = "null" if value is None else repr(value)
        return (
            f'{{"instrument":{s(instrument)},"quantity":{s(quantity)},"raw":{s(raw)},'
            f'"status":{s(status)},"timestamp":{timestamp!r},"unit":{s(unit)},"value":{shown}}}'
        )
    return canonical(dict(zip(READING_FIELDS, row, strict=True)))


def anchor_digest(heads: dict[str, str], previous: str) -> str:
    """One hash of every stream's head and of the anchor before (so none can be removed
    unseen): what an anchor signs and publishes."""
    return hashlib.sha256(f"{previous}\n{canonical(heads)}".encode()).hexdigest()


REGISTER_GENESIS = "0" * 64
"""The ``previous`` of the first entry of the register of issued certificates."""


def register_link(previous: str, entry: dict[str, Any]) -> str:
    """A link of the register of issued certificates: the entry and the link before it, so
    that no issued number can be removed from the register, or one put in, unseen."""
    return hashlib.sha256(
        f"certificate register v1\n{previous}\n{canonical(entry)}".encode()
    ).hexdigest()
