"""1529 driver against the simulated readout over VISA (socket and serial) and a plain pty;
the simulator's command interpreter byte for byte, as any third-party client sees it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daq.core.clock import Clock, SteppedClock
from daq.core.errors import InstrumentReportedError
from drivers.fluke_1529 import Fluke1529, Fluke1529Settings
from drivers.testing import Exchange
from drivers.transports.settings import SerialConnection, VisaConnection, open_line_transport
from simulators.faults import Fault
from simulators.fluke_1529 import Fluke1529SimSettings, Fluke1529Simulator
from simulators.servers import PtyLineServer, TcpLineServer
from tests.protocol.test_fluke_1529 import BAD_CHANNEL, EMPTY_QUEUE, IDENTIFY, UNIT_CHANGE

CLOCK = SteppedClock()
TIMEOUT = 0.3


def simulator(clock: Clock = CLOCK, **settings: Any) -> Fluke1529Simulator:
    return Fluke1529Simulator(
        Fluke1529SimSettings(seed=2, noise=0.0, time_constant=2.0, **settings), clock
    )


Readout = tuple[Fluke1529, Fluke1529Simulator]


@pytest.fixture(params=["visa-socket", "visa-serial", "serial"])
async def readout(request: pytest.FixtureRequest) -> AsyncIterator[Readout]:
    sim = simulator()
    server: TcpLineServer | PtyLineServer
    connection: VisaConnection | SerialConnection
    if request.param == "visa-socket":
        server = await TcpLineServer(sim).start()
        connection = VisaConnection(
            type="visa",
            resource=f"TCPIP::127.0.0.1::{server.port}::SOCKET",
            read_termination="\n",
            timeout=TIMEOUT,
        )
    elif request.param == "visa-serial":
        server = await PtyLineServer(sim).start()
        connection = VisaConnection(
            type="visa",
            resource=f"ASRL{server.path}::INSTR",
            read_termination="\n",
            timeout=TIMEOUT,
        )
    else:
        server = await PtyLineServer(sim).start()
        connection = SerialConnection(
            type="serial", port=server.path, write_termination="\n", timeout=TIMEOUT
        )
    transport = open_line_transport("readout", connection)
    driver = Fluke1529("readout", transport, Fluke1529Settings(channels=[1, 2, 3, 4]), CLOCK)
    yield driver, sim
    await driver.close()
    await server.stop()


# -- the driver against the simulator, over each link -----------------------------------------


async def test_identify_and_read_every_channel(readout: Readout) -> None:
    driver, _ = readout
    who = await driver.identify()
    assert (who.manufacturer, who.model, who.serial, who.firmware) == (
        "HART",
        "1529",
        "A12345",
        "1.10",
    )
    readings = await driver.read()
    assert [r.quantity for r in readings] == [f"temperature_ch{n}" for n in (1, 2, 3, 4)]
    assert all(r.value == pytest.approx(23.0) and r.unit == "°C" for r in readings)
    assert readings[0].raw == "23.0000"


async def test_each_channel_follows_its_bath(readout: Readout) -> None:
    driver, sim = readout
    baths = {1: -38.8344, 2: 0.01, 3: 156.5985, 4: 231.928}
    for channel, celsius in baths.items():
        sim.set_temperature(channel, celsius)
    await CLOCK.sleep(30)  # fifteen time constants
    for channel, celsius in baths.items():
        assert (await driver.temperature(channel)).value == pytest.approx(celsius, abs=1e-3)


async def test_unit_change(readout: Readout) -> None:
    driver, _ = readout
    await driver.set_unit("F")
    fahrenheit = await driver.temperature(1)
    await driver.set_unit("K")
    kelvin = await driver.temperature(1)
    assert fahrenheit.value == pytest.approx(73.4) and fahrenheit.unit == "°F"
    assert kelvin.value == pytest.approx(296.15) and kelvin.unit == "K"


async def test_bad_channel_is_reported_by_the_readout(readout: Readout) -> None:
    driver, _ = readout
    with pytest.raises(InstrumentReportedError, match="Data out of range") as caught:
        await driver.temperature(5)
    assert caught.value.code == -222
    assert (await driver.temperature(1)).value == pytest.approx(23.0)  # link still usable
    assert await driver.errors() == []


async def test_channel_without_probe(readout: Readout) -> None:
    driver, sim = readout
    sim.disconnect_probe(3)
    with pytest.raises(InstrumentReportedError, match="stale") as caught:
        await driver.temperature(3)
    assert caught.value.code == -230
    sim.connect_probe(3)
    assert (await driver.temperature(3)).value == pytest.approx(23.0)


async def test_error_queue_overflow(readout: Readout) -> None:
    driver, _ = readout
    for _ in range(12):
        await driver.transport.write("BOGUS")
    errors = await driver.errors()
    assert errors == [(-113, "Undefined header")] * 9 + [(-350, "Queue overflow")]
    assert await driver.errors() == []


async def test_extended_format_read_by_the_driver(readout: Readout) -> None:
    driver, sim = readout
    sim.set_temperature(2, 50.0)
    await driver.transport.write("FORM:STAM ON")
    await CLOCK.sleep(30)
    reading = await driver.temperature(2)
    fields = reading.raw.split(",")
    assert reading.value == pytest.approx(50.0, abs=1e-3) and reading.unit == "°C"
    assert (fields[1], fields[3], fields[7]) == ("2", "C", str(time.localtime().tm_year))


# -- a third-party client on the raw socket ---------------------------------------------------


async def test_third_party_client_on_the_raw_socket() -> None:
    server = await TcpLineServer(simulator()).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

    async def ask(command: bytes) -> bytes:
        writer.write(command)
        return await asyncio.wait_for(reader.readuntil(b"\n"), 2)

    try:
        assert await ask(b"*IDN?\n") == b"HART,1529,A12345,1.10\r\n"
        assert await ask(b"fetch? 2\r") == b"23.0000\r\n"  # CR alone ends a command
        writer.write(b"FETC? 5\r\n" + b"BOGUS\n" * 11)
        expected = [b'-222,"Data out of range"'] + [b'-113,"Undefined header"'] * 8
        for entry in [*expected, b'-350,"Queue overflow"', b'0,"No error"']:
            assert await ask(b"SYSTem:ERRor?\n") == entry + b"\r\n"
        assert await ask(b"MEASure? 1\n") == b"23.0000\r\n"
    finally:
        writer.close()
        await server.stop()


# -- the simulator's command interpreter ------------------------------------------------------


async def exchange(sim: Fluke1529Simulator, command: bytes) -> tuple[bytes, bytes]:
    """The reply to ``command`` and the error queue entry it left (or the empty-queue reply)."""
    reply = await sim.handle(command)
    return reply, (await sim.handle(b"SYST:ERR?")).rstrip(b"\r\n")


@pytest.mark.parametrize(
    ("command", "reply", "error"),
    [
        (b"*IDN?", b"HART,1529,A12345,1.10\r\n", b'0,"No error"'),
        (b"*idn?", b"HART,1529,A12345,1.10\r\n", b'0,"No error"'),
        (b"FETC? 1", b"23.0000\r\n", b'0,"No error"'),
        (b"fetch? 1", b"23.0000\r\n", b'0,"No error"'),
        (b"MEASure? 3", b"23.0000\r\n", b'0,"No error"'),
        (b"READ? 4", b"23.0000\r\n", b'0,"No error"'),
        (b":FETC? 1", b"23.0000\r\n", b'0,"No error"'),
        (b"FETC?", b"23.0000\r\n", b'0,"No error"'),
        (b"UNIT:TEMPerature?", b"C\r\n", b'0,"No error"'),
        (b"ROUT:CLOS? 2", b"1\r\n", b'0,"No error"'),
        (b"TRIGGER:TIMER?", b"1\r\n", b'0,"No error"'),
        (b"FORM:STAM?", b"0\r\n", b'0,"No error"'),
        (b"SYST:ERR:NEXT?", b'0,"No error"\r\n', b'0,"No error"'),
        (b"MEASU? 1", b"", b'-113,"Undefined header"'),
        (b"FETC1?", b"", b'-113,"Undefined header"'),
        (b"FETC? 5", b"", b'-222,"Data out of range"'),
        (b"FETC? 0", b"", b'-222,"Data out of range"'),
        (b"ROUT:CLOS? 9", b"", b'-222,"Data out of range"'),
        (b"FETC? one", b"", b'-104,"Data type error"'),
        (b"FETC? 1,2", b"", b'-108,"Parameter not allowed"'),
        (b"*IDN? 1", b"", b'-108,"Parameter not allowed"'),
        (b"ROUT:CLOS?", b"", b'-109,"Missing parameter"'),
        (b"UNIT:TEMP", b"", b'-109,"Missing parameter"'),
        (b"UNIT:TEMP X", b"", b'-224,"Illegal parameter value"'),
        (b"FORM:STAM MAYBE", b"", b'-224,"Illegal parameter value"'),
        (b"TRIG:TIM 0.05", b"", b'-222,"Data out of range"'),
        (b"*IDN?;FETC? 1", b"", b'-102,"Syntax error"'),
        (b"FETC? 1;", b"", b'-102,"Syntax error"'),
        (b"FETC? \xb01", b"", b'-101,"Invalid character"'),
    ],
)
async def test_interpreter(command: bytes, reply: bytes, error: bytes) -> None:
    assert await exchange(simulator(), command) == (reply, error)


@pytest.mark.parametrize(
    ("requested", "kept"), [(b"0.1", b"0.1"), (b"7", b"5"), (b"45", b"30"), (b"1e6", b"3600")]
)
async def test_scan_timer_rounds_down_and_resets(requested: bytes, kept: bytes) -> None:
    sim = simulator()
    assert await exchange(sim, b"TRIG:TIM " + requested) == (b"", b'0,"No error"')
    assert await sim.handle(b"TRIG:TIM?") == kept + b"\r\n"
    await sim.handle(b"*RST")
    assert await sim.handle(b"TRIG:TIM?") == b"1\r\n"


async def test_unit_change_converts_the_reading() -> None:
    sim = simulator(temperatures=(0.01, 100.0, -40.0, 23.0))
    await sim.handle(b"UNIT:TEMP F")
    assert await sim.handle(b"FETC? 3") == b"-40.0000\r\n"
    await sim.handle(b"unit:temperature k")
    assert await sim.handle(b"UNIT:TEMP?") == b"K\r\n"
    assert await sim.handle(b"FETC? 1") == b"273.1600\r\n"


async def test_extended_format_flags_new_measurements() -> None:
    sim = simulator(clock=Clock(), temperatures=(20.0, 25.0, 30.0, 35.0))
    await sim.handle(b"TRIG:TIM 3600")  # no new measurement during the test
    await sim.handle(b"FORM:STAM ON")
    first = (await sim.handle(b"FETC? 2")).decode()
    again = (await sim.handle(b"FETC? 2")).decode()
    assert first.endswith("\r\n") and len(first.split(",")) == 10
    assert first.split(",")[:4] == ["1", "2", "25.0000", "C"]
    assert again.split(",")[:4] == ["0", "2", "25.0000", "C"]
    assert first.split(",")[7].strip() == str(time.localtime().tm_year)
    await sim.handle(b"FORM:STAM OFF")
    assert await sim.handle(b"FETC? 2") == b"25.0000\r\n"


async def test_fetch_without_channel_gives_the_latest_of_any_channel() -> None:
    sim = simulator(probes=(False, False, True, False), temperatures=(1.0, 2.0, 3.0, 4.0))
    await sim.handle(b"FORM:STAM ON")
    assert (await sim.handle(b"FETC?")).split(b",")[1:3] == [b"3", b"3.0000"]
    assert await sim.handle(b"ROUT:CLOS? 1") == b"0\r\n"
    assert await exchange(sim, b"FETC? 1") == (b"", b'-230,"Data corrupt or stale"')


async def test_clear_empties_the_error_queue() -> None:
    sim = simulator()
    await sim.handle(b"BOGUS")
    await sim.handle(b"*CLS")
    assert await sim.handle(b"SYST:ERR?") == b'0,"No error"\r\n'


@pytest.mark.parametrize("script", [IDENTIFY, EMPTY_QUEUE, BAD_CHANNEL, UNIT_CHANGE])
async def test_protocol_scripts_replayed_against_the_simulator(script: list[Exchange]) -> None:
    sim = simulator()
    for sent, answer in script:
        assert await sim.handle(sent.rstrip(b"\r\n")) == (answer or b"")


def test_operator_methods_refuse_missing_channels() -> None:
    sim = simulator()
    with pytest.raises(ValueError, match="channels 1 to 4"):
        sim.set_temperature(5, 20.0)
    with pytest.raises(ValueError, match="channels 1 to 4"):
        sim.disconnect_probe(0)


async def test_overload_fault_answers_ol_on_every_channel() -> None:
    """Inference after the 1551A (reference §2.3): ``0.0,OL``; extended: ``OL`` as the unit."""
    sim = simulator()
    sim.inject(Fault.OVERLOAD)
    assert await exchange(sim, b"FETC? 1") == (b"0.0,OL\r\n", b'0,"No error"')
    assert await sim.handle(b"MEAS? 4") == b"0.0,OL\r\n"
    await sim.handle(b"FORM:STAM ON")
    assert (await sim.handle(b"FETC? 2")).split(b",")[1:4] == [b"2", b"0.0", b"OL"]
    sim.clear()
    assert (await sim.handle(b"FETC? 2")).split(b",")[1:4] == [b"2", b"23.0000", b"C"]


async def test_error_reply_fault_refuses_all_but_the_error_queue() -> None:
    sim = simulator()
    sim.inject(Fault.ERROR_REPLY)
    device_error = b'-300,"Device-specific error"'
    assert await exchange(sim, b"*IDN?") == (b"", device_error)
    assert await exchange(sim, b"FETC? 1") == (b"", device_error)
    assert await exchange(sim, b"UNIT:TEMP F") == (b"", device_error)
    assert await exchange(sim, b"BOGUS") == (b"", b'-113,"Undefined header"')
    await sim.handle(b"FETC? 1")
    await sim.handle(b"*CLS")
    assert await sim.handle(b"SYST:ERR?") == b'0,"No error"\r\n'
    sim.clear()
    assert await sim.handle(b"UNIT:TEMP?") == b"C\r\n"  # the refused change did not happen


async def test_operator_actions_take_channels_as_the_control_interface_sends_them() -> None:
    """JSON numbers reach the actions as floats: channel 2.0 is channel 2."""
    sim = simulator(clock=Clock(), temperatures=(20.0, 25.0, 30.0, 35.0))
    assert set(sim.actions) == {
        "set_temperature",
        "connect_probe",
        "disconnect_probe",
        "set_probe_error",
    }
    sim.set_probe_error(2.0, 0.5)  # type: ignore[arg-type]
    sim.disconnect_probe(3.0)  # type: ignore[arg-type]
    assert await sim.handle(b"FETC? 2") == b"25.5000\r\n"
    assert await exchange(sim, b"FETC? 3") == (b"", b'-230,"Data corrupt or stale"')
    with pytest.raises(ValueError, match="channels 1 to 4"):
        sim.connect_probe(2.5)  # type: ignore[arg-type]
