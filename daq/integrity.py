"""The whole record of a run, checked: what ``daq verify`` prints and what a certificate
requires.

A run's record is its hash chain (``daq.chain``): setup, identities, every reading with the
instrument's raw reply, events, points, and last the result document itself, whose hash is
the run's final hash, signed with the lab's key (``daq.signing``). Everything else the journal
holds about the run is a copy that must agree with that record: the result document in
``runs``, the ``points`` rows, the ``readings`` rows tagged with the run, the ``runs`` row and
the streamed ``results`` row; and every certificate issued from it must name its final hash
and carry the lab's signature. Each difference is named (which record, which field).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from daq.chain import REGISTER_GENESIS, Link, describe, register_link
from daq.chain import verify as verify_chain
from daq.engine.document import RunDocument, standards_used, verdict
from daq.journal import (
    CertificateFile,
    CertificateRow,
    Journal,
    RunRow,
    certificate_file_subject,
    register_subject,
    signature_file_subject,
)
from daq.signing import Check, RegisteredKey, Signature, SigningSettings, check, unsigned
from daq.takeover import SIGNING_BEGAN, TAKEN_OVER, manifest_digest, taken_over

RECORD_FORMAT = 2
"""What a run's record holds, stated in its setup record: 2 ends it with the result document
and ties the run's readings rows to it. A run without it was recorded before (format 1): its
document is held to the final hash only, and its readings rows are not tied to it."""
MAX_DIFFERENCES = 20
"""Differences named per copy; beyond, they are counted."""


@dataclass(frozen=True)
class Audit:
    """A run's record checked."""

    run: str
    records: int
    final: str | None
    """The hash of the last record."""
    problems: list[str]
    """Every difference and failure, named; empty when the record verifies."""
    notes: list[str]
    """What could not be checked, and why (a run recorded before something existed)."""
    finished: bool
    """The run has ended: its record ends with its result document."""
    document: RunDocument | None
    """The run's final result document as its record holds it, the record hash filled in
    (None while the run has not finished); only this is ever certified."""
    signature: Check | None
    """The lab's signature of the final hash, or why there is none (None while unfinished)."""
    readings: int
    """Readings rows of the run held against their records."""
    certificates: list[str]
    """One statement per certificate issued from the run."""


def _text(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (``true`` is not ``1``); numbers by value."""
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, numbers) and isinstance(b, numbers):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


_MISSING: Any = object()


def differences(recorded: Any, other: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, recorded value, other value) of every leaf that differs; list items that
    have a ``key`` or an ``id`` are named by it (``points[indication 50 g].values.error``)."""
    if isinstance(recorded, dict) and isinstance(other, dict):
        found = []
        for name in [*recorded, *(k for k in other if k not in recorded)]:
            inner = f"{path}.{name}" if path else str(name)
            found += differences(recorded.get(name, _MISSING), other.get(name, _MISSING), inner)
        return found
    if isinstance(recorded, list) and isinstance(other, list) and len(recorded) == len(other):
        found = []
        for index, (a, b) in enumerate(zip(recorded, other, strict=True)):
            label = a.get("key", a.get("id", index)) if isinstance(a, dict) else index
            found += differences(a, b, f"{path}[{label}]")
        return found
    if recorded is _MISSING or other is _MISSING or not _same(recorded, other):
        return [(path or "(whole)", recorded, other)]
    return []


def _named(
    what: str, recorded: Any, other: Any, where: str, recorded_as: str = "the record"
) -> list[str]:
    found = differences(recorded, other)
    problems = [
        f"{what}: {path}: "
        f"{'absent' if a is _MISSING else _text(a)} in {recorded_as}, "
        f"{'absent' if b is _MISSING else _text(b)} in {where}"
        for path, a, b in found[:MAX_DIFFERENCES]
    ]
    if len(found) > MAX_DIFFERENCES:
        problems.append(f"{what}: {len(found) - MAX_DIFFERENCES} more differences")
    return problems


def _when(timestamp: float) -> str:
    try:
        moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError, TypeError):  # a forged time, named as it is
        return f"time {timestamp!r}"
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _object(text: str | None, what: str, problems: list[str]) -> dict[str, Any] | None:
    """A JSON object the journal holds; anything else is named as altered, never a crash."""
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        problems.append(f"{what} is not a JSON object: it was altered")
        return None
    return found


