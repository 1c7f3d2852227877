"""Metrology-well driver against the simulated well over TCP and a pty; the simulator's
command interpreter and physics byte for byte (reference §2.4.1, §4.1)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from daq.core.clock import Clock, SteppedClock
from daq.core.errors import InstrumentReportedError, OverloadError
from daq.core.reading import Status
from drivers.fluke_heat_source import FlukeHeatSource, FlukeHeatSourceSettings
from drivers.testing import Exchange
from drivers.transports.settings import (
    LineConnection,
    SerialConnection,
    TcpConnection,
    open_line_transport,
)
from simulators.faults import Fault
from simulators.fluke_heat_source import FlukeHeatSourceSimSettings, FlukeHeatSourceSimulator
from simulators.servers import PtyLineServer, TcpLineServer
from tests.protocol.test_fluke_heat_source import (
    FAHRENHEIT_DISPLAY,
    IDENTIFY,
    OUT_OF_RANGE,
    READ_AT_POWER_ON,
    SAFE_STATE,
    SET_POINT,
)

CLOCK = SteppedClock()
"""Time constant 5 s: a 77 °C step settles to the 0.05 °C limit in about 40 process seconds."""
TIMEOUT = 0.3
LINE = {"read_termination": "\r", "write_termination": "\r", "timeout": TIMEOUT}

Bench = tuple[FlukeHeatSource, FlukeHeatSourceSimulator]


def simulator(clock: Clock = CLOCK, **settings: Any) -> FlukeHeatSourceSimulator:
    defaults: dict[str, Any] = {
        "seed": 4,
        "noise": 0.001,
        "time_constant": 5.0,
        "ambient_time_constant": 50.0,
    }
    return FlukeHeatSourceSimulator(FlukeHeatSourceSimSettings(**(defaults | settings)), clock)


def driver(connection: LineConnection, **settings: Any) -> FlukeHeatSource:
    transport = open_line_transport("well", connection)
    return FlukeHeatSource("well", transport, FlukeHeatSourceSettings(**settings), CLOCK)


@pytest.fixture(params=["tcp", "pty"])
async def bench(request: pytest.FixtureRequest) -> AsyncIterator[Bench]:
    sim = simulator()
    server: TcpLineServer | PtyLineServer
    connection: LineConnection
    if request.param == "tcp":
        server = await TcpLineServer(sim).start()
        connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, **LINE)
    else:
        server = await PtyLineServer(sim).start()
        connection = SerialConnection(type="serial", port=server.path, **LINE)
    source = driver(connection)
    yield source, sim
    await source.close()
    await server.stop()


async def settle(source: FlukeHeatSource, within: float = 600.0) -> None:
    """Poll the well's stability test every 5 process seconds until it passes."""
    deadline = CLOCK.elapsed() + within
    while not await source.is_stable():
        assert CLOCK.elapsed() < deadline, "the well never became stable"
        await CLOCK.sleep(5.0)


# -- the driver against the simulator, over each link -----------------------------------------


async def test_identify(bench: Bench) -> None:
    source, _ = bench
    who = await source.identify()
    assert (who.manufacturer, who.model, who.serial) == ("HART", "9142", "B12345")


async def test_heats_to_the_set_point_and_becomes_stable(bench: Bench) -> None:
    source, sim = bench
    assert not await source.is_stable()  # output off at power-up
    await source.set_point(100.0)
    assert sim.output
    assert (await source.temperature()).value < 90.0  # still heating
    await settle(source)
    assert (await source.temperature()).value == pytest.approx(100.0, abs=0.05)
    assert sim.block_temperature() == pytest.approx(100.0, abs=0.05)
    assert await source.stability() <= 0.05
    control, set_point = await source.read()
    assert control.status is Status.OK and set_point.value == 100.0


async def test_set_point_outside_the_model_range_is_refused(bench: Bench) -> None:
    source, sim = bench
    with pytest.raises(InstrumentReportedError, match="Data out of range") as raised:
        await source.set_point(151.0)  # the 9142 reaches 150 °C
    assert raised.value.code == -222
    assert not sim.output
    assert await source.errors() == []


async def test_safe_state_lets_the_block_drift_to_ambient(bench: Bench) -> None:
    source, sim = bench
    await source.set_point(60.0)
    await settle(source)
    await source.safe_state()
    assert not sim.output and not await source.is_stable()
    hot = (await source.temperature()).value
    await CLOCK.sleep(50.0)  # one ambient time constant
    cooler = (await source.temperature()).value
    assert cooler == pytest.approx(23.0 + (hot - 23.0) / math.e, abs=0.5)


async def test_a_fahrenheit_display_is_switched_to_celsius(bench: Bench) -> None:
    source, sim = bench
    await sim.handle(b"UNIT:TEMP F")
    assert (await source.temperature()).value == pytest.approx(23.0, abs=0.01)
    assert await sim.handle(b"UNIT:TEMP?") == b"C\r"


