"""Servers that put a simulated instrument where a driver expects hardware.

Line protocols (MT-SICS, SCPI) are served on TCP sockets and on pty pairs (a real serial
device path); Modbus devices on pymodbus TCP servers and RTU servers behind a virtual
null-modem cable made of two ptys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import termios
import tty
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimDevice
from pymodbus.transport import CommType

from simulators.base import ModbusSimulator
from simulators.faults import ConnectionDropped, Fault

FaultsOf = Callable[[int], frozenset[Fault]]
"""The faults of the simulated device at a Modbus device id."""


class LineProtocol(Protocol):
    """A device's command interpreter: one command line in, exact reply bytes out."""

    def split(self, received: bytes) -> tuple[list[bytes], bytes]:
        """The whole commands in ``received`` and the bytes left to wait on."""
        ...

    async def respond(self, command: bytes) -> bytes:
        """Answer one command; b"" when the device sends nothing back.

        Raises ``ConnectionDropped`` when the connection is to be cut.
        """
        ...


class Server(Protocol):
    @property
    def where(self) -> str: ...

    async def stop(self) -> None: ...


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class _LineSession:
    """Splits the incoming bytes into commands and answers them one at a time, in order."""

    def __init__(
        self,
        protocol: LineProtocol,
        send: Callable[[bytes], Awaitable[None]],
        hang_up: Callable[[], Awaitable[None]],
    ) -> None:
        self._protocol = protocol
        self._send = send
        self._hang_up = hang_up
        self._buffer = b""
        self._commands: asyncio.Queue[bytes] = asyncio.Queue()
        self._worker = asyncio.create_task(self._work())

    def feed(self, data: bytes) -> None:
        commands, self._buffer = self._protocol.split(self._buffer + data)
        for command in commands:
            self._commands.put_nowait(command)

    async def _work(self) -> None:
        while True:
            command = await self._commands.get()
            try:
                reply = await self._protocol.respond(command)
            except ConnectionDropped:
                await self._hang_up()
                return
            if reply:
                await self._send(reply)

    async def close(self) -> None:
        if self._worker is asyncio.current_task():
            return  # hanging up from a command: the worker ends by itself
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker


