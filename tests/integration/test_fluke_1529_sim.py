"""1529 driver against the simulated readout over VISA (socket and serial) and a plain pty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daq.clock import Clock
from drivers.errors import InstrumentReportedError
from drivers.fluke_1529 import Fluke1529, Fluke1529Settings
from drivers.transports.settings import SerialConnection, VisaConnection, open_line_transport
from simulators.fluke_1529 import Fluke1529SimSettings, Fluke1529Simulator
from simulators.servers import PtyLineServer, TcpLineServer

CLOCK = Clock(scale=100)


def simulator(**settings: Any) -> Fluke1529Simulator:
    return Fluke1529Simulator(Fluke1529SimSettings(seed=2, noise=0.0, **settings), CLOCK)


@pytest.fixture(params=["visa-socket", "visa-serial", "serial"])
async def readout(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Fluke1529, Fluke1529Simulator]]:
    sim = simulator(probes=(True, True, True, False))
    server: Any
    if request.param == "visa-socket":
        server = await TcpLineServer(sim).start()
        resource = f"TCPIP::127.0.0.1::{server.port}::SOCKET"
        connection: Any = VisaConnection(type="visa", resource=resource, timeout=0.5)
    else:
        server = await PtyLineServer(sim).start()
        connection = (
            VisaConnection(type="visa", resource=f"ASRL{server.path}::INSTR", timeout=0.5)
            if request.param == "visa-serial"
            else SerialConnection(
                type="serial", port=server.path, write_termination="\n", timeout=0.5
            )
        )
    transport = open_line_transport("readout", connection)
    driver = Fluke1529("readout", transport, Fluke1529Settings(channels=[1, 2, 3]), CLOCK)
    yield driver, sim
    await driver.close()
    await server.stop()


async def test_identify_and_read_every_channel(
    readout: tuple[Fluke1529, Fluke1529Simulator],
) -> None:
    driver, _ = readout
    assert (await driver.identify()).model == "1529"
    readings = await driver.read()
    assert [r.quantity for r in readings] == [
        "temperature_ch1",
        "temperature_ch2",
        "temperature_ch3",
    ]
    assert all(r.value == pytest.approx(23.0) and r.unit == "°C" for r in readings)


async def test_reading_follows_the_bath(readout: tuple[Fluke1529, Fluke1529Simulator]) -> None:
    driver, sim = readout
    sim.set_temperature(2, 100.0)
    await CLOCK.sleep(60)  # twelve time constants
    assert (await driver.temperature(2)).value == pytest.approx(100.0, abs=1e-3)
    assert (await driver.temperature(1)).value == pytest.approx(23.0, abs=1e-3)


async def test_unit_change(readout: tuple[Fluke1529, Fluke1529Simulator]) -> None:
    driver, _ = readout
    await driver.set_unit("F")
    reading = await driver.temperature(1)
    assert (reading.value, reading.unit) == (pytest.approx(73.4), "°F")


async def test_channel_without_probe_is_reported(
    readout: tuple[Fluke1529, Fluke1529Simulator],
) -> None:
    driver, _ = readout
    with pytest.raises(InstrumentReportedError, match="stale") as caught:
        await driver.temperature(4)
    assert caught.value.code == -230
    assert (await driver.temperature(1)).value == pytest.approx(23.0)  # link still usable


async def test_error_queue_overflow_seen_by_a_third_party_client() -> None:
    sim = simulator()
    server = await TcpLineServer(sim).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"*IDN?\n")
    assert await reader.readuntil(b"\n") == b"HART,1529,A12345,1.10\r\n"
    writer.write(b"FETC? 5\r" + b"BOGUS\n" * 11)
    for expected in [b'-114,"Header suffix out of range"'] + [b'-113,"Undefined header"'] * 8:
        writer.write(b"SYST:ERR?\n")
        assert await asyncio.wait_for(reader.readuntil(b"\n"), 2) == expected + b"\r\n"
    writer.write(b"syst:err?\r\n")
    assert await reader.readuntil(b"\n") == b'-350,"Queue overflow"\r\n'
    writer.write(b"SYSTem:ERRor?\n")
    assert await reader.readuntil(b"\n") == b'0,"No error"\r\n'
    writer.write(b"MEASure? 1\n")
    assert await reader.readuntil(b"\n") == b"23.0000\r\n"
    writer.close()
    await server.stop()
