"""A lab session: the lab file's instruments (simulated in-process if asked) and the journal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from daq.clock import Clock
from daq.config import InstrumentConfig, LabConfig
from daq.instruments import build_driver
from daq.journal import Journal
from drivers.base import Driver
from simulators.runtime import Simulation


@dataclass
class LabSession:
    lab: LabConfig
    """The lab as the agent sees it (connections point at simulators when simulating)."""
    journal: Journal
    clock: Clock
    simulation: Simulation | None

    def drivers(self, only: str | None = None) -> list[tuple[InstrumentConfig, Driver[Any]]]:
        """A new driver for each instrument (or only ``only``); links open on first use."""
        return [
            (instrument, build_driver(instrument, self.clock))
            for _, instrument in self.lab.instruments()
            if only is None or instrument.id == only
        ]


@asynccontextmanager
async def lab_session(lab: LabConfig, clock: Clock, *, simulate: bool) -> AsyncIterator[LabSession]:
    """Start the simulators (``simulate``) and open the journal; undo both on exit."""
    simulation = Simulation(lab, clock, ephemeral=True) if simulate else None
    effective = await simulation.start() if simulation else lab
    try:
        async with Journal(
            lab.journal.path, batch_interval=lab.journal.batch_interval, clock=clock
        ) as journal:
            yield LabSession(effective, journal, clock, simulation)
    finally:
        if simulation is not None:
            await simulation.stop()
