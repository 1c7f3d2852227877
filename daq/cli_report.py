"""``daq report``: issue a run's certificate (HTML, PDF or the JSON result), on record."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from daq.cli_common import (
    RUN_HELP,
    LabOption,
    console,
    errors,
    fail,
    journal_of,
    load,
    reader_of,
    run,
    run_named,
)

if TYPE_CHECKING:
    from daq.config import LabConfig
    from daq.engine.document import RunDocument
    from daq.journal import CertificateRow
    from daq.reports.certificate import Issue
    from daq.signing import Signature, Signer


def report(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help=RUN_HELP)],
    form: Annotated[
        Literal["pdf", "html", "json", "dcc"],
        typer.Option(
            "--format", help="What to issue (dcc: a PTB Digital Calibration Certificate)."
        ),
    ] = "pdf",
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: NUMBER.FORMAT).")
    ] = None,
    by: Annotated[str, typer.Option(help="Name of the person authorising the certificate.")] = "",
    function: Annotated[str, typer.Option(help="Their function, e.g. Quality manager.")] = "",
    language: Annotated[str | None, typer.Option(help="Language (default: the lab's).")] = None,
    accept_unsigned: Annotated[
        bool,
        typer.Option(
            "--accept-unsigned",
            help="Certify a run recorded before the lab signed its records (on your "
            "responsibility, recorded).",
        ),
    ] = False,
    sign: Annotated[
        bool,
        typer.Option(
            "--sign",
            help="With --format dcc: a detached XML signature beside it (FILE.sig), made with "
            "the lab file's certificates.dcc_signing key.",
        ),
    ] = False,
    reprint: Annotated[
        bool,
        typer.Option(
            "--reprint",
            help="Write a byte-identical copy of a certificate already issued (the run's "
            "newest, or --number); nothing new is issued.",
        ),
    ] = False,
    number: Annotated[
        str | None, typer.Option(help="With --reprint: which of the run's certificates.")
    ] = None,
    uut: Annotated[
        str | None,
        typer.Option(
            "--uut",
            help="Of a run with several UUTs (one certificate each): only this UUT's "
            "(default: each UUT's).",
        ),
    ] = None,
    lab: LabOption = None,
) -> None:
    """Issue the certificate of a completed run whose whole record verifies, signed with the
    lab's key (one per UUT where the run calibrated several); the issue is recorded, with its
    file, and a re-issue replaces the earlier certificate. --reprint copies an issued one
    byte for byte."""
    from daq.engine.document import certified_items, for_uut
    from daq.integrity import audit
    from daq.reports.i18n import languages

    config = load(lab)
    run_id = run_named(config, run_id)
    if reprint:
        _reprint(config, run_id, number, out, uut)
        return
    if sign and (form != "dcc" or config.certificates.dcc_signing is None):
        raise fail(
            "--sign signs a DCC with the lab's DCC key",
            "Use --format dcc, and name the key and its certificate in the lab file "
            "(certificates: {dcc_signing: {key_file: ..., certificate: ...}}).",
            2,
        )
    chosen = language or config.certificates.language
    if chosen not in languages():
        raise fail(f"no translation {chosen!r}", f"Languages: {', '.join(languages())}.", 2)
    if not by.strip() or not function.strip():
        raise fail(
            "a certificate needs the name and function of the person authorising it",
            'Add --by "Full Name" --function "Quality manager".',
            2,
        )

    async def verified() -> tuple[RunDocument, str]:
        """The run's document as its record holds it, once the whole record verifies, and
        the key that signed it ("" unsigned)."""
        async with journal_of(config) as journal:
            if await journal.run(run_id) is None:
                raise fail(
                    f"no run {run_id!r} in {config.journal.path}", "`daq runs` lists them.", 2
                )
            checked = await audit(journal, run_id, config.signing)
            if checked.problems:
                raise fail(
                    f"run {run_id}: its record does not verify",
                    f"`daq verify {run_id}` shows what was altered; no certificate is issued.",
                )
            document = checked.document  # the result document as the record holds it
            if document is None:
                from daq.presence import alive

                if alive(config.journal.path, f"run-{run_id}"):
                    raise fail(
                        f"run {run_id} is still running: nothing to certify yet",
                        "Issue its certificate once it has finished (`daq runs` shows it).",
                    )
                raise fail(
                    f"run {run_id} was interrupted before it finished: nothing to certify",
                    f"`daq run --resume {run_id}` finishes it.",
                )
            if document.run.status != "completed":
                raise fail(
                    f"run {run_id} is {document.run.status} ({document.run.reason}): nothing to "
                    "certify"
                )
            signed_by = checked.signature.key if checked.signature else None
            if config.signing is not None and signed_by is None and not accept_unsigned:
                statement = checked.signature.text if checked.signature else "unsigned"
                raise fail(
                    f"run {run_id} is {statement}: its record cannot be proven unaltered",
                    "Check it, then give --accept-unsigned to certify it on your "
                    "responsibility (recorded with the issue).",
                )
            return document, signed_by or ""

    document, signed_by = run(verified())
    items = certified_items(document)
    if uut is not None and uut not in items:
        raise fail(
            f"run {run_id} has no certificate of its own for UUT {uut!r}",
            f"Its certificates are per UUT: {', '.join(items)}."
            if items != [""]
            else "It is certified as one: leave out --uut.",
            2,
        )
    chosen_items = [uut] if uut is not None else items
    for done, item in enumerate(chosen_items):
        target = out
        if out is not None and len(chosen_items) > 1:
            target = out.with_name(f"{out.stem}-{item}{out.suffix}")
        try:
            _issue(
                config,
                for_uut(document, item),
                item,
                _Request(form, chosen, by, function, sign, accept_unsigned, signed_by),
                target,
            )
        except typer.Exit:
            if done:  # the earlier UUTs' certificates stand: issuing them again re-issues
                rest = " ".join(f"--uut {i}" for i in chosen_items[done:])
                errors.print(
                    f"issued: the certificates of {', '.join(chosen_items[:done])}; issue the "
                    f"rest one by one, once mended ({rest})",
                    soft_wrap=True,
                )
            raise


@dataclass(frozen=True)
class _Request:
    """What the person issuing asked for."""

    form: str
    language: str
    by: str
    function: str
    sign: bool
    accept_unsigned: bool
    signed_by: str
    """The lab key that signed the run's record ("": unsigned)."""


