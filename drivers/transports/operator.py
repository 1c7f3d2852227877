"""The operator as a link: questions out, typed answers in, with the link's typed errors."""

from __future__ import annotations

import asyncio

from daq.core.errors import ConnectionLost, InstrumentTimeout
from daq.core.prompts import Prompter, PromptUnavailable, Question


class OperatorLink:
    """Carries questions to the operator through a ``Prompter``.

    An operator who does not answer within ``answer_timeout`` is a timeout; no way to reach
    one is a lost connection, so the monitor and the engine treat both like any instrument.
    """

    def __init__(self, name: str, prompter: Prompter, answer_timeout: float | None) -> None:
        self.name = name
        self.prompter = prompter
        self.answer_timeout = answer_timeout

    async def ask(self, question: Question) -> str:
        try:
            async with asyncio.timeout(self.answer_timeout):
                return await self.prompter.ask(question)
        except TimeoutError:
            raise InstrumentTimeout(
                f"{self.name}: no answer from the operator within {self.answer_timeout:g} s"
            ) from None
        except PromptUnavailable as exc:
            raise ConnectionLost(str(exc)) from None

    async def close(self) -> None:
        """Nothing to close: the operator stays."""
