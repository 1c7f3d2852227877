"""Hart classic driver against the simulated controller over TCP and a pty; the simulator's
command interpreter and physics byte for byte (reference §2.4.2)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from daq.core.clock import Clock, SteppedClock
from daq.core.errors import InstrumentReportedError, OverloadError, ProtocolError
from daq.core.reading import Status
from drivers.hart_classic import HartClassicSettings, HartClassicSource
from drivers.testing import Exchange
from drivers.transports.settings import (
    LineConnection,
    SerialConnection,
    TcpConnection,
    open_line_transport,
)
from simulators.faults import Fault
from simulators.hart_classic import HartClassicSimSettings, HartClassicSimulator
from simulators.servers import PtyLineServer, TcpLineServer
from tests.protocol.test_hart_classic import (
    FAHRENHEIT_SET_POINT,
    IDENTIFY,
    READ_AT_POWER_ON,
    REFUSED_SET_POINT,
    SAFE_STATE,
    SET_POINT,
)

CLOCK = SteppedClock()
"""Time constant 5 s: a 50 °C step settles within 0.01 °C in about 45 process seconds."""
LINE = {"read_termination": "\r", "write_termination": "\r", "timeout": 0.5, "baudrate": 2400}
STABILITY = {"stability_window": 10.0, "stability_readings": 5, "stability_band": 0.02}

Bench = tuple[HartClassicSource, HartClassicSimulator]


def simulator(clock: Clock = CLOCK, **settings: Any) -> HartClassicSimulator:
    defaults: dict[str, Any] = {
        "seed": 5,
        "noise": 0.002,
        "time_constant": 5.0,
        "ambient_time_constant": 50.0,
    }
    return HartClassicSimulator(HartClassicSimSettings(**(defaults | settings)), clock)


def still(**settings: Any) -> HartClassicSimulator:
    """A controller on real time, heating so slowly that its temperature shows no change."""
    return simulator(Clock(), noise=0.0, time_constant=1000.0, **settings)


@pytest.fixture(params=["tcp", "pty"])
async def bench(request: pytest.FixtureRequest) -> AsyncIterator[Bench]:
    sim = simulator()
    server: TcpLineServer | PtyLineServer
    connection: LineConnection
    if request.param == "tcp":
        server = await TcpLineServer(sim).start()
        line = {k: v for k, v in LINE.items() if k != "baudrate"}
        connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, **line)
    else:
        server = await PtyLineServer(sim).start()
        connection = SerialConnection(type="serial", port=server.path, **LINE)
    transport = open_line_transport("bath", connection)
    source = HartClassicSource("bath", transport, HartClassicSettings(**STABILITY), CLOCK)
    yield source, sim
    await source.close()
    await server.stop()


async def settle(source: HartClassicSource, within: float = 600.0) -> None:
    """Poll the driver's stability verdict every 2 process seconds until it says stable."""
    deadline = CLOCK.elapsed() + within
    while not await source.is_stable():
        assert CLOCK.elapsed() < deadline, "the controller never became stable"
        await CLOCK.sleep(2.0)


# -- the driver against the simulator, over each link -----------------------------------------


async def test_identify(bench: Bench) -> None:
    source, _ = bench
    who = await source.identify()
    assert (who.manufacturer, who.model, who.firmware) == ("Hart Scientific", "9141", "1.21")


async def test_heats_to_the_set_point_and_becomes_stable(bench: Bench) -> None:
    source, sim = bench
    await source.set_point(100.0)
    assert not await source.is_stable()
    await settle(source)
    assert (await source.temperature()).value == pytest.approx(100.0, abs=0.02)
    assert sim.block_temperature() == pytest.approx(100.0, abs=0.02)
    await CLOCK.sleep(30.0)  # the last of the approach gone, a window of monitoring reads
    for _ in range(6):
        control, set_point = await source.read()
        await CLOCK.sleep(2.0)
    assert control.status is Status.OK and set_point.value == 100.0


async def test_fahrenheit_display(bench: Bench) -> None:
    source, sim = bench
    await sim.handle(b"u=f")
    await source.set_point(100.0)
    assert await sim.handle(b"s") == b"set: 212.00 F\r\n"
    await settle(source)
    assert (await source.temperature()).value == pytest.approx(100.0, abs=0.02)


