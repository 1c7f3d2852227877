"""``daq dcc``: check any Digital Calibration Certificate against PTB's official schema and
Schematron rules, and fetch the official schema where the machine has internet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from daq.cli_common import console, errors, fail

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

    xml = _read(file)
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


def _read(file: Path) -> bytes:
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