async def without_signature(
    journal: Journal,
    keys: list[RegisteredKey],
    subject: str,
    digest: str | None,
    recorded: float,
    what: str,
) -> Check:
    """A record without its signature, in a lab that signs: vouched for only by the take-over
    of the records made before signing (see daq.takeover)."""
    judged = unsigned(keys, recorded, what)
    if not keys or not judged.ok:
        return judged
    began = await journal.signatures(SIGNING_BEGAN)
    if began and (broken := await _take_over_broken(journal, keys, began)) is not None:
        return Check(False, f"unsigned, and {broken}")
    vouched = [
        Signature(taken_over(subject), h, k, s, v)
        for h, k, s, v in await journal.signatures(taken_over(subject))
        if h == digest
    ]
    if vouched:
        verdict = check(keys, vouched[-1])
        if not verdict.ok:
            return Check(False, f"unsigned, and its take-over is not valid: {verdict.text}")
        return Check(
            True,
            f"unsigned (recorded before signing; taken over by {verdict.key} on "
            f"{_when(vouched[-1].signed)})",
        )
    if began:
        return Check(
            False,
            f"unsigned and dated before signing began, but not among the records taken over "
            f"when it began ({_when(began[0][2])}): it was put in or rebuilt since, or its "
            "take-over removed",
        )
    if not await journal.signature_count():  # the lab has signed nothing here yet
        return Check(
            True,
            "unsigned (recorded before signing; not yet taken over: `daq keys take-over` signs "
            "the records made before signing, as they are now)",
        )
    return Check(
        False,
        "unsigned, and the journal holds signatures but no record of when signing began: "
        "the records taken over then were removed, or this one was put in since",
    )


async def _take_over_broken(
    journal: Journal, keys: list[RegisteredKey], began: list[tuple[str, str, float, str]]
) -> str | None:
    """What is wrong with the record of the take-over (its signature, or the list of records
    it signed), None when it holds."""
    if len(began) != 1:
        return f"signing began {len(began)} times in this journal: its take-over was altered"
    [(digest, key, signed, value)] = began
    verdict = check(keys, Signature(SIGNING_BEGAN, digest, key, signed, value))
    if not verdict.ok:
        return f"the record of when signing began is not valid: {verdict.text}"
    kept = [Signature(*row) for row in await journal.signatures_under(TAKEN_OVER)]
    if manifest_digest(kept) != digest:
        return (
            "the records taken over when signing began are not those it signed: a take-over "
            "signature was removed or added (with its record, maybe)"
        )
    return None


def run_subject(run: str) -> str:
    return f"run:{run}"


def certificate_subject(number: str) -> str:
    return f"certificate:{number}"


async def audit_apart(journal: Journal, run: str, signing: SigningSettings | None) -> Audit:
    """``audit`` on a thread of its own, over a read-only opening of the same journal:
    hashing a big run's record takes a while, and the loop that asks (the agent's, with the
    console and the instruments on it) goes on meanwhile. It sees what is committed, as
    ``audit`` does."""
    path, clock = journal.path, journal.clock

    async def check() -> Audit:
        async with Journal(path, read_only=True, clock=clock) as apart:
            return await audit(apart, run, signing)

    return await asyncio.to_thread(asyncio.run, check())


async def audit(journal: Journal, run: str, signing: SigningSettings | None) -> Audit:
    """Recompute ``run``'s chain and hold every copy of it, its signature and its
    certificates against it (the caller has checked that the run exists)."""
    keys = signing.keys if signing is not None else []
    row = await journal.run(run)
    assert row is not None, f"no run {run}"
    links = await journal.chain_links(run)
    final, problems = verify_chain(run, links)
    notes: list[str] = []
    setup = _setup(row, links, problems)
    stated_format = setup.get("record_format", 1)
    record_format = stated_format if isinstance(stated_format, int) else 1
    problems += await _points(journal, run, links)
    readings, checked = await _readings(journal, run, links, record_format, notes)
    problems += readings

    documents = [k for k in links if k.kind == "document"]
    finished = bool(links) and links[-1].kind == "document"
    stored_text = await journal.run_document(run)
    stored = _object(stored_text, "the result document in the runs table", problems)
    document: RunDocument | None = None
    if documents:
        document = _document(run, documents[-1], stored, setup, links, problems)
        if not finished and row.status != "running":
            problems.append(
                f"the record ends with {describe(links[-1])}, after its result document, "
                f"though the run is {row.status}: its last records were removed"
            )
        if not finished:
            document = None
    elif record_format >= RECORD_FORMAT:
        if row.status != "running" or stored is not None:
            last = describe(links[-1]) if links else "nothing"
            problems.append(
                f"the record ends with {last}, without its result document, though the run is "
                f"{row.status}: its last records were removed"
            )
    elif stored is not None:
        notes.append(
            "recorded before result documents were chained: the document is held to the final "
            "hash only"
        )
        certified = stored.get("run", {}).get("record_hash", "")
        if certified != final:
            problems.append(
                f"the chain ends in {final}, the result document says {certified}: records "
                "were removed or added"
            )
        finished = row.status != "running"
        document = _validated(stored, problems, "the result document in the runs table")
    if finished and document is not None:
        problems += _row_against(row, document)
        problems += await _result_against(journal, run, document)

    signature: Check | None = None
    signatures = [
        Signature(run_subject(run), h, k, s, v)
        for h, k, s, v in await journal.signatures(run_subject(run))
    ]
    chained = {k.hash for k in documents}
    for each in signatures:
        if each.hash not in chained:
            problems.append(
                f"a signature by {each.key} of {_when(each.signed)} covers record hash "
                f"{each.hash}, which is not in the record: it was cut short or rebuilt"
            )
    if finished:
        mine = [s for s in signatures if s.hash == final]
        started = _earliest(row.started, document.run.started if document else row.started)
        signature = (
            check(keys, mine[-1])
            if mine
            else await without_signature(
                journal, keys, run_subject(run), final, started, "the run started"
            )
        )
        if not signature.ok:
            problems.append(signature.text)
    statements = await _certificates(journal, run, final, keys, problems)
    return Audit(
        run, len(links), final, problems, notes, finished, document, signature, checked, statements
    )


