"""Operator prompts open to every channel at once: the first answer wins, the others are
refused, each answer is journaled with who gave it and through what; without any channel a
question fails at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from daq.core.prompts import PromptUnavailable, Question
from daq.journal import Journal
from daq.operations import LiveRun, PromptDesk, Refused, Unprintable
from daq.prompts import TerminalPrompter

QUESTION = Question("gauge-9", "Read the dial gauge", "pressure", "bar", 0, 10)


class Shown:
    """A channel like MQTT: records what it was asked to show."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable = reachable
        self.shown: list[tuple[str, Question | None]] = []

    async def show(self, ident: str, question: Question | None) -> None:
        self.shown.append((ident, question))


class SlowTerminal:
    """A terminal where the person types once ``typed`` is set (or never)."""

    def __init__(self, text: str, typed: asyncio.Event) -> None:
        self.text = text
        self.typed = typed
        self.withdrawn: list[str] = []

    async def ask(self, question: Question) -> str:
        await self.typed.wait()
        return self.text

    def withdraw(self, question: Question, why: str) -> None:
        self.withdrawn.append(why)


class SlowBroker(Shown):
    """A channel like MQTT whose broker takes its time to take a question."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = asyncio.Event()

    async def show(self, ident: str, question: Question | None) -> None:
        self.shown.append((ident, question))
        if question is not None:
            await self.taken.wait()


async def open_prompt(desk: PromptDesk) -> str:
    while not desk.open:
        await asyncio.sleep(0)
    return next(iter(desk.open))


async def test_the_first_answer_wins_and_is_journaled_with_its_run(tmp_path: Path) -> None:
    channel = Shown()
    desk = PromptDesk([channel], console=True)
    async with Journal(tmp_path / "j.sqlite") as journal:
        desk.journal = journal
        desk.run_of = lambda: "run-1"
        asking = asyncio.create_task(desk.ask(QUESTION))
        ident = await open_prompt(desk)
        assert desk.open[ident].run == "run-1" and channel.shown == [(ident, QUESTION)]
        desk.answer(ident, "2.5 bar", "An Nguyen (an.nguyen)", "console")
        with pytest.raises(Refused, match=r"answered by An Nguyen \(an.nguyen\) \(console\) first"):
            desk.answer(ident, "3 bar", "key lims", "MQTT")  # too late: answered
        assert await asking == "2.5 bar"
        with pytest.raises(Refused, match=r"was answered by An Nguyen \(an.nguyen\) \(console\)"):
            desk.answer(ident, "3 bar", "key lims", "MQTT")  # and later still
        with pytest.raises(Refused, match="no open prompt 'nope'"):
            desk.answer("nope", "3 bar", "key lims", "MQTT")
        await journal.flush()
        [event] = await journal.events("prompt_answered")
    assert channel.shown[-1] == (ident, None)  # cleared on the channel
    assert event.run == "run-1" and event.instrument == "gauge-9"
    assert (
        event.message
        == "Read the dial gauge: answered '2.5 bar' by An Nguyen (an.nguyen) (console)"
    )
    assert desk.open == {}


async def test_a_terminal_answer_races_the_console_and_loses_once_answered() -> None:
    typed = asyncio.Event()
    desk = PromptDesk(console=True, terminal=SlowTerminal("9 bar", typed))
    asking = asyncio.create_task(desk.ask(QUESTION))
    ident = await open_prompt(desk)
    desk.answer(ident, "1 bar", "someone", "console")
    typed.set()
    assert await asking == "1 bar"
    await asyncio.sleep(0)
    assert desk.open == {}


async def test_the_terminal_answers_when_first() -> None:
    typed = asyncio.Event()
    typed.set()
    desk = PromptDesk(terminal=SlowTerminal("4 bar", typed))
    assert await asyncio.wait_for(desk.ask(QUESTION), 5) == "4 bar"


async def test_no_channel_fails_at_once_and_bad_answers_are_refused() -> None:
    with pytest.raises(PromptUnavailable, match="no channel"):
        await PromptDesk([Shown(reachable=False)]).ask(QUESTION)
    desk = PromptDesk(console=True)
    asking = asyncio.create_task(desk.ask(QUESTION))
    ident = await open_prompt(desk)
    with pytest.raises(Refused, match="at most 200 characters"):
        desk.answer(ident, "x" * 201, "someone", "console")
    for bad in ("1\n2", "\x1b[2J"):
        with pytest.raises(Unprintable, match="the answer holds a control character"):
            desk.answer(ident, bad, "someone", "mqtt")
    desk.answer(ident, "7.5", "someone", "console")
    assert await asking == "7.5"


async def test_a_run_ending_closes_its_prompt_on_every_channel() -> None:
    broker, typed = SlowBroker(), asyncio.Event()
    terminal = SlowTerminal("9 bar", typed)
    desk = PromptDesk([broker], console=True, terminal=terminal)
    asking = asyncio.create_task(desk.ask(QUESTION))
    while not broker.shown:  # the run is aborted while the broker is still taking it
        await asyncio.sleep(0)
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    ident = broker.shown[0][0]
    assert desk.open == {} and broker.shown[-1] == (ident, None)
    broker.taken.set()
    asking = asyncio.create_task(desk.ask(QUESTION))
    ident = await open_prompt(desk)
    await asyncio.sleep(0)  # the terminal shows it too
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    assert desk.open == {} and broker.shown[-1] == (ident, None)
    assert terminal.withdrawn == ["closed: the run ended"]
    with pytest.raises(Refused, match="this question was closed: the run ended"):
        desk.answer(ident, "2 bar", "someone", "console")


async def test_an_invalid_answer_leaves_the_prompt_open_for_a_valid_one() -> None:
    desk = PromptDesk(console=True)
    asking = asyncio.create_task(desk.ask(QUESTION))
    ident = await open_prompt(desk)
    for bad, why in (("about two", "is not a number"), ("12 bar", "outside 0 to 10"),
                     ("2 kg", "cannot be converted to bar"), ("", "is not a number")):  # fmt: skip
        with pytest.raises(Refused, match=why):
            desk.answer(ident, bad, "someone", "console")
    assert ident in desk.open
    desk.answer(ident, "2500 mbar", "key lims", "MQTT")
    assert await asking == "2500 mbar"
    over = asyncio.create_task(desk.ask(QUESTION))  # the pointer on its stop is an answer
    desk.answer(await open_prompt(desk), "over", "someone", "console")
    assert await over == "over"


async def test_the_terminal_says_who_answered_and_answers_the_next_question() -> None:
    import io
    import queue

    from rich.console import Console

    typed: queue.Queue[str | None] = queue.Queue()

    def read_line() -> str:
        line = typed.get()
        if line is None:
            raise EOFError
        return line

    shown = io.StringIO()
    terminal = TerminalPrompter(Console(file=shown, width=200), read_line)
    desk = PromptDesk(console=True, terminal=terminal)

    async def asked(times: int) -> None:
        while shown.getvalue().count("(pressure in bar, 0 to 10): ") < times:
            await asyncio.sleep(0)

    async def typed_when_asked(line: str, times: int) -> None:
        await asked(times)
        typed.put(line)

    first = asyncio.create_task(desk.ask(QUESTION))
    ident = await open_prompt(desk)
    await asked(1)  # the terminal shows it, and the console answers it
    desk.answer(ident, "1 bar", "An Nguyen (an.nguyen)", "console")
    assert await first == "1 bar"
    assert "Read the dial gauge: answered by An Nguyen (an.nguyen) (console)" in shown.getvalue()

    second = asyncio.create_task(desk.ask(QUESTION))  # the same terminal answers the next one
    await typed_when_asked("3,5", 2)
    assert await asyncio.wait_for(second, 30) == "3,5"
    third = asyncio.create_task(desk.ask(QUESTION))
    await typed_when_asked("what?", 3)  # refused on the terminal too: asked again, with why
    await typed_when_asked("4", 4)
    assert await asyncio.wait_for(third, 30) == "4"
    assert "'what?' is not a number" in shown.getvalue()
    typed.put(None)


def test_the_live_view_counts_the_points_it_is_told_of() -> None:
    from daq.engine.record import Point

    clock = [100.0]
    live = LiveRun(now=lambda: clock[0])
    live.begin("run-1", "Balance", total=3, done=1)
    assert live.eta is None  # no pace yet
    seen = live.changes.version
    live.completed(
        Point(
            key="indication 20 g",
            kind="indication",
            nominal=20.0,
            unit="g",
            values={"error": 1e-5},
            budget={"expanded_uncertainty": 2.5e-4, "coverage_factor": 2.0},
            decision={"outcome": "pass"},
        )
    )
    [row] = live.points
    assert (live.done, row.error, row.expanded, row.k, row.decision) == (
        2,
        1e-5,
        2.5e-4,
        2.0,
        "pass",
    )
    assert live.changes.version > seen
    clock[0] = 160.0  # one point in 60 s: one more to go
    assert live.eta == 60.0
