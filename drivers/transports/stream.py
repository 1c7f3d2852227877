"""Line transport over a byte stream: serial ports, ptys, pyserial URLs and raw TCP sockets."""

from __future__ import annotations

import asyncio
import contextlib
import termios
from collections.abc import Awaitable, Callable

import serial
import serial_asyncio_fast

from daq.core.errors import ConnectionLost, InstrumentTimeout, ProtocolError
from drivers.transports.base import Backoff, port_lock, trace_log
from drivers.transports.deadline import watch

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Opener = Callable[[], Awaitable[Streams]]

MAX_LINE = 4096


def serial_opener(
    port: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: float = 1
) -> Opener:
    """Open a serial port, a pty or any pyserial URL (socket://, rfc2217://, loop://)."""

    async def open_serial() -> Streams:
        return await serial_asyncio_fast.open_serial_connection(
            url=port,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            limit=MAX_LINE,
        )

    return open_serial


def tcp_opener(host: str, port: int) -> Opener:
    """Open a raw TCP socket (instrument LAN ports, serial device servers)."""

    async def open_tcp() -> Streams:
        return await asyncio.open_connection(host, port, limit=MAX_LINE)

    return open_tcp


class StreamTransport:
    """Commands out, reply lines in, over one stream; one exchange at a time per port.

    Timeouts are deadlines (``deadline``), never ``asyncio.wait_for``: on Python 3.11 it can
    swallow a cancellation that arrives as the reply does, and a monitor task would never stop.

    After a timeout or a garbled reply the link is closed and reopened on the next call, so a
    late or partial reply can never be taken as the answer to the next command.
    """

    def __init__(
        self,
        name: str,
        opener: Opener,
        *,
        port_key: str,
        read_termination: str = "\r\n",
        write_termination: str = "\r\n",
        timeout: float = 1.0,
        retries: int = 1,
        encoding: str = "ascii",
        trace: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        if not read_termination:
            raise ValueError("read_termination must not be empty")
        self.name = name
        self._opener = opener
        self._lock = port_lock(port_key)
        self._split = read_termination[-1].encode(encoding)
        self._strip = "\r\n" + read_termination
        self._write_termination = write_termination
        self.timeout = timeout
        self.retries = retries
        self._encoding = encoding
        self._trace = trace
        self._backoff = backoff or Backoff()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._backoff.check()
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await self._opener()
        except (OSError, serial.SerialException, TimeoutError, ValueError, termios.error) as exc:
            # termios.error: the port refuses the line settings (a pty takes no parity)
            reason = f"cannot open {self.name}: {exc or type(exc).__name__}"
            self._backoff.failed(reason)
            raise ConnectionLost(reason) from exc
        self._backoff.succeeded()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, serial.SerialException):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    def _drop(self) -> None:
        """Close the link at once (no await): an exchange cancelled halfway leaves a reply in
        flight that the next exchange must never read as its own."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.transport.abort()  # the command half-sent is discarded, not flushed

    async def write(self, command: str) -> None:
        async with self._lock:
            await self._exchange(command, 0, self.timeout)

    async def read_line(self) -> str:
        async with self._lock:
            return (await self._exchange(None, 1, self.timeout))[0]

    async def query(
        self, command: str, *, retries: int | None = None, timeout: float | None = None
    ) -> str:
        """Send a command and return its reply line; retries timeouts and lost links (the
        loop of ``with_retries``, written out: every coroutine between the monitor and the
        socket is passed through again each time the exchange wakes)."""
        left = self.retries if retries is None else retries
        while True:
            try:
                async with self._lock:
                    return (await self._exchange(command, 1, timeout or self.timeout))[0]
            except (InstrumentTimeout, ConnectionLost):
                if not left:
                    raise
                left -= 1

    async def query_lines(self, command: str, count: int) -> list[str]:
        """Send a command whose reply is ``count`` lines (no retry: it may have side effects)."""
        async with self._lock:
            return await self._exchange(command, count, self.timeout)

    async def _exchange(self, command: str | None, lines: int, timeout: float) -> list[str]:
        """Write ``command`` (if any) and read ``lines`` reply lines, all within one
        ``timeout`` (a deadline, not a timer: ``deadline``), and no wait on the write unless
        the bytes are still queued (a wait that costs a loop pass on every command). Cancelled
        halfway, the link is dropped."""
        try:
            await self.open()
            reader, writer = self._reader, self._writer
            assert reader is not None and writer is not None
            stage = "write"
            replies = []
            try:
                with watch().deadline(timeout):  # the running loop's
                    if command is not None:
                        data = (command + self._write_termination).encode(self._encoding)
                        if self._trace:
                            trace_log.debug("%s > %r", self.name, data)
                        writer.write(data)
                        link = writer.transport
                        if link.get_write_buffer_size() or link.is_closing():
                            await writer.drain()
                    stage = "read"
                    for _ in range(lines):
                        replies.append(await reader.readuntil(self._split))
            except TimeoutError as exc:
                await self.close()
                if stage == "write":
                    message = f"{self.name}: write failed: not taken within {timeout:g} s"
                    raise ConnectionLost(message) from exc
                raise InstrumentTimeout(f"{self.name}: no reply within {timeout:g} s") from exc
            except asyncio.IncompleteReadError as exc:
                await self.close()
                raise ConnectionLost(f"{self.name}: connection closed by the instrument") from exc
            except asyncio.LimitOverrunError as exc:
                await self.close()
                raise ProtocolError(f"{self.name}: reply longer than {MAX_LINE} bytes") from exc
            except (OSError, serial.SerialException) as exc:
                await self.close()
                raise ConnectionLost(f"{self.name}: {stage} failed: {exc}") from exc
        except asyncio.CancelledError:
            self._drop()
            raise
        return [self._decoded(data) for data in replies]

    def _decoded(self, data: bytes) -> str:
        if self._trace:
            trace_log.debug("%s < %r", self.name, data)
        try:
            return data.decode(self._encoding).rstrip(self._strip)
        except UnicodeDecodeError as exc:
            self._drop()  # what follows a garbled reply cannot be trusted to line up
            raise ProtocolError(f"{self.name}: garbled reply {data!r}") from exc
