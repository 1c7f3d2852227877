"""The stream transport seam: terminators, timeouts, reconnect with backoff, locks, trace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable

import pytest

from daq.core.errors import ConnectionLost, InstrumentTimeout, ProtocolError
from drivers.testing import ScriptedStream
from drivers.transports.base import Backoff
from drivers.transports.stream import StreamTransport, serial_opener, tcp_opener
from drivers.transports.visa import VisaTransport
from simulators.servers import free_tcp_port


def transport(script: ScriptedStream, **options: object) -> StreamTransport:
    return StreamTransport("dev", script.opener, port_key=f"k{id(script)}", timeout=0.1, **options)  # type: ignore[arg-type]


async def test_query_writes_terminator_and_strips_reply() -> None:
    script = ScriptedStream([(b"S\r\n", b"S S     100.00 g\r\n")])
    assert await transport(script).query("S") == "S S     100.00 g"
    script.assert_done()


async def test_lf_terminated_reply_accepted_when_crlf_configured() -> None:
    script = ScriptedStream([(b"*IDN?\n", b"HART,1529,A1,1.0\n")])
    t = transport(script, write_termination="\n")
    assert await t.query("*IDN?") == "HART,1529,A1,1.0"


async def test_timeout_is_retried_then_raised_and_link_reopened() -> None:
    script = ScriptedStream([(b"S\r\n", None), (b"S\r\n", None)])
    t = transport(script, retries=1)
    with pytest.raises(InstrumentTimeout, match=r"no reply within 0\.1 s"):
        await t.query("S")
    assert script.opened == 2  # closed after the first timeout, reopened for the retry
    script.assert_done()


async def test_retry_after_timeout_returns_the_late_answer_of_a_fresh_exchange() -> None:
    script = ScriptedStream([(b"SI\r\n", None), (b"SI\r\n", b"S D      1.00 g\r\n")])
    assert await transport(script, retries=1).query("SI") == "S D      1.00 g"


async def test_garbled_reply_is_a_protocol_error() -> None:
    script = ScriptedStream([(b"S\r\n", b"\xff\xfe\r\n")])
    with pytest.raises(ProtocolError, match="garbled reply"):
        await transport(script).query("S")


async def test_overlong_reply_is_a_protocol_error() -> None:
    script = ScriptedStream([(b"S\r\n", b"9" * 10000 + b"\r\n")])
    with pytest.raises(ProtocolError, match="longer than"):
        await transport(script).query("S")


async def test_refused_connection_backs_off_exponentially() -> None:
    port = free_tcp_port()
    backoff = Backoff(initial=0.2, maximum=1.0)
    t = StreamTransport(
        "nobody",
        tcp_opener("127.0.0.1", port),
        port_key="x",
        timeout=0.2,
        retries=0,
        backoff=backoff,
    )
    with pytest.raises(ConnectionLost, match="cannot open nobody"):
        await t.query("S")
    with pytest.raises(ConnectionLost, match=r"cannot open nobody.*; next reconnect attempt in"):
        await t.query("S")  # inside the backoff window: no new attempt
    assert backoff.failures == 1
    await asyncio.sleep(0.25)
    with pytest.raises(ConnectionLost, match="cannot open"):
        await t.query("S")
    assert backoff.failures == 2 and backoff.delay() == 0.4


async def test_peer_closing_is_connection_lost() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    t = StreamTransport("dev", tcp_opener("127.0.0.1", port), port_key="y", timeout=1, retries=0)
    with pytest.raises(ConnectionLost, match="closed by the instrument"):
        await t.query("S")
    server.close()


async def test_one_exchange_at_a_time_per_port() -> None:
    script = ScriptedStream([(b"A\r\n", b"a\r\n"), (b"B\r\n", b"b\r\n")] * 5)
    t = transport(script)
    replies = await asyncio.gather(*(t.query(c) for c in "AB" * 5))
    assert replies == ["a", "b"] * 5
    script.assert_done()


async def test_trace_logs_bytes(caplog: pytest.LogCaptureFixture) -> None:
    script = ScriptedStream([(b"Z\r\n", b"Z A\r\n")])
    with caplog.at_level(logging.DEBUG, logger="daq.io"):
        await transport(script, trace=True).query("Z")
    assert "dev > b'Z\\r\\n'" in caplog.text and "dev < b'Z A\\r\\n'" in caplog.text


async def test_a_port_refusing_its_line_settings_is_a_clear_connection_error() -> None:
    """A pty takes no parity: the termios refusal is named, not a traceback."""
    controller, device = os.openpty()
    try:
        t = StreamTransport(
            "balance",
            serial_opener(os.ttyname(device), baudrate=1200, bytesize=7, parity="O"),
            port_key="balance",
            timeout=0.2,
            retries=0,
        )
        with pytest.raises(ConnectionLost, match=r"cannot open balance: \(22, .Invalid argument"):
            await t.query("\x1bP")
        await t.close()
    finally:
        os.close(controller)
        os.close(device)


@contextlib.asynccontextmanager
async def slow_instrument(end: bytes) -> AsyncIterator[tuple[int, list[tuple[bytes, int]]]]:
    """An instrument answering each command lower-cased, ``SLOW?`` after 0.3 s; yields its
    port and each command received with how many replies had been sent by then."""
    seen: list[tuple[bytes, int]] = []
    sent = 0

    async def instrument(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        while line := await reader.readline():
            seen.append((line.strip(), sent))
            if line.strip() == b"SLOW?":
                await asyncio.sleep(0.3)
            writer.write(line.strip().lower().rstrip(b"?") + end)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            sent += 1

    server = await asyncio.start_server(instrument, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


async def cancel_halfway(query: Awaitable[str], seen: list[tuple[bytes, int]]) -> None:
    """Cancel ``query`` once the instrument has its command (however long opening took)."""
    slow = asyncio.ensure_future(query)
    while not seen:
        await asyncio.sleep(0.01)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


async def test_a_cancelled_exchange_leaves_no_reply_for_the_next() -> None:
    """An abort cancels a query halfway; its late reply is never read as the next one's."""
    async with slow_instrument(b"\r\n") as (port, seen):
        t = StreamTransport("x", tcp_opener("127.0.0.1", port), port_key=f"x{port}", timeout=2)
        try:
            await cancel_halfway(t.query("SLOW?"), seen)
            assert await t.query("FAST?") == "fast"  # not "slow", which was in flight
            await asyncio.sleep(0.4)
            assert await t.query("FAST?") == "fast"
        finally:
            await t.close()


