"""Fluke/Hart 1529: exact byte exchanges (reference §2.1 and §4.1).

The scripts in capitals are replayed against the simulator too
(tests/integration/test_fluke_1529_sim.py), so driver and simulator keep each other honest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from daq.core.errors import InstrumentReportedError, InstrumentTimeout, OverloadError, ProtocolError
from daq.core.reading import Status
from drivers.base import Driver
from drivers.fluke_1529 import Fluke1529
from drivers.testing import Exchange, expected_protocol

NO_ERROR: Exchange = (b"SYST:ERR?\n", b'0,"No error"\r\n')

IDENTIFY: list[Exchange] = [(b"*IDN?\n", b"HART,1529,A12345,1.10\r\n")]
EMPTY_QUEUE: list[Exchange] = [NO_ERROR]
BAD_CHANNEL: list[Exchange] = [
    (b"UNIT:TEMP?\n", b"C\r\n"),
    (b"FETC? 5\n", None),
    (b"SYST:ERR?\n", b'-222,"Data out of range"\r\n'),
    NO_ERROR,
]
UNIT_CHANGE: list[Exchange] = [
    (b"UNIT:TEMP K\n", None),
    NO_ERROR,
    (b"UNIT:TEMP?\n", b"K\r\n"),
    (b"UNIT:TEMP C\n", None),
    NO_ERROR,
    (b"UNIT:TEMP?\n", b"C\r\n"),
]


def scpi(
    exchanges: Sequence[Exchange], **settings: Any
) -> AbstractAsyncContextManager[Driver[Any, Any]]:
    return expected_protocol(
        Fluke1529, exchanges, settings=settings, read_termination="\r\n", write_termination="\n"
    )


async def test_identify() -> None:
    async with scpi(IDENTIFY) as readout:
        assert isinstance(readout, Fluke1529)
        who = await readout.identify()
    assert (who.manufacturer, who.model, who.serial, who.firmware) == (
        "HART",
        "1529",
        "A12345",
        "1.10",
    )


async def test_read_fetches_each_configured_channel_in_order() -> None:
    async with scpi(
        [
            (b"UNIT:TEMP?\n", b"C\r\n"),
            (b"FETC? 4\n", b"0.0100\r\n"),
            (b"FETC? 1\n", b"25.1234\r\n"),
            (b"FETC? 3\n", b"-38.8344\r\n"),
        ],
        channels=[4, 1, 3],
    ) as readout:
        readings = await readout.read()
    assert [(r.quantity, r.value, r.unit) for r in readings] == [
        ("temperature_ch4", 0.01, "°C"),
        ("temperature_ch1", 25.1234, "°C"),
        ("temperature_ch3", -38.8344, "°C"),
    ]
    assert readings[2].raw == "-38.8344"


async def test_meas_query_when_configured() -> None:
    async with scpi(
        [(b"UNIT:TEMP?\n", b"C\r\n"), (b"MEAS? 2\n", b"100.0021\r\n")], query="MEAS?"
    ) as readout:
        assert isinstance(readout, Fluke1529)
        reading = await readout.temperature(2)
    assert (reading.quantity, reading.value) == ("temperature_ch2", 100.0021)


@pytest.mark.parametrize(
    ("reply", "unit"), [(b"C\r\n", "°C"), (b"F\r\n", "°F"), (b"K\r\n", "K"), (b"k\r\n", "K")]
)
async def test_unit_is_asked_once(reply: bytes, unit: str) -> None:
    async with scpi(
        [
            (b"UNIT:TEMP?\n", reply),
            (b"FETC? 1\n", b"77.0000\r\n"),
            (b"FETC? 1\n", b"77.0001\r\n"),
        ]
    ) as readout:
        assert isinstance(readout, Fluke1529)
        first = await readout.temperature()
        second = await readout.temperature(1)
        assert await readout.unit() == unit
    assert first.unit == second.unit == unit


async def test_unit_change_is_checked_and_asked_again() -> None:
    async with scpi(UNIT_CHANGE) as readout:
        assert isinstance(readout, Fluke1529)
        await readout.set_unit("K")
        assert await readout.unit() == "K"
        await readout.set_unit("C")
        assert await readout.unit() == "°C"


async def test_refused_unit_change_raises_the_queued_error() -> None:
    async with scpi(
        [
            (b"UNIT:TEMP F\n", None),
            (b"SYST:ERR?\n", b'-221,"Settings conflict"\r\n'),
            NO_ERROR,
        ]
    ) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(InstrumentReportedError, match="Settings conflict") as caught:
            await readout.set_unit("F")
    assert caught.value.code == -221


async def test_error_queue_empty() -> None:
    async with scpi(EMPTY_QUEUE) as readout:
        assert isinstance(readout, Fluke1529)
        assert await readout.errors() == []


async def test_error_queue_drained_oldest_first() -> None:
    async with scpi(
        [
            (b"SYST:ERR?\n", b'-113,"Undefined header"\r\n'),
            (b"SYST:ERR?\n", b'-350,"Queue overflow"\r\n'),
            NO_ERROR,
        ]
    ) as readout:
        assert isinstance(readout, Fluke1529)
        assert await readout.errors() == [(-113, "Undefined header"), (-350, "Queue overflow")]


async def test_error_queue_that_never_empties_is_read_a_bounded_number_of_times() -> None:
    stuck = [(b"SYST:ERR?\n", b'-300,"Device-specific error"\r\n')] * 11
    async with scpi(stuck) as readout:
        assert isinstance(readout, Fluke1529)
        assert len(await readout.errors()) == 11


async def test_silence_then_queued_error_is_an_instrument_error() -> None:
    async with scpi(BAD_CHANNEL) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(InstrumentReportedError, match="Data out of range") as caught:
            await readout.temperature(5)
    assert caught.value.code == -222
    assert "FETC? 5" in str(caught.value)


async def test_silence_with_empty_queue_is_a_timeout() -> None:
    async with scpi([(b"*IDN?\n", None), NO_ERROR]) as readout:
        with pytest.raises(InstrumentTimeout):
            await readout.identify()


async def test_silence_on_the_error_query_too_is_a_timeout() -> None:
    async with scpi([(b"*IDN?\n", None), (b"SYST:ERR?\n", None)]) as readout:
        with pytest.raises(InstrumentTimeout):
            await readout.identify()


@pytest.mark.parametrize(
    "reply",
    [b"OL\r\n", b"nan\r\n", b"inf\r\n", b"1e999\r\n", b"25.1 C\r\n", b"\r\n", b"2_5.0\r\n"],
)
async def test_non_numeric_reading_is_a_protocol_error(reply: bytes) -> None:
    async with scpi([(b"UNIT:TEMP?\n", b"C\r\n"), (b"FETC? 1\n", reply)]) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(ProtocolError):
            await readout.temperature()


async def test_undecodable_reading_is_a_protocol_error() -> None:
    async with scpi([(b"UNIT:TEMP?\n", b"C\r\n"), (b"FETC? 1\n", b"\xff\xfe1\r\n")]) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(ProtocolError):
            await readout.temperature()


async def test_extended_record_gives_value_and_its_own_unit() -> None:
    async with scpi(
        [
            (b"UNIT:TEMP?\n", b"C\r\n"),
            (b"FETC? 2\n", b"1,2,25.1234,C,14,5,35,2024,9,5\r\n"),
            (b"FETC? 2\n", b"0,2,298.2884,K,14,5,36,2024,9,5\r\n"),
        ]
    ) as readout:
        assert isinstance(readout, Fluke1529)
        celsius = await readout.temperature(2)
        kelvin = await readout.temperature(2)
    assert (celsius.value, celsius.unit) == (25.1234, "°C")
    assert (kelvin.value, kelvin.unit) == (298.2884, "K")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (b"1,3,25.1234,C,14,5,35,2024,9,5\r\n", "channel 3"),
        (b"1,2,0.0011,mV,14,5,35,2024,9,5\r\n", "not a temperature unit"),
        (b"1,2,25.1234,C\r\n", "neither a number"),
    ],
)
async def test_wrong_extended_record_is_a_protocol_error(reply: bytes, problem: str) -> None:
    async with scpi([(b"UNIT:TEMP?\n", b"C\r\n"), (b"FETC? 2\n", reply)]) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(ProtocolError, match=problem):
            await readout.temperature(2)


@pytest.mark.parametrize(
    ("exchange", "call"),
    [
        ((b"*IDN?\n", b"HART 1529\r\n"), "identify"),
        ((b"*IDN?\n", b"HART,1529,A1,1.1,extra\r\n"), "identify"),
        ((b"UNIT:TEMP?\n", b"CEL\r\n"), "unit"),
        ((b"SYST:ERR?\n", b"-113,Undefined header\r\n"), "errors"),
    ],
)
async def test_malformed_replies_are_protocol_errors(exchange: Exchange, call: str) -> None:
    async with scpi([exchange]) as readout:
        with pytest.raises(ProtocolError):
            await getattr(readout, call)()


async def test_over_range_channel_is_an_overload() -> None:
    """``0.0,OL``: inference after the 1551A (reference §2.3); ``OL`` in an extended record's
    unit field. ``temperature()`` raises, ``read()`` keeps an OVERLOAD reading."""
    async with scpi(
        [
            (b"UNIT:TEMP?\n", b"C\r\n"),
            (b"FETC? 1\n", b"0.0,OL\r\n"),
            (b"FETC? 1\n", b"0.0,OL\r\n"),
            (b"FETC? 2\n", b"1,2,0.0,OL,14,5,35,2024,9,5\r\n"),
            (b"FETC? 2\n", b"0,2,25.0000,C,14,5,36,2024,9,5\r\n"),
        ],
        channels=[1, 2],
    ) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(OverloadError, match="channel 1 over range"):
            await readout.temperature(1)
        over, extended_over = await readout.read()
        back = await readout.temperature(2)
    assert over.status is Status.OVERLOAD and math.isnan(over.value) and over.raw == "0.0,OL"
    assert extended_over.status is Status.OVERLOAD and math.isnan(extended_over.value)
    assert (back.value, back.status) == (25.0, Status.OK)


@pytest.mark.parametrize("reply", [b"OL,0.0\r\n", b"x,OL\r\n", b"0.0,OL,C\r\n", b"0.0,ol\r\n"])
async def test_malformed_over_range_reply_is_a_protocol_error(reply: bytes) -> None:
    async with scpi([(b"UNIT:TEMP?\n", b"C\r\n"), (b"FETC? 1\n", reply)]) as readout:
        assert isinstance(readout, Fluke1529)
        with pytest.raises(ProtocolError):
            await readout.temperature()
