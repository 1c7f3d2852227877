"""MT-SICS balance: exact byte exchanges (reference §1.1, its example exchanges included)."""

from __future__ import annotations

import asyncio
import math

import pytest

from daq.core.clock import Clock
from daq.core.errors import (
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from daq.core.reading import Status
from drivers.mettler_toledo import MtSicsBalance, MtSicsSettings, parse_reply
from drivers.testing import ScriptedStream, expected_protocol
from drivers.transports.stream import StreamTransport

# the reference's example exchanges


async def test_reference_examples() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [
            (b"S\r\n", b"S S     100.00 g\r\n"),
            (b"SI\r\n", b"S D     100.02 g\r\n"),
            (b"Z\r\n", b"Z A\r\n"),
            (b"TI\r\n", b"TI S      12.34 g\r\n"),
            (b"@\r\n", b'I4 A "B207696838"\r\n'),
            (b"S\r\n", b"S I\r\n"),
        ],
    ) as b:
        stable = await b.weigh()
        assert (stable.value, stable.unit, stable.status) == (100.0, "g", Status.OK)
        assert (stable.quantity, stable.raw) == ("mass", "S S     100.00 g")
        dynamic = await b.weigh(stable=False)
        assert (dynamic.value, dynamic.status) == (100.02, Status.UNSTABLE)
        await b.zero()
        tare = await b.tare_immediately()
        assert (tare.value, tare.status) == (12.34, Status.OK)
        assert await b.reset() == "B207696838"
        with pytest.raises(InstrumentReportedError, match="not stable in time") as caught:
            await b.weigh()
        assert caught.value.code == "I"


def test_reference_example_unknown_command_is_a_syntax_error() -> None:
    with pytest.raises(InstrumentReportedError, match="syntax error") as caught:
        parse_reply("ES", "XYZ")
    assert caught.value.code == "ES"


# identity


async def test_identify_parses_a_type_with_spaces_from_the_right() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [
            (b"I2\r\n", b'I2 A "WXS205SDU WXA-Bridge 220.00900 g"\r\n'),
            (b"I4\r\n", b'I4 A "B207696838"\r\n'),
            (b"I3\r\n", b'I3 A "2.10 10.28.0.493.142"\r\n'),
        ],
    ) as b:
        who = await b.identify()
    assert (who.manufacturer, who.model) == ("Mettler Toledo", "WXS205SDU WXA-Bridge")
    assert (who.serial, who.firmware) == ("B207696838", "2.10")


@pytest.mark.parametrize(
    "reply", [b'I2 A "XS204"\r\n', b"I2 A XS204 220.0000 g\r\n", b'I2 A "XS204 big g"\r\n']
)
async def test_device_data_without_type_capacity_unit_is_a_protocol_error(reply: bytes) -> None:
    async with expected_protocol(MtSicsBalance, [(b"I2\r\n", reply)]) as b:
        with pytest.raises(ProtocolError):
            await b.identify()


# weighing


async def test_negative_weight_in_milligrams() -> None:
    async with expected_protocol(MtSicsBalance, [(b"SI\r\n", b"S S     -12.5 mg\r\n")]) as b:
        reading = await b.weigh(stable=False)
    assert (reading.value, reading.unit, reading.status) == (-12.5, "mg", Status.OK)


async def test_weigh_module_error_names_the_error_and_its_source() -> None:
    async with expected_protocol(
        MtSicsBalance, [(b"S\r\n", b"S S Error 10e\r\n"), (b"SI\r\n", b"S S Error 15t\r\n")]
    ) as b:
        with pytest.raises(InstrumentReportedError, match=r"EEPROM error.*electronics") as e1:
            await b.weigh()
        with pytest.raises(InstrumentReportedError, match=r"adjustment needed.*terminal") as e2:
            await b.read()
    assert (e1.value.code, e2.value.code) == ("10e", "15t")


