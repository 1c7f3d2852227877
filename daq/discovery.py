"""Discovery: find out what answers on serial ports, sockets and Modbus device ids.

Only questions are asked (identity queries, a print, register reads), never a tare, a zero
or a set point. Each driver family declares its own probe (``Driver.probe``), a plugin's
too; a reply is recognised by pattern, then the family's own driver identifies the
instrument, and the result is written as lab-file YAML the user can paste.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial.tools.list_ports
import yaml

from daq.core.clock import Clock
from daq.core.errors import InstrumentError
from drivers.base import Driver, Identity, LineProbe, RegisterProbe
from drivers.registry import driver_class, families
from drivers.transports.settings import (
    ModbusRtuConnection,
    ModbusTcpConnection,
    SerialConnection,
    TcpConnection,
    open_line_transport,
    open_modbus_transport,
)


def _probes() -> tuple[list[tuple[str, LineProbe]], list[tuple[str, RegisterProbe]]]:
    """Every installed family's probe, line and register, in the order they are tried."""
    line: list[tuple[str, LineProbe]] = []
    registers: list[tuple[str, RegisterProbe]] = []
    for family in families():
        probe = driver_class(family).probe
        if isinstance(probe, LineProbe):
            line.append((family, probe))
        elif isinstance(probe, RegisterProbe):
            registers.append((family, probe))
    line.sort(key=lambda found: found[1].order)
    registers.sort(key=lambda found: found[1].order)
    return line, registers


@dataclass(frozen=True)
class Found:
    family: str
    connection: dict[str, Any]
    identity: Identity
    where: str


async def _identify(family: str, transport: Any, clock: Clock) -> Identity:
    cls = driver_class(family)
    driver: Driver[Any, Any] = cls("scan", transport, cls.Settings(), clock)
    return await driver.identify()


async def probe_line(
    connection: dict[str, Any], where: str, timeout: float, clock: Clock
) -> Found | None:
    """Ask the line at ``connection`` (a serial or tcp connection block) each probe in turn."""
    model = SerialConnection if connection["type"] == "serial" else TcpConnection
    for family, probe in _probes()[0]:
        line = {**connection, **probe.line, "timeout": timeout, "retries": 0}
        if connection["type"] == "tcp":
            line = {k: v for k, v in line.items() if k not in ("baudrate", "bytesize", "parity")}
        transport = open_line_transport("scan", model.model_validate(line))
        try:
            reply = await transport.query(probe.command)
            if probe.reply.match(reply):
                identity = await _identify(family, transport, clock)
                return Found(family, line, identity, where)
        except InstrumentError:
            pass
        finally:
            await transport.close()
    return None


async def probe_modbus(
    connection: dict[str, Any], ids: range, where: str, timeout: float, clock: Clock
) -> list[Found]:
    """Ask each device id on one Modbus port whether it holds a register map a family
    recognises as its own (a KELLER serial number, an int16 transmitter's map...)."""
    found = []
    model = ModbusTcpConnection if connection["type"] == "modbus_tcp" else ModbusRtuConnection
    for device_id in ids:
        settings = {**connection, "device_id": device_id, "timeout": timeout, "retries": 0}
        transport = open_modbus_transport("scan", model.model_validate(settings))
        for family, probe in _probes()[1]:
            try:
                registers = await transport.read_holding_registers(probe.address, probe.count)
                if probe.recognises(registers, device_id):
                    identity = await _identify(family, transport, clock)
                    found.append(Found(family, settings, identity, f"{where} #{device_id}"))
                    break
            except InstrumentError:
                continue
    return found


def serial_ports() -> list[str]:
    return [port.device for port in serial.tools.list_ports.comports()]


def parse_ids(text: str) -> range:
    """``1-10`` or ``5``: the Modbus device ids to try."""
    low, _, high = text.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise ValueError(f"{text!r} is not a device id or a range like 1-10") from None
    if not 1 <= first <= last <= 247:
        raise ValueError(f"{text!r}: device ids run from 1 to 247")
    return range(first, last + 1)


async def scan(
    *,
    ports: list[str],
    tcp: list[tuple[str, int]],
    modbus_tcp: list[tuple[str, int]],
    modbus_rtu: list[str],
    ids: range,
    timeout: float,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Found]:
    """Probe everything given; different ports concurrently, one port at a time inside."""
    clock = Clock()

    async def line(connection: dict[str, Any], where: str) -> list[Found]:
        progress(where)
        result = await probe_line(connection, where, timeout, clock)
        return [result] if result else []

    async def bus(connection: dict[str, Any], where: str) -> list[Found]:
        progress(where)
        return await probe_modbus(connection, ids, where, timeout, clock)

    jobs = [line({"type": "serial", "port": p}, f"serial {p}") for p in ports]
    jobs += [line({"type": "tcp", "host": h, "port": p}, f"tcp {h}:{p}") for h, p in tcp]
    jobs += [
        bus({"type": "modbus_tcp", "host": h, "port": p}, f"modbus-tcp {h}:{p}")
        for h, p in modbus_tcp
    ]
    jobs += [bus({"type": "modbus_rtu", "port": p}, f"modbus-rtu {p}") for p in modbus_rtu]
    results = await asyncio.gather(*jobs)
    return [found for group in results for found in group]


def snippet(found: list[Found]) -> str:
    """Lab-file ``instruments:`` entries for what was found."""
    counts: dict[str, int] = {}
    entries = []
    for item in found:
        cls = driver_class(item.family)
        counts[item.family] = counts.get(item.family, 0) + 1
        connection = {k: v for k, v in item.connection.items() if k != "retries"}
        who = item.identity
        entries.append(
            {
                "id": f"{item.family.replace('_', '-')}-{counts[item.family]}",
                "description": f"{who.manufacturer} {who.model} {who.serial}".strip(),
                "driver": item.family,
                "role": sorted(cls.roles)[0],
                "connection": connection,
            }
        )
    return yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)
