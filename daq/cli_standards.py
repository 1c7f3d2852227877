"""``daq standards``: the register of reference standards, and a standard's DCC imported
into it."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from daq.cli_common import LabOption, console, errors, fail, load

standards_app = typer.Typer(
    rich_markup_mode=None,
    help="The register of reference standards: list it, import a standard's DCC, show a "
    "standard's certificates over time.",
    invoke_without_command=True,
)


@standards_app.callback()
def standards(
    ctx: typer.Context,
    lab: LabOption = None,
    warn_days: Annotated[
        int, typer.Option(help="Warn about standards due within this many days.", min=0)
    ] = 30,
) -> None:
    """List the reference standards with their certificates and the days left until due
    (an entry imported from a DCC is marked with its hash)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = lab  # `daq standards --lab X import ...` imports into X's register
        return
    from daq.config import ConfigError
    from daq.standards import days_until_due, load_standards

    config = load(lab)
    if config.standards is None:
        raise fail(
            "the lab file names no register of reference standards",
            "Add 'standards: standards.yaml' to the lab file (see config/standards.yaml).",
        )
    try:
        register = load_standards(config.standards)
    except ConfigError as exc:
        for problem in exc.problems:
            errors.print(Text(str(problem), style="red"), soft_wrap=True)
        raise fail(
            "the register of reference standards has problems", "Fix the fields named above.", 2
        ) from None
    today = datetime.date.today()
    table = Table(title=f"Reference standards of {config.lab.id} ({today})")
    for column in (
        "standard",
        "description",
        "certificate",
        "issued by",
        "due",
        "days left",
        "range",
        "U (k)",
        "from",
    ):
        table.add_column(column)
    warnings: list[Text] = []
    for standard in register.standards:
        left = days_until_due(standard, today)
        style = "red" if left < 0 else "yellow" if left <= warn_days else "green"
        certificate, span, u = standard.certificate, standard.range, standard.uncertainty
        table.add_row(
            standard.id,
            standard.description,
            certificate.number,
            certificate.laboratory,
            str(certificate.due),
            Text(str(left), style),
            f"{span.minimum:g} to {span.maximum:g} {span.unit}",
            f"{u.value:g} {u.unit} ({u.k:g})",
            f"DCC {standard.imported_from.sha256[:12]}" if standard.imported_from else "",
        )
        if left < 0:
            warnings.append(
                Text(
                    f"{standard.id} is {-left} days overdue: do not use it until recalibrated",
                    "red",
                )
            )
        elif left <= warn_days:
            warnings.append(
                Text(
                    f"{standard.id} is due in {left} days ({certificate.due}): "
                    "book its calibration",
                    "yellow",
                )
            )
    console.print(table)
    for warning in warnings:
        console.print(warning)


