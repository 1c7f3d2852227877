"""Generic int16 transmitter against its simulator over Modbus RTU and TCP."""

from __future__ import annotations

import asyncio
import math

import pytest
import serial

from daq.core.clock import SteppedClock
from daq.core.errors import OverloadError, UnderloadError
from daq.core.reading import Status
from drivers.modbus_transmitter import ModbusTransmitter
from drivers.transports.settings import (
    ModbusRtuConnection,
    ModbusTcpConnection,
    open_modbus_transport,
)
from simulators.faults import Fault
from simulators.modbus_transmitter import ModbusTransmitterSimulator, TransmitterSettings
from simulators.servers import ModbusServer

CLOCK = SteppedClock()


def simulator(**settings: object) -> ModbusTransmitterSimulator:
    return ModbusTransmitterSimulator(
        TransmitterSettings.model_validate({"seed": 3, "noise": 0.0, **settings}), CLOCK
    )


async def test_rtu_reading_follows_the_applied_pressure() -> None:
    sim = simulator(unit="bar", decimals=3, pressure=2.0, range_max=10.0)
    server = await ModbusServer([sim.sim_device(1)]).start_rtu()
    transport = open_modbus_transport(
        "gauge", ModbusRtuConnection(type="modbus_rtu", port=server.path, timeout=1)
    )
    gauge = ModbusTransmitter("gauge", transport, ModbusTransmitter.Settings(), CLOCK)
    try:
        assert "0.0..10.0 bar" in (await gauge.identify()).model
        assert (await gauge.pressure()).value == pytest.approx(2.0)
        sim.set_pressure(6.5)
        await CLOCK.sleep(20)
        reading = await gauge.pressure()
        assert (reading.value, reading.unit) == (pytest.approx(6.5), "bar")
    finally:
        await gauge.close()
        await server.stop()


async def test_tcp_with_zero_offset() -> None:
    sim = simulator(unit="kPa", decimals=1, pressure=101.3, zero_offset=-3)
    server = await ModbusServer([sim.sim_device(7)]).start_tcp()
    transport = open_modbus_transport(
        "g", ModbusTcpConnection(type="modbus_tcp", host="127.0.0.1", port=server.port, device_id=7)
    )
    gauge = ModbusTransmitter("g", transport, ModbusTransmitter.Settings(), CLOCK)
    try:
        assert (await gauge.pressure()).value == pytest.approx(101.3)
    finally:
        await gauge.close()
        await server.stop()


async def test_third_party_rtu_client_gets_the_reference_frame() -> None:
    sim = simulator(unit="kPa", decimals=0, pressure=18)
    server = await ModbusServer([sim.sim_device(1)]).start_rtu()

    def exchange() -> bytes:
        with serial.Serial(server.path, 9600, timeout=1) as port:
            port.write(bytes.fromhex("01 03 00 04 00 01 c5 cb"))
            return bytes(port.read(7))

    try:
        assert await asyncio.to_thread(exchange) == bytes.fromhex("01 03 02 00 12 38 49")
    finally:
        await server.stop()


async def test_register_saturates_at_the_int16_limits() -> None:
    """Inference: a saturated ADC reads 32767 / -32768; the overload fault forces 32767."""
    sim = simulator(unit="bar", decimals=3, pressure=2.0, time_constant=0.0)
    server = await ModbusServer([sim.sim_device(1)]).start_tcp()
    transport = open_modbus_transport(
        "g", ModbusTcpConnection(type="modbus_tcp", host="127.0.0.1", port=server.port)
    )
    gauge = ModbusTransmitter("g", transport, ModbusTransmitter.Settings(), CLOCK)
    try:
        sim.set_pressure(40.0)  # 40000 counts: beyond the register
        with pytest.raises(OverloadError):
            await gauge.pressure()
        sim.set_pressure(-40.0)
        with pytest.raises(UnderloadError):
            await gauge.pressure()
        [below] = await gauge.read()
        sim.set_pressure(2.0)
        sim.inject(Fault.OVERLOAD)
        forced = await transport.read_holding_registers(0x0004, 1)
        sim.clear()
        back = await gauge.pressure()
    finally:
        await gauge.close()
        await server.stop()
    assert below.status is Status.UNDERLOAD and math.isnan(below.value)
    assert forced == [0x7FFF]
    assert back.value == pytest.approx(2.0)


def test_operator_actions_are_methods() -> None:
    sim = simulator()
    assert sim.actions == ("set_pressure",)
    assert callable(sim.set_pressure)
