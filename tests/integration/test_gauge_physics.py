"""Errors of the simulated gauges and probes, read through their drivers.

Pressure gauges (KELLER Series 30 over Modbus TCP, the int16 transmitter over Modbus RTU):
the documented indication of ``simulators.keller.PressureSensor``, with span
``S = range_max - range_min`` and ``x = (p - range_min) / S``::

    p + zero_error + span_error·(p - range_min) + nonlinearity·S·4x(1 - x) ∓ hysteresis/2

(-h/2 after a rise of the applied pressure, +h/2 after a fall). Thermometer readout (1529 over
a pty): a probe with offset ``a`` and slope ``b`` reads ``t + a + b·t`` in a bath at ``t`` °C.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from daq.core.clock import Clock, SteppedClock
from drivers.fluke_1529 import Fluke1529, Fluke1529Settings
from drivers.keller import KellerSeries30
from drivers.modbus_transmitter import ModbusTransmitter
from drivers.transports.settings import (
    ModbusRtuConnection,
    ModbusTcpConnection,
    SerialConnection,
    open_line_transport,
    open_modbus_transport,
)
from simulators.fluke_1529 import Fluke1529SimSettings, Fluke1529Simulator
from simulators.keller import KellerSeries30Settings, KellerSeries30Simulator
from simulators.modbus_transmitter import ModbusTransmitterSimulator, TransmitterSettings
from simulators.servers import ModbusServer, PtyLineServer

LOW, HIGH = 0.0, 10.0
"""Range of both gauges, bar."""
SPAN = HIGH - LOW
FAMILIES = ["keller_s30", "modbus_int16"]


@dataclass
class Gauge:
    sim: KellerSeries30Simulator | ModbusTransmitterSimulator
    driver: KellerSeries30 | ModbusTransmitter
    resolution: float
    """What the reading can be trusted to: float32 for KELLER, one count for the int16 map."""

    async def reads(self, bar: float) -> float:
        """Apply ``bar`` (settled at once: no time constant, no noise) and read the gauge."""
        self.sim.set_pressure(bar)
        return (await self.driver.pressure()).value


@asynccontextmanager
async def connected(family: str, **errors: float) -> AsyncIterator[Gauge]:
    physics: dict[str, Any] = {
        "noise": 0.0,
        "time_constant": 0.0,
        "range_min": LOW,
        "range_max": HIGH,
        **errors,
    }
    clock = Clock()
    if family == "keller_s30":
        settings = KellerSeries30Settings(temperature_noise=0, **physics)
        keller_sim = KellerSeries30Simulator(settings, clock)
        server = await ModbusServer([keller_sim.sim_device(1)]).start_tcp()
        connection = ModbusTcpConnection(
            type="modbus_tcp", host=server.host, port=server.port, timeout=1
        )
        keller = KellerSeries30(
            "pt", open_modbus_transport("pt", connection), KellerSeries30.Settings(), clock
        )
        gauge = Gauge(keller_sim, keller, 1e-5)
    else:
        int16 = TransmitterSettings(unit="bar", decimals=3, pressure=1.0, **physics)
        int16_sim = ModbusTransmitterSimulator(int16, clock)
        server = await ModbusServer([int16_sim.sim_device(1)]).start_rtu()
        rtu = ModbusRtuConnection(type="modbus_rtu", port=server.path, timeout=1)
        transmitter = ModbusTransmitter(
            "pt", open_modbus_transport("pt", rtu), ModbusTransmitter.Settings(), clock
        )
        gauge = Gauge(int16_sim, transmitter, 1e-3)
    try:
        yield gauge
    finally:
        await gauge.driver.close()
        await server.stop()


def indication(p: float, errors: dict[str, float], *, falling: bool = False) -> float:
    """The documented formula, written out again so the simulator is checked against it."""
    x = (p - LOW) / SPAN
    lag = errors.get("hysteresis", 0.0) / 2 * (1 if falling else -1)
    return (
        p
        + errors.get("zero_error", 0.0)
        + errors.get("span_error", 0.0) * (p - LOW)
        + errors.get("nonlinearity", 0.0) * SPAN * 4 * x * (1 - x)
        + lag
    )


PRESSURES = [0.5, 2.5, 5.0, 7.5, 9.0]


@pytest.mark.parametrize("family", FAMILIES)
async def test_perfect_gauge_reads_the_applied_pressure(family: str) -> None:
    async with connected(family) as gauge:
        readings = [await gauge.reads(p) for p in PRESSURES]
    assert readings == [pytest.approx(p, abs=gauge.resolution) for p in PRESSURES]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "errors",
    [
        {"zero_error": 0.05},
        {"zero_error": -0.03},
        {"span_error": 0.01},
        {"nonlinearity": 0.005},
        {"nonlinearity": -0.002},
    ],
    ids=["zero", "negative-zero", "span", "nonlinearity", "negative-nonlinearity"],
)
async def test_each_error_follows_its_formula(family: str, errors: dict[str, float]) -> None:
    async with connected(family, **errors) as gauge:
        readings = [await gauge.reads(p) for p in PRESSURES]
    expected = [indication(p, errors) for p in PRESSURES]
    assert readings == [pytest.approx(e, abs=gauge.resolution) for e in expected]
    errors_seen = [reading - p for reading, p in zip(readings, PRESSURES, strict=True)]
    assert max(abs(e) for e in errors_seen) > 10 * gauge.resolution  # the effect is visible


@pytest.mark.parametrize("family", FAMILIES)
async def test_span_error_grows_with_pressure_and_nonlinearity_peaks_at_mid_range(
    family: str,
) -> None:
    async with connected(family, span_error=0.01) as spanned:
        span_errors = [await spanned.reads(p) - p for p in (LOW + 1, HIGH / 2, HIGH - 1)]
    async with connected(family, nonlinearity=0.005) as bowed:
        bows = [await bowed.reads(p) - p for p in (LOW + 1, HIGH / 2, HIGH - 1)]
    assert span_errors[0] < span_errors[1] < span_errors[2]
    assert span_errors[2] == pytest.approx(0.01 * (HIGH - 1 - LOW), abs=spanned.resolution)
    assert bows[1] == pytest.approx(0.005 * SPAN, abs=bowed.resolution)
    assert bows[0] == pytest.approx(bows[2], abs=bowed.resolution) and bows[0] < bows[1]


@pytest.mark.parametrize("family", FAMILIES)
async def test_hysteresis_between_rising_and_falling_pressure(family: str) -> None:
    hysteresis = 0.04
    async with connected(family, hysteresis=hysteresis) as gauge:
        rising = await gauge.reads(5.0)  # up from the start pressure
        await gauge.reads(8.0)
        falling = await gauge.reads(5.0)
        held = await gauge.reads(5.0)  # the same pressure again: no change of direction
        await gauge.reads(2.0)
        rising_again = await gauge.reads(5.0)
    assert falling - rising == pytest.approx(hysteresis, abs=gauge.resolution)
    assert rising == pytest.approx(
        indication(5.0, {"hysteresis": hysteresis}), abs=gauge.resolution
    )
    assert falling == pytest.approx(
        indication(5.0, {"hysteresis": hysteresis}, falling=True), abs=gauge.resolution
    )
    assert held == falling and rising_again == rising


@pytest.mark.parametrize("family", FAMILIES)
async def test_all_errors_together_over_an_up_and_down_series(family: str) -> None:
    errors = {"zero_error": 0.02, "span_error": -0.004, "nonlinearity": 0.003, "hysteresis": 0.01}
    async with connected(family, **errors) as gauge:
        gauge.sim.set_pressure(LOW)
        upward = [await gauge.reads(p) for p in PRESSURES]
        gauge.sim.set_pressure(HIGH)
        downward = [await gauge.reads(p) for p in reversed(PRESSURES)]
    assert upward == [pytest.approx(indication(p, errors), abs=gauge.resolution) for p in PRESSURES]
    assert downward == [
        pytest.approx(indication(p, errors, falling=True), abs=gauge.resolution)
        for p in reversed(PRESSURES)
    ]


@pytest.mark.parametrize("settings", [KellerSeries30Settings, TransmitterSettings])
def test_a_range_needs_width(settings: type[KellerSeries30Settings | TransmitterSettings]) -> None:
    with pytest.raises(ValidationError, match="range_max"):
        settings(range_min=5.0, range_max=5.0)


# -- thermometer probes on the 1529 -------------------------------------------------------------

CLOCK = SteppedClock()


@asynccontextmanager
async def readout(**settings: Any) -> AsyncIterator[tuple[Fluke1529, Fluke1529Simulator]]:
    sim = Fluke1529Simulator(
        Fluke1529SimSettings(seed=1, noise=0.0, time_constant=0.0, **settings), CLOCK
    )
    server = await PtyLineServer(sim).start()
    connection = SerialConnection(type="serial", port=server.path, timeout=0.5)
    driver = Fluke1529(
        "readout", open_line_transport("readout", connection), Fluke1529Settings(), CLOCK
    )
    try:
        yield driver, sim
    finally:
        await driver.close()
        await server.stop()


async def test_probe_offset_and_slope_per_channel() -> None:
    baths = (0.01, 100.0, 231.928, -38.8344)
    offsets = (0.0, 0.05, -0.12, 0.3)
    slopes = (0.0, 2e-4, 0.0, -1e-3)
    async with readout(temperatures=baths, probe_offsets=offsets, probe_slopes=slopes) as (
        driver,
        _,
    ):
        readings = [(await driver.temperature(channel)).value for channel in (1, 2, 3, 4)]
    expected = [t + a + b * t for t, a, b in zip(baths, offsets, slopes, strict=True)]
    assert readings == [pytest.approx(e, abs=1e-4) for e in expected]
    assert readings[1] - baths[1] == pytest.approx(0.07, abs=1e-4)  # 0.05 + 2e-4 · 100 °C


async def test_a_probe_swapped_for_one_out_of_tolerance() -> None:
    """A channel can be made to read well outside any class A tolerance (±0.15 °C at 0 °C);
    the error is the probe's, in °C, whatever unit the readout shows."""
    async with readout(temperatures=(0.01, 0.01, 0.01, 0.01)) as (driver, sim):
        sim.set_probe_error(2, 0.5)
        await CLOCK.sleep(10)  # past the next scan of channel 2
        celsius = await driver.temperature(2)
        untouched = await driver.temperature(1)
        await driver.set_unit("F")
        fahrenheit = await driver.temperature(2)
    assert celsius.value == pytest.approx(0.51, abs=1e-4)
    assert untouched.value == pytest.approx(0.01, abs=1e-4)
    assert fahrenheit.value == pytest.approx(0.51 * 9 / 5 + 32, abs=1e-4)


def test_probe_error_on_a_missing_channel_is_refused() -> None:
    sim = Fluke1529Simulator(Fluke1529SimSettings(), CLOCK)
    with pytest.raises(ValueError, match="channels 1 to 4"):
        sim.set_probe_error(5, 0.1)
