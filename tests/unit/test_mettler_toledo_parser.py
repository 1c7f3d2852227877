"""MT-SICS reply parsing never fails with anything but a typed instrument error."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import InstrumentError
from drivers.mettler_toledo import MtSicsBalance, parse_reply, parse_text, parse_weight
from drivers.testing import expected_protocol

COMMANDS = st.sampled_from(["S", "SI", "Z", "ZI", "T", "TI", "TAC", "@", "I2", "I4"])
SICS_LIKE = st.builds(
    lambda cmd, status, rest: f"{cmd} {status} {rest}",
    st.sampled_from(["S", "Z", "T", "TI", "I2", "I4", "ES"]),
    st.sampled_from(list("ABSDIL+-X")),
    st.text(max_size=30),
)


@given(st.one_of(st.text(max_size=60), SICS_LIKE), COMMANDS)
def test_any_text_parses_or_raises_an_instrument_error(line: str, command: str) -> None:
    try:
        reply = parse_reply(line, command)
        parse_weight(reply)
        parse_text(reply)
    except InstrumentError:
        pass


@given(st.binary(max_size=40).filter(lambda b: b"\n" not in b))
def test_any_reply_bytes_through_the_transport(reply: bytes) -> None:
    async def exchange() -> None:
        async with expected_protocol(MtSicsBalance, [(b"SI\r\n", reply + b"\r\n")]) as balance:
            try:
                [reading] = await balance.read()
                assert reading.instrument == "dut"
            except InstrumentError:
                pass

    asyncio.run(exchange())
