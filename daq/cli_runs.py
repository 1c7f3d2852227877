"""``daq run`` and ``daq runs``: run calibration plans, list, show and abort runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from daq.cli_common import (
    RUN_HELP,
    LabOption,
    SimulateOption,
    clock,
    console,
    errors,
    fail,
    journal_of,
    load,
    reader_of,
    run,
    run_named,
    writable,
)

if TYPE_CHECKING:
    from daq.config import ConfigError, LabConfig
    from daq.engine.document import RunDocument
    from daq.engine.order import RunOrder
    from daq.engine.plan import Plan
    from daq.engine.record import Point
    from daq.integrity import Audit
    from daq.journal import RunRow
    from daq.standards import StandardsRegister
    from daq.streams import StreamAudit

runs_app = typer.Typer(
    rich_markup_mode=None,
    help="List, show and abort calibration runs.",
    invoke_without_command=True,
)

SIMULATED_TIME_SCALE = 100.0
"""How much faster a simulated run goes unless --time-scale says otherwise."""

EXIT_NONCONFORMING = 3
EXIT_ABORTED = 130


def _problems(exc: ConfigError, what: str) -> typer.Exit:
    for problem in exc.problems:
        errors.print(Text(str(problem), style="red"), soft_wrap=True)
    return fail(f"{len(exc.problems)} problem(s) in {what}", "Fix the fields named above.", 2)


def _register(config: LabConfig) -> StandardsRegister:
    from daq.config import ConfigError
    from daq.standards import StandardsRegister, load_standards

    if config.standards is None:
        return StandardsRegister()
    try:
        return load_standards(config.standards)
    except ConfigError as exc:
        raise _problems(exc, "the register of reference standards") from None


def _ordered(plan: Plan, order: RunOrder, config: LabConfig, register: StandardsRegister) -> Plan:
    """The plan with what the command line adds (``daq.engine.order``), or what is wrong."""
    import datetime as dt

    from daq.engine.order import OrderRefused

    try:
        return order.applied(plan, config, register, dt.datetime.now(dt.UTC).date())
    except OrderRefused as exc:
        message = str(exc)
        if message.startswith("an override"):
            hint = 'Add --by "Full Name" --reason "why the standard may still be used".'
        elif message.startswith("accepting"):
            hint = 'Add --by "Full Name" --reason "why this is the item to calibrate".'
        elif message.startswith("--uut") and message.endswith("no such instrument in the lab file"):
            message, hint = message, "`daq instruments` lists them."
        else:
            message, _, rest = message.partition("; ")
            hint = f"{rest[:1].upper()}{rest[1:]}." if rest else ""
        raise fail(message, hint, 2) from None


@runs_app.callback()
def runs(
    ctx: typer.Context,
    lab: LabOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List the runs in the journal, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    config = load(lab)

    async def listing() -> list[RunRow]:
        async with reader_of(config) as journal:
            return await journal.runs(limit=-1 if as_json else 100)  # JSON: every run

    found = run(listing())
    if as_json:
        typer.echo(json.dumps([_run_json(r) for r in found], indent=2, ensure_ascii=False))
        return
    rows = [(r.id, r.plan, r.procedure, r.started, r.status, r.reason) for r in found]
    if not rows:
        console.print(f"No runs in {config.journal.path} yet: `daq run PLAN --simulate` makes one.")
        return
    table = Table(title=f"Calibration runs in {config.journal.path}")
    table.add_column("run", overflow="fold")  # a run id is never cut short
    for column in ("plan", "procedure", "started (UTC)", "status", "reason"):
        table.add_column(column)
    for ident, plan, procedure, started, status, reason in rows:
        stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        style = {"completed": "green", "running": "cyan", "aborted": "yellow"}.get(status, "red")
        table.add_row(ident, plan, procedure, stamp, Text(status, style), reason[:80])
    console.print(table)


def _utc(timestamp: float | None) -> str | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def _run_json(row: RunRow) -> dict[str, object]:
    return {
        "id": row.id,
        "plan": row.plan,
        "procedure": row.procedure,
        "started": _utc(row.started),
        "finished": _utc(row.finished),
        "status": row.status,
        "reason": row.reason,
    }


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help=RUN_HELP)],
    lab: LabOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result document.")] = False,
    budgets: Annotated[bool, typer.Option("--budgets", help="Print every point's budget.")] = False,
) -> None:
    """Print one run: its points with result ± U and decision, and its verdict."""
    from daq.engine.display import budget_table, describe
    from daq.engine.document import RunDocument
    from daq.engine.record import Point

    config = load(lab)
    run_id = run_named(config, run_id)

    async def fetch() -> tuple[str | None, list[Point], str, str]:
        async with reader_of(config) as journal:
            row = await journal.run(run_id)
            if row is None:
                return None, [], "", ""
            points = [Point.model_validate_json(d) for _, d in await journal.points(run_id)]
            return await journal.run_document(run_id), points, row.status, row.reason

    document, points, status, reason = run(fetch())
    if not status:
        raise fail(f"no run {run_id!r} in {config.journal.path}", "`daq runs` lists the runs.", 2)
    if as_json:
        if document is None:
            raise fail(f"run {run_id} is {status}: it has no result document yet")
        console.print_json(document)
        return
    console.print(Text(f"run {run_id}: {status}" + (f" ({reason})" if reason else ""), "bold"))
    for point in points:
        console.print(describe(point))
        if budgets and (table := budget_table(point)) is not None:
            console.print(table)
    if document is not None:
        _print_verdict(RunDocument.model_validate_json(document))


@runs_app.command("abort")
def abort(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help=RUN_HELP)],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "abort requested",
    lab: LabOption = None,
) -> None:
    """Ask the process running RUN to stop it safely (sources off, vented)."""
    config = load(lab)
    run_id = run_named(config, run_id)

    async def request() -> str | None:
        async with journal_of(config) as journal:
            row = await journal.run(run_id)
            if row is None or row.status != "running":
                return None if row is None else row.status
            await journal.request_abort(run_id, reason)
            return "running"

    status = run(request())
    if status is None:
        raise fail(f"no run {run_id!r} in {config.journal.path}", "`daq runs` lists the runs.", 2)
    if status != "running":
        raise fail(f"run {run_id} is {status}, not running")
    console.print(f"abort requested for {run_id}; it stops at its next step")


def _print_verdict(document: RunDocument) -> None:
    """The verdict; a failing result is rounded to its U's last decimal as on the certificate
    (the limits and the excess are printed as computed)."""
    from daq.engine.display import OUTCOME_STYLES
    from daq.metrology.rounding import format_value

    result = document.result
    if result.conforms is None:
        console.print("No conformity decided.")
        return
    if result.conforms:
        console.print(Text(f"All {result.decided} decided points conform.", "bold green"))
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}", "yellow"))
    expanded = {
        p.key: p.budget["expanded_uncertainty"] for p in document.points if p.budget is not None
    }
    for failure in result.failures:
        value = format_value(failure.value, expanded.get(failure.point, 0.0), signed=True)
        check = "" if failure.check == "error" else f" ({failure.check})"
        console.print(
            Text(f"{failure.outcome}: ", OUTCOME_STYLES.get(failure.outcome, ""))
            + Text(
                f"{failure.point}{check} {value} {failure.unit} outside "
                f"[{failure.tolerance_lower:.6g}, {failure.tolerance_upper:.6g}] by "
                f"{failure.excess:.3g} {failure.unit} ({failure.rule})"
            )
        )


def run_command(
    plan_name: Annotated[
        str | None,
        typer.Argument(metavar="PLAN", help="Plan name (in the plans folder) or YAML file."),
    ] = None,
    uut: Annotated[
        str | None,
        typer.Option(
            help="Lab-file instrument to calibrate (the plan's UUT serial no longer applies: "
            "the instrument's own is recorded)."
        ),
    ] = None,
    simulate: SimulateOption = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the result document here.")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(metavar="RUN", help="Continue an interrupted run.")
    ] = None,
    override: Annotated[
        list[str] | None,
        typer.Option(help="Standard id to use despite a refusal (with --by and --reason)."),
    ] = None,
    accept_serial: Annotated[
        list[str] | None,
        typer.Option(
            metavar="UUT",
            help="UUT to calibrate although its instrument reports another serial than the "
            "plan's, or none (with --by and --reason).",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who takes responsibility for overrides.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the override is justified.")] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(help="Speed-up of waits (default 100 with --simulate, else 1).", min=0.001),
    ] = None,
    lab: LabOption = None,
) -> None:
    """Run a calibration plan with a live view; every finished point is kept at once.

    Exit status: 0 all conform, 3 some point does not conform, 130 aborted, 1 error.
    """
    import asyncio

    from rich.live import Live

    from daq.config import ConfigError
    from daq.engine.display import RunDisplay
    from daq.engine.loader import load_procedure
    from daq.engine.order import RunOrder
    from daq.engine.plan import available_plans, find_plan
    from daq.engine.runner import Runner, RunRefused
    from daq.session import lab_session

    config = load(lab)
    if plan_name is None and resume is None:
        plans = ", ".join(available_plans(config)) or "none"
        raise fail("give a PLAN, or --resume RUN", f"Plans: {plans}.", 2)
    if resume is not None:
        resume = run_named(config, resume)
    if json_file is not None:
        writable(json_file, "--json")
    register = _register(config)
    scale = time_scale if time_scale is not None else SIMULATED_TIME_SCALE if simulate else None
    plan: Plan | None = None
    plan_file = ""
    try:  # a bad plan is reported before any simulator or instrument is started
        if plan_name is not None and resume is None:
            plan, path = find_plan(plan_name, config)
            order = RunOrder(
                uut=uut,
                override=override or [],
                accept_serial=accept_serial or [],
                by=by or "",
                reason=reason or "",
            )
            plan = _ordered(plan, order, config, register)
            plan_file = str(path)
            load_procedure(plan.procedure, config).settings(plan.settings, plan_file)
    except ConfigError as exc:
        raise _problems(exc, "the plan") from None

    started: list[str] = [resume] if resume is not None else []

    async def execute() -> RunDocument:
        async with lab_session(config, clock(scale), simulate=simulate) as session:
            display = RunDisplay(console)
            runner = Runner(session, register, display)
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, runner.abort, "stopped by SIGTERM"
            )
            live = Live(display, console=console, refresh_per_second=4)
            with live if display.live else contextlib.nullcontext():
                if plan is not None:
                    return await runner.start(plan, plan_file, on_started=started.append)
                assert resume is not None
                return await runner.resume(resume)

    try:
        document = run(execute())
    except RunRefused as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        raise _problems(exc, "the plan") from None
    except KeyboardInterrupt:
        if not started:
            raise fail("aborted by Ctrl-C before the run started", "", EXIT_ABORTED) from None
        raise fail(
            f"run {started[0]} aborted by Ctrl-C; sources were put in their safe state",
            f"`daq runs show {started[0]}` shows it; `daq run --resume {started[0]}` continues "
            "from the first unfinished point.",
            EXIT_ABORTED,
        ) from None
    if json_file is not None:
        try:
            json_file.parent.mkdir(parents=True, exist_ok=True)
            json_file.write_text(document.model_dump_json(indent=2), encoding="utf-8")
        except OSError as exc:
            raise fail(
                f"run {document.run.id} is recorded, but its result document cannot be written "
                f"to {json_file}: {exc.strerror or exc}",
                f"`daq runs show {document.run.id} --json > FILE` writes it elsewhere.",
            ) from None
    _finish(document, json_file)


def _finish(document: RunDocument, json_file: Path | None) -> None:
    info = document.run
    console.print(Text(f"run {info.id}: {info.status}", "bold"))
    if json_file is not None:
        console.print(f"result document: {json_file}")
    resume = f"`daq run --resume {info.id}` continues from the first unfinished point."
    if info.status == "aborted":
        raise fail(f"run {info.id} aborted: {info.reason}", resume, EXIT_ABORTED)
    if info.status != "completed":
        raise fail(f"run {info.id} stopped: {info.reason}", f"Fix the cause, then {resume}")
    _print_verdict(document)
    if document.result.conforms is False:
        raise typer.Exit(EXIT_NONCONFORMING)


def _altered(problems: list[str], statement: str, hint: str) -> typer.Exit:
    """Print the first 50 problems; the failure that states what was altered."""
    for problem in problems[:50]:
        errors.print(Text(problem, "red"), soft_wrap=True)
    return fail(f"{statement} ({len(problems)} problem(s))", hint)


def _verify_streams(config: LabConfig) -> None:
    from daq.streams import verify_streams

    async def check() -> StreamAudit:
        async with reader_of(config) as journal:
            return await verify_streams(journal, config.signing, config.agent.anchor_interval)

    found = run(check())
    if found.problems:
        raise _altered(
            found.problems,
            "the monitored readings were altered",
            "Compare with the anchors retained on MQTT (agent/anchor); find out who changed "
            "the journal and why.",
        )
    console.print(
        Text(
            f"{found.streams} reading streams, {found.readings - found.unchained} chained "
            f"readings intact; {found.anchors} anchors hold ({found.signed} signed)",
            "green",
        )
    )
    if found.unchained:
        console.print(
            Text(f"{found.unchained} readings recorded before the streams were chained", "yellow")
        )


def _verify_register(config: LabConfig) -> None:
    from daq.integrity import audit_register

    async def check() -> tuple[int, list[str]]:
        async with reader_of(config) as journal:
            return len(await journal.register()), await audit_register(journal, config.signing)

    entries, problems = run(check())
    if problems:
        raise _altered(
            problems,
            "the register of issued certificates was altered",
            "Compare with the certificates the customers hold and the certificate_issued "
            "events streamed off the bench; find out who changed the journal and why.",
        )
    console.print(
        Text(f"{entries} issued certificates: the register and their records hold", "green")
    )


def verify(
    run_id: Annotated[str | None, typer.Argument(metavar="RUN", help=RUN_HELP)] = None,
    streams: Annotated[
        bool,
        typer.Option(
            "--streams", help="Check the monitored readings' chains and their anchors instead."
        ),
    ] = False,
    certificates: Annotated[
        bool,
        typer.Option(
            "--certificates",
            help="Check the register of every certificate issued (none removed or reused).",
        ),
    ] = False,
    lab: LabOption = None,
) -> None:
    """Recompute a run's whole record (hash chain, result document, points, readings, the
    lab's signature, its certificates), or with --streams every monitored reading stream and
    its anchors, or with --certificates the register of issued certificates: name anything
    altered since it was made."""
    from daq.integrity import audit

    config = load(lab)
    if streams:
        _verify_streams(config)
        return
    if certificates:
        _verify_register(config)
        return
    if run_id is None:
        raise fail(
            "name a run, or give --streams or --certificates", "`daq runs` lists the runs.", 2
        )
    run_id = run_named(config, run_id)

    async def check() -> Audit | None:
        async with reader_of(config) as journal:
            if await journal.run(run_id) is None:
                return None
            return await audit(journal, run_id, config.signing)

    found = run(check())
    if found is None:
        raise fail(f"no run {run_id!r} in {config.journal.path}", "`daq runs` lists the runs.", 2)
    for note in found.notes:
        console.print(Text(f"note: {note}", "yellow"), soft_wrap=True)
    signature = found.signature
    if found.problems:
        for problem in found.problems:
            errors.print(Text(problem, "red"), soft_wrap=True)
        if signature is not None and signature.ok:
            errors.print(signature.text)
        raise fail(
            f"run {run_id}: its record was altered ({len(found.problems)} problem(s))",
            "Do not issue a certificate from it; find out who changed the journal and why.",
        )
    state = "matches the result document" if found.finished else "(the run has not finished)"
    console.print(
        Text(
            f"run {run_id}: {found.records} records, chain intact, final hash {found.final} ",
            "green",
        )
        + Text(state)
    )
    console.print(f"{found.readings} readings in the readings table match their records")
    console.print(
        Text(signature.text, "bold green" if signature.key else "yellow")
        if signature is not None
        else Text("not signed yet (the run has not finished)")
    )
    for statement in found.certificates:
        console.print(statement)