def _earliest(*stated: Any) -> float:
    """When the run began, as early as any copy says (a forged value counts as late)."""
    return min((float(t) for t in stated if isinstance(t, int | float)), default=math.inf)


def _setup(row: RunRow, links: list[Link], problems: list[str]) -> dict[str, Any]:
    if not links:
        problems.append("the run has no chained record: its records were removed")
        return {}
    if links[0].kind != "setup":
        problems.append(f"{describe(links[0])} is not the run's setup: records were removed")
        return {}
    setup = _object(links[0].content, describe(links[0]), problems) or {}
    copied = _object(row.setup, "the setup in the runs table", problems)
    if copied is not None:
        problems += _named("runs table setup", setup, copied, "the runs table")
    return setup


async def _points(journal: Journal, run: str, links: list[Link]) -> list[str]:
    problems: list[str] = []
    chained = _chained_points(links, problems)
    for key, data in await journal.points(run):
        if key not in chained:
            problems.append(f"point {key!r} in the points table is not in the record")
            continue
        copied = _object(data, f"point {key!r} in the points table", problems)
        if copied is not None:
            problems += _named(f"point {key!r}", chained[key], copied, "the points table")
    return problems


def _chained_points(links: list[Link], problems: list[str]) -> dict[str, dict[str, Any]]:
    """The content of each point record by key (the last, if a key was chained twice)."""
    chained = {}
    for link in links:
        if link.kind == "point":
            content = _object(link.content, describe(link), problems)
            if content is not None:
                chained[str(content.get("key"))] = content
    return chained


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


async def _readings(
    journal: Journal, run: str, links: list[Link], record_format: int, notes: list[str]
) -> tuple[list[str], int]:
    """Each chained reading against the readings row tagged with the run (same instrument,
    quantity and timestamp); rows without a record and records without a row are named."""
    rows = await journal.run_readings(run)
    waiting: dict[tuple[str, str, float], list[tuple[Any, ...]]] = {}
    for row in rows:
        waiting.setdefault((row[1], row[2], float(row[5])), []).append(row)
    problems: list[str] = []
    for link in links:
        if link.kind != "reading":
            continue
        content = _object(link.content, describe(link), problems)
        if content is None:
            continue
        stamp = content.get("timestamp")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            problems.append(f"{describe(link)} has no timestamp: it was altered")
            continue
        stamp = float(stamp)
        what = f"{describe(link)} at {_when(stamp)}"
        found = waiting.get((str(content.get("instrument")), str(content.get("quantity")), stamp))
        if not found:
            if record_format >= RECORD_FORMAT:
                problems.append(f"{what} is not in the readings table")
            continue
        row = found.pop(0)
        copied = {"value": _number(row[3]), "unit": row[4], "status": row[6], "raw": row[7]}
        for field, value in copied.items():
            recorded = _number(content.get(field)) if field == "value" else content.get(field)
            if not _same(recorded, value):
                problems.append(
                    f"{what}: {field} {_text(recorded)} in the record, {_text(value)} in the "
                    f"readings table (row {row[0]})"
                )
    for rest in waiting.values():
        for row in rest:
            problems.append(
                f"readings table row {row[0]} ({row[1]} {row[2]} at {_when(float(row[5]))}) is "
                f"tagged with run {run} but is not in its record"
            )
    if record_format < RECORD_FORMAT:
        notes.append(
            "recorded before readings rows were tied to runs: the readings table was not "
            "checked for missing readings"
        )
    return problems, len(rows)


