"""Fluke/Hart 1529: exact byte exchanges (reference §2.1 and §4.1)."""

from __future__ import annotations

from typing import Any

import pytest

from drivers.errors import InstrumentReportedError, InstrumentTimeout, ProtocolError
from drivers.fluke_1529 import Fluke1529
from drivers.testing import Exchange, expected_protocol


def scpi(exchanges: list[Exchange], **settings: Any) -> Any:
    return expected_protocol(
        Fluke1529, exchanges, settings=settings, read_termination="\r\n", write_termination="\n"
    )


async def test_identify() -> None:
    async with scpi([(b"*IDN?\n", b"HART,1529,A12345,1.10\r\n")]) as readout:
        who = await readout.identify()
    assert (who.manufacturer, who.model, who.serial, who.firmware) == (
        "HART",
        "1529",
        "A12345",
        "1.10",
    )


async def test_read_configured_channels_in_the_instrument_unit() -> None:
    async with scpi(
        [
            (b"UNIT:TEMP?\n", b"C\r\n"),
            (b"FETC? 1\n", b"25.1234\r\n"),
            (b"FETC? 3\n", b"-38.8344\r\n"),
        ],
        channels=[1, 3],
    ) as readout:
        first, third = await readout.read()
    assert (first.quantity, first.value, first.unit) == ("temperature_ch1", 25.1234, "°C")
    assert (third.quantity, third.value, third.raw) == ("temperature_ch3", -38.8344, "-38.8344")


@pytest.mark.parametrize(("reply", "unit"), [(b"F\r\n", "°F"), (b"K\r\n", "K")])
async def test_units(reply: bytes, unit: str) -> None:
    async with scpi(
        [(b"UNIT:TEMP?\n", reply), (b"MEAS? 2\n", b"77.0000\r\n")], query="MEAS?"
    ) as readout:
        reading = await readout.temperature(2)
    assert reading.unit == unit


async def test_error_queue_drained_oldest_first() -> None:
    async with scpi(
        [
            (b"SYST:ERR?\n", b'-113,"Undefined header"\r\n'),
            (b"SYST:ERR?\n", b'-114,"Header suffix out of range"\r\n'),
            (b"SYST:ERR?\n", b'0,"No error"\r\n'),
        ]
    ) as readout:
        assert await readout.errors() == [
            (-113, "Undefined header"),
            (-114, "Header suffix out of range"),
        ]


async def test_silence_then_error_queue_is_an_instrument_error() -> None:
    async with scpi(
        [
            (b"UNIT:TEMP?\n", b"C\r\n"),
            (b"FETC? 4\n", None),
            (b"SYST:ERR?\n", b'-230,"Data corrupt or stale"\r\n'),
            (b"SYST:ERR?\n", b'0,"No error"\r\n'),
        ]
    ) as readout:
        with pytest.raises(InstrumentReportedError, match="Data corrupt or stale") as caught:
            await readout.temperature(4)
    assert caught.value.code == -230


async def test_silence_with_empty_queue_is_a_timeout() -> None:
    async with scpi([(b"*IDN?\n", None), (b"SYST:ERR?\n", b'0,"No error"\r\n')]) as readout:
        with pytest.raises(InstrumentTimeout):
            await readout.identify()


@pytest.mark.parametrize("reply", [b"OL\r\n", b"nan\r\n", b"25.1,C\r\n", b"\r\n"])
async def test_non_numeric_reading_is_a_protocol_error(reply: bytes) -> None:
    async with scpi([(b"UNIT:TEMP?\n", b"C\r\n"), (b"FETC? 1\n", reply)]) as readout:
        with pytest.raises(ProtocolError):
            await readout.temperature()


async def test_bad_identity_is_a_protocol_error() -> None:
    async with scpi([(b"*IDN?\n", b"HART 1529\r\n")]) as readout:
        with pytest.raises(ProtocolError, match="manufacturer,model,serial,firmware"):
            await readout.identify()
