"""Issuing a run's certificate: the one use case behind ``daq report`` and the console.

A certificate is issued only from a completed run whose whole record verifies; it is
numbered, signed with the lab's key where the lab signs, rendered (PDF, HTML, JSON, DCC),
and recorded with its file and the person authorising it. The caller decides where the
file goes (a file beside the CLI, a download in the console). A request carries a nonce
(the console's issuing form has one of its own each time it is shown): sent twice, by two
clicks or two POSTs at once, it issues once, and the second gets the first's certificates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from daq.config import LabConfig
from daq.journal import AlreadyIssued, CertificateFile, CertificateRow, EventKind, Journal, Severity

if TYPE_CHECKING:
    from daq.engine.document import RunDocument
    from daq.reports.certificate import Issue
    from daq.signing import Signature, Signer

FORMATS = ("pdf", "html", "json", "dcc")


class IssueRefused(Exception):
    """No certificate is issued; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class Request:
    """What the person issuing asked for."""

    form: str
    language: str
    by: str
    function: str
    sign: bool = False
    accept_unsigned: bool = False
    signed_by: str = ""
    """The lab key that signed the run's record ("": unsigned)."""
    user: str = ""
    """The login name of the user issuing, proven by their password ("": a lab without
    users): the signature image printed is theirs."""
    nonce: str = ""
    """The request's own id: the same nonce issues once ("": every request issues)."""


@dataclass(frozen=True)
class Issued:
    """A certificate a request issued."""

    number: str
    format: str


@dataclass(frozen=True)
class Prepared:
    """A certificate numbered and signed, not yet recorded."""

    issued: Issue
    row: CertificateRow
    signature: Signature | None
    signer: Signer | None


async def verified_document(
    config: LabConfig, journal: Journal, run_id: str, accept_unsigned: bool
) -> tuple[RunDocument, str]:
    """The run's document as its record holds it, once the whole record verifies, and the
    key that signed it ("" unsigned)."""
    from daq.integrity import audit_apart
    from daq.presence import alive

    if await journal.run(run_id) is None:
        raise IssueRefused(
            f"no run {run_id!r} in {config.journal.path}", "`daq runs` lists them.", 2
        )
    checked = await audit_apart(journal, run_id, config.signing)
    if checked.problems:
        raise IssueRefused(
            f"run {run_id}: its record does not verify",
            f"`daq verify {run_id}` shows what was altered; no certificate is issued.",
        )
    document = checked.document  # the result document as the record holds it
    if document is None:
        if alive(config.journal.path, f"run-{run_id}"):
            raise IssueRefused(
                f"run {run_id} is still running: nothing to certify yet",
                "Issue its certificate once it has finished (`daq runs` shows it).",
            )
        raise IssueRefused(
            f"run {run_id} was interrupted before it finished: nothing to certify",
            f"`daq run --resume {run_id}` finishes it.",
        )
    if document.run.status != "completed":
        raise IssueRefused(
            f"run {run_id} is {document.run.status} ({document.run.reason}): nothing to certify"
        )
    signed_by = checked.signature.key if checked.signature else None
    if config.signing is not None and signed_by is None and not accept_unsigned:
        statement = checked.signature.text if checked.signature else "unsigned"
        raise IssueRefused(
            f"run {run_id} is {statement}: its record cannot be proven unaltered",
            "Check it, then give --accept-unsigned to certify it on your "
            "responsibility (recorded with the issue).",
        )
    return document, signed_by or ""


async def issue(config: LabConfig, journal: Journal, run_id: str, request: Request) -> list[Issued]:
    """Issue the run's certificate (one per UUT where it has several) in a verified record;
    a request whose nonce issued them already gets those, never new numbers."""
    from daq.engine.document import certified_items, for_uut

    document, signed_by = await verified_document(config, journal, run_id, request.accept_unsigned)
    request = replace(request, signed_by=signed_by)
    issued: list[Issued] = []
    for item in certified_items(document):
        one = for_uut(document, item)
        try:
            prepared = await prepare(config, journal, one, item, request)
        except IssueRefused:
            # the same request, sent twice at once, may find the number its twin just took
            if done := await _issued_by(journal, request):
                return done
            raise
        content = await asyncio.to_thread(
            render, request.form, one, prepared.issued, config, prepared.signature
        )  # a PDF takes a while: the agent's loop goes on
        try:
            await record(config, journal, prepared, request, content)
        except AlreadyIssued as exc:
            first = await journal.certificate(exc.number)
            issued.append(Issued(exc.number, first.format if first else request.form))
        else:
            issued.append(Issued(prepared.issued.number, request.form))
    return issued


async def _issued_by(journal: Journal, request: Request) -> list[Issued]:
    """What a request (its nonce) issued already ([]: nothing, or no nonce)."""
    if not request.nonce:
        return []
    found = []
    for _, number in await journal.issued_for(request.nonce):
        first = await journal.certificate(number)
        found.append(Issued(number, first.format if first else request.form))
    return found


