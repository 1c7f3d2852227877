"""Mensor CPC: exact byte exchanges (reference §3.2: leading space or E, CR LF, E-notation)."""

from __future__ import annotations

import pytest

from daq.core.errors import InstrumentReportedError, OverloadError, ProtocolError
from daq.core.reading import Status
from drivers.mensor_cpc import MensorCpc
from drivers.testing import expected_protocol

NO_ERROR = (b"Error?\r\n", b" 0,No error\r\n")


async def test_set_point_pressure_and_stable_flag() -> None:
    async with expected_protocol(
        MensorCpc,
        [
            (b"Units 14\r\n", b""),
            NO_ERROR,
            (b"Setpt 2\r\n", b""),
            NO_ERROR,
            (b"Mode CONTROL\r\n", b""),
            NO_ERROR,
            (b"A?\r\n", b" +1.01325E+00\r\n"),
            (b"AS?\r\n", b" NO\r\n"),
            (b"ID?\r\n", b" MENSOR, 600,610189,0.1.5\r\n"),
        ],
    ) as cpc:
        await cpc.set_point(2)
        reading = await cpc.pressure()
        assert (reading.value, reading.unit, reading.status) == (1.01325, "bar", Status.UNSTABLE)
        who = await cpc.identify()
        assert (who.manufacturer, who.model, who.serial, who.firmware) == (
            "MENSOR",
            "600",
            "610189",
            "0.1.5",
        )


async def test_an_e_reply_raises_the_queued_errors() -> None:
    async with expected_protocol(
        MensorCpc,
        [
            (b"Stable?\r\n", b"EYES\r\n"),
            (b"Error?\r\n", b"E-113,Undefined header\r\n"),
            (b"Error?\r\n", b" -222,Data out of range\r\n"),
            (b"Stable?\r\n", b"ENO\r\n"),
            (b"Error?\r\n", b" 500,Over pressure\r\n"),
            (b"Stable?\r\n", b"?YES\r\n"),
        ],
    ) as cpc:
        with pytest.raises(InstrumentReportedError, match="-113,Undefined header; -222") as raised:
            await cpc.is_stable()
        assert raised.value.code == -113
        with pytest.raises(OverloadError, match="over pressure"):
            await cpc.is_stable()
        with pytest.raises(ProtocolError, match="neither space nor E"):
            await cpc.is_stable()
