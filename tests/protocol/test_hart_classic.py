"""Hart classic controllers: exact byte exchanges (reference §2.4.2).

Commands end CR; replies end CR LF with the linefeed on (the driver reads to CR and strips
the LF, so ``lf=of`` works too). Settings get no reply and are read back. The scripts in
capitals are replayed against the simulator (tests/integration/test_hart_classic_sim.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from daq.core.clock import Clock
from daq.core.errors import (
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Status
from drivers.base import Driver
from drivers.hart_classic import HartClassicSource
from drivers.testing import Exchange, expected_protocol

CELSIUS: Exchange = (b"u\r", b"u: C\r\n")
CUT_OUT_IN: Exchange = (b"cu\r", b"cu: 660 C, in\r\n")

IDENTIFY: list[Exchange] = [(b"*ver\r", b"ver.9141,1.21\r\n")]
SET_POINT: list[Exchange] = [CELSIUS, (b"s=100.00\r", None), (b"s\r", b"set: 100.00 C\r\n")]
REFUSED_SET_POINT: list[Exchange] = [
    CELSIUS,
    (b"s=700.00\r", None),  # above the 9141's range: ignored
    (b"s\r", b"set: 50.00 C\r\n"),
]
FAHRENHEIT_SET_POINT: list[Exchange] = [
    (b"u\r", b"u: F\r\n"),
    (b"s=212.00\r", None),
    (b"s\r", b"set: 212.00 F\r\n"),
]
SAFE_STATE: list[Exchange] = [CELSIUS, (b"s=50.00\r", None), (b"s\r", b"set: 50.00 C\r\n")]
READ_AT_POWER_ON: list[Exchange] = [
    (b"t\r", b"t: 23.00 C\r\n"),
    CUT_OUT_IN,
    (b"s\r", b"set: 50.00 C\r\n"),
]


def controller(
    exchanges: Sequence[Exchange], **settings: Any
) -> AbstractAsyncContextManager[Driver[Any, Any]]:
    return expected_protocol(
        HartClassicSource,
        exchanges,
        settings=settings,
        read_termination="\r",
        write_termination="\r",
    )


async def test_identify() -> None:
    async with controller(IDENTIFY) as source:
        who = await source.identify()
    assert (who.manufacturer, who.model, who.serial, who.firmware) == (
        "Hart Scientific",
        "9141",
        "",
        "1.21",
    )


async def test_set_point_is_sent_in_the_unit_shown_and_read_back() -> None:
    async with controller(SET_POINT) as source:
        assert isinstance(source, HartClassicSource)
        await source.set_point(100.0)


async def test_fahrenheit_display_gets_the_set_point_in_fahrenheit() -> None:
    async with controller(FAHRENHEIT_SET_POINT) as source:
        assert isinstance(source, HartClassicSource)
        await source.set_point(100.0)


async def test_a_set_point_the_controller_ignores_is_reported() -> None:
    async with controller(REFUSED_SET_POINT) as source:
        assert isinstance(source, HartClassicSource)
        with pytest.raises(InstrumentReportedError, match="still 50 C") as raised:
            await source.set_point(700.0)
    assert raised.value.code == "s"


async def test_safe_state_sets_the_safe_temperature() -> None:
    async with controller(SAFE_STATE) as source:
        assert isinstance(source, HartClassicSource)
        await source.safe_state()


async def test_safe_temperature_is_configurable() -> None:
    async with controller(
        [CELSIUS, (b"s=25.00\r", None), (b"s\r", b"set: 25.00 C\r\n")], safe_temperature=25.0
    ) as source:
        assert isinstance(source, HartClassicSource)
        await source.safe_state()


async def test_read_gives_control_temperature_and_set_point() -> None:
    async with controller(READ_AT_POWER_ON) as source:
        control, set_point = await source.read()
    assert (control.quantity, control.value, control.unit) == ("temperature", 23.0, "°C")
    assert control.status is Status.UNSTABLE and control.raw == "t: 23.00 C"
    assert (set_point.quantity, set_point.value, set_point.raw) == (
        "set_point",
        50.0,
        "set: 50.00 C",
    )


async def test_fahrenheit_readings_are_converted() -> None:
    async with controller([(b"t\r", b"t: 212.00 F\r\n"), (b"cu\r", b"cu: 1220 F, in\r\n")]) as s:
        assert isinstance(s, HartClassicSource)
        reading = await s.temperature()
    assert reading.value == pytest.approx(100.0) and reading.unit == "°C"


async def test_tripped_cut_out_is_an_overload() -> None:
    async with controller([(b"t\r", b"t: 96.20 C\r\n"), (b"cu\r", b"cu: 95 C, out\r\n")]) as s:
        assert isinstance(s, HartClassicSource)
        with pytest.raises(OverloadError, match=r"cu: 95 C, out"):
            await s.temperature()


async def test_read_keeps_the_temperature_when_cut_out() -> None:
    async with controller(
        [
            (b"t\r", b"t: 96.20 C\r\n"),
            (b"cu\r", b"cu: 95 C, out\r\n"),
            (b"s\r", b"set: 100.00 C\r\n"),
        ]
    ) as source:
        control, _ = await source.read()
    assert (control.value, control.status) == (96.2, Status.OVERLOAD)
    assert control.raw == "t: 96.20 C; cu: 95 C, out"


async def test_without_a_cut_out_only_t_is_asked() -> None:
    async with controller([(b"t\r", b"t: 55.6 C\r\n")], cutout=False) as source:
        assert isinstance(source, HartClassicSource)
        assert (await source.temperature()).value == 55.6


async def test_a_controller_that_never_answers_cu_gets_a_hint() -> None:
    async with controller([(b"t\r", b"t: 55.6 C\r\n"), (b"cu\r", None)]) as source:
        assert isinstance(source, HartClassicSource)
        with pytest.raises(InstrumentTimeout, match="cutout: false"):
            await source.temperature()


async def test_full_duplex_echo_is_named() -> None:
    async with controller([(b"t\r", b"t\r\nt: 55.6 C\r\n")]) as source:
        assert isinstance(source, HartClassicSource)
        with pytest.raises(ProtocolError, match=r"full duplex.*du=h"):
            await source.temperature()


@pytest.mark.parametrize(
    "reply", [b"set: 50.00 C\r\n", b"t: 55.6\r\n", b"t: hot C\r\n", b"55.6 C\r\n"]
)
async def test_a_reply_that_does_not_answer_t_is_refused(reply: bytes) -> None:
    async with controller([(b"t\r", reply)]) as source:
        assert isinstance(source, HartClassicSource)
        with pytest.raises(ProtocolError):
            await source.temperature()


def readings(*values: bytes) -> list[Exchange]:
    return [
        exchange
        for value in values
        for exchange in ((b"t\r", b"t: " + value + b" C\r\n"), CUT_OUT_IN)
    ]


class SteppedClock(Clock):
    """Process time that moves only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.process_time = 0.0

    def elapsed(self) -> float:
        return self.process_time


async def test_stable_once_enough_readings_cover_the_window_within_the_band() -> None:
    """Window 20 s, at least 3 readings, 0.02 °C peak to peak; a reading every 10 s."""
    window = {"stability_window": 20.0, "stability_readings": 3, "stability_band": 0.02}
    async with controller(
        [*readings(b"100.00", b"100.01", b"100.02", b"100.05"), *SET_POINT, *readings(b"100.00")],
        **window,
    ) as source:
        assert isinstance(source, HartClassicSource)
        clock = source.clock = SteppedClock()
        verdicts = []
        for _ in range(4):
            verdicts.append(await source.is_stable())
            clock.process_time += 10.0
        await source.set_point(100.0)  # a new set point starts the window afresh
        verdicts.append(await source.is_stable())
    assert verdicts == [False, False, True, False, False]
