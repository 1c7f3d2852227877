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
from dataclasses import dataclass, field
from typing import Any

from daq.chain import anchor_digest, stream_genesis, stream_hash
from daq.journal import Journal
from daq.signing import Signature, Signer, SigningSettings, check, unsigned

SUBJECT = "streams"
"""What an anchor's signature names (beside the digest of the heads and the time)."""


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
    journal: Journal, signer: Signer | None, last: str | None
) -> tuple[str, dict[str, Any]] | None:
    """Anchor the streams' heads now (None when nothing changed since ``last``): kept in the
    journal, and returned as (digest, payload) for MQTT."""
    heads = await journal.stream_heads()
    if not heads:
        return None
    digest = anchor_digest(heads)
    if digest == last:
        return None
    now = journal.clock.now()
    signature = signer.sign(SUBJECT, digest, now) if signer is not None else None
    await journal.record_anchor(now, heads, digest, signature)
    journal.event("stream_anchor", f"{len(heads)} reading streams anchored: {digest}")
    payload: dict[str, Any] = {"timestamp": now, "digest": digest, "heads": heads}
    if signature is not None:
        payload["signature"] = {
            "key": signature.key,
            "signed": signature.signed,
            "value": signature.value,
        }
    return digest, payload


async def verify_streams(journal: Journal, signing: SigningSettings | None) -> StreamAudit:
    """Recompute every instrument's chain and check every anchor against it."""
    found = StreamAudit()
    chained: dict[str, set[str]] = {}
    for instrument in await journal.stream_instruments():
        found.streams += 1
        previous, started, hashes = stream_genesis(instrument), False, set()
        for ident, reading, chain in await journal.stream_rows(instrument):
            found.readings += 1
            taken = _when(reading["timestamp"])
            what = f"reading {ident} of {instrument} ({reading['quantity']}, {taken} UTC)"
            if chain is None:
                if started:
                    found.problems.append(f"{what}: not chained among chained readings (inserted)")
                else:
                    found.unchained += 1
                continue
            started = True
            if chain != stream_hash(previous, reading):
                found.problems.append(
                    f"{what}: altered, or a reading before it removed or inserted (its hash does "
                    "not follow from the reading before it)"
                )
            previous = chain
            hashes.add(chain)
        chained[instrument] = hashes
    keys = signing.keys if signing is not None else []
    for ident, timestamp, heads_text, digest, key, signed, value in await journal.anchors():
        found.anchors += 1
        what = f"anchor {ident} of {_when(timestamp)} UTC"
        try:
            heads = json.loads(heads_text)
        except json.JSONDecodeError:
            found.problems.append(f"{what}: its heads are not JSON (altered)")
            continue
        if not isinstance(heads, dict) or anchor_digest(heads) != digest:
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
            if head not in chained.get(instrument, set()):
                found.problems.append(
                    f"{what}: the reading of {instrument} it anchors is no longer in the journal "
                    "(the stream was altered, rebuilt or cut after it)"
                )
    return found