async def test_a_cancelled_visa_exchange_frees_the_port_only_once_finished() -> None:
    """The VISA call runs on in its thread after a cancel: the next exchange waits for it,
    so two threads never talk on one socket, and each gets its own reply. (A lab reaches a
    socket through pyvisa when it names another backend; pyvisa-py's serves here.)"""
    async with slow_instrument(b"\n") as (port, seen):
        t = VisaTransport("v", f"TCPIP::127.0.0.1::{port}::SOCKET", timeout=2)
        try:
            await cancel_halfway(t.query("SLOW?"), seen)
            assert await t.query("FAST?") == "fast"
            assert seen == [(b"SLOW?", 0), (b"FAST?", 1)]  # sent only once SLOW? was answered
        finally:
            await t.close()


async def test_no_wait_on_a_write_whose_bytes_have_left() -> None:
    """The write buffer is empty after a short command: no drain, its timer and loop pass."""
    script = ScriptedStream([(b"S\r\n", b"S S 1.00 g\r\n")] * 3)
    t = transport(script)
    for _ in range(3):
        assert await t.query("S") == "S S 1.00 g"
    assert script.drains == 0


async def test_a_device_taking_no_bytes_is_a_lost_link_within_the_timeout() -> None:
    script = ScriptedStream([(b"S\r\n", b"S S 1.00 g\r\n")])
    script.stuck = True
    with pytest.raises(ConnectionLost, match=r"write failed: not taken within 0\.1 s"):
        await transport(script, retries=0).query("S")
    assert script.drains == 1 and not script.connected
