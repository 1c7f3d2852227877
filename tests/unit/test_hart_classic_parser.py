"""Hart classic reply parsing: any text gives a value or a ProtocolError, any reply bytes a
Reading or an InstrumentError, never anything else (reference §2.4.2)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from daq.core.errors import InstrumentError, ProtocolError
from daq.core.reading import Reading
from drivers.hart_classic import (
    HartClassicSettings,
    HartClassicSource,
    Temperature,
    parse_cutout,
    parse_reply,
    parse_temperature,
    parse_unit,
    parse_version,
)
from drivers.testing import Exchange, expected_protocol

PARSERS: list[Callable[[str], Any]] = [
    parse_temperature,
    parse_unit,
    parse_cutout,
    parse_version,
    lambda text: parse_reply(text, "t", "t"),
]


@pytest.mark.parametrize("parse", PARSERS)
@given(text=st.text(max_size=40))
def test_parsers_on_any_text(parse: Callable[[str], Any], text: str) -> None:
    with contextlib.suppress(ProtocolError):
        parse(text)


@given(st.floats(-200, 1200, allow_nan=False), st.sampled_from(["C", "F"]))
def test_temperatures_round_trip(value: float, unit: str) -> None:
    parsed = parse_temperature(f"{value:.2f} {unit}")
    assert parsed == Temperature(round(value, 2), unit)  # type: ignore[arg-type]
    celsius = round(value, 2) if unit == "C" else (round(value, 2) - 32) * 5 / 9
    assert parsed.celsius() == pytest.approx(celsius)


@given(st.integers(-100, 1300), st.sampled_from(["C", "F"]), st.booleans())
def test_cutout_round_trip(value: int, unit: str, tripped: bool) -> None:
    cutout = parse_cutout(f"{value} {unit}, {'out' if tripped else 'in'}")
    assert (cutout.temperature.value, cutout.temperature.unit) == (value, unit)
    assert cutout.tripped is tripped


@pytest.mark.parametrize(
    ("line", "value"),
    [("t: 55.69 C", "55.69 C"), ("set: 150.00 C", None), ("T:55.6 C", "55.6 C"), ("t", None)],
)
def test_reply_must_carry_the_label(line: str, value: str | None) -> None:
    if value is None:
        with pytest.raises(ProtocolError):
            parse_reply(line, "t", "t")
    else:
        assert parse_reply(line, "t", "t") == value


def test_version_is_model_and_firmware() -> None:
    who = parse_version("ver.9141,1.21")
    assert (who.model, who.firmware, who.serial) == ("9141", "1.21", "")
    with pytest.raises(ProtocolError):
        parse_version("ver 9141 1.21")


def script_for(temperature: bytes, cutout: bytes) -> list[Exchange]:
    """The exchanges ``temperature()`` goes through, up to the first reply it refuses."""
    script: list[Exchange] = [(b"t\r", temperature + b"\r\n")]
    try:
        parse_temperature(parse_reply(temperature.decode("ascii"), "t", "t"))
    except (UnicodeDecodeError, ProtocolError):
        return script
    return [*script, (b"cu\r", cutout + b"\r\n")]


@given(
    temperature=st.binary(max_size=20).filter(lambda b: b"\r" not in b),
    cutout=st.binary(max_size=20).filter(lambda b: b"\r" not in b),
)
def test_any_reply_bytes_through_the_transport(temperature: bytes, cutout: bytes) -> None:
    async def exchange() -> Reading | InstrumentError:
        async with expected_protocol(
            HartClassicSource,
            script_for(temperature, cutout),
            read_termination="\r",
            write_termination="\r",
        ) as source:
            assert isinstance(source, HartClassicSource)
            try:
                return await source.temperature()
            except InstrumentError as error:
                return error

    outcome = asyncio.run(exchange())
    if isinstance(outcome, Reading):
        assert outcome.raw.encode() in temperature and outcome.unit == "°C"


@pytest.mark.parametrize(
    "settings",
    [
        {"stability_band": 0.0},
        {"stability_window": -1.0},
        {"stability_readings": 1},
        {"safe_temp": 25.0},
    ],
)
def test_settings_are_validated(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HartClassicSettings.model_validate(settings)


def test_settings_defaults() -> None:
    settings = HartClassicSettings()
    assert (settings.safe_temperature, settings.cutout, settings.stability_band) == (
        50.0,
        True,
        0.02,
    )
