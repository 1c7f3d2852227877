"""When a lab begins signing, the records it made before are taken over as they are then:
each unsigned run, certificate and register entry is signed as ``before-signing:SUBJECT``,
and one signature (``signing-began``) covers the list. From then on a record without its
signature verifies only if it is on that list, so a run rebuilt or slipped in later without
the key, and dated before signing began, is named as such.

Taking over happens once per journal, before the first signature of any other kind: the
first signed run or certificate does it, or ``daq keys take-over``."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from dataclasses import dataclass, field

from daq.chain import verify as verify_chain
from daq.journal import EventKind, Journal, register_subject
from daq.signing import RegisteredKey, Signature, Signer, SigningSettings

SIGNING_BEGAN = "signing-began"
"""What the signature over the list of records taken over names."""


class TakeOverRefused(Exception):
    """The journal cannot be taken over (done already, or signed without a take-over)."""


TAKEN_OVER = "before-signing:"


def taken_over(subject: str) -> str:
    """What the take-over signature of the record named ``subject`` names."""
    return f"{TAKEN_OVER}{subject}"


def manifest_digest(signatures: list[Signature]) -> str:
    """One hash of every record taken over (subject and hash), in a fixed order."""
    lines = sorted(f"{s.subject} {s.hash}" for s in signatures)
    return hashlib.sha256("\n".join(["benchdaq take-over v1", *lines]).encode()).hexdigest()


@dataclass(frozen=True)
class Unsigned:
    subject: str
    digest: str
    recorded: float
    name: str


@dataclass
class TakeOver:
    taken: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    """Unsigned records made after signing began: not taken over (they stay flagged)."""


async def unsigned_records(journal: Journal) -> list[Unsigned]:
    """Every finished run, issued certificate and register entry without its signature."""
    found: list[Unsigned] = []
    for run in await journal.runs(limit=-1):
        if run.status == "running":
            continue
        final, _ = verify_chain(run.id, await journal.chain_links(run.id))
        subject = f"run:{run.id}"
        if final is not None and not await journal.signatures(subject):
            found.append(Unsigned(subject, final, run.started, f"run {run.id}"))
    for issue in await journal.all_certificates():
        subject = f"certificate:{issue.number}"
        if not await journal.signatures(subject):
            found.append(Unsigned(subject, issue.digest(), issue.issued, subject.replace(":", " ")))
    for entry in await journal.register():
        subject = register_subject(entry.number)
        if not await journal.signatures(subject):
            what = f"register entry {entry.seq} (certificate {entry.number})"
            found.append(Unsigned(subject, entry.link, entry.issued, what))
    return found


def _first(keys: list[RegisteredKey]) -> RegisteredKey:
    return min(keys, key=lambda k: k.valid_from)


async def take_over(journal: Journal, signing: SigningSettings, signer: Signer) -> TakeOver:
    """Sign the records made before signing began, as they are now, and the list of them."""
    if began := await journal.signatures(SIGNING_BEGAN):
        when = dt.datetime.fromtimestamp(began[0][2], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise TakeOverRefused(f"the records made before signing were taken over on {when}")
    if await journal.signature_count():
        raise TakeOverRefused(
            "the journal holds signatures but no record of when signing began: it was altered "
            "(the take-over was removed); the records unsigned in it cannot be vouched for"
        )
    first = _first(signing.keys).valid_from.timestamp()
    now = journal.clock.now()
    result, signatures = TakeOver(), []
    for record in await unsigned_records(journal):
        if record.recorded < first:
            signatures.append(signer.sign(taken_over(record.subject), record.digest, now))
            result.taken.append(record.name)
        else:
            result.left.append(record.name)
    began_with = signer.sign(SIGNING_BEGAN, manifest_digest(signatures), now)
    if not await journal.record_first_signatures([*signatures, began_with]):
        raise TakeOverRefused("another process began signing this journal meanwhile")
    journal.event(
        EventKind.SIGNING_BEGAN,
        f"signing began with key {signer.key.id}: {len(result.taken)} record(s) made before "
        f"taken over as they are; {len(result.left)} unsigned record(s) made since left out",
    )
    return result


async def begin_signing(journal: Journal, signing: SigningSettings, signer: Signer) -> None:
    """Take over the journal's earlier records before its first signature (nothing when
    signing has begun already, here or in another process meanwhile)."""
    if not await journal.signature_count():
        with contextlib.suppress(TakeOverRefused):  # begun by another process: nothing to do
            await take_over(journal, signing, signer)
