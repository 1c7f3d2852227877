"""MT-SICS balance: exact byte exchanges (reference §1.1, example exchanges included)."""

from __future__ import annotations

import math

import pytest

from daq.reading import Status
from drivers.errors import (
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from drivers.mettler_toledo import MtSicsBalance
from drivers.testing import expected_protocol


async def test_identify_parses_type_with_spaces_from_the_right() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [
            (b"I2\r\n", b'I2 A "WXS205SDU WXA-Bridge 220.00900 g"\r\n'),
            (b"I4\r\n", b'I4 A "B207696838"\r\n'),
            (b"I3\r\n", b'I3 A "2.10 10.28.0.493.142"\r\n'),
        ],
    ) as balance:
        who = await balance.identify()
    assert (who.manufacturer, who.model) == ("Mettler Toledo", "WXS205SDU WXA-Bridge")
    assert (who.serial, who.firmware) == ("B207696838", "2.10")


async def test_stable_weight() -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", b"S S     100.00 g\r\n")]) as b:
        reading = await b.weigh()
    assert (reading.value, reading.unit, reading.status) == (100.0, "g", Status.OK)
    assert (reading.quantity, reading.raw) == ("mass", "S S     100.00 g")


async def test_immediate_weight_dynamic() -> None:
    async with expected_protocol(MtSicsBalance, [(b"SI\r\n", b"S D     100.02 g\r\n")]) as b:
        reading = await b.weigh(stable=False)
    assert reading.value == 100.02 and reading.status is Status.UNSTABLE


async def test_negative_weight_in_milligrams() -> None:
    async with expected_protocol(MtSicsBalance, [(b"SI\r\n", b"S S     -12.5 mg\r\n")]) as b:
        reading = await b.weigh(stable=False)
    assert (reading.value, reading.unit) == (-12.5, "mg")


async def test_zero_and_tare_and_clear() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [
            (b"Z\r\n", b"Z A\r\n"),
            (b"ZI\r\n", b"ZI D\r\n"),
            (b"T\r\n", b"T S      12.34 g\r\n"),
            (b"TI\r\n", b"TI S      12.34 g\r\n"),
            (b"TAC\r\n", b"TAC A\r\n"),
            (b"@\r\n", b'I4 A "B207696838"\r\n'),
        ],
    ) as b:
        await b.zero()
        assert (await b.zero_immediately()).status is Status.UNSTABLE
        assert (await b.tare()).value == 12.34
        assert (await b.tare_immediately()).value == 12.34
        await b.clear_tare()
        assert await b.reset() == "B207696838"


@pytest.mark.parametrize(
    ("reply", "code", "meaning"),
    [
        (b"ES\r\n", "ES", "syntax error"),
        (b"ET\r\n", "ET", "transmission"),
        (b"EL\r\n", "EL", "logical"),
    ],
)
async def test_general_errors(reply: bytes, code: str, meaning: str) -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", reply)]) as b:
        with pytest.raises(InstrumentReportedError, match=meaning) as caught:
            await b.weigh()
    assert caught.value.code == code


async def test_not_stable_in_time_is_reported() -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", b"S I\r\n")]) as b:
        with pytest.raises(InstrumentReportedError, match="not stable") as caught:
            await b.weigh()
    assert caught.value.code == "I"


async def test_tare_not_permitted() -> None:
    async with expected_protocol(MtSicsBalance, [(b"TI\r\n", b"TI L\r\n")]) as b:
        with pytest.raises(InstrumentReportedError, match="not allowed"):
            await b.tare_immediately()


async def test_overload_and_underload_raise_from_weigh() -> None:
    async with expected_protocol(
        MtSicsBalance, [(b"S\r\n", b"S +\r\n"), (b"S\r\n", b"S -\r\n"), (b"Z\r\n", b"Z +\r\n")]
    ) as b:
        with pytest.raises(OverloadError):
            await b.weigh()
        with pytest.raises(UnderloadError):
            await b.weigh()
        with pytest.raises(OverloadError):
            await b.zero()


async def test_monitor_read_keeps_overload_as_a_reading_status() -> None:
    async with expected_protocol(
        MtSicsBalance, [(b"SI\r\n", b"S +\r\n"), (b"SI\r\n", b"S -\r\n")]
    ) as b:
        [over] = await b.read()
        [under] = await b.read()
    assert math.isnan(over.value) and over.status is Status.OVERLOAD and over.raw == "S +"
    assert under.status is Status.UNDERLOAD


async def test_weigh_module_error() -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", b"S S Error 10e\r\n")]) as b:
        with pytest.raises(InstrumentReportedError, match=r"EEPROM error.*electronics"):
            await b.weigh()


async def test_reply_to_another_command_is_a_protocol_error() -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", b"Z A\r\n")]) as b:
        with pytest.raises(ProtocolError, match="does not answer 'S'"):
            await b.weigh()


async def test_silence_is_a_timeout_and_state_commands_are_not_repeated() -> None:
    async with expected_protocol(MtSicsBalance, [(b"T\r\n", None)], retries=3) as b:
        with pytest.raises(InstrumentTimeout):
            await b.tare()  # a second T could tare twice: sent once only


async def test_garbled_reply_is_a_protocol_error() -> None:
    async with expected_protocol(MtSicsBalance, [(b"SI\r\n", b"S S \x9c\x01 g\r\n")]) as b:
        with pytest.raises(ProtocolError):
            await b.weigh(stable=False)
