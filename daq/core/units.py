"""Units of measurement: one pint registry for the whole agent."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pint (with numpy) loads at the first unit handled, not at import
    import pint


@cache
def registry() -> pint.UnitRegistry[Any]:
    """pint's registry, its parsed definitions cached in the user's cache folder (a tenth of
    the time to build); built without the cache where that folder cannot be written or a
    cache file is damaged (two processes writing it at once, a full disk)."""
    import pint

    try:
        return pint.UnitRegistry(cache_folder=":auto:")
    except Exception:  # an unwritable folder, or a cache file cut short
        return pint.UnitRegistry()


COMMON_UNITS = frozenset(
    {"g", "kg", "mg", "µg", "bar", "mbar", "Pa", "hPa", "kPa", "MPa", "psi", "°C", "K", "mK", "%"}
)
"""Units a lab file most often names, known to pint (a test holds them to it): checking one
of them needs no registry, so commands that only read the lab file start quickly."""


def check_unit(unit: str) -> str:
    """``unit`` if pint knows it; ValueError naming it otherwise."""
    if unit in COMMON_UNITS:
        return unit
    import pint

    try:
        registry().Unit(unit)
    except (pint.UndefinedUnitError, ValueError, AssertionError) as exc:
        raise ValueError(f"unknown unit {unit!r}") from exc
    return unit


def convert(value: float, unit: str, to: str) -> float:
    """``value`` in ``unit`` expressed in ``to``; ValueError when they measure different things."""
    import pint

    try:
        converted: float = registry().Quantity(value, unit).to(to).magnitude
    except pint.DimensionalityError:
        raise ValueError(f"{unit} cannot be converted to {to}") from None
    except (pint.UndefinedUnitError, AssertionError):
        raise ValueError(f"unknown unit {unit!r}") from None
    return converted


def _as_difference(unit: str) -> str:
    """The unit of a difference of ``unit``: °C becomes delta_degree_Celsius (pint's offset
    units convert differently as values and as differences: 50 mK is 0.05 °C apart, not
    -273.1 °C)."""
    quantity = registry().Quantity(1.0, unit)
    if quantity._is_multiplicative:
        return unit
    return f"delta_{quantity.units}"


def convert_difference(value: float, unit: str, to: str) -> float:
    """A difference (an error, a tolerance, an uncertainty) of ``value`` in ``unit``, in
    ``to``; ValueError when they measure different things."""
    import pint

    try:
        converted: float = (
            registry().Quantity(value, _as_difference(unit)).to(_as_difference(to)).magnitude
        )
    except pint.DimensionalityError:
        raise ValueError(f"{unit} cannot be converted to {to}") from None
    except (pint.UndefinedUnitError, AssertionError):
        raise ValueError(f"unknown unit {unit!r}") from None
    return converted


def same_dimension(unit: str, like: str) -> bool:
    """Whether ``unit`` measures what ``like`` measures (bar and psi: yes; bar and °C: no)."""
    import pint

    try:
        first = registry().Quantity(1.0, unit).dimensionality
        second = registry().Quantity(1.0, like).dimensionality
    except (pint.UndefinedUnitError, AssertionError, ValueError):
        return False
    return bool(first == second)
