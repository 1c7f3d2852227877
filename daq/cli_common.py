"""What every ``daq`` command shares: consoles, common options, loading the lab, failing
with a message that says what to do next."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from daq.core.errors import SimulationError

if TYPE_CHECKING:
    from daq.config import ConfigError, LabConfig
    from daq.core.clock import Clock
    from daq.journal import Journal

T = TypeVar("T")

console = Console()
errors = Console(stderr=True)

LabOption = Annotated[
    Path | None,
    typer.Option(
        "--lab",
        "-l",
        envvar="DAQ_LAB",
        help="Lab file (YAML). Default: the embedded demo lab of simulated instruments.",
    ),
]
SimulateOption = Annotated[
    bool,
    typer.Option(
        "--simulate",
        help="Start the simulators of instruments marked 'simulate: true' in this process.",
    ),
]
CONTROL_PORT = 55099
"""The loopback port of the simulators' control interface (``daq simulate``, ``daq fault``)."""
ControlPortOption = Annotated[
    int, typer.Option(help="Loopback port of the simulators' control interface.")
]
TimeScaleOption = Annotated[
    float,
    typer.Option(help="Run waits and simulated physics this many times faster.", min=0.001),
]


def fail(message: str, hint: str = "", code: int = 1) -> typer.Exit:
    errors.print(Text("error: ", "bold red") + Text(message), soft_wrap=True)
    if hint:
        errors.print(Text(hint, "dim"), soft_wrap=True)
    return typer.Exit(code)


LATEST = "latest"
"""A run argument that names the newest run of the journal."""
RUN_HELP = "Run id (`daq runs` lists them); `latest`: the newest run."


def run_named(config: LabConfig, run_id: str) -> str:
    """``run_id``, or for ``latest`` the id of the journal's newest run."""
    if run_id != LATEST:
        return run_id

    async def newest() -> str | None:
        async with reader_of(config) as journal:
            rows = await journal.runs(limit=1)
            return rows[0].id if rows else None

    found = run(newest())
    if found is None:
        raise fail(f"no runs in {config.journal.path} yet", "`daq run PLAN` starts one.")
    return found


def writable(path: Path, option: str) -> None:
    """Refuse, before any long work, an output file that could not be written at its end."""
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("/"))
    if path.is_dir():
        raise fail(f"{option} {path} is a folder", "Name a file.", 2)
    if path.exists() and not os.access(path, os.W_OK):
        raise fail(f"{option} {path} cannot be written (permission)", "Name another file.", 2)
    if not path.exists() and not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        raise fail(
            f"{option} {path}: cannot write in {folder}", "Name a file in a writable folder.", 2
        )


def lab_problems(exc: ConfigError) -> typer.Exit:
    """Print every problem of the lab file, and the exit that says how many."""
    for problem in exc.problems:
        errors.print(Text(str(problem), style="red"), soft_wrap=True)
    return fail(
        f"{len(exc.problems)} problem(s) in the lab file",
        "Fix the fields named above; `daq config check FILE` re-checks the file.",
        2,
    )


def load(path: Path | None) -> LabConfig:
    from daq.config import ConfigError, load_lab

    try:
        lab = load_lab(path)
    except ConfigError as exc:
        raise lab_problems(exc) from None
    if path is not None:  # (--lab, or $DAQ_LAB through it)
        _name_an_old_journal(lab, path.parent)
    return lab


def _name_an_old_journal(lab: LabConfig, folder: Path) -> None:
    """A journal relative to a lab file used to resolve in the working directory: one left
    there, where the lab's own is missing, is named, never silently orphaned."""
    try:
        stated = lab.journal.path.relative_to(folder)
    except ValueError:
        return
    if lab.journal.path.exists():
        return
    old = Path.cwd() / stated
    if old.exists() and old.resolve() != lab.journal.path.resolve():
        errors.print(
            Text(
                f"note: the lab's journal is {lab.journal.path} (beside the lab file); a journal "
                f"from before, relative to the working directory, is at {old}: move it there "
                f"(mv {old}* {lab.journal.path.parent}/) to keep its records",
                "yellow",
            ),
            soft_wrap=True,
        )


def clock(time_scale: float | None) -> Clock:
    from daq.core.clock import Clock, default_clock

    return Clock(time_scale) if time_scale is not None else default_clock()


def journal_of(config: LabConfig) -> Journal:
    """The lab's journal opened for writing as the lab file configures it (so it takes back
    what a stop on a full disk spilled)."""
    from daq.journal import Journal

    settings = config.journal
    return Journal(
        settings.path,
        batch_interval=settings.batch_interval,
        memory_limit=settings.memory_limit,
        spill_folder=settings.spill,
        close_timeout=settings.close_timeout,
        signing=config.signing,
    )


def reader_of(config: LabConfig) -> Journal:
    """The lab's journal opened read-only: a command that only looks never creates a journal
    where there is none, and works while the disk is full."""
    from daq.journal import Journal

    return Journal(config.journal.path, read_only=True)


def _journal_hint(message: str) -> str:
    """What to do about a journal error, by what the error says."""
    if "no journal at" in message:
        return "Start `daq agent` or `daq monitor` to record into it, or name the lab file."
    if "not a database" in message or "malformed" in message:
        return (
            "The journal file is damaged: restore it from a backup, or move it aside to start "
            "a new one; never delete a journal whose records a certificate names."
        )
    if "schema" in message:
        return ""  # the message says which daq reads it
    if "full" in message or "No space" in message:
        return "Free space on the journal's disk; readings held meanwhile are written then."
    return "Check journal.path in the lab file: the folder must exist and be writable."


def run(coroutine: Awaitable[T]) -> T:
    import asyncio

    from daq.config import ConfigError
    from daq.core.loop import loop_factory, prefer_the_loop
    from daq.journal import JournalError

    prefer_the_loop()
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(coroutine)  # type: ignore[arg-type]
    except ConfigError as exc:  # found once the command started (simulator settings)
        raise lab_problems(exc) from None
    except JournalError as exc:
        raise fail(str(exc), _journal_hint(str(exc))) from None
    except SimulationError as exc:
        raise fail(
            str(exc),
            "Give each simulated instrument a free loopback port or a device path, "
            "or stop the program using that address.",
        ) from None