@pytest.mark.parametrize(
    ("reply", "meaning"),
    [(b"S +\r\n", OverloadError), (b"S -\r\n", UnderloadError)],
)
async def test_overload_and_underload_raise_from_weigh(
    reply: bytes, meaning: type[Exception]
) -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", reply)]) as b:
        with pytest.raises(meaning):
            await b.weigh()


async def test_monitor_read_keeps_overload_and_underload_as_reading_statuses() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [
            (b"SI\r\n", b"S D      3.1 mg\r\n"),
            (b"SI\r\n", b"S +\r\n"),
            (b"SI\r\n", b"S -\r\n"),
        ],
    ) as b:
        [moving] = await b.read()
        [over] = await b.read()
        [under] = await b.read()
    assert (moving.value, moving.status) == (3.1, Status.UNSTABLE)
    assert math.isnan(over.value) and over.status is Status.OVERLOAD and over.raw == "S +"
    assert math.isnan(under.value) and under.status is Status.UNDERLOAD and under.raw == "S -"
    assert over.unit == under.unit == "mg"  # the unit last seen


@pytest.mark.parametrize("reply", [b"S I\r\n", b"ES\r\n"])
async def test_monitor_read_lets_other_errors_through(reply: bytes) -> None:
    async with expected_protocol(MtSicsBalance, [(b"SI\r\n", reply)]) as b:
        with pytest.raises(InstrumentReportedError):
            await b.read()


# zero and tare


async def test_zero_tare_clear_and_reset() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [
            (b"Z\r\n", b"Z A\r\n"),
            (b"ZI\r\n", b"ZI S\r\n"),
            (b"ZI\r\n", b"ZI D\r\n"),
            (b"T\r\n", b"T S    20.0001 g\r\n"),
            (b"TI\r\n", b"TI D      12.34 g\r\n"),
            (b"TAC\r\n", b"TAC A\r\n"),
            (b"@\r\n", b'I4 A "B207696838"\r\n'),
        ],
    ) as b:
        await b.zero()
        assert await b.zero_immediately() is True
        assert await b.zero_immediately() is False
        tare = await b.tare()
        assert (tare.value, tare.status, tare.raw) == (20.0001, Status.OK, "T S    20.0001 g")
        dynamic = await b.tare_immediately()
        assert (dynamic.value, dynamic.status) == (12.34, Status.UNSTABLE)
        await b.clear_tare()
        assert await b.reset() == "B207696838"


@pytest.mark.parametrize(
    ("command", "reply", "error"),
    [
        (b"Z", b"Z +", OverloadError),
        (b"Z", b"Z -", UnderloadError),
        (b"ZI", b"ZI +", OverloadError),
        (b"T", b"T -", UnderloadError),
        (b"TI", b"TI +", OverloadError),
    ],
)
async def test_zero_and_tare_range_exceeded(
    command: bytes, reply: bytes, error: type[Exception]
) -> None:
    methods = {b"Z": "zero", b"ZI": "zero_immediately", b"T": "tare", b"TI": "tare_immediately"}
    async with expected_protocol(MtSicsBalance, [(command + b"\r\n", reply + b"\r\n")]) as b:
        with pytest.raises(error, match="range"):
            await getattr(b, methods[command])()


@pytest.mark.parametrize(("command", "method"), [(b"Z", "zero"), (b"T", "tare")])
async def test_zero_or_tare_not_stable_in_time(command: bytes, method: str) -> None:
    async with expected_protocol(MtSicsBalance, [(command + b"\r\n", command + b" I\r\n")]) as b:
        with pytest.raises(InstrumentReportedError, match="not stable") as caught:
            await getattr(b, method)()
    assert caught.value.code == "I"


async def test_tare_not_permitted_is_a_logical_error() -> None:
    async with expected_protocol(MtSicsBalance, [(b"TI\r\n", b"TI L\r\n")]) as b:
        with pytest.raises(InstrumentReportedError, match="logical error") as caught:
            await b.tare_immediately()
    assert caught.value.code == "L"


# general errors


