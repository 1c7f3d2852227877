"""Sartorius SBI balance: exact byte exchanges (reference §1.2, its example lines included)."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.core.errors import (
    InstrumentError,
    InstrumentReportedError,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from daq.core.reading import Status
from drivers.sartorius import SartoriusBalance, parse_line
from drivers.testing import expected_protocol


async def test_reference_example_lines() -> None:
    async with expected_protocol(
        SartoriusBalance,
        [
            (b"\x1bP\r\n", b"N     +  123.456 g  \r\n"),  # stable, 22 characters
            (b"\x1bP\r\n", b"N     +  123.456    \r\n"),  # unstable: unit blank
            (b"\x1bP\r\n", b"+  123.456 g  \r\n"),  # 16 characters, no ID
        ],
    ) as balance:
        stable, unstable, short = [(await balance.read())[0] for _ in range(3)]
    assert (stable.value, stable.unit, stable.status) == (123.456, "g", Status.OK)
    assert (unstable.value, unstable.status) == (123.456, Status.UNSTABLE)
    assert (short.value, short.unit, short.status) == (123.456, "g", Status.OK)


async def test_weigh_prints_again_until_stable_and_identify() -> None:
    async with expected_protocol(
        SartoriusBalance,
        [
            (b"\x1bx1_\r\n", b"BCE224I-1S\r\n"),
            (b"\x1bx2_\r\n", b"0037402218\r\n"),
            (b"\x1bx3_\r\n", b"00-20-08\r\n"),
            (b"\x1bP\r\n", b"N     -    0.012    \r\n"),
            (b"\x1bP\r\n", b"N     -    0.010 g  \r\n"),
            (b"\x1bV\r\n", b""),
            (b"\x1bU\r\n", b""),
            (b"\x1bP\r\n", b"N     +    0.000 g  \r\n"),
        ],
        settings={"print_interval": 0.01},
    ) as balance:
        assert balance.id
        who = await balance.identify()
        assert (who.manufacturer, who.model, who.serial, who.firmware) == (
            "Sartorius",
            "BCE224I-1S",
            "0037402218",
            "00-20-08",
        )
        weight = await balance.weigh()
        assert (weight.value, weight.status) == (-0.010, Status.OK)
        await balance.zero()
        assert (await balance.tare()).value == 0.0


@pytest.mark.parametrize(
    ("line", "status", "error"),
    [
        (b"N" + b" " * 11 + b"High    \r\n", Status.OVERLOAD, OverloadError),
        (b"N" + b" " * 12 + b"Low    \r\n", Status.UNDERLOAD, UnderloadError),
    ],
)
async def test_high_and_low(line: bytes, status: Status, error: type[Exception]) -> None:
    async with expected_protocol(
        SartoriusBalance, [(b"\x1bP\r\n", line), (b"\x1bP\r\n", line)]
    ) as balance:
        [reading] = await balance.read()
        assert math.isnan(reading.value) and reading.status is status
        with pytest.raises(error):
            await balance.weigh()


def test_error_lines_and_garbage() -> None:
    with pytest.raises(InstrumentReportedError, match="error 101") as raised:
        parse_line("N        Err 101    ")
    assert raised.value.code == "101"
    with pytest.raises(InstrumentReportedError, match="error 204") as raised:
        parse_line("Stat     ERR 204    ")  # the status line of Master and Entris II
    assert raised.value.code == "204"
    for bad in ("N     +  12x.456 g  ", "+ 123.456 g", "N     *  123.456 g  "):
        with pytest.raises(ProtocolError):
            parse_line(bad)


@given(st.text(max_size=30))
def test_any_line_parses_or_raises_a_typed_error(text: str) -> None:
    with contextlib.suppress(InstrumentError):
        parse_line(text)
