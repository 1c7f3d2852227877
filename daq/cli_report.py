"""``daq report``: issue a run's certificate (HTML, PDF or the JSON result), on record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from daq.cli_common import LabOption, console, fail, load, run
from daq.config import LabConfig
from daq.engine.document import RunDocument
from daq.journal import Journal
from daq.reports.certificate import Issue, render_html, render_pdf
from daq.reports.i18n import languages


def report(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (`daq runs` lists them).")],
    form: Annotated[
        Literal["pdf", "html", "json"], typer.Option("--format", help="What to issue.")
    ] = "pdf",
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: NUMBER.FORMAT).")
    ] = None,
    by: Annotated[str, typer.Option(help="Name of the person authorising the certificate.")] = "",
    function: Annotated[str, typer.Option(help="Their function, e.g. Quality manager.")] = "",
    language: Annotated[str | None, typer.Option(help="Language (default: the lab's).")] = None,
    lab: LabOption = None,
) -> None:
    """Issue the certificate of a completed run whose record verifies; the issue is recorded."""
    config = load(lab)
    chosen = language or config.certificates.language
    if chosen not in languages():
        raise fail(f"no translation {chosen!r}", f"Languages: {', '.join(languages())}.", 2)
    if not by.strip() or not function.strip():
        raise fail(
            "a certificate needs the name and function of the person authorising it",
            'Add --by "Full Name" --function "Quality manager".',
            2,
        )

    async def issue() -> tuple[RunDocument, Issue]:
        async with Journal(config.journal.path) as journal:
            row = await journal.run(run_id)
            text = await journal.run_document(run_id)
            if row is None or text is None:
                raise fail(f"no finished run {run_id!r} in {config.journal.path}", "`daq runs`.")
            if row.status != "completed":
                raise fail(f"run {run_id} is {row.status} ({row.reason}): nothing to certify")
            document = RunDocument.model_validate_json(text)
            audit = await journal.audit(run_id)
            if audit.problems or audit.final != document.run.record_hash:
                raise fail(
                    f"run {run_id}: its record does not verify",
                    f"`daq verify {run_id}` shows what was altered; no certificate is issued.",
                )
            number = await journal.certificate_number(
                run_id, config.certificates.number_format, config.lab.id
            )
            return document, Issue(number, dt.datetime.now(dt.UTC), by, function, chosen)

    async def record() -> None:
        async with Journal(config.journal.path) as journal:
            await journal.record_issue(
                issued.number, run_id, form, chosen, by, function, document.run.record_hash
            )

    document, issued = run(issue())
    target = out or Path(f"{issued.number}.{form}")
    try:
        _write(target, form, document, issued, config)
    except OSError as exc:  # nothing is recorded as issued unless the file exists
        raise fail(
            f"cannot write the certificate to {target}: {exc.strerror or exc}",
            "Check that the folder exists and is writable, or give another --out.",
        ) from None
    run(record())
    console.print(f"certificate {issued.number} ({form}, {chosen}) written to {target}")


def _write(
    target: Path, form: str, document: RunDocument, issued: Issue, config: LabConfig
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if form == "json":
        payload = {
            "certificate": {
                "number": issued.number,
                "issued": issued.issued.isoformat(),
                "by": issued.by,
                "function": issued.function,
                "language": issued.language,
            },
            **json.loads(document.model_dump_json()),
        }
        target.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    else:
        html = render_html(document, config, issued)
        if form == "html":
            target.write_text(html, encoding="utf-8")
        else:
            target.write_bytes(render_pdf(html))