def _issue(
    config: LabConfig, document: RunDocument, uut: str, request: _Request, out: Path | None
) -> None:
    """Issue one certificate (of the run, or of its ``uut``): number it, write its file under
    a pending name, record the issue with the file, then name the file as issued."""
    from daq.integrity import certificate_subject
    from daq.journal import CertificateRow, EventKind, NumberTaken, Severity
    from daq.reports.certificate import Issue
    from daq.signing import SigningError, load_signer
    from daq.takeover import begin_signing

    run_id, form = document.run.id, request.form

    async def issue() -> tuple[Issue, CertificateRow, Signature | None, Signer | None]:
        async with journal_of(config) as journal:
            number, replaces = await journal.certificate_number(
                run_id,
                config.certificates.number_format,
                config.lab.id,
                _bench(document, config),
                uut,
            )
            if (taken := await journal.certificate(number)) is not None:
                raise fail(
                    f"certificate number {number} was already issued, for run {taken.run} "
                    f"(record hash {taken.record_hash}): a number is issued once",
                    "Give certificates.number_format in the lab file a {bench}, {year} and {seq}.",
                )
            signer = None
            if config.signing is not None:
                try:
                    signer = load_signer(config.signing, journal.clock.now())
                except SigningError as exc:
                    raise fail(f"cannot sign the certificate: {exc}") from None
                await begin_signing(journal, config.signing, signer)
            now = journal.clock.now()
            row = CertificateRow(
                number,
                run_id,
                form,
                request.language,
                now,
                request.by,
                request.function,
                document.run.record_hash,
                replaces,
                uut,
            )
            signature = (
                signer.sign(certificate_subject(number), row.digest(), now)
                if signer is not None
                else None
            )
            when = dt.datetime.fromtimestamp(now, dt.UTC)
            issued = Issue(
                number, when, request.by, request.function, request.language, replaces,
                request.signed_by,
            )  # fmt: skip
            return issued, row, signature, signer

    async def record() -> None:
        async with journal_of(config) as journal:
            await journal.record_issue(row, signature, signer, content, detached)
            if request.accept_unsigned and config.signing is not None and not issued.signed_by:
                journal.event(
                    EventKind.UNSIGNED_RECORD_CERTIFIED,
                    f"{issued.number} certifies run {run_id}, whose record is unsigned; "
                    f"accepted by {request.by}, {request.function}",
                    Severity.WARNING,
                    run=run_id,
                )

    issued, row, signature, signer = run(issue())
    target = out or Path(f"{issued.number}.{'xml' if form == 'dcc' else form}")
    from daq.reports.certificate import PdfUnavailable, SignatureImageError
    from daq.reports.dcc import DccUnavailable
    from daq.reports.dcc_sign import DccSignatureError
    from daq.reports.dsi import DsiError

    signature_file = target.with_name(f"{target.name}.sig")
    pending = [target.with_name(f".{target.name}.pending"),
               target.with_name(f".{signature_file.name}.pending")]  # fmt: skip
    try:
        content = _render(form, document, issued, config, signature)
        detached = _dcc_signature(content, target.name, config) if request.sign else None
        target.parent.mkdir(parents=True, exist_ok=True)
        pending[0].write_bytes(content)  # the file is named as issued only once recorded
        if detached is not None:
            pending[1].write_bytes(detached)
    except (
        PdfUnavailable,
        DccUnavailable,
        DccSignatureError,
        DsiError,
        SignatureImageError,
    ) as exc:
        # none was made, nothing is recorded
        raise fail(str(exc)) from None
    except OSError as exc:  # nothing is recorded as issued unless the file can be written
        _discard(pending)
        raise fail(
            f"cannot write the certificate to {target}: {exc.strerror or exc}",
            "Check that the folder exists and is writable, or give another --out.",
        ) from None
    try:
        run(record())
    except NumberTaken as exc:  # another issue took the number meanwhile: this one is void
        _discard(pending)
        raise fail(str(exc), "Issue the certificate again: it gets the next number.") from None
    except BaseException:  # not recorded (the journal failed, Ctrl-C): not issued either
        _discard(pending)
        raise
    pending[0].replace(target)
    if detached is not None:
        pending[1].replace(signature_file)
    replacing = f", replacing certificate {issued.replaces}" if issued.replaces else ""
    of = f" of {uut}" if uut else ""
    console.print(
        f"certificate {issued.number}{of} ({form}, {request.language}) written to {target}"
        f"{replacing}"
    )
    if request.sign:
        console.print(f"its signature: {target.name}.sig (`daq dcc verify {target}` checks it)")


