"""What a person can do to a running agent, whatever the way in (the console, MQTT, the
terminal): the open operator prompts, the live view of a run, and the refusal they share.

The rules of starting, aborting, answering and acknowledging live in ``daq.agent``'s use
cases; the front ends (``daq.commands`` for MQTT, ``daq.web`` for the browser) only check
who is asking and call them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from daq.core.prompts import Prompter, PromptUnavailable, Question
from daq.core.reading import Reading
from daq.engine.record import Point
from daq.journal import EventKind, Journal
from daq.stability import Verdict

MAX_ANSWER = 200
CLOSED_KEPT = 100
RUN_ENDED = "closed: the run ended"


class Refused(Exception):
    """An operation cannot be done as asked; the message says why, for the person asking."""


class Unprintable(Refused):
    """A text a person typed holds control characters."""


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(**texts: str) -> None:
    """Refuse texts (named by keyword) that hold control characters: what a person types
    goes into records, certificates and events, where a control character would be
    something no one can see or read back as typed."""
    for what, text in texts.items():
        if CONTROL.search(text):
            raise Unprintable(f"the {what.replace('_', ' ')} holds a control character")


class Changes:
    """A counter that front ends wait on to push what changed (server-sent events)."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Condition()

    def bump(self) -> None:
        self.version += 1
        with contextlib.suppress(RuntimeError):  # no loop yet: nobody waits
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait(self, seen: int, timeout: float) -> int:
        """The version once it is past ``seen`` (or after ``timeout``)."""
        if self.version != seen:
            return self.version
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.version != seen)
        return self.version


class PromptChannel(Protocol):
    """A way a question is shown to the operator besides the console (MQTT)."""

    @property
    def reachable(self) -> bool: ...

    async def show(self, ident: str, question: Question | None) -> None:
        """Show the open question (None: the question is closed)."""
        ...


class Terminal(Prompter, Protocol):
    """The terminal the agent runs in: it asks, and hears when a question it shows was
    closed elsewhere, so that it says so and its next line answers the next question."""

    def withdraw(self, question: Question, why: str) -> None: ...


@dataclass
class OpenPrompt:
    id: str
    question: Question
    run: str | None
    answer: asyncio.Future[str] = field(repr=False)
    answered_by: str = ""
    """Who answered, and how ("" while open)."""


class PromptDesk:
    """The operator's questions, open to every channel at once: the console, MQTT and the
    terminal; the first valid answer wins, later ones are refused as already answered, and
    an answer that cannot answer the question (a word where a number is asked, a value out
    of range) is refused with the reason, the question staying open to everyone. A question
    closed any way (answered, or its run ended) is withdrawn from every channel."""

    def __init__(
        self,
        channels: list[PromptChannel] | None = None,
        *,
        console: bool = False,
        terminal: Terminal | None = None,
    ) -> None:
        self.channels = channels or []
        self.console = console
        """The console is served: a question can be answered in the browser."""
        self.terminal = terminal
        self.journal: Journal | None = None
        self.run_of: Callable[[], str | None] = lambda: None
        self.open: dict[str, OpenPrompt] = {}
        self.closed: collections.OrderedDict[str, str] = collections.OrderedDict()
        """How the latest questions closed (answered by whom, or their run ended), so that
        a second answer is told who was first."""
        self.changes = Changes()

    @property
    def reachable(self) -> bool:
        return (
            self.console
            or self.terminal is not None
            or any(channel.reachable for channel in self.channels)
        )

    async def ask(self, question: Question) -> str:
        if not self.reachable:
            raise PromptUnavailable(
                f"{question.instrument} needs an operator ({question.text}) but no channel "
                "reaches one (no console, no terminal, MQTT broker not connected)"
            )
        ident = uuid.uuid4().hex[:12]
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        held = OpenPrompt(ident, question, self.run_of(), answer)
        self.open[ident] = held
        reachable = [c for c in self.channels if c.reachable]
        typing = None
        try:  # from here on, whatever ends the question (its run too) closes it everywhere
            self.changes.bump()
            for channel in reachable:
                await channel.show(ident, question)
            if self.terminal is not None:
                typing = asyncio.ensure_future(self._from_terminal(ident, question))
            return await answer
        finally:
            del self.open[ident]
            self.closed[ident] = held.answered_by or RUN_ENDED
            while len(self.closed) > CLOSED_KEPT:
                self.closed.popitem(last=False)
            self.changes.bump()
            if typing is not None and not typing.done():
                typing.cancel()
                assert self.terminal is not None
                self.terminal.withdraw(question, held.answered_by or RUN_ENDED)
            await asyncio.shield(self._withdraw(ident, reachable))

    @staticmethod
    async def _withdraw(ident: str, channels: list[PromptChannel]) -> None:
        """The closed question off every channel, even when the asking task is cancelled."""
        for channel in channels:
            await channel.show(ident, None)

    async def _from_terminal(self, ident: str, question: Question) -> None:
        """The terminal asks until it gets a valid answer, or the question closes."""
        assert self.terminal is not None
        while (held := self.open.get(ident)) is not None and not held.answer.done():
            try:
                text = await self.terminal.ask(question)
                self.answer(ident, text, "the terminal", "terminal")
            except PromptUnavailable:
                return
            except Refused as exc:
                question = replace(question, problem=str(exc))
            else:
                return

    def answer(self, prompt: str, text: str, who: str, via: str) -> None:
        """Answer the open prompt ``prompt`` (journaled, with the run it belongs to); an
        answer that cannot answer it is refused and the prompt stays open."""
        held = self.open.get(prompt)
        if held is not None and held.answer.done():
            raise Refused(f"this question was {held.answered_by} first")
        if held is None:
            closed = self.closed.get(prompt)
            raise Refused(f"this question was {closed}" if closed else f"no open prompt {prompt!r}")
        printable(answer=text)
        if len(text) > MAX_ANSWER:
            raise Refused(f"an answer is at most {MAX_ANSWER} characters")
        if why := held.question.refusal(text):
            raise Refused(f"{why}; the question stays open ({held.question.hint()})")
        held.answered_by = f"answered by {who} ({via})"
        held.answer.set_result(text)
        if self.journal is not None:
            shown = f" {text!r}" if text else ""
            self.journal.event(
                EventKind.PROMPT_ANSWERED,
                f"{held.question.text}: answered{shown} by {who} ({via})",
                instrument=held.question.instrument or None,
                run=held.run,
            )


