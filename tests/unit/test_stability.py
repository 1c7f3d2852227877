"""Stability detection on known series, and against a settling simulated balance."""

from __future__ import annotations

import math

import pytest

from daq.core.clock import SteppedClock
from daq.stability import (
    NotStable,
    Sample,
    StabilityCriteria,
    StabilityTrace,
    judge,
    wait_until_stable,
)
from drivers.mettler_toledo import MtSicsBalance
from drivers.transports.settings import TcpConnection, open_line_transport
from simulators.faults import Fault
from simulators.mettler_toledo import MtSicsSettings, MtSicsSimulator
from simulators.servers import TcpLineServer


def series(values: list[float], step: float = 1.0, flags: list[bool] | None = None) -> list[Sample]:
    flags = flags or [True] * len(values)
    return [Sample(i * step, v, f) for i, (v, f) in enumerate(zip(values, flags, strict=True))]


def test_a_ramp_is_drifting_with_its_slope_per_minute() -> None:
    criteria = StabilityCriteria(slope_limit=0.05, window=60)
    ramp = series([20.0 + 0.1 * i / 60 for i in range(31)])  # 0.1 per minute, one per second
    verdict = judge(ramp, criteria)
    assert not verdict.stable
    assert verdict.slope == pytest.approx(0.1)
    assert "drifting +0.1/min (limit 0.05)" in verdict.reason


def test_scatter_beyond_the_limit_is_not_stable_and_within_it_is() -> None:
    # alternating ±a has standard deviation a·sqrt(n/(n-1)); n = 10 -> 1.054 a
    alternating = series([20.0 + (0.01 if i % 2 else -0.01) for i in range(10)])
    verdict = judge(alternating, StabilityCriteria(std_limit=0.01))
    assert verdict.std == pytest.approx(0.01 * math.sqrt(10 / 9))
    assert not verdict.stable and "scatter" in verdict.reason
    assert judge(alternating, StabilityCriteria(std_limit=0.011)).stable


def test_too_few_readings_or_an_unstable_flag_give_no_verdict_of_stable() -> None:
    criteria = StabilityCriteria(std_limit=1.0, min_readings=5, use_instrument_flag=True)
    assert judge(series([1.0] * 4), criteria).reason == "4 of 5 readings"
    flagged = judge(series([1.0] * 5, flags=[True, True, False, True, True]), criteria)
    assert not flagged.stable and flagged.reason == "the instrument reports unstable"
    assert judge(series([1.0, 1.0, math.nan, 1.0, 1.0]), criteria).reason.endswith("not a number")


def test_the_window_only_holds_its_last_seconds() -> None:
    trace = StabilityTrace(StabilityCriteria(std_limit=0.001, window=5, min_readings=3))
    for i in range(10):
        trace.add(float(i), 100.0 if i < 5 else 20.0)  # a step at 5 s leaves the window at 10 s
    assert [s.elapsed for s in trace.window()] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert trace.verdict is not None and not trace.verdict.stable
    trace.add(10.0, 20.0)
    assert trace.verdict.stable and len(trace.samples) == 11
    assert trace.as_dict()["stable"] is True


def test_criteria_need_at_least_one_limit() -> None:
    with pytest.raises(ValueError, match="give a slope_limit"):
        StabilityCriteria()


async def balance_on(sim: MtSicsSimulator) -> tuple[MtSicsBalance, TcpLineServer]:
    server = await TcpLineServer(sim).start()
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=2)
    transport = open_line_transport("balance", connection)
    return MtSicsBalance("balance", transport, MtSicsBalance.Settings(), sim.clock), server


async def test_a_settling_balance_becomes_stable_and_a_wandering_one_times_out() -> None:
    clock = SteppedClock()
    settings = MtSicsSettings(seed=2, time_constant=2.0, noise=2e-5, load=0.0)
    sim = MtSicsSimulator(settings, clock)
    balance, server = await balance_on(sim)
    criteria = StabilityCriteria(
        window=4, min_readings=5, std_limit=1e-4, slope_limit=1e-3, interval=0.5, timeout=60
    )
    try:
        sim.place(100.0)
        trace = await wait_until_stable(lambda: balance.weigh(stable=False), criteria, clock)
        assert abs(trace.samples[-1].value - 100.0) < 1e-3
        assert trace.samples[0].value < 99.0  # it started while the load was still settling
        assert trace.samples[-1].elapsed >= 2.0 * 5  # about five time constants

        sim.inject(Fault.NEVER_SETTLE)
        short = criteria.model_copy(update={"timeout": 10})
        with pytest.raises(NotStable, match="not stable after 10 s: drifting") as raised:
            await wait_until_stable(lambda: balance.weigh(stable=False), short, clock)
        assert raised.value.trace.samples[-1].elapsed >= 10
    finally:
        await balance.close()
        await server.stop()