def _validated(content: dict[str, Any], problems: list[str], what: str) -> RunDocument | None:
    try:
        return RunDocument.model_validate(content)
    except ValidationError as exc:
        problems.append(f"{what} is not a valid result document: {exc.errors()[0]['msg']}")
        return None


def _document(
    run: str,
    link: Link,
    stored: dict[str, Any] | None,
    setup: dict[str, Any],
    links: list[Link],
    problems: list[str],
) -> RunDocument | None:
    """The chained result document, held against the runs table's copy and recomputed
    from the records before it (points, verdict, standards, plan, procedure, customer)."""
    chained = _object(link.content, describe(link), problems)
    if chained is None:
        return None
    if stored is None:
        problems.append(f"the runs table has no result document; {describe(link)} holds it")
    else:
        stated = stored.get("run", {}).get("record_hash")
        if stated != link.hash:
            problems.append(
                f"the result document in the runs table states record hash {stated}; its "
                f"record ({describe(link)}) hashes to {link.hash}"
            )
        blank = copy.deepcopy(stored)
        if isinstance(blank.get("run"), dict):
            blank["run"]["record_hash"] = ""
        problems += _named("result document", chained, blank, "the runs table")
    document = _validated(chained, problems, f"{describe(link)}")
    if document is None:
        return None
    if document.run.id != run:
        problems.append(f"{describe(link)} is the result document of run {document.run.id}")
    points = _chained_points(links[: link.seq - 1], [])
    documented = {p.key: json.loads(p.model_dump_json()) for p in document.points}
    problems += _named(
        "result document points", points, documented, "the document", "the point records"
    )
    recomputed = {
        "result": verdict(document.points).model_dump(mode="json"),
        "standards": standards_used(document.points),
    }
    stated_parts = {
        "result": document.result.model_dump(mode="json"),
        "standards": document.standards,
    }
    problems += _named(
        "result document", recomputed, stated_parts, "the document", "the recomputation"
    )
    plan = setup.get("plan", {})
    procedure = setup.get("procedure", {})
    from_setup = {
        "plan": plan,
        "customer": plan.get("customer"),
        "procedure": {k: procedure.get(k) for k in ("name", "version", "digest")},
    }
    from_document = {
        "plan": document.plan,
        "customer": document.customer,
        "procedure": document.procedure.model_dump(include={"name", "version", "digest"}),
    }
    problems += _named(
        "result document", from_setup, from_document, "the document", "the setup record"
    )
    document.run.record_hash = link.hash
    return document


def _row_against(row: RunRow, document: RunDocument) -> list[str]:
    stated = {
        "plan": document.plan.get("id"),
        "procedure": document.procedure.name,
        "status": document.run.status,
        "reason": document.run.reason,
        "started": document.run.started,
        "finished": document.run.finished,
    }
    copied = {name: getattr(row, name) for name in stated}
    return _named("runs table", stated, copied, "the runs table")


async def _result_against(journal: Journal, run: str, document: RunDocument) -> list[str]:
    """The streamed ``results`` row (what InfluxDB and MQTT were told)."""
    found = await journal.last_result(run)
    conforms = document.result.conforms
    stated = {
        "status": document.run.status,
        "conforms": None if conforms is None else int(conforms),
        "failures": len(document.result.failures),
    }
    if found is None:
        return [f"the results table has no row for run {run}"]
    copied = dict(zip(("status", "conforms", "failures"), found, strict=True))
    return _named("results table", stated, copied, "the results table")


async def _certificates(
    journal: Journal,
    run: str,
    final: str | None,
    keys: list[RegisteredKey],
    problems: list[str],
) -> list[str]:
    statements = []
    issued = {issue.number for issue in await journal.certificates(run)}
    for entry in await journal.register():
        if entry.run == run and entry.number not in issued:
            problems.append(
                f"certificate {entry.number} was issued on {_when(entry.issued)} (it is in the "
                "register of issued certificates) but its row is gone from the certificates "
                "table: it was deleted"
            )
    for issue in await journal.certificates(run):
        name = f"certificate {issue.number}"
        if issue.record_hash != final:
            problems.append(
                f"{name} was issued from record hash {issue.record_hash}; the record now ends "
                f"in {final}: it was changed after it was certified"
            )
        digest = issue.digest()
        subject = certificate_subject(issue.number)
        found = [Signature(subject, h, k, s, v) for h, k, s, v in await journal.signatures(subject)]
        mine = [s for s in found if s.hash == digest]
        if found and not mine:
            problems.append(f"{name} was altered in the certificates table after it was signed")
            continue
        judged = (
            check(keys, mine[-1])
            if mine
            else await without_signature(
                journal, keys, subject, digest, issue.issued, "it was issued"
            )
        )
        statements.append(f"{name}: {judged.text}")
        if not judged.ok:
            problems.append(f"{name}: {judged.text}")
        problems += await archived_file_problems(journal, issue.number, keys, issue.issued)
    return statements


