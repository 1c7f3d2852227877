"""MT-SICS driver against the simulated balance over a real TCP socket, a pty and a URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daq.clock import Clock
from daq.reading import Status
from drivers.errors import InstrumentReportedError, UnderloadError
from drivers.mettler_toledo import MtSicsBalance
from drivers.transports.settings import SerialConnection, TcpConnection, open_line_transport
from simulators.mettler_toledo import MtSicsSettings, MtSicsSimulator
from simulators.servers import PtyLineServer, TcpLineServer

CLOCK = Clock(scale=50)


def simulator(**settings: Any) -> MtSicsSimulator:
    return MtSicsSimulator(MtSicsSettings(seed=1, noise=0.0, **settings), CLOCK)


@pytest.fixture(params=["tcp", "pty", "socket-url"])
async def balance(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[MtSicsBalance, MtSicsSimulator]]:
    sim = simulator(load=50.0, stable_timeout=30.0)
    if request.param == "pty":
        server: Any = await PtyLineServer(sim).start()
        connection: Any = SerialConnection(type="serial", port=server.path, timeout=2)
    else:
        server = await TcpLineServer(sim).start()
        connection = (
            TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=2)
            if request.param == "tcp"
            else SerialConnection(
                type="serial", port=f"socket://127.0.0.1:{server.port}", timeout=2
            )
        )
    driver = MtSicsBalance(
        "balance", open_line_transport("balance", connection), MtSicsBalance.Settings(), CLOCK
    )
    yield driver, sim
    await driver.close()
    await server.stop()


async def test_identify(balance: tuple[MtSicsBalance, MtSicsSimulator]) -> None:
    driver, _ = balance
    who = await driver.identify()
    assert (who.model, who.serial) == ("XS205DU", "B207696838")


async def test_weigh_place_zero_tare(balance: tuple[MtSicsBalance, MtSicsSimulator]) -> None:
    driver, sim = balance
    assert (await driver.weigh()).value == pytest.approx(50.0, abs=1e-4)
    sim.place(20.0)
    assert (await driver.weigh(stable=False)).status is Status.UNSTABLE
    settled = await driver.weigh()  # S waits for stability
    assert settled.value == pytest.approx(70.0, abs=1e-4) and settled.status is Status.OK
    tare = await driver.tare()
    assert tare.value == pytest.approx(70.0, abs=1e-4)
    assert (await driver.weigh()).value == pytest.approx(0.0, abs=1e-4)
    await driver.clear_tare()
    sim.remove()
    await driver.weigh()
    await driver.zero()
    assert (await driver.weigh()).value == pytest.approx(0.0, abs=1e-4)


async def test_overload_underload_and_unstable(
    balance: tuple[MtSicsBalance, MtSicsSimulator],
) -> None:
    driver, sim = balance
    sim.place(500.0)
    await asyncio.sleep(0.3)
    [over] = await driver.read()
    assert over.status is Status.OVERLOAD
    sim.remove()
    sim.remove_pan()
    with pytest.raises(UnderloadError):
        await driver.weigh(stable=False)
    sim.restore_pan()


async def test_never_settling_weight_answers_s_i() -> None:
    sim = simulator(load=10.0, stable_timeout=0.5, time_constant=1000.0)
    server = await TcpLineServer(sim).start()
    transport = open_line_transport(
        "b", TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=2)
    )
    driver = MtSicsBalance("b", transport, MtSicsBalance.Settings(), CLOCK)
    sim.place(5.0)
    with pytest.raises(InstrumentReportedError, match="not stable") as caught:
        await driver.weigh()
    assert caught.value.code == "I"
    await driver.close()
    await server.stop()


async def test_third_party_client_gets_the_real_replies() -> None:
    sim = simulator(load=100.0, decimals=2)
    server = await TcpLineServer(sim).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for sent, expected in [
        (b"XYZ\r\n", b"ES\r\n"),
        (b"S\r\n", b"S S     100.00 g\r\n"),
        (b"@\r\n", b'I4 A "B207696838"\r\n'),
        (b"\xff\xfe\r\n", b"ET\r\n"),
        (b"TAC\r\n", b"TAC A\r\n"),
    ]:
        writer.write(sent)
        assert await asyncio.wait_for(reader.readuntil(b"\n"), 2) == expected
    writer.write(b"I0\r\n")
    listing = [await reader.readuntil(b"\n") for _ in range(len(sim.config.commands))]
    assert listing[0] == b'I0 B 0 "@"\r\n' and listing[-1].startswith(b"I0 A 0 ")
    writer.close()
    await server.stop()
