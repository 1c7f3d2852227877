"""Manual entry: an instrument read by a person, such as a dial gauge or a liquid-in-glass
thermometer.

The operator is the link: the driver asks a ``Question`` through the session's ``Prompter``
and validates the answer (a number, optionally with a unit that converts to the instrument's
unit, inside the plausible range). A bad answer is asked again with the reason. Besides a
number the operator may answer ``over`` or ``under`` (the pointer rests on its stop) or
``error`` (the instrument shows a fault); these become the same typed errors as from an
interfaced instrument.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daq.core.errors import ProtocolError
from daq.core.prompts import Question, parse_answer
from daq.core.reading import Reading
from daq.core.units import check_unit
from drivers.base import Driver, Identity
from drivers.roles import PRESSURE_GAUGE, THERMOMETER
from drivers.transports.operator import OperatorLink


class ManualSettings(BaseModel):
    """What the operator reads and what a plausible reading is."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field("Enter the reading", min_length=1)
    """Shown to the operator, e.g. "Read the dial gauge at eye level"."""
    quantity: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    minimum: float
    maximum: float
    """Answers outside [minimum, maximum] are refused as implausible."""
    resolution: float | None = Field(None, gt=0)
    """Scale interval of the instrument; recorded with the reading, not enforced."""
    attempts: int = Field(5, ge=1, le=100)
    """Bad answers tolerated before the reading fails."""
    model: str = "manual entry"
    serial: str = ""

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        return check_unit(unit)

    @model_validator(mode="after")
    def _range(self) -> ManualSettings:
        if self.minimum >= self.maximum:
            raise ValueError("minimum must be below maximum")
        return self


class ManualEntry(Driver[OperatorLink, ManualSettings]):
    """An instrument without an interface: every reading is typed in by the operator."""

    family: ClassVar[str] = "manual"
    roles: ClassVar[frozenset[str]] = frozenset({PRESSURE_GAUGE, THERMOMETER})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "operator"
    Settings: ClassVar[type[BaseModel]] = ManualSettings

    async def identify(self) -> Identity:
        settings = self.settings
        return Identity("manual", settings.model, settings.serial or "-")

    async def reading(self) -> Reading:
        """Ask until the operator gives a valid reading, at most ``attempts`` times."""
        settings = self.settings
        question = Question(
            self.id,
            settings.instruction,
            settings.quantity,
            settings.unit,
            settings.minimum,
            settings.maximum,
        )
        for _ in range(settings.attempts):
            text = await self.transport.ask(question)
            try:
                value = parse_answer(text, question)
            except ValueError as exc:
                question = replace(question, problem=str(exc))
                continue
            return Reading(
                self.id, settings.quantity, value, settings.unit, self.clock.now(), raw=text
            )
        raise ProtocolError(
            f"{self.id}: no valid reading after {settings.attempts} answers ({question.problem})"
        )

    async def pressure(self) -> Reading:
        return await self.reading()

    async def temperature(self, channel: int | None = None) -> Reading:
        return await self.reading()

    async def read(self) -> list[Reading]:
        return [await self.reading()]
