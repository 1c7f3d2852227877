"""MT-SICS driver against the simulated balance over TCP, a pty and a pyserial socket:// URL."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daq.core.clock import SteppedClock
from daq.core.errors import InstrumentReportedError, OverloadError, UnderloadError
from daq.core.reading import Status
from drivers.mettler_toledo import MtSicsBalance
from drivers.transports.settings import (
    LineConnection,
    SerialConnection,
    TcpConnection,
    open_line_transport,
)
from simulators.mettler_toledo import LEVEL_0_1, MtSicsSettings, MtSicsSimulator
from simulators.servers import PtyLineServer, TcpLineServer

CLOCK = SteppedClock()
"""Settling (time constant 1 s: a 20 g step settles in about 12 s) runs 50 times faster."""
GRAM = 1e-3
"""Agreement expected between a weighing and the load: 20 standard deviations of the noise."""

Bench = tuple[MtSicsBalance, MtSicsSimulator]


def simulator(**settings: Any) -> MtSicsSimulator:
    defaults: dict[str, Any] = {"seed": 1, "time_constant": 1.0, "stable_timeout": 60.0}
    defaults["load"] = 50.0
    return MtSicsSimulator(MtSicsSettings(**(defaults | settings)), CLOCK)


def driver(connection: LineConnection) -> MtSicsBalance:
    transport = open_line_transport("balance", connection)
    return MtSicsBalance("balance", transport, MtSicsBalance.Settings(), CLOCK)


@pytest.fixture(params=["tcp", "pty", "socket-url"])
async def bench(request: pytest.FixtureRequest) -> AsyncIterator[Bench]:
    sim = simulator()
    server: PtyLineServer | TcpLineServer
    connection: LineConnection
    if request.param == "pty":
        server = await PtyLineServer(sim).start()
        connection = SerialConnection(type="serial", port=server.path, timeout=2)
    elif request.param == "tcp":
        server = await TcpLineServer(sim).start()
        connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=2)
    else:
        server = await TcpLineServer(sim).start()
        url = f"socket://127.0.0.1:{server.port}"
        connection = SerialConnection(type="serial", port=url, timeout=2)
    balance = driver(connection)
    yield balance, sim
    await balance.close()
    await server.stop()


async def serve(sim: MtSicsSimulator) -> tuple[MtSicsBalance, TcpLineServer]:
    server = await TcpLineServer(sim).start()
    return driver(TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=2)), server


async def test_identify(bench: Bench) -> None:
    balance, _ = bench
    who = await balance.identify()
    assert (who.manufacturer, who.model) == ("Mettler Toledo", "XS204")
    assert (who.serial, who.firmware) == ("B207696838", "2.10")


async def test_weighing_after_a_load_settles(bench: Bench) -> None:
    balance, sim = bench
    assert (await balance.weigh()).value == pytest.approx(50.0, abs=GRAM)
    sim.place(20.0)
    moving = await balance.weigh(stable=False)
    assert moving.status is Status.UNSTABLE and moving.value < 70.0 - GRAM
    settled = await balance.weigh()  # S waits for stability
    assert settled.status is Status.OK and settled.unit == "g"
    assert settled.value == pytest.approx(70.0, abs=GRAM)
    assert settled.raw == f"S S {settled.value:10.4f} g"


async def test_zero_and_tare(bench: Bench) -> None:
    balance, sim = bench
    sim.remove(49.0)  # 1 g left: inside the ±2 % zero range
    await balance.zero()
    assert sim.gross() == pytest.approx(0.0, abs=GRAM)
    assert (await balance.weigh()).value == pytest.approx(0.0, abs=GRAM)
    sim.place(20.0)
    tare = await balance.tare()
    assert tare.value == pytest.approx(20.0, abs=GRAM) and tare.status is Status.OK
    sim.place(5.0)
    assert (await balance.weigh()).value == pytest.approx(5.0, abs=GRAM)
    await balance.clear_tare()
    assert (await balance.weigh()).value == pytest.approx(25.0, abs=GRAM)
    with pytest.raises(OverloadError, match="range"):  # 25 g is beyond the zero range
        await balance.zero()


async def test_reset_clears_the_tare_but_keeps_the_zero(bench: Bench) -> None:
    balance, sim = bench
    await balance.tare()
    assert sim.net() == pytest.approx(0.0, abs=GRAM)
    assert await balance.reset() == "B207696838"
    assert sim.net() == pytest.approx(50.0, abs=GRAM)


async def test_overload(bench: Bench) -> None:
    balance, sim = bench
    sim.place(200.0)  # 250 g on a 220 g balance
    await CLOCK.sleep(10.0)
    [over] = await balance.read()
    assert math.isnan(over.value) and over.status is Status.OVERLOAD and over.raw == "S +"
    with pytest.raises(OverloadError):
        await balance.weigh()
    sim.remove()
    await CLOCK.sleep(2.0)  # back below capacity: S waits for the rest
    assert (await balance.weigh()).value == pytest.approx(0.0, abs=GRAM)


async def test_underload_with_the_pan_removed(bench: Bench) -> None:
    balance, sim = bench
    sim.remove_pan()
    [under] = await balance.read()
    assert under.status is Status.UNDERLOAD and under.raw == "S -"
    with pytest.raises(UnderloadError):
        await balance.zero()
    sim.restore_pan()
    assert (await balance.read())[0].status is not Status.UNDERLOAD


async def test_a_weight_that_never_settles_answers_s_i() -> None:
    sim = simulator(stable_timeout=2.0, time_constant=1000.0)
    balance, server = await serve(sim)
    sim.place(5.0)
    with pytest.raises(InstrumentReportedError, match="not stable in time") as caught:
        await balance.weigh()
    assert caught.value.code == "I"
    assert (await balance.weigh(stable=False)).status is Status.UNSTABLE
    await balance.close()
    await server.stop()


async def test_weigh_module_error_reaches_the_driver() -> None:
    sim = simulator()
    balance, server = await serve(sim)
    sim.fail("10e")
    with pytest.raises(InstrumentReportedError, match="EEPROM") as caught:
        await balance.read()
    assert caught.value.code == "10e"
    sim.fail(None)
    assert (await balance.read())[0].value == pytest.approx(50.0, abs=GRAM)
    await balance.close()
    await server.stop()


async def test_a_command_missing_from_the_model_profile_is_a_syntax_error() -> None:
    profile = {name: level for name, level in LEVEL_0_1.items() if name != "TI"}
    balance, server = await serve(simulator(commands=profile))
    with pytest.raises(InstrumentReportedError, match="syntax error") as caught:
        await balance.tare_immediately()
    assert caught.value.code == "ES"
    await balance.close()
    await server.stop()


async def exchange(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, sent: bytes
) -> bytes:
    writer.write(sent)
    return await asyncio.wait_for(reader.readuntil(b"\n"), 2)


async def test_a_third_party_client_gets_the_real_replies() -> None:
    sim = simulator(load=100.0, decimals=2, noise=0.0, time_constant=0.0)
    server = await TcpLineServer(sim).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for sent, expected in [
        (b"XYZ\r\n", b"ES\r\n"),
        (b"s\r\n", b"ES\r\n"),  # commands are upper case
        (b"S 5\r\n", b"ES\r\n"),
        (b"S\r\n", b"S S     100.00 g\r\n"),
        (b"SI\r\n", b"S S     100.00 g\r\n"),
        (b"TI\r\n", b"TI S     100.00 g\r\n"),
        (b"TA\r\n", b"TA A     100.00 g\r\n"),
        (b"TA 12.5 g\r\n", b"TA A      12.50 g\r\n"),
        (b"TA 12.5 kg\r\n", b"TA L\r\n"),
        (b"TAC\r\n", b"TAC A\r\n"),
        (b"Z\r\n", b"Z +\r\n"),
        (b"@\r\n", b'I4 A "B207696838"\r\n'),
        (b"\xff\xfe\r\n", b"ET\r\n"),
        (b"I1\r\n", b'I1 A "01" "2.00" "2.20" "1.00" "1.50"\r\n'),
        (b"I2\r\n", b'I2 A "XS204 220.00 g"\r\n'),
        (b"I3\r\n", b'I3 A "2.10 10.28.0.493.142"\r\n'),
    ]:
        assert await exchange(writer, reader, sent) == expected, sent
    writer.write(b"I0\r\n")
    listing = [await reader.readuntil(b"\n") for _ in LEVEL_0_1]
    assert listing[0] == b'I0 B 0 "@"\r\n'
    assert listing[-1] == b'I0 A 1 "TI"\r\n'
    writer.close()
    await server.stop()


async def test_milligram_display_and_the_underload_limit() -> None:
    sim = simulator(unit="mg", decimals=1, noise=0.0, time_constant=0.0, load=0.0)
    server = await TcpLineServer(sim).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    sim.place(0.0123)
    assert await exchange(writer, reader, b"SI\r\n") == b"S S       12.3 mg\r\n"
    sim.remove(4.5)  # below -(2 % of 220 g) - 9 d
    assert await exchange(writer, reader, b"SI\r\n") == b"S -\r\n"
    writer.close()
    await server.stop()
