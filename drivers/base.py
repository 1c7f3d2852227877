"""The Driver: one instrument family speaking its real protocol over a transport."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from daq.core.clock import Clock
from daq.core.reading import Reading

TransportT = TypeVar("TransportT")
SettingsT = TypeVar("SettingsT", bound=BaseModel)


class NoSettings(BaseModel):
    """For drivers that need nothing beyond their connection."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the instrument says it is."""

    manufacturer: str
    model: str
    serial: str
    firmware: str = ""


CR_LINE: Mapping[str, Any] = {"read_termination": "\r", "write_termination": "\r"}
"""Line settings of a family whose replies and commands end in CR alone."""


@dataclass(frozen=True)
class LineProbe:
    """How discovery recognises the family on a serial line or socket: a harmless question
    (an identity query, a print) and the pattern of its reply."""

    command: str
    reply: re.Pattern[str]
    line: Mapping[str, Any] = field(default_factory=dict)
    """Line settings the family needs besides the port (terminators, baud rate)."""
    order: int = 0
    """Probes are tried from the lowest: precise patterns first, loose ones last."""


@dataclass(frozen=True)
class RegisterProbe:
    """How discovery recognises the family at a Modbus device id: registers to read, and
    whether what they hold looks like this family's map."""

    address: int
    count: int
    recognises: Callable[[list[int], int], bool]
    """(registers read, device id) -> whether they are this family's."""
    order: int = 0


class Driver(ABC, Generic[TransportT, SettingsT]):
    """Base of every driver.

    Reading an attribute never talks to the instrument: every exchange is an explicit async
    call. Errors are raised as the typed errors of ``daq.core.errors``.
    """

    family: ClassVar[str]
    """Name used in the lab file's ``driver`` field."""
    roles: ClassVar[frozenset[str]]
    """Roles (``drivers.roles``) this family can play."""
    link: ClassVar[Literal["line", "modbus", "operator"]]
    """Kind of transport the family needs (``operator``: a person types the readings)."""
    Settings: ClassVar[type[BaseModel]] = NoSettings
    probe: ClassVar[LineProbe | RegisterProbe | None] = None
    """How ``daq instruments scan`` recognises the family; none: it is not looked for."""
    serial_reported: ClassVar[bool] = True
    """False when ``identify()``'s serial is not the instrument's serial number (a register
    map without one): a run then never checks it against a plan."""

    def __init__(
        self, instrument_id: str, transport: TransportT, settings: SettingsT, clock: Clock
    ) -> None:
        self.id = instrument_id
        self.transport = transport
        self.settings = settings
        self.clock = clock

    @abstractmethod
    async def identify(self) -> Identity:
        """Ask the instrument for its identity."""

    @abstractmethod
    async def read(self) -> list[Reading]:
        """Take the instrument's regular reading(s) for monitoring."""

    async def close(self) -> None:
        await self.transport.close()  # type: ignore[attr-defined]
