"""KELLER Series 30 driver against the simulator over real Modbus TCP and RTU servers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import serial

from daq.core.clock import Clock, SteppedClock
from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    UnderloadError,
)
from daq.core.reading import Reading, Status
from drivers.keller import KellerSeries30
from drivers.transports.settings import (
    ModbusRtuConnection,
    ModbusTcpConnection,
    open_modbus_transport,
)
from simulators.faults import Fault
from simulators.keller import KellerSeries30Simulator
from simulators.servers import ModbusServer

T = TypeVar("T")
QUIET = {"noise": 0.0, "temperature_noise": 0.0}


def transmitter(clock: Clock, **settings: Any) -> KellerSeries30Simulator:
    merged = QUIET | settings
    return KellerSeries30Simulator(KellerSeries30Simulator.Settings(**merged), clock)


def tcp_driver(server: ModbusServer) -> KellerSeries30:
    connection = ModbusTcpConnection.model_validate(
        {"type": "modbus_tcp", "host": server.host, "port": server.port, "timeout": 0.3}
    )
    transport = open_modbus_transport("pt-tcp", connection)
    return KellerSeries30("pt-tcp", transport, KellerSeries30.Settings(), Clock())


def rtu_driver(path: str, device_id: int = 1, **settings: Any) -> KellerSeries30:
    connection = ModbusRtuConnection.model_validate(
        {"type": "modbus_rtu", "port": path, "device_id": device_id, "timeout": 0.3, "retries": 0}
    )
    transport = open_modbus_transport(f"pt-{device_id}", connection)
    return KellerSeries30(
        f"pt-{device_id}", transport, KellerSeries30.Settings(**settings), Clock()
    )


@asynccontextmanager
async def served(start: Awaitable[ModbusServer]) -> AsyncIterator[ModbusServer]:
    server = await start
    try:
        yield server
    finally:
        await server.stop()


async def eventually(attempt: Callable[[], Awaitable[T]]) -> T:
    """The first success of ``attempt``, retried for up to 5 s while the link is still down."""
    async with asyncio.timeout(5):
        while True:
            try:
                return await attempt()
            except (ConnectionLost, InstrumentTimeout):
                await asyncio.sleep(0.1)


def values(readings: list[Reading]) -> tuple[float, float]:
    pressure, temperature = readings
    assert (pressure.quantity, temperature.quantity) == ("pressure", "temperature")
    return pressure.value, temperature.value


async def test_tcp_identify_and_read() -> None:
    sim = transmitter(Clock(), serial_number=87654321, firmware_year=2019, firmware_week=7)
    async with served(ModbusServer([sim.sim_device(1)]).start_tcp()) as server:
        driver = tcp_driver(server)
        identity = await driver.identify()
        readings = await driver.read()
        await driver.close()
    assert (identity.manufacturer, identity.serial, identity.firmware) == (
        "KELLER",
        "87654321",
        "19.07",
    )
    pressure, temperature = values(readings)
    assert pressure == pytest.approx(1.01325, abs=1e-6)
    assert temperature == 22.5
    assert readings[0].raw == "3F81 B22D"
    assert all(r.status is Status.OK for r in readings)


async def test_rtu_separate_requests() -> None:
    sim = transmitter(Clock(), pressure=3.2, temperature=-4.25)
    async with served(ModbusServer([sim.sim_device(1)]).start_rtu()) as server:
        driver = rtu_driver(server.path, single_request=False)
        readings = await driver.read()
        pressure = await driver.pressure()
        temperature = await driver.temperature()
        await driver.close()
    assert values(readings)[0] == pytest.approx(3.2, abs=1e-6)
    assert values(readings)[1] == -4.25
    assert pressure.value == pytest.approx(3.2, abs=1e-6)
    assert temperature.value == -4.25


async def test_a_device_id_nobody_has_stays_silent_on_the_bus() -> None:
    """On RS-485 only the addressed device answers: no exception frame for an absent id."""
    sim = transmitter(Clock())
    async with served(ModbusServer([sim.sim_device(1)]).start_rtu()) as server:

        def exchange(frame: str) -> bytes:
            with serial.Serial(server.path, 9600, timeout=0.5) as port:
                port.write(bytes.fromhex(frame))
                return bytes(port.read(9))

        present = await asyncio.to_thread(exchange, "01 03 00 02 00 02 65 cb")  # id 1: P1
        absent = await asyncio.to_thread(exchange, "07 03 00 02 00 02 65 ad")  # id 7: nobody
        driver = rtu_driver(server.path, device_id=7)
        with pytest.raises(InstrumentTimeout):
            await driver.pressure()
        await driver.close()
    assert present[:3] == bytes.fromhex("01 03 04") and len(present) == 9
    assert absent == b""


async def test_two_transmitters_on_one_rs485_bus_read_concurrently() -> None:
    clock = Clock()
    first, second = transmitter(clock, pressure=1.5), transmitter(clock, pressure=6.0)
    devices = [first.sim_device(1), second.sim_device(2)]
    async with served(ModbusServer(devices).start_rtu()) as server:
        one, two = rtu_driver(server.path, 1), rtu_driver(server.path, 2)
        assert one.transport.port is two.transport.port  # type: ignore[attr-defined]
        batches = await asyncio.gather(*(d.read() for d in [one, two] * 4))
        await one.close()
    pressures = [batch[0].value for batch in batches]
    assert pressures[0::2] == [pytest.approx(1.5, abs=1e-6)] * 4
    assert pressures[1::2] == [pytest.approx(6.0, abs=1e-6)] * 4


async def test_set_pressure_settles_with_its_time_constant() -> None:
    clock = SteppedClock()
    sim = transmitter(clock, time_constant=5.0)
    async with served(ModbusServer([sim.sim_device(1)]).start_tcp()) as server:
        driver = tcp_driver(server)
        sim.set_pressure(5.0)
        await clock.sleep(5.0)  # one time constant
        moving = (await driver.pressure()).value
        await clock.sleep(95.0)  # twenty time constants in all
        settled = await driver.pressure()
        await driver.close()
    assert moving == pytest.approx(5.0 - (5.0 - 1.01325) / math.e, abs=1e-5)  # float32 register
    assert settled.value == pytest.approx(5.0, abs=1e-5)
    assert settled.status is Status.OK


async def test_out_of_range_pressure_reads_plus_and_minus_infinity() -> None:
    sim = transmitter(Clock(), range_min=0.5, range_max=2.0, time_constant=0.0)
    async with served(ModbusServer([sim.sim_device(1)]).start_tcp()) as server:
        driver = tcp_driver(server)
        sim.set_pressure(2.5)
        above, _ = await driver.read()
        with pytest.raises(OverloadError):
            await driver.pressure()
        sim.set_pressure(0.1)
        below, _ = await driver.read()
        with pytest.raises(UnderloadError):
            await driver.pressure()
        await driver.close()
    assert (above.value, above.status, above.raw) == (math.inf, Status.OVERLOAD, "7F80 0000")
    assert (below.value, below.status, below.raw) == (-math.inf, Status.UNDERLOAD, "FF80 0000")


async def test_channel_error_reads_nan() -> None:
    sim = transmitter(Clock())
    async with served(ModbusServer([sim.sim_device(1)]).start_tcp()) as server:
        driver = tcp_driver(server)
        sim.set_channel_error(True)
        pressure, temperature = await driver.read()
        with pytest.raises(InstrumentReportedError, match="channel error"):
            await driver.pressure()
        sim.set_channel_error(False)
        repaired = await driver.pressure()
        await driver.close()
    assert math.isnan(pressure.value) and pressure.status is Status.ERROR
    assert pressure.raw == "7FC0 0000"
    assert temperature.status is Status.OK
    assert repaired.value == pytest.approx(1.01325, abs=1e-6)


async def test_unknown_register_and_function_are_modbus_exceptions() -> None:
    sim = transmitter(Clock())
    async with served(ModbusServer([sim.sim_device(1)]).start_tcp()) as server:
        driver = tcp_driver(server)
        with pytest.raises(InstrumentReportedError) as address:
            await driver.transport.read_holding_registers(0x0300, 2)
        with pytest.raises(InstrumentReportedError) as function:
            await driver.transport.read_input_registers(0x0002, 2)
        await driver.close()
    assert address.value.code == 2
    assert function.value.code == 1


def converse(path: str, exchanges: list[tuple[bytes, int]]) -> list[bytes]:
    """A third-party RTU master: plain pyserial writes each request and reads its reply."""
    with serial.Serial(path, 9600, timeout=1) as port:
        replies = []
        for request, length in exchanges:
            port.write(request)
            replies.append(port.read(length))
        port.timeout = 0.1
        replies.append(port.read(1))  # nothing more may follow
        return replies


async def test_raw_rtu_frames_from_a_third_party_client() -> None:
    sim = transmitter(Clock(), pressure=1.01325)
    async with served(ModbusServer([sim.sim_device(1)]).start_rtu()) as server:
        replies = await asyncio.to_thread(
            converse,
            server.path,
            [
                (b"\x01\x03\x00\x02\x00\x02\x65\xcb", 9),
                (bytes.fromhex("01 03 01 00 00 04 45 f5"), 13),
                (bytes.fromhex("01 03 03 00 00 02 c4 4f"), 5),
            ],
        )
    assert replies == [
        b"\x01\x03\x04\x3f\x81\xb2\x2d\x12\xb2",
        bytes.fromhex("01 03 08 3f 81 b2 2d 41 b4 00 00 a4 45"),
        bytes.fromhex("01 83 02 c0 f1"),
        b"",
    ]


async def test_tcp_server_stopped_then_restarted() -> None:
    sim = transmitter(Clock())
    device = sim.sim_device(1)
    server = await ModbusServer([device]).start_tcp()
    driver = tcp_driver(server)
    try:
        await driver.read()
        await server.stop()
        with pytest.raises((ConnectionLost, InstrumentTimeout)):
            await driver.read()
        server = await ModbusServer([device]).start_tcp(server.host, server.port)
        pressure, _ = await eventually(driver.read)
    finally:
        await driver.close()
        await server.stop()
    assert pressure.value == pytest.approx(1.01325, abs=1e-6)


async def test_rtu_line_cut_then_restored(tmp_path: Path) -> None:
    sim = transmitter(Clock())
    device = sim.sim_device(1)
    link = str(tmp_path / "rs485")
    server = await ModbusServer([device]).start_rtu(link)
    driver = rtu_driver(link)
    try:
        await driver.read()
        await server.stop()
        with pytest.raises((ConnectionLost, InstrumentTimeout)):
            await driver.read()
        server = await ModbusServer([device]).start_rtu(link)
        pressure, _ = await eventually(driver.read)
    finally:
        await driver.close()
        await server.stop()
    assert pressure.value == pytest.approx(1.01325, abs=1e-6)


async def test_overload_fault_reads_overflow_in_every_map() -> None:
    """+inf in the float maps, 2147483647 in the int32 map (reference §3.4.1)."""
    sim = transmitter(Clock())
    sim.inject(Fault.OVERLOAD)
    async with served(ModbusServer([sim.sim_device(1)]).start_tcp()) as server:
        driver = tcp_driver(server)
        ch0_p1 = await driver.transport.read_holding_registers(0x0000, 4)
        p1_int32 = await driver.transport.read_holding_registers(0x0012, 2)
        p1_tob1 = await driver.transport.read_holding_registers(0x0100, 4)
        sim.clear()
        cleared = await driver.pressure()
        await driver.close()
    assert ch0_p1 == [0x7F80, 0, 0x7F80, 0]
    assert p1_int32 == [0x7FFF, 0xFFFF]
    assert p1_tob1[:2] == [0x7F80, 0] and p1_tob1[2:] == [0x41B4, 0]  # TOB1 still 22.5
    assert cleared.value == pytest.approx(1.01325, abs=1e-6)


def test_operator_actions_are_methods() -> None:
    sim = transmitter(Clock())
    assert set(sim.actions) == {"set_pressure", "set_channel_error"}
    assert all(callable(getattr(sim, action)) for action in sim.actions)
