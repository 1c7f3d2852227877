"""Discovery: find out what answers on serial ports, sockets and Modbus device ids.

Only questions are asked (identity queries, a print, register reads), never a tare, a zero
or a set point. A reply is recognised by pattern, then the family's own driver identifies
the instrument, and the result is written as lab-file YAML the user can paste.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial.tools.list_ports
import yaml

from daq.clock import Clock
from drivers.base import Driver, Identity
from drivers.errors import InstrumentError
from drivers.registry import DRIVERS, driver_class
from drivers.transports.settings import (
    ModbusRtuConnection,
    ModbusTcpConnection,
    SerialConnection,
    TcpConnection,
    open_line_transport,
    open_modbus_transport,
)


@dataclass(frozen=True)
class Probe:
    """A question, and which family's reply it recognises."""

    family: str
    command: str
    reply: re.Pattern[str]
    line: dict[str, Any]
    """Line settings the family needs besides the port (terminators, baud rate)."""


CR = {"read_termination": "\r", "write_termination": "\r"}
PROBES = [
    Probe("druck_pace", "*IDN?", re.compile(r"\*IDN GE Druck,Pace"), {}),
    Probe("fluke_1529", "*IDN?", re.compile(r"(HART|FLUKE),1529,"), {}),
    Probe(
        "fluke_heat_source",
        "*IDN?",
        re.compile(r"(HART|FLUKE),(914\d|917\d|9190A|6109A|7109A),"),
        CR,
    ),
    Probe("mensor_cpc", "ID?", re.compile(r"[ E]MENSOR,"), {}),
    Probe("mt_sics", "I4", re.compile(r'I4 A ".*"'), {}),
    Probe("hart_classic", "*ver", re.compile(r"ver\.\d+"), {**CR, "baudrate": 2400}),
    Probe(
        "sartorius_sbi",
        "\x1bx1_",
        re.compile(r"[A-Z0-9][\w-]{3,}"),
        {"baudrate": 1200, "bytesize": 7, "parity": "O"},
    ),
]
"""Tried in this order: the precise patterns first, Sartorius (any model name) last."""


@dataclass(frozen=True)
class Found:
    family: str
    connection: dict[str, Any]
    identity: Identity
    where: str


async def _identify(family: str, transport: Any, clock: Clock) -> Identity:
    cls = driver_class(family)
    driver: Driver[Any] = cls("scan", transport, cls.Settings(), clock)
    return await driver.identify()


async def probe_line(
    connection: dict[str, Any], where: str, timeout: float, clock: Clock
) -> Found | None:
    """Ask the line at ``connection`` (a serial or tcp connection block) each probe in turn."""
    model = SerialConnection if connection["type"] == "serial" else TcpConnection
    for probe in PROBES:
        if probe.family not in DRIVERS:
            continue
        line = {**connection, **probe.line, "timeout": timeout, "retries": 0}
        if connection["type"] == "tcp":
            line = {k: v for k, v in line.items() if k not in ("baudrate", "bytesize", "parity")}
        transport = open_line_transport("scan", model.model_validate(line))
        try:
            reply = await transport.query(probe.command)
            if probe.reply.match(reply):
                identity = await _identify(probe.family, transport, clock)
                return Found(probe.family, line, identity, where)
        except InstrumentError:
            pass
        finally:
            await transport.close()
    return None


MAPS = (("keller_s30", 0x0202, 2), ("modbus_int16", 0x0000, 7))
"""Register probes: KELLER's serial number; the int16 map's address, unit and decimals."""


def _looks_like(family: str, registers: list[int], device_id: int) -> bool:
    if family == "modbus_int16":
        address, _, unit, decimals = registers[:4]
        return address == device_id and unit <= 8 and decimals <= 4
    return len(registers) == 2


async def probe_modbus(
    connection: dict[str, Any], ids: range, where: str, timeout: float, clock: Clock
) -> list[Found]:
    """Ask each device id on one Modbus port whether it has a KELLER or an int16 map."""
    found = []
    model = ModbusTcpConnection if connection["type"] == "modbus_tcp" else ModbusRtuConnection
    for device_id in ids:
        settings = {**connection, "device_id": device_id, "timeout": timeout, "retries": 0}
        transport = open_modbus_transport("scan", model.model_validate(settings))
        for family, address, count in MAPS:
            try:
                registers = await transport.read_holding_registers(address, count)
                if _looks_like(family, registers, device_id):
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
