"""Asking the operator: the question, what a valid answer looks like, and the channel.

A procedure or a manual-entry instrument asks a ``Question``; a ``Prompter`` carries it to a
person and brings back the text they typed (the terminal, MQTT). Without any channel, a
question fails at once with a message saying so, instead of hanging an unattended run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Protocol

from daq.core.errors import (
    InstrumentError,
    InstrumentReportedError,
    OverloadError,
    UnderloadError,
)
from daq.core.units import convert

_ANSWER = re.compile(r"\s*([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*")
WORDS = {"over": OverloadError, "under": UnderloadError, "error": InstrumentReportedError}
"""What the operator may answer instead of a number: the pointer on its stop, a fault."""


@dataclass(frozen=True)
class Action:
    """What the operator is asked to do to an instrument (place a weight on a balance).

    A person does it and confirms; the simulated operator calls the simulator's action of
    that name with these arguments.
    """

    instrument: str
    name: str
    arguments: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """What the operator is asked, and what a valid answer looks like."""

    instrument: str
    """Who asks: the instrument (or procedure step) the answer belongs to."""
    text: str
    """The instruction, e.g. "Read the dial gauge"."""
    quantity: str = ""
    unit: str = ""
    """Unit the answer is wanted in; an answer with another compatible unit is converted."""
    minimum: float | None = None
    maximum: float | None = None
    problem: str = ""
    """Why the previous answer was refused, shown when the question is asked again."""
    action: Action | None = None
    """Something to do before answering; the answer is then only a confirmation."""

    @property
    def is_confirmation(self) -> bool:
        """No value is wanted: the operator does something (or checks it) and confirms."""
        return not self.quantity and not self.unit

    def hint(self) -> str:
        """The expected answer, in a few words."""
        if self.is_confirmation:
            return "press Enter when done"
        span = ""
        if self.minimum is not None and self.maximum is not None:
            span = f", {self.minimum:g} to {self.maximum:g}"
        wanted = f"{self.quantity} in {self.unit}" if self.quantity else self.unit
        return f"{wanted}{span}" if wanted else ""

    def refusal(self, text: str) -> str:
        """Why ``text`` cannot answer this question ("" when it can): a value asked for and
        none given, in a unit of another quantity, or outside the plausible range."""
        if self.is_confirmation:
            return ""
        try:
            parse_answer(text, self)
        except ValueError as exc:
            return str(exc)
        except InstrumentError:  # over, under, error: what the instrument shows answers it
            pass
        return ""


def parse_answer(text: str, question: Question) -> float:
    """The typed answer as a value in the question's unit; ValueError says what is wrong;
    ``WORDS`` raise their instrument error."""
    word = text.strip().lower()
    if word in WORDS:
        raise WORDS[word](f"{question.instrument}: the operator reports {word!r}")
    match = _ANSWER.fullmatch(text)
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a number")
    value = float(match[1].replace(",", "."))
    if unit := match[2]:
        value = convert(value, unit, question.unit)
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    low, high = question.minimum, question.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{value:g} {question.unit} is outside {low:g} to {high:g}")
    return value


class PromptUnavailable(Exception):
    """No channel can reach an operator."""


class Prompter(Protocol):
    async def ask(self, question: Question) -> str:
        """The operator's answer as typed; raises ``PromptUnavailable`` without a channel."""
        ...


class NoPrompter:
    """For unattended runs: every question fails with what to do instead."""

    async def ask(self, question: Question) -> str:
        raise PromptUnavailable(
            f"{question.instrument} needs an operator ({question.text}) but there is no "
            "terminal and no other prompt channel; run it from a terminal, or simulate it "
            "with --simulate"
        )
