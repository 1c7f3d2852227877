"""Units: the common ones checked without pint are all ones pint knows, with the quantity
they are taken for; anything else is still checked by pint."""

from __future__ import annotations

import pytest

from daq.core.units import COMMON_UNITS, check_unit, convert, registry, same_dimension


@pytest.mark.parametrize("unit", sorted(COMMON_UNITS))
def test_every_common_unit_is_one_pint_knows(unit: str) -> None:
    registry().Unit(unit)  # raises for a unit pint does not know


def test_common_units_measure_what_they_say() -> None:
    assert convert(1.0, "bar", "kPa") == pytest.approx(100.0)  # 1 bar = 100 kPa exactly
    assert convert(1.0, "psi", "Pa") == pytest.approx(6894.757293168, rel=1e-12)  # NIST SP 811
    assert same_dimension("mK", "°C") and same_dimension("µg", "kg")
    assert not same_dimension("%", "bar")


def test_other_units_are_still_checked() -> None:
    assert check_unit("inHg") == "inHg"
    with pytest.raises(ValueError, match="unknown unit 'barr'"):
        check_unit("barr")
