"""What a simulated instrument is: a device model behind its real protocol.

Line instruments (MT-SICS, SCPI) answer command lines with exact reply bytes; Modbus
instruments expose a pymodbus ``SimDevice`` whose registers follow the model. Where they
are served (TCP, pty, Modbus server) is decided by ``simulators.runtime`` from the lab file.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from pymodbus.simulator import SimDevice

from daq.clock import Clock


class SimulatorSettings(BaseModel):
    """Settings every simulator accepts; families add their physics parameters."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    """Seed for the noise generator, for repeatable runs."""


class SimulatedInstrument(ABC):
    family: ClassVar[str]
    Settings: ClassVar[type[SimulatorSettings]] = SimulatorSettings

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = random.Random(settings.seed)


class LineSimulator(SimulatedInstrument):
    """A text-protocol instrument: one command in, the exact reply bytes out."""

    terminators: ClassVar[bytes] = b"\r\n"

    @abstractmethod
    async def handle(self, command: bytes) -> bytes:
        """Answer one command line (terminator stripped); b"" for no reply."""


class ModbusSimulator(SimulatedInstrument):
    """A Modbus instrument: a register map kept up to date from the model on every access."""

    @abstractmethod
    def sim_device(self, device_id: int) -> SimDevice:
        """The pymodbus device to serve at ``device_id``."""