async def test_configured_stability_limit_reaches_the_well() -> None:
    sim = simulator()
    server = await TcpLineServer(sim).start()
    source = driver(
        TcpConnection(type="tcp", host="127.0.0.1", port=server.port, **LINE),
        stability_limit=0.5,
    )
    try:
        await source.set_point(30.0)
        assert await sim.handle(b"SOUR:STAB:LIM?") == b"0.50\r"
    finally:
        await source.close()
        await server.stop()


async def test_display_error_moves_the_block_not_the_display() -> None:
    sim = simulator(error=0.3)
    server = await TcpLineServer(sim).start()
    source = driver(TcpConnection(type="tcp", host="127.0.0.1", port=server.port, **LINE))
    try:
        await source.set_point(80.0)
        await settle(source)
        assert (await source.temperature()).value == pytest.approx(80.0, abs=0.05)
        assert sim.block_temperature() == pytest.approx(79.7, abs=0.05)
    finally:
        await source.close()
        await server.stop()


async def test_overload_cuts_the_heater_out(bench: Bench) -> None:
    source, sim = bench
    await source.set_point(50.0)
    sim.inject(Fault.OVERLOAD)
    with pytest.raises(OverloadError, match='500,"Control sensor over range'):
        await source.temperature()
    assert not sim.output
    control, _ = await source.read()
    assert math.isnan(control.value) and control.status is Status.OVERLOAD
    with pytest.raises(InstrumentReportedError, match="Settings conflict"):
        await source.set_point(50.0)  # OUTP:STAT 1 refused while cut out
    sim.clear()
    assert (await source.temperature()).value < 50.0
    await source.set_point(50.0)
    assert sim.output


# -- a third-party client on the raw socket ---------------------------------------------------


async def test_third_party_client_sees_cr_terminated_replies() -> None:
    server = await TcpLineServer(simulator(noise=0.0)).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

    async def ask(command: bytes) -> bytes:
        writer.write(command)
        return await asyncio.wait_for(reader.readuntil(b"\r"), 2)

    try:
        assert await ask(b"*IDN?\r") == b"HART,9142,B12345,1.00\r"
        assert await ask(b"source:sense:data?\n") == b"23.000\r"  # LF ends a command too
        writer.write(b"SOUR:SPO 500\r\nBOGUS\r")
        assert await ask(b"SYST:ERR?\r") == b'-222,"Data out of range"\r'
        assert await ask(b"SYST:ERR?\r\n") == b'-113,"Undefined header"\r'
        assert await ask(b"SYST:ERR?\r") == b'0,"No error"\r'
    finally:
        writer.close()
        await server.stop()


# -- the simulator's command interpreter ------------------------------------------------------


async def exchange(sim: FlukeHeatSourceSimulator, command: bytes) -> tuple[bytes, bytes]:
    """The reply to ``command`` and the error queue entry it left (or the empty-queue reply)."""
    reply = await sim.handle(command)
    return reply, (await sim.handle(b"SYST:ERR?")).rstrip(b"\r")


@pytest.mark.parametrize(
    ("command", "reply", "error"),
    [
        (b"*IDN?", b"HART,9142,B12345,1.00\r", b'0,"No error"'),
        (b"SOUR:SPO?", b"23.00\r", b'0,"No error"'),
        (b"SOURCE:SPOINT?", b"23.00\r", b'0,"No error"'),
        (b"SOUR:SENS:DATA?", b"23.000\r", b'0,"No error"'),
        (b"SOUR:SENS:DATA? TEMP", b"23.000\r", b'0,"No error"'),
        (b"SOUR:SENS:DATA? RES", b"108.9585\r", b'0,"No error"'),
        (b"SOUR:STAB:TEST?", b"0\r", b'0,"No error"'),
        (b"SOUR:STAB:LIM?", b"0.05\r", b'0,"No error"'),
        (b"SOUR:STAB:DAT?", b"0.000\r", b'0,"No error"'),
        (b"OUTP:STAT?", b"0\r", b'0,"No error"'),
        (b"output:state?", b"0\r", b'0,"No error"'),
        (b"UNIT:TEMP?", b"C\r", b'0,"No error"'),
        (b"SOUR:SPO 150", b"", b'0,"No error"'),
        (b"SOUR:SPO -25", b"", b'0,"No error"'),
        (b"SOUR:SPO 150.01", b"", b'-222,"Data out of range"'),
        (b"SOUR:SPO -25.5", b"", b'-222,"Data out of range"'),
        (b"SOUR:SPO hot", b"", b'-104,"Data type error"'),
        (b"SOUR:SPO", b"", b'-109,"Missing parameter"'),
        (b"SOUR:SPO 1,2", b"", b'-108,"Parameter not allowed"'),
        (b"SOUR:STAB:LIM 0.005", b"", b'-222,"Data out of range"'),
        (b"SOUR:STAB:LIM 10", b"", b'-222,"Data out of range"'),
        (b"SOUR:SENS:DATA? VOLT", b"", b'-224,"Illegal parameter value"'),
        (b"OUTP:STAT 2", b"", b'-224,"Illegal parameter value"'),
        (b"OUTP:STAT ON", b"", b'0,"No error"'),
        (b"UNIT:TEMP K", b"", b'-224,"Illegal parameter value"'),
        (b"*IDN? 1", b"", b'-108,"Parameter not allowed"'),
        (b"SOUR:SPOI?", b"", b'-113,"Undefined header"'),
        (b"SOUR:TEMP?", b"", b'-113,"Undefined header"'),
        (b"*IDN?;SOUR:SPO?", b"", b'-102,"Syntax error"'),
        (b"SOUR:SPO? \xb0", b"", b'-101,"Invalid character"'),
    ],
)
async def test_interpreter(command: bytes, reply: bytes, error: bytes) -> None:
    assert await exchange(simulator(noise=0.0), command) == (reply, error)


