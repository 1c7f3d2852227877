"""``daq report``: issue a run's certificate (HTML, PDF or the JSON result), on record."""

from __future__ import annotations

import re
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
    from daq.certify import Request as CertifyRequest
    from daq.config import LabConfig
    from daq.engine.document import RunDocument


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
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="Where the lab has console users (`daq users`): the authoriser issuing; "
            "their password is asked, and the name and function printed are theirs.",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="With --user: read the password from stdin.")
    ] = False,
    lab: LabOption = None,
) -> None:
    """Issue the certificate of a completed run whose whole record verifies, signed with the
    lab's key (one per UUT where the run calibrated several); the issue is recorded, with its
    file, and a re-issue replaces the earlier certificate. --reprint copies an issued one
    byte for byte."""
    from daq.engine.document import certified_items, for_uut
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
    by, function, proven = _authoriser(config, user, password_stdin, by, function)
    if not by.strip() or not function.strip():
        raise fail(
            "a certificate needs the name and function of the person authorising it",
            'Add --by "Full Name" --function "Quality manager".',
            2,
        )

    async def verified() -> tuple[RunDocument, str]:
        async with journal_of(config) as journal:
            return await verified_document(config, journal, run_id, accept_unsigned)

    from daq.certify import IssueRefused, verified_document

    try:
        document, signed_by = run(verified())
    except IssueRefused as exc:
        raise fail(str(exc), exc.hint, exc.code) from None
    items = certified_items(document)
    if uut is not None and uut not in items:
        raise fail(
            f"run {run_id} has no certificate of its own for UUT {uut!r}",
            f"Its certificates are per UUT: {', '.join(items)}."
            if items != [""]
            else "It is certified as one: leave out --uut.",
            2,
        )
    from daq.certify import Request

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
                Request(form, chosen, by, function, sign, accept_unsigned, signed_by, proven),
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


def _authoriser(
    config: LabConfig, user: str | None, password_stdin: bool, by: str, function: str
) -> tuple[str, str, str]:
    """Who issues: where the lab has users, an authoriser proven by their password (their
    name, function and login name); else the --by and --function given (and no login)."""
    from daq.cli_users import read_password
    from daq.people import Right, authenticate, may

    async def has_users() -> bool:
        async with journal_of(config) as journal:
            return await journal.has_users()

    if not run(has_users()):
        return by, function, ""
    if user is None:
        raise fail(
            "this lab has users: a certificate is issued by an authoriser, with their password",
            "Add --user NAME (the password is asked; --password-stdin reads it).",
            2,
        )
    password = read_password(password_stdin, confirm=False)

    async def proven() -> tuple[str, str, str] | None:
        async with journal_of(config) as journal:
            found = await authenticate(journal, user, password)
            return None if found is None else (found.role, found.full_name, found.function)

    found = run(proven())
    if found is None:
        raise fail(f"wrong user name or password for {user!r}", code=2)
    role, full_name, their_function = found
    if not may(role, Right.ISSUE):
        raise fail(f"{user} is an {role}: only an authoriser issues certificates", code=2)
    if not their_function:  # never a function typed for someone else
        raise fail(
            f"{user} has no function on record, and a certificate states the issuer's",
            'An administrator records it: daq users edit NAME --function "..." --admin ADMIN.',
            2,
        )
    return full_name, their_function, user


def _issue(
    config: LabConfig, document: RunDocument, uut: str, request: CertifyRequest, out: Path | None
) -> None:
    """Issue one certificate (of the run, or of its ``uut``): number it, write its file under
    a pending name, record the issue with the file, then name the file as issued."""
    from daq.certify import IssueRefused, Prepared, prepare, record, render
    from daq.journal import NumberTaken

    form = request.form

    async def issue() -> Prepared:
        async with journal_of(config) as journal:
            return await prepare(config, journal, document, uut, request)

    async def recording() -> None:
        async with journal_of(config) as journal:
            await record(config, journal, prepared, request, content, detached)

    try:
        prepared = run(issue())
    except IssueRefused as exc:
        raise fail(str(exc), exc.hint, exc.code) from None
    issued, signature = prepared.issued, prepared.signature

    target = out or Path(f"{issued.number}.{'xml' if form == 'dcc' else form}")
    from daq.reports.dcc_sign import DccSignatureError

    signature_file = target.with_name(f"{target.name}.sig")
    pending = [target.with_name(f".{target.name}.pending"),
               target.with_name(f".{signature_file.name}.pending")]  # fmt: skip
    try:
        content = render(form, document, issued, config, signature)
        detached = _dcc_signature(content, target.name, config) if request.sign else None
        target.parent.mkdir(parents=True, exist_ok=True)
        pending[0].write_bytes(content)  # the file is named as issued only once recorded
        if detached is not None:
            pending[1].write_bytes(detached)
    except (IssueRefused, DccSignatureError) as exc:
        # none was made, nothing is recorded
        raise fail(str(exc)) from None
    except OSError as exc:  # nothing is recorded as issued unless the file can be written
        _discard(pending)
        raise fail(
            f"cannot write the certificate to {target}: {exc.strerror or exc}",
            "Check that the folder exists and is writable, or give another --out.",
        ) from None
    try:
        run(recording())
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
    from daq.certify import FileAltered, archived_copy

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
            try:
                kept = await archived_copy(config, journal, chosen)
            except FileAltered as exc:
                raise fail(str(exc), f"`daq verify {run_id}` checks the whole record.") from None
            if kept is None:
                raise fail(
                    f"certificate {chosen} was issued before the journal kept certificates' "
                    "files: it cannot be reprinted",
                    "Re-issue it (`daq report RUN`): the new certificate replaces it.",
                )
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
