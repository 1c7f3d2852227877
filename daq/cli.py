"""The ``daq`` command line."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import signal
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from daq import __version__
from daq.cli_agent import agent, status
from daq.cli_command import command_app
from daq.cli_common import (
    CONTROL_PORT,
    ControlPortOption,
    LabOption,
    SimulateOption,
    TimeScaleOption,
    clock,
    console,
    errors,
    fail,
    load,
    run,
)
from daq.cli_dcc import dcc_app
from daq.cli_fleet import archive, fleet_app
from daq.cli_keys import keys_app
from daq.cli_report import report
from daq.cli_runs import run_command, runs_app, verify
from daq.cli_standards import standards_app
from daq.cli_users import users_app
from daq.cli_web import web
from daq.core.errors import SimulationError
from daq.core.reading import Reading, Status

if TYPE_CHECKING:
    import asyncio

    from daq.monitor import Monitor

T = TypeVar("T")

app = typer.Typer(
    rich_markup_mode=None,
    help="Instrument data acquisition and automated calibration agent.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(rich_markup_mode=None, help="Check lab files.", no_args_is_help=True)
instruments_app = typer.Typer(
    rich_markup_mode=None, help="Identify every configured instrument (a table)."
)
app.add_typer(config_app, name="config")
app.add_typer(instruments_app, name="instruments")
app.add_typer(runs_app, name="runs")
app.add_typer(command_app, name="command")
app.add_typer(keys_app, name="keys")
app.add_typer(dcc_app, name="dcc")
app.add_typer(standards_app, name="standards")
app.add_typer(fleet_app, name="fleet")
app.add_typer(users_app, name="users")
app.command()(archive)
app.command("run")(run_command)
app.command()(verify)
app.command()(report)
app.command()(agent)
app.command()(status)
app.command()(web)


def _utc(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(
        timespec="milliseconds"
    )


def _text_line(reading: Reading) -> str:
    if math.isnan(reading.value):
        value = reading.status.value
    else:
        value = f"{reading.value:.7g} {reading.unit}"
        value += "" if reading.status is Status.OK else f" ({reading.status.value})"
    return f"{_utc(reading.timestamp)} {reading.instrument} {reading.quantity}: {value}"


def _json_line(reading: Reading) -> str:
    return json.dumps(
        {
            "instrument": reading.instrument,
            "quantity": reading.quantity,
            "value": None if math.isnan(reading.value) else reading.value,
            "unit": reading.unit,
            "timestamp": reading.timestamp,
            "status": reading.status.value,
        },
        ensure_ascii=False,
    )


def _format(reading: Reading) -> str:
    if math.isnan(reading.value):
        return f"{reading.quantity} {reading.status.value}"
    text = f"{reading.value:.7g} {reading.unit}"
    return text if reading.status is Status.OK else f"{text} ({reading.status.value})"


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="Lab file to check.")]) -> None:
    """Validate a lab file, its simulators' settings, its register of standards and its
    plans; print every problem as `file: path.to.field: message`."""
    from daq.config import ConfigError
    from daq.engine.checks import check_plan
    from daq.engine.plan import available_plans, find_plan
    from daq.simulation import simulator_problems
    from daq.standards import StandardsRegister, load_standards

    lab = load(file)
    count = sum(1 for _ in lab.instruments())
    problems = simulator_problems(lab)
    register = StandardsRegister()
    if lab.standards is not None:
        try:
            register = load_standards(lab.standards)
        except ConfigError as exc:
            problems += exc.problems
    plans = available_plans(lab)
    for name in plans:
        try:
            plan, path = find_plan(name, lab, files=False)
        except ConfigError as exc:
            problems += exc.problems
            continue
        problems += check_plan(plan, str(path), lab, register)
    for problem in problems:
        errors.print(Text(str(problem), style="red"), soft_wrap=True)
    if problems:
        raise fail(
            f"{len(problems)} problem(s) in the simulators, the register or the plans",
            "Fix the fields named above; `daq config check FILE` re-checks them.",
            2,
        )
    console.print(
        f"[green]{file}: OK[/] — {count} instruments on {len(lab.benches)} benches, "
        f"{len(register.standards)} standards, {len(plans)} plans checked"
    )


@instruments_app.callback(invoke_without_command=True)
def instruments(
    ctx: typer.Context,
    lab: LabOption = None,
    simulate: SimulateOption = False,
    time_scale: TimeScaleOption = 1.0,
) -> None:
    """Identify every configured instrument; exit 1 when one does not answer."""
    import asyncio

    from daq.core.errors import InstrumentError
    from daq.journal import EventKind, Severity
    from daq.session import lab_session
    from drivers.transports.settings import describe

    if ctx.invoked_subcommand is not None:
        return
    config = load(lab)

    failed: list[str] = []

    async def identify_all() -> Table:
        table = Table(title=f"Instruments of {config.lab.id}")
        for column in ("id", "bench", "driver", "role", "connection", "identity"):
            table.add_column(column)
        benches = {i.id: b.id for b, i in config.instruments()}
        async with lab_session(config, clock(time_scale), simulate=simulate) as session:
            pairs = session.drivers()

            async def identify(driver: Any) -> Text:
                try:
                    who = await driver.identify()
                    serial = f" s/n {who.serial}" if who.serial else ""
                    return Text(f"{who.manufacturer} {who.model}{serial}", "green")
                except InstrumentError as exc:
                    session.journal.event(
                        EventKind.INSTRUMENT_FAILED, str(exc), Severity.ERROR, driver.id
                    )
                    failed.append(driver.id)
                    return Text(str(exc), "red")
                finally:
                    await driver.close()

            found = await asyncio.gather(*(identify(driver) for _, driver in pairs))
            for (instrument, _), identity in zip(pairs, found, strict=True):
                table.add_row(
                    instrument.id,
                    benches[instrument.id],
                    instrument.driver,
                    instrument.role,
                    describe(instrument.connection),
                    identity,
                )
        return table

    console.print(run(identify_all()))
    if failed:
        raise fail(
            f"{len(failed)} instrument(s) did not answer: {', '.join(sorted(failed))}",
            "Each is named in the table with what went wrong; `daq read ID` tries one again.",
        )


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise fail(f"{text!r} is not HOST:PORT", "Write it like 192.168.1.40:5025.", 2)
    return host, int(port)


@instruments_app.command()
def scan(
    port: Annotated[list[str] | None, typer.Option(help="Serial port or pty to probe.")] = None,
    tcp: Annotated[list[str] | None, typer.Option(help="HOST:PORT of a raw socket.")] = None,
    modbus_tcp: Annotated[list[str] | None, typer.Option(help="HOST:PORT of Modbus TCP.")] = None,
    modbus_rtu: Annotated[list[str] | None, typer.Option(help="RS-485 port (Modbus RTU).")] = None,
    ids: Annotated[str, typer.Option(help="Modbus device ids, e.g. 1-10.")] = "1-10",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 0.3,
    no_serial_list: Annotated[
        bool, typer.Option("--no-serial-list", help="Skip the serial ports the system lists.")
    ] = False,
) -> None:
    """Probe serial ports, sockets and Modbus ids; print lab-file YAML for what answers.

    Only identity queries and reads are sent, never a tare, zero or set point. A full Modbus
    scan (--ids 1-247) takes about 247 x 2 x timeout per port.
    """
    from daq.discovery import parse_ids, serial_ports, snippet
    from daq.discovery import scan as discovery_scan

    try:
        device_ids = parse_ids(ids)
    except ValueError as exc:
        raise fail(str(exc), "Give --ids like 1-10.", 2) from None
    ports = [*(port or []), *([] if no_serial_list else serial_ports())]
    with errors.status("probing...") as status:
        found = run(
            discovery_scan(
                ports=ports,
                tcp=[_endpoint(t) for t in tcp or []],
                modbus_tcp=[_endpoint(t) for t in modbus_tcp or []],
                modbus_rtu=modbus_rtu or [],
                ids=device_ids,
                timeout=timeout,
                progress=lambda where: status.update(f"probing {where}"),
            )
        )
    if not found:
        raise fail(
            f"nothing answered on {len(ports)} serial port(s), {len(tcp or [])} socket(s), "
            f"{len(modbus_tcp or []) + len(modbus_rtu or [])} Modbus port(s)",
            "Check cables and power; give --port/--tcp/--modbus-tcp/--modbus-rtu explicitly, "
            "or a longer --timeout.",
        )
    table = Table(title="Instruments found")
    for column in ("where", "driver", "identity"):
        table.add_column(column)
    for item in found:
        who = item.identity
        table.add_row(item.where, item.family, f"{who.manufacturer} {who.model} {who.serial}")
    errors.print(table)
    errors.print("Paste into a bench's instruments: list in the lab file:")
    console.print(snippet(found), end="", soft_wrap=True, markup=False, highlight=False)


@app.command()
def read(
    instrument: Annotated[str, typer.Argument(help="Instrument id from the lab file.")],
    lab: LabOption = None,
    simulate: SimulateOption = False,
    time_scale: TimeScaleOption = 1.0,
) -> None:
    """Take one reading from one instrument (also kept in the journal)."""
    from daq.core.errors import InstrumentError
    from daq.journal import EventKind, Severity
    from daq.session import lab_session

    config = load(lab)
    try:
        config.instrument(instrument)
    except KeyError as exc:
        raise fail(str(exc.args[0]), "`daq instruments` lists the configured ids.", 2) from None

    async def take() -> list[Reading] | str:
        async with lab_session(config, clock(time_scale), simulate=simulate) as session:
            [(_, driver)] = session.drivers(only=instrument)
            try:
                readings = await driver.read()
            except InstrumentError as exc:
                session.journal.event(
                    EventKind.INSTRUMENT_FAILED, str(exc), Severity.ERROR, instrument
                )
                return str(exc)
            finally:
                await driver.close()
            session.journal.record_many(readings)
            return readings

    result = run(take())
    if isinstance(result, str):
        manual = config.instrument(instrument).connection.type == "manual"
        hint = (
            "Enter the reading again as the instrument shows it (a number, in its unit)."
            if manual
            else "Check the connection and that the instrument is on; see `daq instruments`."
        )
        raise fail(result, hint)
    for reading in result:
        console.print(f"{reading.instrument} {reading.quantity}: [bold]{_format(reading)}[/]")


def _monitor_table(monitor: Monitor, started: float) -> Table:
    from daq.monitor import Health

    table = Table(title=f"daq monitor — {time.time() - started:.0f} s, Ctrl-C stops")
    for column in ("instrument", "state", "last reading", "readings", "last error"):
        table.add_column(column)
    colours = {Health.OK: "green", Health.FAILING: "red", Health.STARTING: "yellow"}
    for state in monitor.states.values():
        table.add_row(
            state.id,
            f"[{colours[state.health]}]{state.health.value}[/]",
            Text(", ".join(_format(r) for r in state.last)),
            str(state.readings),
            Text(state.last_error if state.health is Health.FAILING else ""),
        )
    return table


async def _until_signal(stop: asyncio.Event, duration: float | None) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)


@app.command()
def monitor(
    lab: LabOption = None,
    simulate: SimulateOption = False,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    time_scale: TimeScaleOption = 1.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per reading, one per line.")
    ] = False,
) -> None:
    """Poll every instrument on its interval into the journal, with a live table; without a
    terminal (or with --json), one line per reading."""
    import asyncio

    from rich.live import Live

    from daq.journal import EventKind
    from daq.monitor import Health, Monitor
    from daq.session import lab_session

    config = load(lab)
    lines = as_json or not console.is_terminal

    def print_lines(readings: list[Reading]) -> None:
        for reading in readings:
            typer.echo(_json_line(reading) if as_json else _text_line(reading))

    async def watch() -> tuple[Monitor, int, int]:
        async with lab_session(config, clock(time_scale), simulate=simulate) as session:
            journal = session.journal
            pairs = session.drivers()
            journal.event(EventKind.MONITOR_STARTED, f"monitoring {len(pairs)} instruments")
            poller = Monitor(
                pairs,
                journal,
                session.clock,
                on_readings=print_lines if lines else None,
                phase_slots=config.agent.phase_slots,
            )
            stop = asyncio.Event()
            await _until_signal(stop, duration)
            started = time.time()
            if lines:
                await poller.run(stop)
            else:
                with Live(
                    _monitor_table(poller, started), console=console, refresh_per_second=2
                ) as live:
                    polling = asyncio.create_task(poller.run(stop))
                    while not polling.done():
                        await asyncio.wait({polling}, timeout=0.5)
                        live.update(_monitor_table(poller, started))
                    polling.result()
            journal.event(EventKind.MONITOR_STOPPED, "monitor stopped")
            await journal.flush()
            return poller, journal.committed_readings, len(await journal.events(limit=100000))

    poller, committed, events = run(watch())
    failing = [s.id for s in poller.states.values() if s.health is Health.FAILING]
    (errors if lines else console).print(  # lines: stdout holds the readings only
        f"\n[bold]{committed}[/] readings committed to [bold]{config.journal.path}[/]"
        f" ({events} events in the journal)."
    )
    if failing:
        errors.print(f"[yellow]still failing at stop:[/] {', '.join(failing)}")


@app.command()
def simulate(
    lab: LabOption = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    time_scale: TimeScaleOption = 1.0,
    control_port: ControlPortOption = CONTROL_PORT,
) -> None:
    """Serve a simulator for each instrument marked 'simulate: true', where the lab file says.

    Faults and operator actions are switched from another terminal with 'daq fault'.
    """
    import asyncio

    from daq.descriptors import raise_open_files
    from daq.simulation import Simulation
    from simulators.control import ControlServer

    config = load(lab)

    async def serve() -> None:
        open_files = raise_open_files(sum(1 for _ in config.instruments()))
        if open_files.short:
            errors.print(f"[yellow]warning:[/] {open_files.advice()}")
        simulation = Simulation(config, clock(time_scale), ephemeral=False)
        await simulation.start()
        control = ControlServer(simulation)
        try:
            try:
                await control.start(port=control_port)
            except OSError as exc:
                raise SimulationError(
                    f"cannot open the control port 127.0.0.1:{control_port}: {exc.strerror}"
                ) from None
            table = Table(title="Simulators (Ctrl-C stops)")
            table.add_column("instrument")
            table.add_column("driver")
            table.add_column("listening on")
            drivers = {i.id: i.driver for _, i in config.instruments()}
            for ident, where in simulation.where().items():
                table.add_row(ident, drivers[ident], where)
            console.print(table)
            console.print(f"Control interface: 127.0.0.1:{control.port} (daq fault --help)")
            stop = asyncio.Event()
            await _until_signal(stop, duration)
            await stop.wait()
        finally:
            await control.stop()
            await simulation.stop()

    with contextlib.suppress(KeyboardInterrupt):
        run(serve())


@app.command()
def fault(
    instrument: Annotated[
        str | None, typer.Argument(help="Simulated instrument id; none lists them all.")
    ] = None,
    faults: Annotated[
        list[str] | None,
        typer.Argument(
            help="Faults to switch on (no_reply, garbled, drop, never_settle, overload, "
            "error_reply); with --clear, to switch off (default: all).",
            show_default=False,
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Switch faults off.")] = False,
    control_port: ControlPortOption = CONTROL_PORT,
) -> None:
    """Switch faults of an instrument served by 'daq simulate' on or off, while it runs."""
    from simulators.control import ControlError
    from simulators.control import send as send_control
    from simulators.faults import Fault

    known = [each.value for each in Fault]
    unknown = [each for each in faults or [] if each not in known]
    if unknown:
        raise fail(f"no fault {', '.join(map(repr, unknown))}", f"Faults: {', '.join(known)}.", 2)

    async def switch() -> list[str]:
        result: list[str] = []
        if not faults and not clear:
            status = await send_control({"command": "status"}, port=control_port)
            if instrument not in status:
                raise ControlError(f"{instrument} is not simulated; simulated: {', '.join(status)}")
            result = status[instrument]["faults"]
        elif clear and not faults:
            result = await send_control(
                {"command": "clear", "instrument": instrument}, port=control_port
            )
        for each in faults or []:
            command = "clear" if clear else "inject"
            result = await send_control(
                {"command": command, "instrument": instrument, "fault": each},
                port=control_port,
            )
        return result

    if instrument is None:
        status = _control(send_control({"command": "status"}, port=control_port))
        table = Table(title="Simulated instruments")
        for column in ("instrument", "family", "faults", "actions"):
            table.add_column(column)
        for ident, state in status.items():
            table.add_row(
                ident,
                state["family"],
                ", ".join(state["faults"]) or "-",
                ", ".join(state["actions"]),
            )
        console.print(table)
        return
    active = _control(switch())
    console.print(Text(f"{instrument}: faults now {', '.join(active) or 'none'}"))


def _control(request: Awaitable[T]) -> T:
    from simulators.control import ControlError

    try:
        return run(request)
    except ControlError as exc:
        raise fail(
            str(exc), "'daq fault' alone lists the simulated instruments and their faults."
        ) from None


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("daq.io").setLevel(logging.DEBUG)  # shown for connections with trace: true
    app()
