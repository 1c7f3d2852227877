"""Manual entry: what the operator may type, and asking again after a bad answer."""

from __future__ import annotations

import pytest

from daq.core.clock import Clock
from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from daq.core.prompts import PromptUnavailable, Question, parse_answer
from drivers.manual import ManualEntry, ManualSettings
from drivers.transports.operator import OperatorLink

DIAL = Question("gauge-1", "Read the dial gauge", "pressure", "bar", 0.0, 10.0)


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("2.5", 2.5),
        ("  2.5  ", 2.5),
        ("2,5", 2.5),  # decimal comma, as typed in most of Europe and Vietnam
        ("+.5", 0.5),
        ("2.5 bar", 2.5),
        ("250 kPa", 2.5),
        ("2500mbar", 2.5),
        ("1e0", 1.0),
    ],
)
def test_valid_answers_in_the_instruments_unit(typed: str, value: float) -> None:
    assert parse_answer(typed, DIAL) == pytest.approx(value)


def test_temperature_answers_convert_offset_units() -> None:
    thermometer = Question("lig-1", "Read the thermometer", "temperature", "°C", -10, 110)
    assert parse_answer("68 degF", thermometer) == pytest.approx(20.0)
    assert parse_answer("293.15 K", thermometer) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("abc", "not a number"),
        ("", "not a number"),
        ("12", "outside 0 to 10"),
        ("-0.1", "outside 0 to 10"),
        ("2 g", "cannot be converted"),
        ("2 furlongs/fortnight", "cannot be converted"),
        ("2 blargs", "unknown unit"),
    ],
)
def test_bad_answers_say_what_is_wrong(typed: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_answer(typed, DIAL)


@pytest.mark.parametrize(
    ("typed", "error"),
    [("over", OverloadError), ("UNDER", UnderloadError), ("error", InstrumentReportedError)],
)
def test_words_for_what_the_operator_sees(typed: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_answer(typed, DIAL)


class Operator:
    """A prompt channel answering from a list, keeping the questions it was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[Question] = []

    async def ask(self, question: Question) -> str:
        self.asked.append(question)
        if not self.answers:
            raise PromptUnavailable("nobody left")
        return self.answers.pop(0)


def dial(operator: Operator, attempts: int = 5) -> ManualEntry:
    settings = ManualSettings(
        quantity="pressure", unit="bar", minimum=0, maximum=10, attempts=attempts
    )
    return ManualEntry("gauge-1", OperatorLink("gauge-1", operator, None), settings, Clock())


async def test_a_bad_answer_is_asked_again_with_the_reason() -> None:
    operator = Operator("abc", "12", "2.45")
    reading = await dial(operator).pressure()
    assert (reading.value, reading.unit, reading.raw) == (2.45, "bar", "2.45")
    assert [q.problem for q in operator.asked] == [
        "",
        "'abc' is not a number",
        "12 bar is outside 0 to 10",
    ]


async def test_too_many_bad_answers_fail_the_reading() -> None:
    with pytest.raises(ProtocolError, match="no valid reading after 2 answers"):
        await dial(Operator("x", "y", "2.0"), attempts=2).pressure()


async def test_no_operator_is_a_lost_link() -> None:
    with pytest.raises(ConnectionLost, match="nobody left"):
        await dial(Operator()).pressure()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown unit 'barz'"):
        ManualSettings(quantity="pressure", unit="barz", minimum=0, maximum=1)
    with pytest.raises(ValueError, match="minimum must be below maximum"):
        ManualSettings(quantity="pressure", unit="bar", minimum=1, maximum=1)