@dataclass
class PointRow:
    """One finished point as the live run's table shows it."""

    key: str
    kind: str
    nominal: float | None
    unit: str
    error: float | None
    expanded: float | None
    k: float | None
    decision: str

    @classmethod
    def of(cls, point: Point) -> PointRow:
        budget = point.budget or {}
        error = point.values.get("error")
        return cls(
            point.key,
            point.kind,
            point.nominal,
            point.unit,
            error,
            budget.get("expanded_uncertainty"),
            budget.get("coverage_factor"),
            str(point.decision["outcome"]) if point.decision else "",
        )


class LiveRun:
    """The run in progress as the console shows it: a run's ``Progress``."""

    TRACE = 120

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.begun = 0.0
        self.done_at_begin = 0
        self.run = ""
        self.title = ""
        self.total = 0
        self.done = 0
        self.point_label = ""
        self.state = ""
        self.last: dict[str, Any] = {}
        self.trace: collections.deque[tuple[float, float]] = collections.deque(maxlen=self.TRACE)
        self.points: list[PointRow] = []
        self.changes = Changes()

    def begin(self, run: str, title: str, total: int, done: int) -> None:
        self.run, self.title, self.total, self.done = run, title, total, done
        self.begun, self.done_at_begin = self.now(), done
        self.points, self.last = [], {}
        self.trace.clear()
        self.changes.bump()

    @property
    def eta(self) -> float | None:
        """Seconds until the last point, at the pace of the points done so far in this
        session (None before the first)."""
        finished = self.done - self.done_at_begin
        if finished <= 0 or self.done >= self.total:
            return None
        return (self.now() - self.begun) / finished * (self.total - self.done)

    def point(self, label: str) -> None:
        self.point_label = label
        self.trace.clear()
        self.changes.bump()

    def status(self, text: str) -> None:
        self.state = text
        self.changes.bump()

    def sample(self, reading: Reading, verdict: Verdict | None) -> None:
        if math.isfinite(reading.value):
            self.trace.append((reading.timestamp, reading.value))
        self.last = {"value": reading.value, "unit": reading.unit}
        if verdict is not None:
            self.last.update(stable=verdict.stable, slope=verdict.slope, std=verdict.std)
        self.changes.bump()

    def completed(self, point: Point) -> None:
        self.done += 1
        self.points.append(PointRow.of(point))
        self.changes.bump()


class Progresses:
    """Several progress views of one run (MQTT and the console)."""

    def __init__(self, *views: Any) -> None:
        self.views = views

    def begin(self, run: str, title: str, total: int, done: int) -> None:
        for view in self.views:
            view.begin(run, title, total, done)

    def point(self, label: str) -> None:
        for view in self.views:
            view.point(label)

    def status(self, text: str) -> None:
        for view in self.views:
            view.status(text)

    def sample(self, reading: Reading, verdict: Verdict | None) -> None:
        for view in self.views:
            view.sample(reading, verdict)

    def completed(self, point: Point) -> None:
        for view in self.views:
            view.completed(point)
