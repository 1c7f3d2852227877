"""The terminal as a channel to the operator, and the default channel of a command."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from daq.core.prompts import NoPrompter, Prompter, PromptUnavailable, Question


class TerminalPrompter:
    """Asks on the terminal. One daemon thread reads the terminal's lines for as long as the
    program runs (so a question answered elsewhere leaves no reader behind to swallow the
    next answer, and never keeps the program from exiting); a line answers the question
    shown when it was typed, and one typed while none is shown answers nothing."""

    def __init__(
        self, console: Console | None = None, read_line: Callable[[], str] | None = None
    ) -> None:
        self._console = console or Console()
        self._read_line = read_line or self._console.input
        self._lock = asyncio.Lock()
        self._lines: asyncio.Queue[str | PromptUnavailable] | None = None
        self._asking = False
        self._closed: PromptUnavailable | None = None

    def _reading(self) -> asyncio.Queue[str | PromptUnavailable]:
        """The lines typed while a question is shown, from the one reader thread (started
        at the first question)."""
        if self._lines is None:
            lines: asyncio.Queue[str | PromptUnavailable] = asyncio.Queue()
            loop = asyncio.get_running_loop()

            def arrived(line: str | PromptUnavailable) -> None:
                if self._asking or isinstance(line, PromptUnavailable):
                    lines.put_nowait(line)
                else:  # the question it was typed for was answered elsewhere, or none is open
                    self._console.print(Text("  no question is open: that line answers nothing"))

            def read() -> None:
                while True:
                    try:
                        line: str | PromptUnavailable = self._read_line()
                    except (EOFError, OSError) as exc:
                        line = PromptUnavailable(f"cannot read the operator's answer: {exc!r}")
                    try:
                        loop.call_soon_threadsafe(arrived, line)
                    except RuntimeError:  # the program's loop has ended: nobody asks
                        return
                    if isinstance(line, PromptUnavailable):
                        return

            threading.Thread(target=read, name="operator-prompt", daemon=True).start()
            self._lines = lines
        return self._lines

    async def ask(self, question: Question) -> str:
        async with self._lock:  # one question at a time on one terminal
            lines = self._reading()
            if self._closed is not None:
                raise self._closed
            if question.problem:
                self._console.print(Text(f"  {question.problem}; please try again.", "yellow"))
            self._console.print(
                Text.assemble(
                    (f"[{question.instrument}] ", "bold cyan"),
                    question.text,
                    (f" ({question.hint()})" if question.hint() else "", "dim"),
                    ": ",
                ),
                end="",
            )
            self._asking = True
            try:
                return self._take(await lines.get())
            finally:
                self._asking = False

    def _take(self, line: str | PromptUnavailable) -> str:
        if isinstance(line, PromptUnavailable):
            self._closed = line
            raise line
        return line

    def withdraw(self, question: Question, why: str) -> None:
        """The question shown was closed elsewhere: say so and by whom."""
        self._console.print(Text(f"\n  [{question.instrument}] {question.text}: {why}", "yellow"))


def default_prompter() -> Prompter:
    """The terminal when there is one, else no channel at all."""
    return TerminalPrompter() if sys.stdin.isatty() else NoPrompter()
