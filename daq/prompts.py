"""The terminal as a channel to the operator, and the default channel of a command."""

from __future__ import annotations

import asyncio
import sys
import threading

from rich.console import Console
from rich.text import Text

from daq.core.prompts import NoPrompter, Prompter, PromptUnavailable, Question


class TerminalPrompter:
    """Asks on the terminal. The console read runs on a daemon thread, so a cancelled
    question never keeps the program from exiting."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console()
        self._lock = asyncio.Lock()

    async def ask(self, question: Question) -> str:
        async with self._lock:  # one question at a time on one terminal
            if question.problem:
                self._console.print(Text(f"  {question.problem}; please try again.", "yellow"))
            prompt = Text.assemble(
                (f"[{question.instrument}] ", "bold cyan"),
                question.text,
                (f" ({question.hint()})" if question.hint() else "", "dim"),
                ": ",
            )
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[str] = loop.create_future()

            def read() -> None:
                try:
                    text = self._console.input(prompt)
                except (EOFError, OSError) as exc:
                    closed = PromptUnavailable(f"cannot read the operator's answer: {exc!r}")
                    loop.call_soon_threadsafe(_settle, answer, None, closed)
                else:
                    loop.call_soon_threadsafe(_settle, answer, text, None)

            threading.Thread(target=read, name="operator-prompt", daemon=True).start()
            try:
                return await answer
            except EOFError:
                raise PromptUnavailable(
                    "the terminal closed before the operator answered"
                ) from None


def _settle(future: asyncio.Future[str], text: str | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert text is not None
        future.set_result(text)


def default_prompter() -> Prompter:
    """The terminal when there is one, else no channel at all."""
    return TerminalPrompter() if sys.stdin.isatty() else NoPrompter()
