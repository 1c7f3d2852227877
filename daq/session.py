"""A lab session: the lab file's instruments (simulated in-process if asked) and the journal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daq.config import InstrumentConfig, LabConfig
from daq.core.clock import Clock
from daq.core.prompts import Prompter
from daq.descriptors import raise_open_files
from daq.instruments import build_driver
from daq.journal import EventKind, Journal, Severity
from daq.prompts import default_prompter
from drivers.base import Driver

if TYPE_CHECKING:  # loaded only when a command simulates
    from daq.simulation import Simulation


@dataclass
class LabSession:
    lab: LabConfig
    """The lab as the agent sees it (connections point at simulators when simulating)."""
    journal: Journal
    clock: Clock
    simulation: Simulation | None
    prompter: Prompter
    """How questions reach the operator (the simulated operator when simulating)."""

    def drivers(self, only: str | None = None) -> list[tuple[InstrumentConfig, Driver[Any, Any]]]:
        """A new driver for each instrument (or only ``only``); links open on first use."""
        return [
            (instrument, build_driver(instrument, self.clock, self.prompter))
            for _, instrument in self.lab.instruments()
            if only is None or instrument.id == only
        ]


@asynccontextmanager
async def lab_session(
    lab: LabConfig, clock: Clock, *, simulate: bool, prompter: Prompter | None = None
) -> AsyncIterator[LabSession]:
    """Start the simulators (``simulate``) and open the journal; undo both on exit.

    Questions go to ``prompter`` (default: the terminal if there is one); when simulating, the
    simulated operator answers for simulated instruments first.
    """
    prompter = prompter or default_prompter()
    open_files = raise_open_files(sum(1 for _ in lab.instruments()))
    simulation: Simulation | None = None
    if simulate:
        from daq.simulation import Simulation

        simulation = Simulation(lab, clock, ephemeral=True)
    effective = await simulation.start() if simulation else lab
    if simulation is not None:
        prompter = simulation.operator(fallback=prompter)
    try:
        async with Journal(
            lab.journal.path,
            batch_interval=lab.journal.batch_interval,
            clock=clock,
            memory_limit=lab.journal.memory_limit,
            spill_folder=lab.journal.spill,
            close_timeout=lab.journal.close_timeout,
            signing=lab.signing,
        ) as journal:
            if open_files.short:
                journal.event(EventKind.OPEN_FILES_SHORT, open_files.advice(), Severity.WARNING)
            yield LabSession(effective, journal, clock, simulation, prompter)
    finally:
        if simulation is not None:
            await simulation.stop()
