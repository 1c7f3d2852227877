"""Units of measurement: one pint registry for the whole agent."""

from __future__ import annotations

from functools import cache
from typing import Any

import pint


@cache
def registry() -> pint.UnitRegistry[Any]:
    return pint.UnitRegistry()


def check_unit(unit: str) -> str:
    """``unit`` if pint knows it; ValueError naming it otherwise."""
    try:
        registry().Unit(unit)
    except (pint.UndefinedUnitError, ValueError, AssertionError) as exc:
        raise ValueError(f"unknown unit {unit!r}") from exc
    return unit


def convert(value: float, unit: str, to: str) -> float:
    """``value`` in ``unit`` expressed in ``to``; ValueError when they measure different things."""
    try:
        converted: float = registry().Quantity(value, unit).to(to).magnitude
    except pint.DimensionalityError:
        raise ValueError(f"{unit} cannot be converted to {to}") from None
    except (pint.UndefinedUnitError, AssertionError):
        raise ValueError(f"unknown unit {unit!r}") from None
    return converted
