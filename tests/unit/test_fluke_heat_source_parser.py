"""Metrology-well reply parsing: any text gives a value or a ProtocolError, any reply bytes a
Reading or an InstrumentError, never anything else (reference §2.4.1)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from daq.core.errors import InstrumentError, ProtocolError
from daq.core.reading import Reading, Status
from drivers.fluke_1529 import parse_number
from drivers.fluke_heat_source import (
    OVER_RANGE,
    FlukeHeatSource,
    FlukeHeatSourceSettings,
    parse_flag,
)
from drivers.testing import Exchange, expected_protocol

NO_ERROR: Exchange = (b"SYST:ERR?\r", b'0,"No error"\r')


@given(st.text(max_size=20))
def test_flag_on_any_text(text: str) -> None:
    try:
        flag = parse_flag(text)
    except ProtocolError:
        assert text.strip() not in ("0", "1")
    else:
        assert flag is (text.strip() == "1")


def accepted(reply: bytes, parse: Callable[[str], object]) -> object | None:
    """What the driver makes of ``reply``, or None if it refuses it (and stops there)."""
    try:
        return parse(reply.decode("ascii"))
    except (UnicodeDecodeError, ProtocolError):
        return None


def script_for(sensor: bytes, stable: bytes, set_point: bytes) -> list[Exchange]:
    """The exchanges ``read()`` goes through for these replies, up to the first it refuses."""
    script: list[Exchange] = [(b"UNIT:TEMP?\r", b"C\r"), (b"SOUR:SENS:DATA?\r", sensor + b"\r")]
    value = accepted(sensor, parse_number)
    if not isinstance(value, float):
        return script
    if value >= OVER_RANGE:
        script.append(NO_ERROR)
    else:
        script.append((b"SOUR:STAB:TEST?\r", stable + b"\r"))
        if accepted(stable, parse_flag) is None:
            return script
    return [*script, (b"SOUR:SPO?\r", set_point + b"\r")]


def read_with(sensor: bytes, stable: bytes, set_point: bytes) -> list[Reading] | InstrumentError:
    """``read()`` against a well answering these replies (and an empty error queue)."""

    async def exchange() -> list[Reading] | InstrumentError:
        async with expected_protocol(
            FlukeHeatSource,
            script_for(sensor, stable, set_point),
            read_termination="\r",
            write_termination="\r",
        ) as source:
            try:
                return await source.read()
            except InstrumentError as error:
                return error

    return asyncio.run(exchange())


@given(
    sensor=st.binary(max_size=20).filter(lambda b: b"\r" not in b),
    stable=st.binary(max_size=4).filter(lambda b: b"\r" not in b),
    set_point=st.binary(max_size=12).filter(lambda b: b"\r" not in b),
)
def test_any_reply_bytes_through_the_transport(
    sensor: bytes, stable: bytes, set_point: bytes
) -> None:
    outcome = read_with(sensor, stable, set_point)
    if isinstance(outcome, list):
        control, point = outcome
        assert control.unit == point.unit == "°C"
        assert control.status in (Status.OK, Status.UNSTABLE, Status.OVERLOAD)
        assert math.isfinite(point.value)


@given(st.floats(-200, 1000, allow_nan=False))
def test_temperatures_round_trip(value: float) -> None:
    outcome = read_with(f"{value:.3f}".encode(), b"1", b"100.00")
    assert isinstance(outcome, list)
    assert outcome[0].value == pytest.approx(value, abs=5e-4)
    assert outcome[0].status is Status.OK


@pytest.mark.parametrize("sensor", [b"9.9E37", b"9.90E+37", b"1e38"])
def test_over_range_values_are_an_overload(sensor: bytes) -> None:
    outcome = read_with(sensor, b"", b"100.00")
    assert isinstance(outcome, list)
    assert math.isnan(outcome[0].value) and outcome[0].status is Status.OVERLOAD


@pytest.mark.parametrize("limit", [0.0, 0.005, 10.0, -1.0])
def test_settings_refuse_a_stability_limit_the_well_refuses(limit: float) -> None:
    with pytest.raises(ValidationError):
        FlukeHeatSourceSettings(stability_limit=limit)


def test_settings_defaults_and_extra_fields() -> None:
    assert FlukeHeatSourceSettings().stability_limit is None
    with pytest.raises(ValidationError):
        FlukeHeatSourceSettings.model_validate({"stability_band": 0.1})
