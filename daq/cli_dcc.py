"""``daq dcc``: check any Digital Calibration Certificate against PTB's official schema and
Schematron rules, and fetch the official schema where the machine has internet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from daq.cli_common import LabOption, console, errors, fail, load, reader_of, run

if TYPE_CHECKING:
    from daq.config import LabConfig

dcc_app = typer.Typer(
    rich_markup_mode=None,
    help="Digital Calibration Certificates (PTB DCC): validate one, fetch the official schema.",
    no_args_is_help=True,
)

MAX_DCC = 50_000_000
"""Bytes: a DCC larger than this is refused unread (a certificate, not an archive)."""


@dcc_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The DCC (XML) to check.")],
    schema_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder with the official XSDs (dcc-3.1.2.xsd, SI_Format-2.1.0.xsd); without "
            "it only PTB's Schematron rules are checked."
        ),
    ] = None,
) -> None:
    """Check a DCC against the official schema (offline, from --schema-dir) and PTB's
    Schematron rules. Exit 0 when valid (warnings are listed), 1 when not."""
    from daq.reports.dcc_check import (
        SchemaMissing,
        schema_problems,
        schema_version,
        schematron_problems,
    )

    xml = read_dcc(file)
    try:
        version = schema_version(xml)
    except ValueError as exc:
        raise fail(f"{file}: {exc}", "Give the XML file of a DCC.") from None
    findings = []
    if schema_dir is None:
        errors.print(
            Text(
                "note: the official schema was not checked (no --schema-dir); "
                "`daq dcc fetch-schema` gets it",
                "yellow",
            )
        )
    else:
        try:
            findings += schema_problems(xml, schema_dir)
        except SchemaMissing as exc:
            raise fail(f"{schema_dir}: {exc}", "", 2) from None
    findings += schematron_problems(xml)
    for finding in findings:
        style = "red" if finding.level == "error" else "yellow"
        console.print(Text(f"{file}: {finding}", style), soft_wrap=True)
    failed = [f for f in findings if f.level == "error"]
    if failed:
        raise fail(f"{file}: not a valid DCC {version} ({len(failed)} error(s))")
    checked = "the official schema and PTB's Schematron" if schema_dir else "PTB's Schematron"
    console.print(f"[green]{file}: a valid DCC {version}[/] (checked against {checked})")


def read_dcc(file: Path) -> bytes:
    """A DCC's bytes, refused unread beyond ``MAX_DCC``."""
    try:
        if file.stat().st_size > MAX_DCC:
            raise fail(f"{file} is larger than {MAX_DCC // 1_000_000} MB: not read", "", 2)
        return file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", "", 2) from None


@dcc_app.command("fetch-schema")
def fetch_schema(
    to: Annotated[Path, typer.Option("--to", help="Folder to write the XSDs in.")],
    version: Annotated[str, typer.Option(help="DCC version.")] = "3.1.2",
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="Where PTB publishes them (another address: a mirror of https://ptb.de).",
        ),
    ] = "https://ptb.de",
) -> None:
    """Download the official XSDs of a DCC version (and the D-SI schema it imports) into a
    folder, for `daq dcc validate --schema-dir`."""
    from daq.reports.dcc_fetch import FetchError, fetch

    try:
        written = fetch(version, to, source)
    except FetchError as exc:
        hint = "Check the machine's internet access, or copy the XSDs by hand."
        raise fail(str(exc), hint) from None
    for path in written:
        console.print(f"{path}")
    console.print(f"[green]DCC {version} schema in {to}[/]")


@dcc_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The DCC (XML).")],
    signature: Annotated[
        Path | None, typer.Option(help="Its detached signature (default: FILE.sig).")
    ] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(help="The lab's DCC certificate (PEM); default: the lab file's."),
    ] = None,
    lab: LabOption = None,
) -> None:
    """Check a DCC's detached signature against the lab's certificate and, where the lab's
    journal is at hand, its record hash against the run's record (which must verify)."""
    from daq.reports.dcc_sign import DccSignatureError, read_certificate, verify_dcc

    config = load(lab) if lab is not None or certificate is None else None
    pem_file = certificate
    if pem_file is None and config is not None and config.certificates.dcc_signing:
        pem_file = config.certificates.dcc_signing.certificate
    if pem_file is None:
        raise fail(
            "no certificate to hold the signature to",
            "Give --certificate LAB.pem, or a lab file with certificates.dcc_signing.",
            2,
        )
    xml = read_dcc(file)
    signed = read_dcc(signature or file.with_name(f"{file.name}.sig"))
    try:
        verified = verify_dcc(xml, signed, file.name, read_certificate(pem_file))
    except DccSignatureError as exc:
        hint = "The DCC or its signature was changed, or they are not the lab's."
        raise fail(f"{file}: {exc}", hint) from None
    console.print(f"{file}: signature verifies (signed by {verified.subject})")
    if verified.note:
        errors.print(Text(f"note: {verified.note}", "yellow"))
    if config is None:
        errors.print(Text("note: no lab file: the record hash was not checked", "yellow"))
        return
    _check_record(xml, file, config)


def _check_record(xml: bytes, file: Path, config: LabConfig) -> None:
    """The DCC against the journal: a certificate it issued, byte for byte as it was
    issued, from its run's record, which still verifies; and whether it was replaced."""
    import hashlib

    from daq.integrity import audit
    from daq.reports.dcc import number_of, record_of

    try:
        run_id, record_hash = record_of(xml)
        number = number_of(xml)
    except ValueError as exc:
        raise fail(f"{file}: {exc}") from None

    async def final() -> tuple[str | None, list[str], str | None, list[str]]:
        async with reader_of(config) as journal:
            if await journal.run(run_id) is None:
                raise fail(f"{file}: run {run_id} is not in {config.journal.path}", "", 1)
            checked = await audit(journal, run_id, config.signing)
            issues = await journal.certificates(run_id)
            kept = await journal.certificate_file(number)
            if number not in {issue.number for issue in issues}:
                raise fail(f"{file}: certificate {number} was never issued for run {run_id}")
            replaced = [issue.number for issue in issues if issue.replaces == number]
            return checked.final, checked.problems, kept.hash if kept else None, replaced

    recorded, problems, issued_hash, replaced = run(final())
    if problems:
        raise fail(f"{file}: the record of run {run_id} does not verify: {problems[0]}")
    if recorded != record_hash:
        raise fail(
            f"{file}: it names record hash {record_hash}, run {run_id} ends in {recorded}: "
            "not the record it was issued from"
        )
    if issued_hash is not None and hashlib.sha256(xml).hexdigest() != issued_hash:
        raise fail(f"{file}: not the file certificate {number} was issued as (its hash differs)")
    console.print(f"{file}: record hash matches run {run_id} in the journal, which verifies")
    if replaced:
        errors.print(Text(f"note: certificate {number} was replaced by {replaced[0]}", "yellow"))
