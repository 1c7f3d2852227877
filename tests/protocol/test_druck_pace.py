"""Druck PACE: exact byte exchanges (reference §3.1, its example exchanges included)."""

from __future__ import annotations

import pytest

from daq.core.errors import InstrumentReportedError, OverloadError, ProtocolError
from daq.core.reading import Status
from drivers.druck_pace import DruckPace, parse_in_limits
from drivers.testing import expected_protocol

NO_ERROR = (b":SYST:ERR?\r\n", b':SYST:ERR 0,"No error"\r\n')


async def test_reference_example_set_point_control_and_in_limits() -> None:
    async with expected_protocol(
        DruckPace,
        [
            (b":UNIT:PRES BAR\r\n", b""),
            NO_ERROR,
            (b":SOUR:PRES 2000\r\n", b""),  # the reference sends 2000 in mbar; here in bar
            NO_ERROR,
            (b":OUTP:STAT ON\r\n", b""),
            NO_ERROR,
            (b":SENS:PRES:INL?\r\n", b":SENS:PRES:INL 1999.87, 1\r\n"),
            (b"*IDN?\r\n", b"*IDN GE Druck,Pace5000 User Interface,3213201,02.00.07\r\n"),
        ],
    ) as pace:
        await pace.set_point(2000)
        reading = await pace.pressure()
        assert (reading.value, reading.unit, reading.status) == (1999.87, "bar", Status.OK)
        who = await pace.identify()
        assert (who.manufacturer, who.model, who.serial) == (
            "GE Druck",
            "Pace5000 User Interface",
            "3213201",
        )


async def test_a_refused_set_point_raises_the_queued_error() -> None:
    async with expected_protocol(
        DruckPace,
        [
            (b":UNIT:PRES BAR\r\n", b""),
            NO_ERROR,
            (b":SOUR:PRES 99\r\n", b""),
            (b":SYST:ERR?\r\n", b':SYST:ERR -222,"Data out of range"\r\n'),
            NO_ERROR,
        ],
    ) as pace:
        with pytest.raises(InstrumentReportedError, match="-222") as raised:
            await pace.set_point(99)
        assert raised.value.code == -222


async def test_over_range_and_a_reply_to_another_query() -> None:
    async with expected_protocol(
        DruckPace,
        [
            (b":UNIT:PRES BAR\r\n", b""),
            NO_ERROR,
            (b":SENS:PRES:INL?\r\n", b":SENS:PRES:INL 9.9E37, 0\r\n"),
            (b":SYST:ERR?\r\n", b':SYST:ERR 500,"Over pressure"\r\n'),
            NO_ERROR,
            (b":SENS:PRES:INL?\r\n", b":SENS:PRES 1.0\r\n"),
        ],
    ) as pace:
        with pytest.raises(OverloadError, match="Over pressure"):
            await pace.pressure()
        with pytest.raises(ProtocolError, match="does not answer"):
            await pace.pressure()


def test_in_limits_parser() -> None:
    assert parse_in_limits("1999.87, 1") == (1999.87, True)
    assert parse_in_limits("0.5,0") == (0.5, False)
    for bad in ("1999.87", "x, 1", "1.0, 2"):
        with pytest.raises(ProtocolError):
            parse_in_limits(bad)