class TcpLineServer:
    """A line protocol on a TCP port; any number of clients, each with its own session."""

    def __init__(self, protocol: LineProtocol) -> None:
        self._protocol = protocol
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.host = ""
        self.port = 0

    @property
    def where(self) -> str:
        return f"tcp {self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> TcpLineServer:
        self._server = await asyncio.start_server(self._client, host, port, reuse_address=True)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def hang_up() -> None:
            writer.close()

        session = _LineSession(self._protocol, send, hang_up)
        try:
            while data := await reader.read(4096):
                session.feed(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            await session.close()
            writer.close()
            self._sessions.discard(task)

    async def stop(self) -> None:
        """Close the port and drop every client, as a power cut would."""
        if self._server is not None:
            self._server.close()
            for task in list(self._sessions):
                task.cancel()
            await asyncio.gather(*self._sessions, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None


class _Pty:
    """A pseudo-terminal in raw mode; the slave side is a serial port path for clients."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def _link(target: str, link: str | None) -> None:
    if link is None:
        return
    path = Path(link)
    if path.exists() and not path.is_symlink():
        raise FileExistsError(f"{link} exists and is not a simulator link; choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def _unlink(link: str | None) -> None:
    if link is not None and Path(link).is_symlink():
        Path(link).unlink()


class PtyLineServer:
    """A line protocol on a pty: the driver opens ``path`` exactly like a serial port."""

    def __init__(self, protocol: LineProtocol) -> None:
        self._protocol = protocol
        self._pty: _Pty | None = None
        self._session: _LineSession | None = None
        self._link: str | None = None
        self.path = ""

    @property
    def where(self) -> str:
        return f"serial {self._link or self.path}" + (f" -> {self.path}" if self._link else "")

    async def start(self, link: str | None = None) -> PtyLineServer:
        self._pty = pty = _Pty()
        self.path = pty.path
        self._link = link
        _link(pty.path, link)
        loop = asyncio.get_running_loop()

        async def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(pty.master, view) :]
                except BlockingIOError:
                    await asyncio.sleep(0.001)

        async def hang_up() -> None:
            """Unplug: the client's port goes away; a fresh one appears at the same link."""
            await self.stop()
            await self.start(link)

        self._session = session = _LineSession(self._protocol, send, hang_up)

        def readable() -> None:
            try:
                data = os.read(pty.master, 4096)
            except (BlockingIOError, OSError):
                return
            session.feed(data)

        loop.add_reader(pty.master, readable)
        return self

    async def stop(self) -> None:
        if self._pty is not None:
            asyncio.get_running_loop().remove_reader(self._pty.master)
            self._pty.close()
            self._pty = None
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        _unlink(self._link)


class NullModem:
    """Two ptys joined like a null-modem cable: bytes written on one side come out the other."""

    def __init__(self) -> None:
        self.device_side = _Pty()
        self.host_side = _Pty()
        loop = asyncio.get_running_loop()
        loop.add_reader(self.device_side.master, self._relay, self.device_side, self.host_side)
        loop.add_reader(self.host_side.master, self._relay, self.host_side, self.device_side)

    @staticmethod
    def _relay(source: _Pty, sink: _Pty) -> None:
        try:
            data = os.read(source.master, 4096)
            os.write(sink.master, data)
        except (BlockingIOError, OSError):
            return

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for side in (self.device_side, self.host_side):
            loop.remove_reader(side.master)
            side.close()


class _FaultyLink(ServerRequestHandler):
    """One client connection whose outgoing frames suffer the addressed device's link faults.

    ``garbled`` corrupts the frame after its header (on RTU the CRC no longer matches);
    ``drop`` closes a TCP connection, and on RTU sends nothing, as a cut cable would.
    """

    faults_of: FaultsOf
    served: frozenset[int]

    async def handle_request(self) -> None:
        """A request for a device id nobody serves goes unanswered (pymodbus's simulator
        context would answer exception 4), as on a real RS-485 line."""
        if self.last_pdu and self.last_pdu.dev_id not in self.served:
            return
        await super().handle_request()  # type: ignore[no-untyped-call]

    def send(self, data: bytes, addr: tuple[str, int] | None = None) -> None:
        faults = self.faults_of(self.last_pdu.dev_id) if self.last_pdu else frozenset()
        if Fault.DROP in faults:
            if self.comm_params.comm_type == CommType.TCP:
                self.close()
            return
        if Fault.GARBLED in faults:
            header = 7 if self.comm_params.comm_type == CommType.TCP else 1
            data = data[:header] + bytes(byte ^ 0xA5 for byte in data[header:])
        super().send(data, addr)


def _with_link_faults(
    server: ModbusTcpServer | ModbusSerialServer, faults_of: FaultsOf, served: frozenset[int]
) -> None:
    """Make every connection the server accepts a ``_FaultyLink``."""

    def new_connection() -> ServerRequestHandler:
        link = _FaultyLink(  # type: ignore[no-untyped-call]
            server, server.trace_packet, server.trace_pdu, server.trace_connect
        )
        link.faults_of, link.served = faults_of, served
        return link

    server.callback_new_connection = new_connection  # type: ignore[method-assign]


class ModbusServer:
    """Simulated Modbus devices on TCP, or on RTU behind a null modem or a socket:// URL.

    Requests for a device id nobody serves, and requests a device's ``no_reply`` fault
    swallows, go unanswered, as on a real RS-485 line.
    """

    def __init__(self, devices: list[SimDevice], faults_of: FaultsOf | None = None) -> None:
        self._devices = devices
        self._served = frozenset(device.id for device in devices)
        self._faults_of = faults_of or (lambda _device_id: frozenset())

        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._modem: NullModem | None = None
        self._link: str | None = None
        self.where = ""
        self.host = ""
        self.port = 0
        self.path = ""

    @classmethod
    def serving(cls, simulators: dict[int, ModbusSimulator]) -> ModbusServer:
        """A server for these simulators at their device ids, link faults included."""

        def faults_of(device_id: int) -> frozenset[Fault]:
            sim = simulators.get(device_id)
            return sim.faults if sim is not None else frozenset()

        devices = [sim.sim_device(device_id) for device_id, sim in simulators.items()]
        return cls(devices, faults_of)

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> ModbusServer:
        self.host, self.port = host, port or free_tcp_port(host)
        self._server = ModbusTcpServer(
            self._devices, address=(host, self.port), ignore_missing_devices=True
        )
        _with_link_faults(self._server, self._faults_of, self._served)
        self.where = f"modbus-tcp {host}:{self.port}"
        await self._serve()
        return self

    async def start_rtu(
        self, link: str | None = None, *, baudrate: int = 9600, parity: str = "N"
    ) -> ModbusServer:
        """RTU framing on a pty pair; clients open ``path`` (or ``link``) as an RS-485 port."""
        self._modem = NullModem()
        self.path = self._modem.host_side.path
        self._link = link
        _link(self.path, link)
        self._server = ModbusSerialServer(
            self._devices,
            framer=FramerType.RTU,
            port=self._modem.device_side.path,
            baudrate=baudrate,
            parity=parity,
            ignore_missing_devices=True,
        )
        _with_link_faults(self._server, self._faults_of, self._served)
        self.where = f"modbus-rtu {link or self.path}" + (f" -> {self.path}" if link else "")
        await self._serve()
        return self

    async def _serve(self) -> None:
        assert self._server is not None
        self._task = asyncio.create_task(self._server.serve_forever())
        for _ in range(200):
            if self._server.transport is not None:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError(f"Modbus simulator did not start on {self.where}")

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._modem is not None:
            self._modem.close()
            self._modem = None
        _unlink(self._link)