async def archived_file_problems(
    journal: Journal,
    number: str,
    keys: list[RegisteredKey],
    issued: float | None = None,
) -> list[str]:
    """The issued file kept in the journal (and a signed DCC's detached signature): its
    content still has the hash it was issued with, and that hash still has the lab's
    signature (where the issue was signed); one issued (``issued``) after the journal began
    keeping files must be there."""
    archived = await journal.certificate_file(number)
    if archived is None:
        kept_from = await journal.files_kept_from()
        if issued is not None and kept_from is not None and issued >= kept_from:
            return [
                f"the archived file of certificate {number} is gone: it was issued after the "
                "journal began keeping certificates' files"
            ]
        return []
    name = f"the archived file of certificate {number}"
    problems = await _kept_as_issued(journal, number, name, archived, keys)
    if problems:
        return problems
    detached = await journal.signature_file(number)  # a signed DCC's .sig
    if detached is None:
        if await journal.signatures(signature_file_subject(number)):
            return [f"the archived signature (.sig) of certificate {number} is gone"]
        return []
    name = f"the archived signature (.sig) of certificate {number}"
    return await _kept_as_issued(journal, number, name, detached, keys)


async def _kept_as_issued(
    journal: Journal, number: str, name: str, kept: CertificateFile, keys: list[RegisteredKey]
) -> list[str]:
    """A file kept with certificate ``number``: its content has the hash it was issued
    with, and that hash has the lab's signature where the issue was signed."""
    if hashlib.sha256(kept.content).hexdigest() != kept.hash:
        return [f"{name} was altered: its content no longer has the hash it was issued with"]
    subject = (signature_file_subject if kept.format == "sig" else certificate_file_subject)(number)
    found = [Signature(subject, h, k, s, v) for h, k, s, v in await journal.signatures(subject)]
    mine = [s for s in found if s.hash == kept.hash]
    if found and not mine:
        return [f"{name} was replaced after it was signed"]
    if not found and await journal.signatures(certificate_subject(number)):
        return [f"{name}: its signature is gone, though the certificate's issue is signed"]
    if mine and not (judged := check(keys, mine[-1])).ok:
        return [f"{name}: {judged.text}"]
    return []


async def audit_register(journal: Journal, signing: SigningSettings | None) -> list[str]:
    """Walk the register of issued certificates: each entry follows from the one before and
    carries the lab's signature, each names a certificate still recorded as it was issued,
    and each recorded certificate is in it (numbers cannot be removed, reused or slipped in)."""
    keys = signing.keys if signing is not None else []
    problems: list[str] = []
    rows: dict[str, CertificateRow] = {}
    for row in await journal.all_certificates():
        rows.setdefault(row.number, row)  # a number's first issue (old journals reused some)
    previous = REGISTER_GENESIS
    for entry in await journal.register():
        name = f"register entry {entry.seq} (certificate {entry.number})"
        if entry.previous != previous or entry.link != register_link(previous, entry.content()):
            problems.append(
                f"{name}: does not follow from the entry before it: entries were removed, "
                "inserted or altered"
            )
        previous = entry.link
        issue = rows.pop(entry.number, None)
        if issue is None:
            problems.append(f"{name}: its certificate's row is gone (deleted)")
        elif issue.digest() != entry.hash:
            problems.append(f"{name}: its certificate's row was altered after it was issued")
        subject = register_subject(entry.number)
        found = [Signature(subject, h, k, s, v) for h, k, s, v in await journal.signatures(subject)]
        mine = [s for s in found if s.hash == entry.link]
        judged = (
            check(keys, mine[-1])
            if mine
            else await without_signature(
                journal, keys, subject, entry.link, entry.issued, "it was issued"
            )
        )
        if not judged.ok:
            problems.append(f"{name}: {judged.text}")
    for number in rows:
        problems.append(
            f"certificate {number} is not in the register of issued certificates: its entry "
            "was removed, or its row was put in by hand"
        )
    return problems
