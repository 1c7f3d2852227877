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
from pymodbus.constants import ExcCodes
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


READ_HOLDING_REGISTERS = 3


class ModbusSimulator(SimulatedInstrument):
    """A Modbus instrument: a register map kept up to date from the model on every access.

    The transmitters simulated so far only answer function 3 (read holding registers);
    anything else gets exception 1, as on the devices.
    """

    @abstractmethod
    def sim_device(self, device_id: int) -> SimDevice:
        """The pymodbus device to serve at ``device_id``; pass ``on_access`` as its action."""

    @abstractmethod
    def refresh(self, start_address: int, registers: list[int]) -> None:
        """Write live values into ``registers``, the device's whole register space, which
        begins at ``start_address``."""

    async def on_access(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before every answer: refuse what the device refuses, refresh."""
        if function_code != READ_HOLDING_REGISTERS:
            return ExcCodes.ILLEGAL_FUNCTION
        self.refresh(start_address, registers)
        return None
