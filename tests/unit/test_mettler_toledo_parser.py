"""MT-SICS reply parsing: a value or a typed instrument error, never anything else."""

from __future__ import annotations

import asyncio
import contextlib
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daq.core.errors import InstrumentError
from daq.core.reading import Reading, Status
from drivers.mettler_toledo import (
    MtSicsBalance,
    parse_device,
    parse_reply,
    parse_text,
    parse_weight,
)
from drivers.testing import expected_protocol

COMMANDS = ["S", "SI", "Z", "ZI", "T", "TI", "TAC", "@", "I2", "I3", "I4"]
SICS_LIKE = st.builds(
    lambda reply_id, status, rest: f"{reply_id} {status}{rest}",
    st.sampled_from(["S", "Z", "ZI", "T", "TI", "TAC", "I2", "I4", "ES", "Error"]),
    st.sampled_from(list("ABSDIL+-X")),
    st.one_of(
        st.text(max_size=30),
        st.builds(lambda value: f" {value:10.4f} g", st.floats()),
        st.builds(lambda n, source: f" Error {n}{source}", st.integers(0, 99), st.text(max_size=2)),
        st.builds(lambda text: f' "{text}"', st.text(max_size=30)),
    ),
)
REPLY_IDS = st.sampled_from(["S", "T", "TI"])
WEIGHT_LIKE = st.one_of(
    st.builds(
        "{} {} {:10.4f} {}".format,
        REPLY_IDS,
        st.sampled_from("SD"),
        st.floats(-1e6, 1e6),
        st.sampled_from(["g", "mg", "kg"]),
    ),
    st.builds("{} {}".format, REPLY_IDS, st.sampled_from("IL+-")),
)
REPLY_TEXT = st.one_of(
    st.text(max_size=60), SICS_LIKE, WEIGHT_LIKE, st.sampled_from(["ES", "ET", "EL"])
)


@given(REPLY_TEXT, st.sampled_from(COMMANDS))
def test_any_text_parses_or_raises_an_instrument_error(line: str, command: str) -> None:
    try:
        reply = parse_reply(line, command)
    except InstrumentError:
        return
    assert line.startswith(("S ", "I4 ") if command in ("SI", "@") else f"{command} ")
    with contextlib.suppress(InstrumentError):
        weight = parse_weight(reply)
        assert math.isfinite(weight.value) and weight.unit.isascii() and weight.unit.isalpha()
    with contextlib.suppress(InstrumentError):
        assert '"' not in parse_text(reply)


@given(
    st.one_of(st.text(max_size=40), st.builds("{} {} {}".format, st.text(), st.text(), st.text()))
)
def test_any_device_data_parses_or_raises_an_instrument_error(text: str) -> None:
    try:
        model, capacity, unit = parse_device(text)
    except InstrumentError:
        return
    assert text == f"{model} {text.rsplit(' ', 2)[1]} {unit}" and capacity >= 0


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(0, 6),
    st.sampled_from(["g", "mg", "kg", "ct"]),
    st.sampled_from("SD"),
)
def test_weights_as_the_balance_formats_them_read_back(
    value: float, decimals: int, unit: str, status: str
) -> None:
    line = f"S {status} {value:10.{decimals}f} {unit}"
    weight = parse_weight(parse_reply(line, "SI"))
    assert weight.value == float(f"{value:.{decimals}f}")
    assert (weight.unit, weight.stable) == (unit, status == "S")


METHODS = {
    "read": b"SI",
    "weigh": b"S",
    "weigh(stable=False)": b"SI",
    "tare": b"T",
    "tare_immediately": b"TI",
}


async def _exchange(method: str, reply: bytes) -> list[Reading]:
    command = METHODS[method]
    async with expected_protocol(
        MtSicsBalance, [(command + b"\r\n", reply + b"\r\n")], timeout=0.1
    ) as balance:
        assert isinstance(balance, MtSicsBalance)
        match method:
            case "read":
                return await balance.read()
            case "weigh":
                return [await balance.weigh()]
            case "weigh(stable=False)":
                return [await balance.weigh(stable=False)]
            case "tare":
                return [await balance.tare()]
        return [await balance.tare_immediately()]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(METHODS)),
    st.one_of(st.binary(max_size=40), REPLY_TEXT.map(lambda text: text.encode("utf-8"))),
)
def test_any_reply_bytes_give_a_reading_or_an_instrument_error(method: str, reply: bytes) -> None:
    try:
        readings = asyncio.run(_exchange(method, reply))
    except InstrumentError:
        return
    [reading] = readings
    assert reading.instrument == "dut" and reading.quantity == "mass"
    assert math.isfinite(reading.value) or reading.status in (Status.OVERLOAD, Status.UNDERLOAD)