@pytest.mark.parametrize(
    ("reply", "meaning"),
    [
        (b"ES\r\n", "syntax error: the balance does not know"),
        (b"ET\r\n", "transmission error"),
        (b"EL\r\n", "logical error: the balance cannot execute"),
    ],
)
@pytest.mark.parametrize(("command", "method"), [(b"S", "weigh"), (b"TAC", "clear_tare")])
async def test_general_errors(reply: bytes, meaning: str, command: bytes, method: str) -> None:
    async with expected_protocol(MtSicsBalance, [(command + b"\r\n", reply)]) as b:
        with pytest.raises(InstrumentReportedError, match=meaning) as caught:
            await getattr(b, method)()
    assert caught.value.code == reply[:2].decode()


# timeouts and garbled replies


async def test_silence_is_a_timeout() -> None:
    async with expected_protocol(
        MtSicsBalance, [(b"S\r\n", None)], settings={"stable_timeout": 0.1}, timeout=0.1
    ) as b:
        with pytest.raises(InstrumentTimeout):
            await b.weigh()


async def test_stable_weight_may_take_longer_than_the_link_timeout() -> None:
    script = ScriptedStream([(b"S\r\n", None)])
    transport = StreamTransport("slow", script.opener, port_key="slow", timeout=0.05, retries=0)
    balance = MtSicsBalance("b", transport, MtSicsSettings(stable_timeout=1.0), Clock())
    weighing = asyncio.create_task(balance.weigh())
    await asyncio.sleep(0.3)  # six link timeouts: the balance is still settling
    assert not weighing.done()
    script.send(b"S S     100.00 g\r\n")
    assert (await weighing).value == 100.0


async def test_weighing_is_asked_again_after_a_timeout() -> None:
    async with expected_protocol(
        MtSicsBalance,
        [(b"SI\r\n", None), (b"SI\r\n", b"S S     100.00 g\r\n")],
        timeout=0.1,
        retries=1,
    ) as b:
        [reading] = await b.read()
    assert reading.value == 100.0


@pytest.mark.parametrize(
    ("command", "method"),
    [
        (b"Z", "zero"),
        (b"ZI", "zero_immediately"),
        (b"T", "tare"),
        (b"TI", "tare_immediately"),
        (b"TAC", "clear_tare"),
        (b"@", "reset"),
    ],
)
async def test_state_changing_commands_are_never_repeated(command: bytes, method: str) -> None:
    async with expected_protocol(
        MtSicsBalance,
        [(command + b"\r\n", None)],
        settings={"stable_timeout": 0.1},
        timeout=0.1,
        retries=3,
    ) as b:
        with pytest.raises(InstrumentTimeout):
            await getattr(b, method)()  # a second T could tare twice: sent once only


@pytest.mark.parametrize(
    "reply",
    [
        b"S S \x9c\x01 g\r\n",  # not ASCII
        b"Z A\r\n",  # answers another command
        b"S D     100.00 g\r\n",  # S only answers stable weights
        b"S B     100.00 g\r\n",  # no multi-line answer to S
        b"S X\r\n",  # unknown status
        b"S\r\n",  # no status
        b"S + 100\r\n",  # data after an error status
        b"S S     100.00\r\n",  # no unit
        b"S S 1.2.3 g\r\n",  # not a number
        b"S S nan g\r\n",
        b"S S 1e3 g\r\n",
        b"S S     100.00 g g\r\n",
        b"S S Error 10x\r\n",  # not a weigh-module error
        b"ES \r\n",
    ],
)
async def test_garbled_replies_are_protocol_errors(reply: bytes) -> None:
    async with expected_protocol(MtSicsBalance, [(b"S\r\n", reply)]) as b:
        with pytest.raises(ProtocolError):
            await b.weigh()


async def test_reset_needs_the_serial_in_quotes() -> None:
    async with expected_protocol(MtSicsBalance, [(b"@\r\n", b"I4 A B207696838\r\n")]) as b:
        with pytest.raises(ProtocolError, match="quoted"):
            await b.reset()
