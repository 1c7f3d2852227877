"""int16 transmitter map: any register contents give a value or a ProtocolError."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from daq.core.errors import ProtocolError
from drivers.modbus_transmitter import engineering_value, unit_of

REGISTER = st.integers(min_value=0, max_value=0xFFFF)


@given(REGISTER, REGISTER, REGISTER, REGISTER)
def test_any_registers(unit: int, decimals: int, raw: int, offset: int) -> None:
    with contextlib.suppress(ProtocolError):
        unit_of(unit)
    try:
        value = engineering_value(raw, decimals, offset)
    except ProtocolError:
        assert decimals > 4
    else:
        assert abs(value) <= 65536


@given(st.integers(min_value=-32768, max_value=32767), st.integers(min_value=0, max_value=4))
def test_signed_values_scale_exactly(counts: int, decimals: int) -> None:
    assert engineering_value(counts & 0xFFFF, decimals) == counts / 10**decimals
