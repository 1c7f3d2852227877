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

QUESTION = Question("gauge-9", "Read the dial gauge", "pressure", "bar", 0, 10)


class Shown:
    """A channel like MQTT: records what it was asked to show."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable = reachable
        self.shown: list[tuple[str, Question | None]] = []

    async def show(self, ident: str, question: Question | None) -> None:
        self.shown.append((ident, question))


class SlowTerminal:
    """A terminal where the person types after ``delay`` (or never)."""

    def __init__(self, text: str, typed: asyncio.Event) -> None:
        self.text = text
        self.typed = typed

    async def ask(self, question: Question) -> str:
        await self.typed.wait()
        return self.text


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
        with pytest.raises(Refused, match="no open prompt"):
            desk.answer(ident, "3 bar", "key lims", "MQTT")  # too late: answered
        assert await asking == "2.5 bar"
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
    desk.answer(ident, "", "someone", "console")
    assert await asking == ""


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
