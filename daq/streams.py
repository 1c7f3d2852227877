"""The monitor's readings outside runs, tamper-evident: each instrument's readings are
chained by SHA-256 as the journal commits them (``readings.chain``), and the agent anchors
every stream's head at intervals: the anchor is kept in the journal, signed with the lab's
key where it has one, and published retained on MQTT (``agent/anchor``), so a copy lives
outside the bench. ``daq verify --streams`` recomputes every chain and holds each anchor
against it: an altered, inserted or removed reading breaks the chain, and a chain rebuilt
or cut after an anchor no longer contains the anchored hash."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

from daq.chain import anchor_digest, stream_genesis, stream_hash
from daq.journal import EventKind, Journal
from daq.signing import Signature, Signer, SigningSettings, check, unsigned

SUBJECT = "streams"
"""What an anchor's signature names (beside the digest of the heads and the time)."""
PAGE = 10_000
"""Readings read at a time while verifying (every stream in one pass, in id order)."""


@dataclass
class StreamAudit:
    streams: int = 0
    readings: int = 0
    unchained: int = 0
    """Readings recorded before the streams were chained (older journals)."""
    anchors: int = 0
    signed: int = 0
    problems: list[str] = field(default_factory=list)


def _when(timestamp: Any) -> str:
    try:
        return dt.datetime.fromtimestamp(float(timestamp), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return f"time {timestamp!r}"


async def anchor(
    journal: Journal, signer: Signer | None, last: dict[str, str] | None
) -> tuple[dict[str, str], dict[str, Any]] | None:
    """Anchor the streams' heads now (None when nothing changed since ``last``): kept in the
    journal, chained to the anchor before, and returned as (heads, payload) for MQTT."""
    heads = await journal.stream_heads()
    if not heads or heads == last:
        return None
    anchors = await journal.anchors()
    previous = anchors[-1][4] if anchors else ""
    digest = anchor_digest(heads, previous)
    now = journal.clock.now()
    signature = signer.sign(SUBJECT, digest, now) if signer is not None else None
    await journal.record_anchor(now, heads, previous, digest, signature)
    journal.event(EventKind.STREAM_ANCHOR, f"{len(heads)} reading streams anchored: {digest}")
    payload: dict[str, Any] = {
        "timestamp": now,
        "digest": digest,
        "previous": previous,
        "heads": heads,
    }
    if signature is not None:
        payload["signature"] = {
            "key": signature.key,
            "signed": signature.signed,
            "value": signature.value,
        }
    return heads, payload


async def verify_streams(
    journal: Journal, signing: SigningSettings | None, anchor_interval: float = 300.0
) -> StreamAudit:
    """Recompute every instrument's chain and check every anchor against it: the anchors
    must follow each other, and in a lab that signs, every chained reading older than two
    anchor intervals must be covered by an anchor."""
    found = StreamAudit()
    chained: dict[str, dict[str, float]] = {}
    """Instrument -> chain hash -> the reading's timestamp."""
    before = await journal.chained_after()
    oldest_unanchored: float | None = None
    follows: dict[str, str] = {}
    """Instrument -> the hash its next reading must follow from."""
    last = -math.inf  # from the first id, a row put in by hand with a negative one too
    while page := await journal.stream_rows(last, PAGE):
        for ident, reading, chain in page:
            instrument = reading["instrument"]
            if instrument not in chained:
                chained[instrument], follows[instrument] = {}, stream_genesis(instrument)
            found.readings += 1
            taken = _when(reading["timestamp"])
            what = f"reading {ident} of {instrument} ({reading['quantity']}, {taken} UTC)"
            if chain is None:
                if ident > before or ident <= 0:
                    found.problems.append(f"{what}: not chained (inserted)")
                else:
                    found.unchained += 1
                continue
            if chain != stream_hash(follows[instrument], reading):
                found.problems.append(
                    f"{what}: altered, or a reading before it removed or inserted (its hash does "
                    "not follow from the reading before it)"
                )
            follows[instrument] = chain
            chained[instrument][chain] = reading["timestamp"]
        last = page[-1][0]
    found.streams = len(chained)
    keys = signing.keys if signing is not None else []
    covered: dict[str, float] = {}
    """Instrument -> timestamp of the last reading an anchor covers."""
    expected = ""
    for (
        ident,
        timestamp,
        heads_text,
        previous,
        digest,
        key,
        signed,
        value,
    ) in await journal.anchors():
        found.anchors += 1
        what = f"anchor {ident} of {_when(timestamp)} UTC"
        if previous != expected:
            found.problems.append(f"{what}: the anchor before it was removed or altered")
        expected = digest
        try:
            heads = json.loads(heads_text)
        except json.JSONDecodeError:
            found.problems.append(f"{what}: its heads are not JSON (altered)")
            continue
        if not isinstance(heads, dict) or anchor_digest(heads, previous) != digest:
            found.problems.append(f"{what}: its heads do not match its digest (altered)")
            continue
        if key is not None and value is not None and signed is not None:
            verdict = check(keys, Signature(SUBJECT, digest, key, signed, value))
            found.signed += verdict.ok
        else:
            verdict = unsigned(keys, timestamp, f"{what} was recorded")
        if not verdict.ok:
            found.problems.append(f"{what}: {verdict.text}")
        for instrument, head in heads.items():
            if head not in chained.get(instrument, {}):
                found.problems.append(
                    f"{what}: the reading of {instrument} it anchors is no longer in the journal "
                    "(the stream was altered, rebuilt or cut after it)"
                )
            else:
                covered[instrument] = chained[instrument][head]
    if keys:  # readings left out of every anchor for long: anchors removed, or streams forged
        limit = journal.clock.now() - 2 * anchor_interval
        for instrument, hashes in chained.items():
            late = [t for t in hashes.values() if t > covered.get(instrument, -math.inf)]
            if late and (oldest_unanchored := min(late)) < limit:
                found.problems.append(
                    f"readings of {instrument} from {_when(oldest_unanchored)} UTC on are in no "
                    "anchor, though anchors are made every "
                    f"{anchor_interval:g} s (anchors removed, or readings added)"
                )
    return found
