"""Units in D-SI syntax (the digital SI of PTB, which the DCC requires): pint reads the
agent's unit, its prefix and name are spelled as D-SI spells them, and PTB's ``dsiunits``
library checks the result. A unit D-SI cannot express (psi, inHg) is replaced by the SI unit
of the same quantity, with the factor to convert the values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from daq.core.units import registry

NAMES = {
    "gram": "gram",
    "meter": "metre",
    "second": "second",
    "minute": "minute",
    "hour": "hour",
    "day": "day",
    "kelvin": "kelvin",
    "degree_Celsius": "degreecelsius",
    "pascal": "pascal",
    "bar": "bar",
    "volt": "volt",
    "ampere": "ampere",
    "ohm": "ohm",
    "watt": "watt",
    "hertz": "hertz",
    "newton": "newton",
    "joule": "joule",
    "liter": "litre",
    "percent": "percent",
    "radian": "radian",
    "degree": "degree",
    "mole": "mole",
    "candela": "candela",
    "tonne": "tonne",
    "dimensionless": "one",
}
"""pint's unit names -> D-SI's (D-SI 2.1.0, the units and the accepted non-SI units)."""

SI_UNITS = ("pascal", "meter", "gram", "second", "kelvin", "volt", "ampere", "newton", "joule")
"""Named SI units that replace a unit D-SI cannot express, by the quantity they measure."""

PREFIXES = {
    "yotta": "yotta",
    "zetta": "zetta",
    "exa": "exa",
    "peta": "peta",
    "tera": "tera",
    "giga": "giga",
    "mega": "mega",
    "kilo": "kilo",
    "hecto": "hecto",
    "deca": "deca",
    "deci": "deci",
    "centi": "centi",
    "milli": "milli",
    "micro": "micro",
    "nano": "nano",
    "pico": "pico",
    "femto": "femto",
    "atto": "atto",
}


@dataclass(frozen=True)
class DsiUnit:
    """A unit as the DCC writes it, and the factor that takes a value in the agent's unit
    to this one (1 unless the unit had to be replaced by an SI one)."""

    text: str
    factor: float = 1.0


class DsiError(ValueError):
    """The unit has no D-SI form."""


@cache
def dsi_unit(unit: str, *, difference: bool = False) -> DsiUnit:
    """``unit`` (as pint reads it) in D-SI; a ``difference`` of temperatures in °C (an error,
    an uncertainty) is in kelvin, as D-SI wants it."""
    if unit in ("", "1"):
        return DsiUnit(r"\one")
    if difference and registry().Unit(unit) == registry().Unit("degC"):
        return DsiUnit(r"\kelvin")
    spelled = _spelled(unit)
    if spelled is not None and _valid(spelled):
        return DsiUnit(spelled)
    quantity = registry().Quantity(1.0, unit)
    if not quantity._is_multiplicative:
        raise DsiError(f"{unit} has no D-SI form (an offset unit other than °C)")
    for si in SI_UNITS:  # psi -> Pa: the SI unit of the same quantity, named
        if quantity.dimensionality == registry().Unit(si).dimensionality:
            return DsiUnit(f"\\{NAMES[si]}", float(quantity.to(si).magnitude))
    base = quantity.to_base_units()
    spelled = _spelled(str(base.units))
    if spelled is None or not _valid(spelled):
        raise DsiError(f"{unit} has no D-SI form")
    return DsiUnit(spelled, float(base.magnitude))


def _spelled(unit: str) -> str | None:
    """pint's unit (a product of powers of prefixed units) spelled in D-SI, or None."""
    ureg = registry()
    parts: list[str] = []
    powers = {name: float(str(power)) for name, power in ureg.Unit(unit)._units.items()}
    for name, power in powers.items():
        prefix, base, _ = ureg.parse_unit_name(name)[0]
        if base not in NAMES or (prefix and prefix not in PREFIXES):
            return None
        text = (f"\\{PREFIXES[prefix]}" if prefix else "") + f"\\{NAMES[base]}"
        if power != 1:
            whole = int(power)
            if whole != power:
                return None
            text += f"\\tothe{{{whole}}}"
        parts.append(text)
    return "".join(parts) if parts else None


def _valid(text: str) -> bool:
    import warnings

    from dsi_unit import DsiUnit as Checked

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown unit warns; its validity is the answer
        return bool(Checked(text).valid)


UNIT_TEXT = re.compile(r"(?:\\[a-z]+(?:\{-?\d+\})?)+")
"""One D-SI unit: backslash words only (a prefix, a unit, \\tothe{n}), nothing between."""


def pint_units(text: str) -> list[str]:
    """A D-SI unit list (``si:unitXMLList``: one unit for all values, or one per value,
    separated by spaces) as pint reads each (``mbar``, ``°C``)."""
    items = text.split()
    if not items:
        raise DsiError("no unit")
    return [pint_unit(item) for item in items]


@cache
def pint_unit(text: str) -> str:
    """One D-SI unit (``\\milli\\bar``, ``\\degreecelsius``, ``\\kilogram``) as pint reads
    it (``mbar``, ``°C``, ``kg``); DsiError for anything else, a list included."""
    if not UNIT_TEXT.fullmatch(text):
        raise DsiError(f"{text!r} is not one D-SI unit")
    names = {dsi: name for name, dsi in NAMES.items()} | {"kilogram": "kilogram"}
    parts: list[str] = []
    for token in re.findall(r"\\([a-z]+)(?:\{(-?\d+)\})?", text):
        name, power = token
        if name == "tothe" and parts:
            parts[-1] = f"{parts[-1]}**{power}"
            continue
        if name in PREFIXES:
            parts.append(f"{name}@")
            continue
        if name not in names:
            raise DsiError(f"{text}: no unit {name!r} this daq reads")
        unit = names[name]
        parts.append(parts.pop()[:-1] + unit if parts and parts[-1].endswith("@") else unit)
    if not parts or any(part.endswith("@") for part in parts):
        raise DsiError(f"{text} is not a D-SI unit")
    if parts == ["dimensionless"]:
        return ""
    return f"{registry().Unit('*'.join(parts)):~C}"  # pint's symbols: mbar, °C
