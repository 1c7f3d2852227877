"""Alarm rules on hand-checked sequences: one event when broken, one when cleared."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from daq.alarms import AlarmRule, Alarms
from daq.core.reading import Reading, Status
from daq.journal import Journal

RULE: TypeAdapter[AlarmRule] = TypeAdapter(AlarmRule)


def rule(**fields: object) -> AlarmRule:
    return RULE.validate_python({"id": "r", "instrument": "t", "quantity": "q", **fields})


def series(values: list[float], step: float = 1.0) -> list[Reading]:
    return [Reading("t", "q", v, "°C", 1000.0 + i * step) for i, v in enumerate(values)]


async def events(
    tmp_path: Path, alarm: AlarmRule, values: list[float], step: float = 1.0
) -> list[str]:
    async with Journal(tmp_path / "j.sqlite") as journal:
        Alarms([alarm], journal).check(series(values, step))
        await journal.flush()
        return [e.kind for e in await journal.events()]


async def test_limits(tmp_path: Path) -> None:
    found = await events(
        tmp_path, rule(kind="limits", low=19.0, high=21.0), [20, 21.5, 22, 20.5, 18]
    )
    assert found == ["alarm", "alarm_cleared", "alarm"]


async def test_rate_of_change(tmp_path: Path) -> None:
    # 0.05 °C per second is 3 °C/min: above a 2 °C/min limit
    found = await events(
        tmp_path,
        rule(kind="rate", max_per_minute=2.0, window=10),
        [20 + 0.05 * i for i in range(5)],
    )
    assert found == ["alarm"]
    steady = await events(tmp_path / "b", rule(kind="rate", max_per_minute=2.0), [20.0] * 5)
    assert steady == []


async def test_drift_against_the_certificate_value(tmp_path: Path) -> None:
    found = await events(
        tmp_path, rule(kind="drift", reference=100.0012, limit=0.001), [100.0015, 100.0030]
    )
    assert found == ["alarm"]


async def test_shewhart_three_sigma(tmp_path: Path) -> None:
    found = await events(tmp_path, rule(kind="shewhart", mean=10.0, sigma=0.1), [10.29, 10.31, 9.9])
    assert found == ["alarm", "alarm_cleared"]


async def test_ewma_catches_a_small_shift(tmp_path: Path) -> None:
    """λ = 0.2, L = 3: limits ±3σ·sqrt(0.2/1.8) = ±1σ. A shift of 1.5σ never breaks a 3σ
    Shewhart chart but z reaches 1σ after z_n = 1.5(1 - 0.8^n) > 1, i.e. n = 5."""
    shifted = [10.15] * 8
    found = await events(tmp_path, rule(kind="ewma", mean=10.0, sigma=0.1), shifted)
    assert found == ["alarm"]
    z = [1.5 * (1 - 0.8**n) for n in range(1, 9)]
    assert next(i for i, v in enumerate(z) if v > 1.0) == 4  # the fifth reading
    assert await events(tmp_path / "s", rule(kind="shewhart", mean=10.0, sigma=0.1), shifted) == []


async def test_invalid_readings_are_ignored_and_ack(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        alarms = Alarms([rule(kind="limits", high=1.0)], journal)
        alarms.check([Reading("t", "q", math.nan, "", 0.0, Status.OVERLOAD)])
        assert alarms.active == []
        with pytest.raises(ValueError, match="not active"):
            alarms.acknowledge("r", "J. Doe")
        alarms.check(series([2.0]))
        alarms.acknowledge("r", "J. Doe")
        assert alarms.acknowledged == {"r": "J. Doe"} and alarms.active == ["r"]
        with pytest.raises(ValueError, match=r"alarm r was acknowledged by J\. Doe"):
            alarms.acknowledge("r", "K. Lim")  # once, by the first
        alarms.check(series([0.5, 2.0]))  # cleared, then broken again: to acknowledge anew
        assert alarms.acknowledged == {} and alarms.active == ["r"]
        alarms.acknowledge("r", "K. Lim")
        with pytest.raises(KeyError, match="no alarm rule"):
            alarms.acknowledge("other", "J. Doe")
        await journal.flush()
        acked = [e for e in await journal.events() if e.kind == "alarm_acknowledged"]
    assert [e.message for e in acked] == ["r acknowledged by J. Doe", "r acknowledged by K. Lim"]


def test_a_rule_needs_a_limit() -> None:
    with pytest.raises(ValidationError, match="give low, high or both"):
        rule(kind="limits")
