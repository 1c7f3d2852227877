"""Sartorius SBI driver against its simulator over TCP and a pty; every fault."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from daq.core.clock import SteppedClock
from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Status
from drivers.base import Driver
from drivers.sartorius import SartoriusBalance
from drivers.transports.settings import TcpConnection, open_line_transport
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from simulators.sartorius import SartoriusSettings, SartoriusSimulator
from simulators.servers import TcpLineServer
from tests.fault_matrix import FaultCase, check_fault, fault_params


async def test_a_load_settles_then_prints_stable_and_tares_to_zero() -> None:
    clock = SteppedClock()
    sim = SartoriusSimulator(SartoriusSettings(seed=1, time_constant=1.0), clock)
    server = await TcpLineServer(sim).start()
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=1)
    settings = SartoriusBalance.Settings(print_interval=0.02, stable_timeout=30)
    balance = SartoriusBalance("b", open_line_transport("b", connection), settings, clock)
    try:
        sim.place(100.0)
        [first] = await balance.read()
        assert first.status is Status.UNSTABLE and first.value < 100.0  # unit blank
        weight = await balance.weigh()
        assert weight.status is Status.OK and abs(weight.value - 100.0) <= 0.002
        assert re.fullmatch(r"N {5}\+ +\d+\.\d{3} g  ", weight.raw)  # 22 characters, stable
        tared = await balance.tare()
        assert abs(tared.value) <= 0.002
        who = await balance.identify()
        assert (who.model, who.serial) == ("BCE224I-1S", "0037402218")
        sim.remove_pan()
        [low] = await balance.read()
        assert low.status is Status.UNDERLOAD
    finally:
        await balance.close()
        await server.stop()


async def exchange(server: TcpLineServer, *chunks: bytes, replies: int) -> list[bytes]:
    """Send ``chunks`` as separate writes to the simulator over TCP; its ``replies`` lines."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)  # separate segments: a command split across reads
        async with asyncio.timeout(10):
            return [await reader.readuntil(b"\r\n") for _ in range(replies)]
    finally:
        writer.close()


async def test_commands_are_framed_by_escape_with_an_optional_line_end() -> None:
    """Reference §1.2: Format 1 ``ESC <letter>``, Format 2 ``ESC <letter><digit>_``, CR LF
    optional; stray bytes never swallow the next command."""
    sim = SartoriusSimulator(SartoriusSettings(seed=1, noise=0.0), SteppedClock())
    server = await TcpLineServer(sim).start()
    try:
        [bare] = await exchange(server, b"\x1bP", replies=1)  # no CR LF at all
        assert len(bare) == 22 and bare.startswith(b"N     +")
        replies = await exchange(
            server,
            b"\r\n\x00noise",  # stray bytes before any command
            b"\x1b",  # the ESC alone in one segment ...
            b"x1_",  # ... the rest of a Format 2 command in the next
            b"\x1bx2_\r\n\x1bP\x1bx3_",  # with and without CR LF, back to back
            b"\x1b\x1bP",  # a stray ESC before a command
            replies=5,
        )
        assert replies == [b"BCE224I-1S\r\n", b"0037402218\r\n", bare, b"00-20-08\r\n", bare]
    finally:
        await server.stop()


async def test_an_error_is_read_in_the_status_line_form() -> None:
    sim = SartoriusSimulator(SartoriusSettings(seed=1), SteppedClock())
    sim.inject(Fault.ERROR_REPLY)
    server = await TcpLineServer(sim).start()
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=1)
    balance = SartoriusBalance(
        "b", open_line_transport("b", connection), SartoriusBalance.Settings(), sim.clock
    )
    try:
        [line] = await exchange(server, b"\x1bP\r\n", replies=1)
        assert line == b"Stat     ERR 101    \r\n"  # 22 characters with the Stat code
        with pytest.raises(InstrumentReportedError, match="error 101"):
            await balance.weigh()
    finally:
        await balance.close()
        await server.stop()


async def weigh(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, SartoriusBalance)
    return await driver.weigh()


async def never_settles(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """The unit stays blank: weigh gives up after its timeout, read gives unstable values."""
    assert isinstance(driver, SartoriusBalance)
    with pytest.raises(InstrumentReportedError, match="not stable within"):
        await driver.weigh()
    readings = [(await driver.read())[0] for _ in range(3)]
    assert all(r.status is Status.UNSTABLE for r in readings)


def case(name: str, connection: dict[str, Any]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "balance-2",
            "driver": "sartorius_sbi",
            "role": "balance",
            "connection": {**connection, "timeout": 0.3},
            "settings": {"stable_timeout": 1.0, "print_interval": 0.05},
            "simulator": {"seed": 1, "load": 50.0},
        },
        operation=weigh,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: never_settles,
            Fault.OVERLOAD: OverloadError,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    )


CASES = [
    case("sartorius_sbi-tcp", {"type": "tcp", "host": "127.0.0.1", "port": 1}),
    # a pty takes no parity setting: the 7-O-1 line is for the real port
    case("sartorius_sbi-pty", {"type": "serial", "port": "balance-2", "baudrate": 1200}),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
