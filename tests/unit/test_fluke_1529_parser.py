"""1529 reply parsers: any text gives a value or a ProtocolError, any reply bytes a Reading
or an InstrumentError, never anything else."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from daq.core.errors import InstrumentError, ProtocolError
from daq.core.reading import Reading
from drivers.fluke_1529 import (
    Fluke1529,
    Fluke1529Settings,
    parse_measurement,
    parse_number,
    parse_unit,
)
from drivers.scpi import parse_error, parse_idn
from drivers.testing import expected_protocol

PARSERS: list[Callable[[str], Any]] = [
    parse_number,
    parse_idn,
    parse_error,
    parse_unit,
    lambda text: parse_measurement(text, 2),
]


@pytest.mark.parametrize("parse", PARSERS)
@given(text=st.text(max_size=60))
def test_parsers_on_any_text(parse: Callable[[str], Any], text: str) -> None:
    with contextlib.suppress(ProtocolError):
        parse(text)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip(value: float) -> None:
    assert parse_number(repr(value)) == value
    assert parse_number(f"{value:.4f}") == pytest.approx(value, abs=5e-5)


@given(
    st.integers(-999, 999),
    st.text(st.characters(exclude_characters='"', codec="ascii"), max_size=40),
)
def test_error_entries_round_trip(code: int, text: str) -> None:
    assert parse_error(f'{code},"{text}"') == (code, text)


@given(st.lists(st.text(st.characters(codec="ascii", exclude_characters=","), min_size=1)))
def test_identity_needs_exactly_four_fields(fields: list[str]) -> None:
    text = ",".join(fields)
    if len(fields) == 4 and all(field.strip() for field in fields[:3]):
        assert parse_idn(text).serial == fields[2].strip()
    else:
        with pytest.raises(ProtocolError):
            parse_idn(text)


@given(st.sampled_from(["C", "F", "K"]), st.floats(-300, 3000, allow_nan=False), st.booleans())
def test_extended_record_round_trip(unit: str, value: float, new: bool) -> None:
    record = f"{int(new)},3,{value:.4f},{unit},9,5,7,2024,12,31"
    parsed, stamped = parse_measurement(record, 3)
    assert parsed == round(value, 4) and stamped == parse_unit(unit)


@given(st.integers(1, 4), st.booleans())
def test_over_range_replies_are_infinite_never_a_temperature(channel: int, new: bool) -> None:
    assert parse_measurement("0.0,OL", channel) == (math.inf, None)
    record = f"{int(new)},{channel},0.0,OL,9,5,7,2024,12,31"
    assert parse_measurement(record, channel) == (math.inf, None)


def unit_accepted(reply: bytes) -> bool:
    """Whether the driver takes this ``UNIT:TEMP?`` reply and goes on to ask for a reading."""
    try:
        parse_unit(reply.decode("ascii").rstrip("\r"))
    except (UnicodeDecodeError, ProtocolError):
        return False
    return True


@given(
    unit_reply=st.binary(max_size=8).filter(lambda b: b"\n" not in b),
    reply=st.binary(max_size=60).filter(lambda b: b"\n" not in b),
)
def test_any_reply_bytes_through_the_transport(unit_reply: bytes, reply: bytes) -> None:
    async def exchange() -> Reading | InstrumentError:
        exchanges = [(b"UNIT:TEMP?\n", unit_reply + b"\r\n")]
        if unit_accepted(unit_reply):
            exchanges.append((b"FETC? 2\n", reply + b"\r\n"))
        async with expected_protocol(
            Fluke1529, exchanges, read_termination="\r\n", write_termination="\n"
        ) as readout:
            assert isinstance(readout, Fluke1529)
            try:
                return await readout.temperature(2)
            except InstrumentError as error:
                return error

    outcome = asyncio.run(exchange())
    if isinstance(outcome, Reading):
        assert outcome.raw.encode() in reply and outcome.unit in ("°C", "°F", "K")


@pytest.mark.parametrize("channels", [[], [0], [5], [1, 1], [2, 3, 2]])
def test_settings_refuse_channels_the_1529_lacks(channels: list[int]) -> None:
    with pytest.raises(ValidationError):
        Fluke1529Settings(channels=channels)


def test_settings_defaults_and_extra_fields() -> None:
    assert Fluke1529Settings().channels == [1]
    assert Fluke1529Settings().query == "FETC?"
    with pytest.raises(ValidationError):
        Fluke1529Settings.model_validate({"channel": [1]})
    with pytest.raises(ValidationError):
        Fluke1529Settings.model_validate({"query": "READ?"})
