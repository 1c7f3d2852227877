"""Scripted instruments for expected-protocol tests (no simulator behind them).

A script is the exact conversation: what the host must send and what the device answers.
Anything sent out of order, or any exchange left unused, fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from daq.core.clock import Clock
from daq.core.errors import InstrumentReportedError
from drivers.base import Driver
from drivers.transports.stream import MAX_LINE, Streams, StreamTransport

Exchange = tuple[bytes, bytes | None]


class _ScriptedTransport:
    def __init__(self, script: ScriptedStream) -> None:
        self._script = script

    def get_write_buffer_size(self) -> int:
        return 1 if self._script.stuck else 0

    def is_closing(self) -> bool:
        return not self._script.connected

    def abort(self) -> None:
        self._script.connected = False


class _ScriptedWriter:
    def __init__(self, script: ScriptedStream) -> None:
        self._script = script
        self.transport = _ScriptedTransport(script)

    def write(self, data: bytes) -> None:
        self._script.received(data)

    async def drain(self) -> None:
        self._script.drains += 1
        if self._script.stuck:  # the device takes no more bytes
            await asyncio.Event().wait()

    def close(self) -> None:
        self._script.connected = False

    async def wait_closed(self) -> None:
        return None


class ScriptedStream:
    """The far end of a byte stream that follows a script of (host sends, device answers).

    A ``None`` answer means the device stays silent (the host should time out).
    """

    def __init__(self, exchanges: Sequence[Exchange]) -> None:
        self._pending = list(exchanges)
        self._buffer = b""
        self._reader: asyncio.StreamReader | None = None
        self.connected = False
        self.opened = 0
        self.stuck = False
        """The device has stopped taking bytes: writes stay queued (flow control held)."""
        self.drains = 0
        """How often the host waited for its writes to leave."""

    async def opener(self) -> Streams:
        self._reader = asyncio.StreamReader(limit=MAX_LINE)
        self.connected = True
        self.opened += 1
        return self._reader, cast(asyncio.StreamWriter, _ScriptedWriter(self))

    def received(self, data: bytes) -> None:
        self._buffer += data
        while self._pending and self._buffer.startswith(self._pending[0][0]):
            sent, answer = self._pending.pop(0)
            self._buffer = self._buffer[len(sent) :]
            if answer is not None and self._reader is not None:
                self._reader.feed_data(answer)
        if self._buffer and not any(sent.startswith(self._buffer) for sent, _ in self._pending[:1]):
            expected = self._pending[0][0] if self._pending else b"nothing"
            raise AssertionError(f"host sent {self._buffer!r}, script expected {expected!r}")

    def send(self, data: bytes) -> None:
        """The device sends bytes when it is ready (a late reply) rather than on cue."""
        assert self._reader is not None, "the host has not opened the link"
        self._reader.feed_data(data)

    def assert_done(self) -> None:
        assert not self._pending, f"unused exchanges: {self._pending!r}"
        assert not self._buffer, f"unexpected bytes from host: {self._buffer!r}"


@asynccontextmanager
async def expected_protocol(
    driver_class: type[Driver[Any, Any]],
    exchanges: Sequence[Exchange],
    *,
    settings: dict[str, Any] | None = None,
    read_termination: str = "\r\n",
    write_termination: str = "\r\n",
    timeout: float = 0.2,
    retries: int = 0,
) -> AsyncIterator[Driver[Any, Any]]:
    """A driver wired to a scripted stream; checks every exchange was used, in order."""
    script = ScriptedStream(exchanges)
    transport = StreamTransport(
        "scripted",
        script.opener,
        port_key=f"scripted-{id(script)}",
        read_termination=read_termination,
        write_termination=write_termination,
        timeout=timeout,
        retries=retries,
    )
    driver = driver_class(
        "dut", transport, driver_class.Settings.model_validate(settings or {}), Clock()
    )
    yield driver
    script.assert_done()


RegisterCall = tuple[str, int, int | list[int]]
"""(function, address, count or written values); function is read_holding, read_input, write."""
RegisterReply = list[int] | int | None
"""Registers read, a Modbus exception code, or None for a write acknowledged."""


class ScriptedRegisters:
    """A Modbus device that follows a script of (request, reply) at the register level."""

    name = "scripted-modbus"

    def __init__(self, exchanges: Sequence[tuple[RegisterCall, RegisterReply]]) -> None:
        self._pending = list(exchanges)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _answer(self, call: RegisterCall) -> list[int]:
        if not self._pending:
            raise AssertionError(f"host sent {call!r}, script expected nothing")
        expected, reply = self._pending.pop(0)
        if call != expected:
            raise AssertionError(f"host sent {call!r}, script expected {expected!r}")
        if isinstance(reply, int):
            raise InstrumentReportedError(f"Modbus exception {reply}", reply)
        return reply or []

    async def read_holding_registers(self, address: int, count: int) -> list[int]:
        return self._answer(("read_holding", address, count))

    async def read_input_registers(self, address: int, count: int) -> list[int]:
        return self._answer(("read_input", address, count))

    async def write_registers(self, address: int, values: list[int]) -> None:
        self._answer(("write", address, list(values)))

    def assert_done(self) -> None:
        assert not self._pending, f"unused exchanges: {self._pending!r}"