async def test_set_point_outside_the_range_is_reported(bench: Bench) -> None:
    source, sim = bench
    with pytest.raises(InstrumentReportedError, match=r"s=700\.00 was not taken"):
        await source.set_point(700.0)
    assert await sim.handle(b"s") == b"set: 50.00 C\r\n"


async def test_safe_state_sets_the_safe_temperature(bench: Bench) -> None:
    source, sim = bench
    await source.set_point(120.0)
    await source.safe_state()
    assert await sim.handle(b"s") == b"set: 50.00 C\r\n"


async def test_the_cut_out_trips_above_its_temperature_and_is_reset(bench: Bench) -> None:
    source, sim = bench
    await source.transport.write("cu=60")
    await source.set_point(100.0)
    deadline = CLOCK.elapsed() + 100.0
    with pytest.raises(OverloadError, match="cu: 60 C, out"):
        while CLOCK.elapsed() < deadline:
            await source.temperature()
            await CLOCK.sleep(1.0)
    control, _ = await source.read()
    assert control.status is Status.OVERLOAD and control.value > 55.0
    await CLOCK.sleep(100.0)  # heater off: two ambient time constants
    assert sim.block_temperature() < 60.0
    await source.transport.write("cu=r")
    assert (await source.temperature()).value < 60.0
    assert not sim.cut_out()


async def test_full_duplex_is_named(bench: Bench) -> None:
    source, sim = bench
    await sim.handle(b"du=f")
    with pytest.raises(ProtocolError, match="du=h"):
        await source.temperature()


async def test_display_error_moves_the_block_not_the_display() -> None:
    sim = simulator(error=-0.4)
    server = await TcpLineServer(sim).start()
    line = {k: v for k, v in LINE.items() if k != "baudrate"}
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, **line)
    source = HartClassicSource(
        "bath",
        open_line_transport("bath", connection),
        HartClassicSettings(**STABILITY),
        CLOCK,
    )
    try:
        await source.set_point(80.0)
        await settle(source)
        assert (await source.temperature()).value == pytest.approx(80.0, abs=0.02)
        assert sim.block_temperature() == pytest.approx(80.4, abs=0.02)
    finally:
        await source.close()
        await server.stop()


# -- the simulator's command interpreter ------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"*ver", b"ver.9141,1.21\r\n"),
        (b"*VERSION", b"ver.9141,1.21\r\n"),
        (b"s", b"set: 50.00 C\r\n"),
        (b"SET", b"set: 50.00 C\r\n"),
        (b"setpoint", b"set: 50.00 C\r\n"),
        (b"t", b"t: 23.00 C\r\n"),
        (b"Temp", b"t: 23.00 C\r\n"),
        (b"u", b"u: C\r\n"),
        (b"sr", b"srat: 0.010 C/min\r\n"),
        (b"po", b"po: 100.0\r\n"),  # heating from 23 to 50 °C: full power
        (b"cu", b"cu: 660 C, in\r\n"),
        (b"cutout", b"cu: 660 C, in\r\n"),
        (b"c", b""),
        (b"setpoints", b""),
        (b"bogus", b""),
        (b"t=5", b""),
        (b"po=5", b""),
        (b"s\xb0", b""),
    ],
)
async def test_interpreter(command: bytes, reply: bytes) -> None:
    assert await still().handle(command) == reply


