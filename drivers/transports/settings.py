"""Connection settings of an instrument, as written in the lab file, and their transports."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:  # the transports load when one is opened, not to read a lab file
    from drivers.transports.base import LineTransport
    from drivers.transports.modbus import ModbusTransport

STANDARD_BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200)
_VISA_RESOURCE = re.compile(r"^(TCPIP\d*::|ASRL|GPIB\d*::|USB\d*::|PRLGX-)", re.IGNORECASE)
VISA_SOCKET = re.compile(r"^TCPIP\d*::([^:]+)::(\d+)::SOCKET$", re.IGNORECASE)

Parity = Literal["N", "E", "O", "M", "S"]


def _stop_bits(value: float) -> float:
    if value not in (1, 1.5, 2):
        raise ValueError("stop bits must be 1, 1.5 or 2")
    return value


StopBits = Annotated[float, AfterValidator(_stop_bits)]
Timeout = Annotated[float, Field(gt=0, le=300, description="seconds to wait for a reply")]
Retries = Annotated[int, Field(ge=0, le=10, description="extra attempts after a timeout")]


class _Connection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: Timeout = 1.0
    retries: Retries = 1
    trace: bool = Field(False, description="log every byte sent and received")


class _LineSettings(_Connection):
    read_termination: str = Field("\r\n", min_length=1)
    write_termination: str = "\r\n"


class _SerialLine(BaseModel):
    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Parity = "N"
    stopbits: StopBits = 1

    @field_validator("baudrate")
    @classmethod
    def _standard_rate(cls, value: int) -> int:
        if value not in STANDARD_BAUD_RATES:
            raise ValueError(f"{value} is not a standard baud rate {STANDARD_BAUD_RATES}")
        return value


class SerialConnection(_LineSettings, _SerialLine):
    """A serial port, pty, or pyserial URL (socket://host:port, rfc2217://host:port)."""

    type: Literal["serial"]
    port: str = Field(min_length=1)


class TcpConnection(_LineSettings):
    """A raw TCP socket (instrument LAN port or a serial device server)."""

    type: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(ge=0, le=65535)


class VisaConnection(_LineSettings, _SerialLine):
    """A VISA resource string; the serial settings apply to ASRL resources only."""

    type: Literal["visa"]
    resource: str
    backend: str = "@py"
    read_termination: str = Field("\n", min_length=1)
    write_termination: str = "\n"

    @field_validator("resource")
    @classmethod
    def _known_resource(cls, value: str) -> str:
        if not _VISA_RESOURCE.match(value):
            raise ValueError(
                f"{value!r} is not a VISA resource string; expected e.g. "
                "'TCPIP::192.168.1.20::5025::SOCKET' or 'ASRL/dev/ttyUSB0::INSTR'"
            )
        return value


class ModbusTcpConnection(_Connection):
    type: Literal["modbus_tcp"]
    host: str = Field(min_length=1)
    port: int = Field(502, ge=0, le=65535)
    device_id: int = Field(1, ge=0, le=255)


class ModbusRtuConnection(_Connection, _SerialLine):
    """An RS-485 line; several devices may share it, each with its own device id."""

    type: Literal["modbus_rtu"]
    port: str = Field(min_length=1)
    device_id: int = Field(1, ge=1, le=247)


class ManualConnection(BaseModel):
    """No interface: the operator reads the instrument and types the reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["manual"]
    answer_timeout: float | None = Field(None, gt=0, description="seconds to wait for an answer")
    """None waits as long as the operator needs."""


LineConnection = SerialConnection | TcpConnection | VisaConnection
ModbusConnection = ModbusTcpConnection | ModbusRtuConnection
Connection = Annotated[
    LineConnection | ModbusConnection | ManualConnection, Field(discriminator="type")
]


def describe(connection: LineConnection | ModbusConnection | ManualConnection) -> str:
    """Where an instrument is, in one short line for tables and messages."""
    match connection:
        case SerialConnection(port=port):
            return f"serial {port}"
        case TcpConnection(host=host, port=port):
            return f"tcp {host}:{port}"
        case VisaConnection(resource=resource):
            return f"visa {resource}"
        case ModbusTcpConnection(host=host, port=port, device_id=device):
            return f"modbus-tcp {host}:{port} #{device}"
        case ModbusRtuConnection(port=port, device_id=device):
            return f"modbus-rtu {port} #{device}"
        case ManualConnection():
            return "operator entry"
    raise AssertionError(connection)


def visa_socket(connection: VisaConnection) -> tuple[str, int] | None:
    """Host and port of a ``TCPIP::host::port::SOCKET`` resource on the default backend.

    pyvisa-py waits on such a socket with ``select()`` from a thread, which fails for any
    descriptor above 1,024 and costs a thread hop per exchange; the exchange is the same
    bytes over TCP, so the agent talks to it on the event loop instead. A lab that names
    another backend (a vendor's VISA library) keeps pyvisa."""
    if connection.backend != "@py":
        return None
    match = VISA_SOCKET.match(connection.resource)
    return (match[1], int(match[2])) if match else None


def open_line_transport(name: str, connection: LineConnection) -> LineTransport:
    from drivers.transports.stream import StreamTransport, serial_opener, tcp_opener
    from drivers.transports.visa import VisaTransport

    common = {
        "read_termination": connection.read_termination,
        "write_termination": connection.write_termination,
        "timeout": connection.timeout,
        "retries": connection.retries,
        "trace": connection.trace,
    }
    match connection:
        case SerialConnection():
            opener = serial_opener(
                connection.port,
                baudrate=connection.baudrate,
                bytesize=connection.bytesize,
                parity=connection.parity,
                stopbits=connection.stopbits,
            )
            return StreamTransport(name, opener, port_key=connection.port, **common)  # type: ignore[arg-type]
        case TcpConnection():
            key = f"{connection.host}:{connection.port}"
            opener = tcp_opener(connection.host, connection.port)
            return StreamTransport(name, opener, port_key=key, **common)  # type: ignore[arg-type]
        case VisaConnection() if (socket := visa_socket(connection)) is not None:
            opener = tcp_opener(*socket)
            return StreamTransport(name, opener, port_key=connection.resource, **common)  # type: ignore[arg-type]
        case VisaConnection():
            return VisaTransport(
                name,
                connection.resource,
                backend=connection.backend,
                baudrate=connection.baudrate,
                bytesize=connection.bytesize,
                parity=connection.parity,
                stopbits=connection.stopbits,
                **common,  # type: ignore[arg-type]
            )
    raise AssertionError(connection)


def open_modbus_transport(name: str, connection: ModbusConnection) -> ModbusTransport:
    from drivers.transports.modbus import ModbusTransport, rtu_port, tcp_port

    match connection:
        case ModbusTcpConnection():
            port = tcp_port(
                connection.host, connection.port, timeout=connection.timeout, trace=connection.trace
            )
        case ModbusRtuConnection():
            port = rtu_port(
                connection.port,
                baudrate=connection.baudrate,
                bytesize=connection.bytesize,
                parity=connection.parity,
                stopbits=connection.stopbits,
                timeout=connection.timeout,
                trace=connection.trace,
            )
    return ModbusTransport(name, port, connection.device_id, retries=connection.retries)
