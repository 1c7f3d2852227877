"""1529 reply parsers: any text gives a value or a ProtocolError, nothing else."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import InstrumentError, ProtocolError
from drivers.fluke_1529 import Fluke1529, parse_error, parse_idn, parse_number, parse_unit
from drivers.testing import expected_protocol


@given(st.text(max_size=40))
def test_parsers_on_any_text(text: str) -> None:
    for parse in (parse_number, parse_idn, parse_error, parse_unit):
        with contextlib.suppress(ProtocolError):
            parse(text)  # type: ignore[operator]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip(value: float) -> None:
    assert parse_number(repr(value)) == value


def test_error_entry() -> None:
    assert parse_error('-350,"Queue overflow"') == (-350, "Queue overflow")
    with pytest.raises(ProtocolError):
        parse_error("-350,Queue overflow")


@given(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b))
def test_any_reply_bytes_through_the_transport(reply: bytes) -> None:
    async def exchange() -> None:
        async with expected_protocol(
            Fluke1529,
            [(b"UNIT:TEMP?\n", b"C\r\n"), (b"FETC? 1\n", reply + b"\r\n")],
            read_termination="\r\n",
            write_termination="\n",
        ) as readout:
            with contextlib.suppress(InstrumentError):
                await readout.read()

    asyncio.run(exchange())