@pytest.mark.parametrize(
    ("setting", "read", "reply"),
    [
        (b"s=100", b"s", b"set: 100.00 C\r\n"),
        (b"S=650", b"s", b"set: 650.00 C\r\n"),
        (b"s=650.01", b"s", b"set: 50.00 C\r\n"),
        (b"s=49", b"s", b"set: 50.00 C\r\n"),
        (b"s=warm", b"s", b"set: 50.00 C\r\n"),
        (b"u=f", b"s", b"set: 122.00 F\r\n"),
        (b"u=k", b"u", b"u: C\r\n"),
        (b"sr=2.5", b"sr", b"srat: 2.500 C/min\r\n"),
        (b"sr=-1", b"sr", b"srat: 0.010 C/min\r\n"),
        (b"cu=105", b"cu", b"cu: 105 C, in\r\n"),
        (b"cu=20", b"cu", b"cu: 20 C, out\r\n"),  # below the block: trips at once
        (b"lf=of", b"u", b"u: C\r"),
        (b"lf=off", b"u", b"u: C\r"),
        (b"du=f", b"u", b"u\r\nu: C\r\n"),
        (b"du=full", b"u", b"u\r\nu: C\r\n"),
    ],
)
async def test_settings_answer_nothing_and_show_in_the_next_read(
    setting: bytes, read: bytes, reply: bytes
) -> None:
    sim = still()
    assert await sim.handle(setting) == b""
    assert await sim.handle(read) == reply


async def test_fahrenheit_set_point_and_scan_rate() -> None:
    sim = still()
    await sim.handle(b"u=f")
    await sim.handle(b"s=212")
    await sim.handle(b"sr=1.8")
    await sim.handle(b"u=c")
    assert await sim.handle(b"s") == b"set: 100.00 C\r\n"
    assert await sim.handle(b"sr") == b"srat: 1.000 C/min\r\n"


async def test_cut_out_reset_only_below_the_cut_out() -> None:
    sim = simulator(noise=0.0, temperature=80.0, set_point=80.0)
    await sim.handle(b"cu=70")
    assert await sim.handle(b"cu") == b"cu: 70 C, out\r\n"
    assert await sim.handle(b"po") == b"po: 0.0\r\n"
    await sim.handle(b"cu=r")
    assert sim.cut_out()  # still 80 °C: stays tripped
    await sim.handle(b"cu=100")
    await sim.handle(b"cu=reset")
    assert await sim.handle(b"cu") == b"cu: 100 C, in\r\n"


async def test_operator_actions() -> None:
    sim = still()
    sim.trip_cutout()
    assert await sim.handle(b"cu") == b"cu: 660 C, out\r\n"
    assert sim.reset_cutout()
    sim.set_ambient(30.0)
    assert sim.block_temperature() == pytest.approx(23.0)  # heating to 50: ambient is moot


async def test_faults_in_the_controllers_terms() -> None:
    sim = simulator(noise=0.0)
    sim.inject(Fault.OVERLOAD)
    assert await sim.handle(b"cu") == b"cu: 660 C, out\r\n"
    sim.clear()
    sim.inject(Fault.ERROR_REPLY)
    assert await sim.handle(b"s=100") == b""
    assert await sim.handle(b"s") == b"set: 50.00 C\r\n"  # refused, reads still answered
    sim.clear()
    sim.inject(Fault.NEVER_SETTLE)
    readings = []
    for _ in range(8):
        await CLOCK.sleep(1.0)
        readings.append(float((await sim.handle(b"t")).split()[1]))
    assert max(readings) - min(readings) > 0.1


async def test_cooling_to_ambient_when_cut_out() -> None:
    clock = SteppedClock()
    sim = simulator(clock, noise=0.0, temperature=100.0, set_point=100.0)
    sim.trip_cutout()
    await clock.sleep(50.0)  # one ambient time constant
    assert sim.block_temperature() == pytest.approx(23.0 + 77.0 / math.e, abs=1e-9)


@pytest.mark.parametrize(
    "script",
    [IDENTIFY, SET_POINT, REFUSED_SET_POINT, FAHRENHEIT_SET_POINT, SAFE_STATE, READ_AT_POWER_ON],
)
async def test_protocol_scripts_replayed_against_the_simulator(script: list[Exchange]) -> None:
    sim = still()
    if script is FAHRENHEIT_SET_POINT:
        await sim.handle(b"u=f")
    for sent, answer in script:
        assert await sim.handle(sent.rstrip(b"\r")) == (answer or b"")


@pytest.mark.parametrize(
    "settings",
    [
        {"set_point": 20.0},
        {"minimum": 100.0, "maximum": 50.0},
        {"model": "91 41"},
        {"scan_rate": 0.0},
        {"overshoot": -0.1},
        {"duplex": "full"},
    ],
)
def test_simulator_settings_are_validated(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HartClassicSimSettings.model_validate(settings)
