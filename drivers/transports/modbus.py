"""Modbus transport: every pymodbus call of the project lives in this module.

One client per physical port (a TCP endpoint or an RS-485 line), shared by every device id on
it and guarded by the port's lock; reconnect with backoff; register conversions for float32
in both word orders and int16 values scaled by a decimals register.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    InstrumentTimeout,
    ProtocolError,
)
from drivers.transports.base import Backoff, loop_registry, port_lock, trace_log

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}

FUNCTION_CODES = {"read_holding_registers": 3, "read_input_registers": 4, "write_registers": 16}


class ModbusPort:
    """One pymodbus client for one physical port, shared by all device ids on it."""

    def __init__(
        self,
        key: str,
        client: AsyncModbusTcpClient | AsyncModbusSerialClient,
        backoff: Backoff | None = None,
    ) -> None:
        self.key = key
        self.client = client
        self.lock = port_lock(key)
        self.backoff = backoff or Backoff()

    async def ensure_connected(self) -> None:
        if self.client.connected:
            return
        self.backoff.check()
        if not await self.client.connect():
            reason = f"cannot connect to Modbus port {self.key}"
            self.backoff.failed(reason)
            raise ConnectionLost(reason)
        self.backoff.succeeded()


def _tracer(key: str) -> object:
    def trace(sending: bool, data: bytes) -> bytes:
        trace_log.debug("%s %s %s", key, ">" if sending else "<", data.hex(" "))
        return data

    return trace


def tcp_port(host: str, port: int, *, timeout: float, trace: bool = False) -> ModbusPort:
    key = f"modbus-tcp://{host}:{port}"
    ports = loop_registry()
    if key not in ports:
        client = AsyncModbusTcpClient(
            host,
            port=port,
            timeout=timeout,
            retries=0,
            reconnect_delay=0,
            trace_packet=_tracer(key) if trace else None,  # type: ignore[arg-type]
        )
        ports[key] = ModbusPort(key, client)
    port_object = ports[key]
    assert isinstance(port_object, ModbusPort)
    return port_object


def rtu_port(
    port: str,
    *,
    baudrate: int,
    bytesize: int,
    parity: str,
    stopbits: float,
    timeout: float,
    trace: bool = False,
) -> ModbusPort:
    """An RS-485 line (device path, pty or pyserial URL such as socket://) speaking RTU."""
    key = f"modbus-rtu:{port}"
    ports = loop_registry()
    if key not in ports:
        client = AsyncModbusSerialClient(
            port,
            framer=FramerType.RTU,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=int(stopbits),
            timeout=timeout,
            retries=0,
            reconnect_delay=0,
            trace_packet=_tracer(key) if trace else None,  # type: ignore[arg-type]
        )
        ports[key] = ModbusPort(key, client)
    port_object = ports[key]
    assert isinstance(port_object, ModbusPort)
    return port_object


class ModbusTransport:
    """Register reads and writes to one device id on a shared port, with bounded retries."""

    def __init__(self, name: str, port: ModbusPort, device_id: int, *, retries: int = 1) -> None:
        self.name = name
        self.port = port
        self.device_id = device_id
        self.retries = retries

    async def open(self) -> None:
        async with self.port.lock:
            await self.port.ensure_connected()

    async def close(self) -> None:
        self.port.client.close()

    # The reads hand back the request itself, not a coroutine awaiting it: one frame less
    # for every wake of a monitored read.
    def read_holding_registers(self, address: int, count: int) -> Coroutine[Any, Any, list[int]]:
        return self._request("read_holding_registers", address, count)

    def read_input_registers(self, address: int, count: int) -> Coroutine[Any, Any, list[int]]:
        return self._request("read_input_registers", address, count)

    async def write_registers(self, address: int, values: list[int]) -> None:
        await self._request("write_registers", address, values)

    async def _request(self, function: str, address: int, arg: int | list[int]) -> list[int]:
        """One request, retried after a timeout or a lost link; a single coroutine (the
        exchange wakes through every frame between the monitor and pymodbus)."""
        left = self.retries
        while True:
            try:
                async with self.port.lock:
                    if not self.port.client.connected:
                        await self.port.ensure_connected()
                    try:
                        response = await self._call(function, address, arg)
                    except ModbusException as exc:
                        raise self._failure(exc, self._where(function, address)) from exc
                    return self._registers(response, function, address)
            except (InstrumentTimeout, ConnectionLost):
                if not left:
                    raise
                left -= 1

    def _where(self, function: str, address: int) -> str:
        return f"{self.name}: {function} at 0x{address:04X} (device {self.device_id})"

    def _call(self, function: str, address: int, arg: int | list[int]) -> Awaitable[ModbusPDU]:
        client = self.port.client
        if function == "write_registers":
            assert isinstance(arg, list)
            return client.write_registers(address, arg, device_id=self.device_id)
        assert isinstance(arg, int)
        call: Callable[..., Awaitable[ModbusPDU]] = getattr(client, function)
        return call(address, count=arg, device_id=self.device_id)

    def _failure(self, exc: ModbusException, where: str) -> Exception:
        """What pymodbus's exception means here; the link is closed unless it still holds."""
        client = self.port.client
        if isinstance(exc, ModbusIOException):
            if not client.connected:
                return ConnectionLost(f"{where}: connection closed by the device")
            return InstrumentTimeout(f"{where}: no reply")
        client.close()
        if isinstance(exc, ConnectionException):
            return ConnectionLost(f"{where}: connection lost")
        return ConnectionLost(f"{where}: {exc}")

    def _registers(self, response: ModbusPDU, function: str, address: int) -> list[int]:
        if response.isError():
            where = self._where(function, address)
            code = getattr(response, "exception_code", None)
            if response.function_code != FUNCTION_CODES[function] | 0x80 or code not in (
                EXCEPTION_NAMES
            ):
                self.port.client.close()  # the next frame cannot be trusted to line up either
                raise ProtocolError(
                    f"{where}: corrupted reply (function 0x{response.function_code:02X}, "
                    f"exception {code})"
                )
            raise InstrumentReportedError(
                f"{where}: Modbus exception {code} ({EXCEPTION_NAMES[code]})", code
            )
        return list(response.registers) if function != "write_registers" else []
