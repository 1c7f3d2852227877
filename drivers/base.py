"""The Driver: one instrument family speaking its real protocol over a transport."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from daq.clock import Clock
from daq.reading import Reading

TransportT = TypeVar("TransportT")


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


class Driver(ABC, Generic[TransportT]):
    """Base of every driver.

    Reading an attribute never talks to the instrument: every exchange is an explicit async
    call. Errors are raised as the typed errors of ``drivers.errors``.
    """

    family: ClassVar[str]
    """Name used in the lab file's ``driver`` field."""
    roles: ClassVar[frozenset[str]]
    """Roles (``drivers.roles``) this family can play."""
    link: ClassVar[Literal["line", "modbus", "operator"]]
    """Kind of transport the family needs (``operator``: a person types the readings)."""
    Settings: ClassVar[type[BaseModel]] = NoSettings
    serial_reported: ClassVar[bool] = True
    """False when ``identify()``'s serial is not the instrument's serial number (a register
    map without one): a run then never checks it against a plan."""

    def __init__(
        self, instrument_id: str, transport: TransportT, settings: BaseModel, clock: Clock
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
