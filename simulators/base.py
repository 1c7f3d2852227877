"""What a simulated instrument is: a device model behind its real protocol.

Line instruments (MT-SICS, SCPI) answer command lines with exact reply bytes; Modbus
instruments expose a pymodbus ``SimDevice`` whose registers follow the model. Where they
are served (TCP, pty, Modbus server) is decided by ``daq.simulation`` from the lab file.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.simulator import SimDevice

from daq.core.clock import Clock
from daq.core.prompts import PromptUnavailable, Question
from simulators.faults import ConnectionDropped, Fault, garble
from simulators.model import ProcessValue


class SimulatorSettings(BaseModel):
    """Settings every simulator accepts; families add their physics parameters."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    """Seed for the noise generator, for repeatable runs."""
    faults: set[Fault] = set()
    """Faults the instrument has from power-on (``simulators.faults``)."""
    follows: str | None = None
    """Id of the simulated source or controller whose output this instrument measures (its
    probe sits in that well, its port on that manifold), in that source's unit (°C, bar)."""


class SimulatedInstrument(ABC):
    family: ClassVar[str]
    Settings: ClassVar[type[SimulatorSettings]] = SimulatorSettings
    actions: ClassVar[tuple[str, ...]] = ()
    """Methods a test or the simulated operator may call through the control interface."""
    generates: ClassVar[str | None] = None
    """The quantity this instrument makes (a heat source: temperature), if any."""
    measures: ClassVar[str | None] = None
    """The quantity a follower of a source measures, if it can follow one."""

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = random.Random(settings.seed)
        self._faults: set[Fault] = set()
        self._process_values: list[ProcessValue] = []
        for fault in settings.faults:
            self.inject(fault)

    @property
    def faults(self) -> frozenset[Fault]:
        return frozenset(self._faults)

    def has(self, fault: Fault) -> bool:
        return fault in self._faults

    def inject(self, fault: Fault) -> None:
        self._faults.add(fault)
        self._apply_settling()

    def clear(self, fault: Fault | None = None) -> None:
        """Heal ``fault``, or every fault."""
        if fault is None:
            self._faults.clear()
        else:
            self._faults.discard(fault)
        self._apply_settling()

    def _apply_settling(self) -> None:
        for value in self._process_values:
            value.unsettled = Fault.NEVER_SETTLE in self._faults

    def generated(self) -> float:
        """The quantity this source makes now (``generates``), in its base unit."""
        raise NotImplementedError(f"{self.family} generates nothing another instrument measures")

    def follow(self, source: Callable[[], float]) -> None:
        """Measure what ``source`` generates from now on."""
        raise NotImplementedError(f"{self.family} cannot follow a source")

    def process_value(self, value: float, **physics: Any) -> ProcessValue:
        """A quantity of this instrument's model; the ``never_settle`` fault makes it wander."""
        process = ProcessValue(self.clock, value, rng=self.rng, **physics)
        process.unsettled = self.has(Fault.NEVER_SETTLE)
        self._process_values.append(process)
        return process


class LineSimulator(SimulatedInstrument):
    """A text-protocol instrument: one command in, the exact reply bytes out."""

    terminators: ClassVar[bytes] = b"\r\n"

    @abstractmethod
    async def handle(self, command: bytes) -> bytes:
        """Answer one command line (terminator stripped); b"" for no reply."""

    def split(self, received: bytes) -> tuple[list[bytes], bytes]:
        """Commands end at any of the ``terminators`` bytes (b"\\r\\n" accepts CR, LF and
        CR LF); empty lines are skipped."""
        commands: list[bytes] = []
        while ends := [i for i in map(received.find, self.terminators) if i >= 0]:
            end = min(ends)
            command, received = received[:end], received[end + 1 :]
            if command:
                commands.append(command)
        return commands, received

    async def respond(self, command: bytes) -> bytes:
        """What goes back on the line: the answer, with the link faults applied.

        Raises ``ConnectionDropped`` for the ``drop`` fault; the server cuts the connection.
        """
        if self.has(Fault.DROP):
            raise ConnectionDropped
        reply = await self.handle(command)
        if self.has(Fault.NO_REPLY):
            return b""
        if self.has(Fault.GARBLED):
            return garble(reply, self.terminators)
        return reply


READ_HOLDING_REGISTERS = 3


class ModbusSimulator(SimulatedInstrument):
    """A Modbus instrument: a register map kept up to date from the model on every access.

    The transmitters simulated so far only answer function 3 (read holding registers);
    anything else gets exception 1, as on the devices. ``error_reply`` answers exception 4
    (device failure); ``garbled`` and ``drop`` are played by the server
    (``simulators.servers``), which sees the bytes and the connection.
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
        if self.has(Fault.NO_REPLY):
            raise NoSuchIdException("silent")  # the server drops the request unanswered
        if self.has(Fault.ERROR_REPLY):
            return ExcCodes.DEVICE_FAILURE
        if function_code != READ_HOLDING_REGISTERS:
            return ExcCodes.ILLEGAL_FUNCTION
        self.refresh(start_address, registers)
        return None


class OperatorSimulator(SimulatedInstrument):
    """An instrument read by eye (a dial gauge), together with the operator reading it.

    There is no link to serve: the simulated operator answers the driver's questions. The
    faults are those of a person at the bench: ``no_reply`` never answers, ``garbled`` types
    nonsense, ``drop`` has left the bench (no one to ask), ``overload`` and ``error_reply``
    answer ``over`` and ``error`` as they see the pointer on its stop or a fault.
    """

    @abstractmethod
    def indication(self, question: Question) -> str:
        """What the operator reads off the instrument, as they would type it."""

    async def respond(self, question: Question) -> str:
        if self.has(Fault.DROP):
            raise PromptUnavailable(f"{question.instrument}: the operator has left the bench")
        if self.has(Fault.NO_REPLY):
            await asyncio.Event().wait()  # until the question is cancelled
        if self.has(Fault.GARBLED):
            return "#?!"
        if self.has(Fault.OVERLOAD):
            return "over"
        if self.has(Fault.ERROR_REPLY):
            return "error"
        return self.indication(question)