async def test_units_and_reset() -> None:
    sim = simulator(noise=0.0)
    await sim.handle(b"UNIT:TEMP F")
    assert await sim.handle(b"SOUR:SPO?") == b"73.40\r"
    await sim.handle(b"SOUR:SPO 212")  # °F: 100 °C
    await sim.handle(b"OUTP:STAT 1")
    await sim.handle(b"*RST")
    assert await sim.handle(b"UNIT:TEMP?") == b"C\r"
    assert await sim.handle(b"OUTP:STAT?") == b"0\r"
    assert await sim.handle(b"SOUR:SPO?") == b"100.00\r"  # kept


async def test_linefeed_option() -> None:
    assert await simulator(linefeed=True).handle(b"*IDN?") == b"HART,9142,B12345,1.00\r\n"


@pytest.mark.parametrize(
    ("model", "idn", "low", "high"),
    [("9144", "HART,9144", 50.0, 660.0), ("9190A", "FLUKE,9190A", -95.0, 140.0)],
)
async def test_model_identity_and_range(model: str, idn: str, low: float, high: float) -> None:
    sim = simulator(model=model, noise=0.0)
    assert (await sim.handle(b"*IDN?")).startswith(idn.encode())
    assert (sim.minimum, sim.maximum) == (low, high)
    assert await sim.handle(b"SOUR:SPO?") == f"{max(low, 23.0):.2f}\r".encode()


async def test_error_reply_fault_leaves_only_the_queue() -> None:
    sim = simulator(noise=0.0, faults={Fault.ERROR_REPLY})
    assert await exchange(sim, b"SOUR:SENS:DATA?") == (b"", b'-200,"Execution error"')
    await sim.handle(b"*CLS")
    assert await sim.handle(b"SYST:ERR?") == b'0,"No error"\r'


async def test_overshoot_is_the_configured_fraction_of_the_step() -> None:
    clock = SteppedClock()
    sim = simulator(clock, noise=0.0, overshoot=0.2, time_constant=5.0)
    await sim.handle(b"SOUR:SPO 123")
    await sim.handle(b"OUTP:STAT 1")
    peak = 0.0
    for _ in range(80):  # 20 process seconds; the peak comes at about 8 s
        await clock.sleep(0.25)
        peak = max(peak, float(await sim.handle(b"SOUR:SENS:DATA?")))
    assert peak == pytest.approx(123.0 + 0.2 * 100.0, abs=0.5)
    await clock.sleep(60.0)
    assert float(await sim.handle(b"SOUR:SENS:DATA?")) == pytest.approx(123.0, abs=0.01)
    assert await sim.handle(b"SOUR:STAB:TEST?") == b"1\r"


async def test_never_settle_keeps_the_stability_test_failing() -> None:
    sim = simulator(noise=0.0, set_point=23.0)
    await sim.handle(b"OUTP:STAT 1")
    assert await sim.handle(b"SOUR:STAB:TEST?") == b"1\r"  # already at the set point
    sim.inject(Fault.NEVER_SETTLE)
    assert await sim.handle(b"SOUR:STAB:TEST?") == b"0\r"
    assert float(await sim.handle(b"SOUR:STAB:DAT?")) >= 0.2


@pytest.mark.parametrize(
    "script", [IDENTIFY, SET_POINT, OUT_OF_RANGE, SAFE_STATE, READ_AT_POWER_ON, FAHRENHEIT_DISPLAY]
)
async def test_protocol_scripts_replayed_against_the_simulator(script: list[Exchange]) -> None:
    sim = simulator(noise=0.0)
    if script is FAHRENHEIT_DISPLAY:
        await sim.handle(b"UNIT:TEMP F")
    for sent, answer in script:
        assert await sim.handle(sent.rstrip(b"\r")) == (answer or b"")


@pytest.mark.parametrize(
    "settings",
    [
        {"model": "9144", "set_point": 20.0},
        {"minimum": 100.0, "maximum": 50.0},
        {"model": "9999"},
        {"stability_limit": 0.001},
        {"overshoot": 1.0},
        {"tau": 5.0},
    ],
)
def test_simulator_settings_are_validated(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FlukeHeatSourceSimSettings.model_validate(settings)