@standards_app.command("import")
def import_dcc(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The standard's Digital Calibration Certificate.")],
    standard_id: Annotated[str, typer.Option("--id", help="Its id in the register.")],
    due: Annotated[
        datetime.datetime,
        typer.Option(formats=["%Y-%m-%d"], help="When its next calibration is due (YYYY-MM-DD)."),
    ],
    traceability: Annotated[
        list[str] | None,
        typer.Option(
            help="A link of its traceability chain, from the issuing laboratory up "
            "(repeat the option; default: the issuing laboratory)."
        ),
    ] = None,
    instrument: Annotated[
        str | None, typer.Option(help="The lab-file instrument it is read through.")
    ] = None,
    schema_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with the official XSDs, to check the DCC against them too."),
    ] = None,
    lab: LabOption = None,
) -> None:
    """Read a standard's DCC (ours or another laboratory's) into the register: its
    certificate, item, and table of values with U and k, from which corrections are taken. A
    DCC that does not validate is refused with the reason."""
    from daq.config import ConfigError
    from daq.reports.dcc_check import SchemaMissing, schema_problems, schematron_problems
    from daq.standards import CallendarVanDusen, load_standards
    from daq.standards_dcc import DccUnreadable, read_standard
    from daq.standards_file import RegisterRefused, recalibrated, write_entry

    config = load(lab or ctx.obj)  # the group's --lab, when given before `import`
    register = config.standards
    if register is None:
        raise fail("the lab file names no register of reference standards",
                   "Add 'standards: standards.yaml' to the lab file.", 2)  # fmt: skip
    from daq.cli_dcc import read_dcc

    xml = read_dcc(file)
    try:
        problems = schema_problems(xml, schema_dir) if schema_dir else []
        problems += schematron_problems(xml)
    except (ValueError, SchemaMissing) as exc:
        raise fail(f"{file}: {exc}") from None
    refused = [p for p in problems if p.level == "error"]
    if refused:
        for problem in refused:
            errors.print(Text(f"{file}: {problem}", "red"), soft_wrap=True)
        raise fail(f"{file} does not validate: not imported", "Ask its laboratory for a valid DCC.")
    if schema_dir is None:
        errors.print(Text("note: checked with PTB's Schematron and read by this daq; the "
                          "official schema was not checked (--schema-dir)", "yellow"))  # fmt: skip
    try:
        standard = read_standard(
            xml,
            str(file),
            standard_id=standard_id,
            due=due.date(),
            traceability=traceability or [],
            instrument=instrument,
        )
    except (DccUnreadable, ValueError) as exc:
        raise fail(f"{file}: {exc}", "Only a DCC with a table of values can be imported.") from None
    try:
        existing = load_standards(register)
    except ConfigError as exc:
        raise fail(f"{register}: {exc}", "Fix the register first.", 2) from None
    source = standard.imported_from
    assert source is not None
    note = f"{file.name} (DCC, SHA-256 {source.sha256})"
    current = next((s for s in existing.standards if s.id == standard_id), None)
    try:
        if current is not None:
            today = datetime.datetime.now(datetime.UTC).date()
            standard = recalibrated(current, standard, today)
        write_entry(register, standard, note)
    except RegisterRefused as exc:
        raise fail(f"{register}: {exc}", "Nothing was imported.", 2) from None
    table = source.table
    console.print(
        f"{standard_id} imported into {register} from {file} (certificate "
        f"{standard.certificate.number}, {len(table.points) if table else 0} points)"
    )
    if current is not None:
        console.print(
            f"its earlier certificate {current.certificate.number} is kept in its history "
            f"(`daq standards history {standard_id}`)"
        )
    corrections = standard.corrections
    if isinstance(corrections, CallendarVanDusen):
        stated = corrections.coefficients_from == "certificate"
        how = "stated by the certificate" if stated else "fitted to its table"
        console.print(
            f"Callendar-Van Dusen coefficients {how}: R0 = {corrections.r0:.6f} Ω, "
            f"A = {corrections.a:.6e}, B = {corrections.b:.6e}, C = {corrections.c:.6e}; "
            f"residual {corrections.fit_residual * 1000:.2g} mK"
        )


@standards_app.command("history")
def history(
    ctx: typer.Context,
    standard_id: Annotated[str, typer.Argument(metavar="ID", help="The standard's id.")],
    lab: LabOption = None,
) -> None:
    """A standard's certificates, newest first, with its drift from each one to the next:
    R0 in mK for a PRT, the largest change of a correction at the points both tables
    share, a weight's conventional mass."""
    from daq.config import ConfigError
    from daq.standards import calibrations, drift, load_standards

    config = load(lab or ctx.obj)
    if config.standards is None:
        raise fail("the lab file names no register of reference standards",
                   "Add 'standards: standards.yaml' to the lab file.", 2)  # fmt: skip
    try:
        standard = load_standards(config.standards).standard(standard_id)
    except ConfigError as exc:
        raise fail(f"{config.standards}: {exc}", "Fix the register first.", 2) from None
    except KeyError as exc:
        raise fail(str(exc.args[0]), "`daq standards` lists the register.", 2) from None
    table = Table(title=f"{standard.id}: certificates, newest first", title_justify="left")
    for column in ("certificate", "issued by", "calibrated", "replaced", "U (k)", "from",
                   "drift since the one before"):  # fmt: skip
        table.add_column(column)
    entries = calibrations(standard)
    for newer, older in zip(entries, [*entries[1:], None], strict=True):
        u = newer.uncertainty
        table.add_row(
            newer.certificate.number,
            newer.certificate.laboratory,
            str(newer.certificate.calibrated),
            str(newer.replaced) if newer.replaced else "current",
            f"{u.value:g} {u.unit} ({u.k:g})",
            f"DCC {newer.imported_from.sha256[:12]}" if newer.imported_from else "",
            drift(newer, older) if older is not None else "",
        )
    console.print(table)