async def prepare(
    config: LabConfig, journal: Journal, document: RunDocument, uut: str, request: Request
) -> Prepared:
    """Number the certificate (of the run, or of its ``uut``) and sign its row."""
    from daq.integrity import certificate_subject
    from daq.reports.certificate import Issue
    from daq.signing import SigningError, load_signer
    from daq.takeover import begin_signing

    run_id = document.run.id
    number, replaces = await journal.certificate_number(
        run_id, config.certificates.number_format, config.lab.id, bench(document, config), uut
    )
    if (taken := await journal.certificate(number)) is not None:
        raise IssueRefused(
            f"certificate number {number} was already issued, for run {taken.run} "
            f"(record hash {taken.record_hash}): a number is issued once",
            "Give certificates.number_format in the lab file a {bench}, {year} and {seq}.",
        )
    signer = None
    if config.signing is not None:
        try:
            signer = load_signer(config.signing, journal.clock.now())
        except SigningError as exc:
            raise IssueRefused(f"cannot sign the certificate: {exc}") from None
        await begin_signing(journal, config.signing, signer)
    now = journal.clock.now()
    row = CertificateRow(
        number, run_id, request.form, request.language, now, request.by, request.function,
        document.run.record_hash, replaces, uut,
    )  # fmt: skip
    signature = (
        signer.sign(certificate_subject(number), row.digest(), now) if signer is not None else None
    )
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    issued = Issue(
        number, when, request.by, request.function, request.language, replaces,
        request.signed_by, request.user,
    )  # fmt: skip
    return Prepared(issued, row, signature, signer)


def render(
    form: str,
    document: RunDocument,
    issued: Issue,
    config: LabConfig,
    signature: Signature | None,
) -> bytes:
    """The certificate's file, as it is written and archived; raises ``IssueRefused`` when
    it cannot be made (no PDF engine, a DCC that cannot be, a signature image)."""
    from daq.reports.certificate import (
        PdfUnavailable,
        SignatureImageError,
        render_html,
        render_pdf,
    )
    from daq.reports.dcc import DccUnavailable
    from daq.reports.dsi import DsiError

    try:
        if form == "json":
            payload = {
                "certificate": {
                    "number": issued.number,
                    "issued": issued.issued.isoformat(),
                    "by": issued.by,
                    "function": issued.function,
                    "language": issued.language,
                    "replaces": issued.replaces or None,
                    "record_signed_by": issued.signed_by or None,
                    "signature": None if signature is None else asdict(signature),
                },
                **json.loads(document.model_dump_json()),
            }
            return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
        if form == "dcc":
            from daq.reports.dcc import render_dcc

            return render_dcc(document, config, issued)
        html = render_html(document, config, issued)
        return html.encode("utf-8") if form == "html" else render_pdf(html)
    except (PdfUnavailable, DccUnavailable, DsiError, SignatureImageError) as exc:
        raise IssueRefused(str(exc)) from None


async def record(
    config: LabConfig,
    journal: Journal,
    prepared: Prepared,
    request: Request,
    content: bytes,
    detached: bytes | None = None,
) -> None:
    """Record the issue with its file (raises ``NumberTaken`` if another took the number,
    ``AlreadyIssued`` if the request's nonce issued this certificate already)."""
    await journal.record_issue(
        prepared.row, prepared.signature, prepared.signer, content, detached, request.nonce
    )
    issued, run_id = prepared.issued, prepared.row.run
    if request.accept_unsigned and config.signing is not None and not issued.signed_by:
        journal.event(
            EventKind.UNSIGNED_RECORD_CERTIFIED,
            f"{issued.number} certifies run {run_id}, whose record is unsigned; "
            f"accepted by {request.by}, {request.function}",
            Severity.WARNING,
            run=run_id,
        )


def bench(document: RunDocument, config: LabConfig) -> str:
    """The bench of the run's (first) UUT, for certificate numbers unique across benches."""
    benches = config.bench_of()
    for uut in document.uuts:
        if (found := benches.get(str(uut.get("instrument", "")))) is not None:
            return found
    return "bench"


class FileAltered(Exception):
    """An issued certificate's archived file no longer checks as it was issued: it is not
    given out."""


async def archived_copy(config: LabConfig, journal: Journal, number: str) -> CertificateFile | None:
    """The file of certificate ``number`` as it was issued, once it still has the hash it was
    issued with and the lab's signature over it (None: the journal kept no file of it);
    raises ``FileAltered`` naming what is wrong otherwise."""
    from daq.integrity import archived_file_problems

    kept = await journal.certificate_file(number)
    if kept is None:
        return None
    keys = config.signing.keys if config.signing is not None else []
    problems = await archived_file_problems(journal, number, keys)
    if problems:
        raise FileAltered(problems[0])
    return kept
