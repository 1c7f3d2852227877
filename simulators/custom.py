"""Simulators for declarative devices: they answer what the lab file tells them to.

A simulator sees only its instrument's ``simulator`` block, so that block says what to
answer: for ``custom_line`` a reply format per command (``{value}`` is the simulated value),
for ``custom_modbus`` the engineering value behind each register (encoded back through
scale and offset). Unknown commands get no reply (inference: what most simple ASCII
instruments do). Faults: ``never_settle`` makes every value wander; ``overload`` answers
``OVERLOAD`` (line; a generic simulator cannot know the device's own over-range syntax, so
the declared pattern fails and the driver reports a ProtocolError) or the type's largest
raw value (Modbus); ``error_reply`` leaves queries unanswered and makes the line device's
error query report an error (line), or answers Modbus exception 4.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pymodbus.simulator import DataType, SimData, SimDevice

from daq.core.clock import Clock
from drivers.transports.registers import REGISTER_COUNT, RegisterType, WordOrder, encode
from simulators.base import LineSimulator, ModbusSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.model import ProcessValue

LARGEST = {
    "int16": 32767,
    "uint16": 65535,
    "int32": 2**31 - 1,
    "uint32": 2**32 - 1,
    "float32": 3.0e38,
}


class SimulatedValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = 0.0
    noise: float = Field(0.0, ge=0)
    drift_per_hour: float = 0.0


class Reply(SimulatedValue):
    format: str = "{value:.4f}"
    """The reply, with ``{value}`` standing for the simulated value (Python format)."""


class CustomLineSimSettings(SimulatorSettings):
    identity: str = "ACME,CUSTOM-1,0001,1.0"
    identify_command: str = "*IDN?"
    replies: dict[str, Reply] = Field(default_factory=dict)
    error_command: str = "SYST:ERR?"
    error: str = '-300,"Device-specific error"'
    """What the error query answers while the ``error_reply`` fault is on."""


class CustomLineSimulator(LineSimulator):
    family: ClassVar[str] = "custom_line"
    Settings: ClassVar[type[SimulatorSettings]] = CustomLineSimSettings
    terminators: ClassVar[bytes] = b"\r\n"
    actions: ClassVar[tuple[str, ...]] = ("set_value",)

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, CustomLineSimSettings)
        self.config = settings
        self.values: dict[str, ProcessValue] = {
            command: self.process_value(
                reply.value, noise=reply.noise, drift_per_hour=reply.drift_per_hour
            )
            for command, reply in settings.replies.items()
        }

    def set_value(self, command: str, value: float) -> None:
        """Change the true value behind the reply to ``command``."""
        self.values[command].set_target(value)

    async def handle(self, command: bytes) -> bytes:
        text = command.decode("ascii", "replace").strip()
        config = self.config
        if text == config.error_command:
            answer = config.error if self.has(Fault.ERROR_REPLY) else '0,"No error"'
        elif self.has(Fault.ERROR_REPLY):
            return b""
        elif text == config.identify_command:
            answer = config.identity
        elif text in config.replies:
            value = self.values[text].observe()
            over = self.has(Fault.OVERLOAD)
            answer = "OVERLOAD" if over else config.replies[text].format.format(value=value)
        else:
            return b""
        return f"{answer}\r\n".encode("ascii")


class SimulatedRegister(SimulatedValue):
    address: int = Field(ge=0, le=0xFFFF)
    type: RegisterType = "float32"
    word_order: WordOrder = "big"
    scale: float = 1.0
    offset: float = 0.0


class CustomModbusSimSettings(SimulatorSettings):
    registers: list[SimulatedRegister] = Field(min_length=1)


class CustomModbusSimulator(ModbusSimulator):
    family: ClassVar[str] = "custom_modbus"
    Settings: ClassVar[type[SimulatorSettings]] = CustomModbusSimSettings
    actions: ClassVar[tuple[str, ...]] = ("set_value",)

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, CustomModbusSimSettings)
        self.config = settings
        self.values = [
            self.process_value(r.value, noise=r.noise, drift_per_hour=r.drift_per_hour)
            for r in settings.registers
        ]

    def set_value(self, address: float, value: float) -> None:
        """Change the true engineering value behind the register at ``address``."""
        for register, process in zip(self.config.registers, self.values, strict=True):
            if register.address == int(address):
                process.set_target(value)

    def _words(self, register: SimulatedRegister, value: float) -> list[int]:
        raw = (
            LARGEST[register.type]
            if self.has(Fault.OVERLOAD)
            else ((value - register.offset) / register.scale)
        )
        return encode(raw, register.type, register.word_order)

    def sim_device(self, device_id: int) -> SimDevice:
        blocks = [
            SimData(
                register.address,
                values=self._words(register, register.value),
                datatype=DataType.REGISTERS,
            )
            for register in sorted(self.config.registers, key=lambda r: r.address)
        ]
        return SimDevice(device_id, simdata=blocks, action=self.on_access)

    def refresh(self, start_address: int, registers: list[int]) -> None:
        for register, process in zip(self.config.registers, self.values, strict=True):
            at = register.address - start_address
            count = REGISTER_COUNT[register.type]
            registers[at : at + count] = self._words(register, process.observe())
