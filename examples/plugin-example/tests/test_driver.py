"""The plugin's own tests, as a plugin author keeps them beside the plugin (the guide,
docs/ADDING_AN_INSTRUMENT.md, quotes them): the driver against exact byte exchanges, the
same scripts replayed against the simulator, and the driver against its simulator over a
real socket. `make test` runs them with the rest."""

from __future__ import annotations

import math
from typing import Any

import pytest
from benchdaq_keysight_dmm.driver import Keysight344xx, Keysight344xxSettings, Voltmeter
from benchdaq_keysight_dmm.simulator import Keysight344xxSimSettings, Keysight344xxSimulator

from daq.core.clock import SteppedClock
from daq.core.errors import InstrumentReportedError, OverloadError
from daq.core.reading import Status
from drivers.testing import Exchange, expected_protocol
from drivers.transports.settings import VisaConnection, open_line_transport
from simulators.servers import TcpLineServer

NO_ERROR: Exchange = (b"SYST:ERR?\n", b'+0,"No error"\n')
CLEAR: Exchange = (b"*CLS\n", None)
"""Before each configuration: whatever others left in the error queue goes."""
IDENTIFY: list[Exchange] = [
    (b"*IDN?\n", b"Keysight Technologies,34465A,MY12345678,A.03.01-02.40-03.01-00.52-03-01\n")
]
READ_10V: list[Exchange] = [
    CLEAR,
    (b"CONF:VOLT:DC 10\n", None),  # a setting: no reply...
    NO_ERROR,  # ...so the queue says it was taken
    (b"READ?\n", b"+1.00000500E+01\n"),
]
REFUSED_RANGE: list[Exchange] = [
    CLEAR,
    (b"CONF:VOLT:DC 2000\n", None),
    (b"SYST:ERR?\n", b'-222,"Data out of range"\n'),
    NO_ERROR,
]


def meter(exchanges: list[Exchange], **settings: Any):  # type: ignore[no-untyped-def]
    return expected_protocol(
        Keysight344xx, exchanges, settings=settings, read_termination="\n", write_termination="\n"
    )


async def test_read_configures_then_reads() -> None:
    async with meter(READ_10V, range=10) as dmm:
        (reading,) = await dmm.read()
    assert (reading.value, reading.unit, reading.raw) == (10.00005, "V", "+1.00000500E+01")


async def test_a_refused_range_raises_the_queued_error() -> None:
    async with meter(REFUSED_RANGE) as dmm:
        assert isinstance(dmm, Voltmeter)
        with pytest.raises(InstrumentReportedError) as caught:
            await dmm.measure_dc_voltage(2000)
    assert caught.value.code == -222


async def test_over_range_is_an_overload() -> None:
    over = [CLEAR, (b"CONF:VOLT:DC 1\n", None), NO_ERROR, (b"READ?\n", b"+9.90000000E+37\n")]
    async with meter(over) as dmm:
        assert isinstance(dmm, Voltmeter)
        with pytest.raises(OverloadError):
            await dmm.measure_dc_voltage(1)
    async with meter(over, range=1) as dmm:
        (reading,) = await dmm.read()
    assert reading.status is Status.OVERLOAD and math.isnan(reading.value)


@pytest.mark.parametrize("script", [IDENTIFY, READ_10V, REFUSED_RANGE])
async def test_the_scripts_replayed_against_the_simulator(script: list[Exchange]) -> None:
    sim = Keysight344xxSimulator(
        Keysight344xxSimSettings(seed=1, noise=0.0, input=10.0, gain_error=5e-6), SteppedClock()
    )
    for sent, answer in script:
        assert await sim.handle(sent.rstrip(b"\n")) == (answer or b"")


async def test_the_driver_against_its_simulator_over_a_socket() -> None:
    sim = Keysight344xxSimulator(Keysight344xxSimSettings(seed=1, noise=0.0), SteppedClock())
    server = await TcpLineServer(sim).start()
    link = VisaConnection(
        type="visa",
        resource=f"TCPIP::127.0.0.1::{server.port}::SOCKET",
        read_termination="\n",
        write_termination="\n",
        timeout=1.0,
    )
    dmm = Keysight344xx(
        "dmm-1",
        open_line_transport("dmm-1", link),
        Keysight344xxSettings(range=10),
        SteppedClock(),
    )
    try:
        assert (await dmm.identify()).serial == "MY12345678"
        sim.apply(1.0)  # what the operator does: the calibrator set to 1 V and connected
        assert (await dmm.measure_dc_voltage(10)).value == pytest.approx(1.0, abs=1e-5)
    finally:
        await dmm.close()
        await server.stop()