def _discard(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _reprint(
    config: LabConfig, run_id: str, number: str | None, out: Path | None, uut: str | None
) -> None:
    """Copy an issued certificate's archived file (the newest, of ``uut`` if named), after
    checking it is as it was issued."""
    from daq.integrity import archived_file_problems

    async def archived() -> tuple[str, str, bytes, bytes | None]:
        async with reader_of(config) as journal:
            issues = [
                issue
                for issue in await journal.certificates(run_id)
                if uut is None or issue.uut == uut
            ]
            if not issues:
                of = f" of UUT {uut}" if uut is not None else ""
                raise fail(
                    f"run {run_id} has no certificate{of}", "`daq report RUN` issues one.", 2
                )
            chosen = number or issues[-1].number
            if chosen not in {issue.number for issue in issues}:
                known = ", ".join(issue.number for issue in issues)
                raise fail(f"run {run_id} has no certificate {chosen}", f"Its: {known}.", 2)
            kept = await journal.certificate_file(chosen)
            if kept is None:
                raise fail(
                    f"certificate {chosen} was issued before the journal kept certificates' "
                    "files: it cannot be reprinted",
                    "Re-issue it (`daq report RUN`): the new certificate replaces it.",
                )
            keys = config.signing.keys if config.signing is not None else []
            problems = await archived_file_problems(journal, chosen, keys)
            if problems:
                raise fail(problems[0], f"`daq verify {run_id}` checks the whole record.")
            detached = await journal.signature_file(chosen)
            return chosen, kept.format, kept.content, detached.content if detached else None

    chosen, form, content, detached = run(archived())
    target = out or Path(f"{chosen}.{'xml' if form == 'dcc' else form}")
    signature = target.with_name(f"{target.name}.sig")
    try:
        target.write_bytes(content)
        if detached is not None:  # its reference names the DCC's file as issued
            signature.write_bytes(detached)
    except OSError as exc:
        raise fail(f"cannot write {target}: {exc.strerror or exc}", "Give another --out.") from None
    console.print(f"certificate {chosen} ({form}) reprinted to {target}, byte for byte as issued")
    if detached is not None:
        console.print(f"with its detached signature, as issued: {signature}")
        named = re.search(rb'URI="([^"#]+)"', detached)
        if named and named[1].decode(errors="replace") != target.name:
            console.print(
                f"its signature names the DCC {named[1].decode(errors='replace')}: give the "
                "copy that name for `daq dcc verify` to match them"
            )


def _dcc_signature(content: bytes, name: str, config: LabConfig) -> bytes:
    from daq.reports.dcc_sign import read_certificate, read_private_key, sign_dcc

    settings = config.certificates.dcc_signing
    assert settings is not None
    key = read_private_key(settings.key_file)
    return sign_dcc(content, name, key, read_certificate(settings.certificate))


def _render(
    form: str,
    document: RunDocument,
    issued: Issue,
    config: LabConfig,
    signature: Signature | None,
) -> bytes:
    """The certificate's file, as it is written and archived."""
    from daq.reports.certificate import render_html, render_pdf

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


def _bench(document: RunDocument, config: LabConfig) -> str:
    """The bench of the run's (first) UUT, for certificate numbers unique across benches."""
    benches = config.bench_of()
    for uut in document.uuts:
        if (bench := benches.get(str(uut.get("instrument", "")))) is not None:
            return bench
    return "bench"
