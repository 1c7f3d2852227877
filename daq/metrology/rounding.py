"""How results are printed: one set of rounding rules for the live view, ``daq runs show``,
the result document and certificates.

- The expanded uncertainty U is stated with two significant digits, trailing zeros kept
  (0.00020 g, 1.0 mg, 12, 120): JCGM 100:2008 (GUM) 7.2.6, EA-4/02 M:2022 6.2. Its numeric
  rounding is :func:`daq.metrology.budget.round_uncertainty` (ordinary rounding, rounded up
  when that would lower U by more than 5 %); the functions here apply it themselves, so the
  raw and the already rounded U print the same.
- A result (value, error, correction, reference...) is rounded to the last decimal place of
  the rounded U (GUM 7.2.6, EA-4/02 M:2022 6.3): U = 0.00020 g -> 0.000137 g prints 0.00014;
  U = 12 -> 1234.56 prints 1235; U = 120 -> 1234.56 prints 1230.
- An indication of the unit under test is printed at its resolution: rounded to the nearest
  multiple of the digit step and shown with the step's decimal places (step 0.02: 4.04;
  step 0.5: 2.26 -> 2.5, 2.24 -> 2.0; step 1: 12).
- Ties are rounded half up (away from zero: 2.675 -> 2.68, -2.675 -> -2.68), on the shortest
  decimal repr of the float, with ``decimal.Decimal``: binary noise (0.1 + 0.2) never shows,
  and 2.675 is not printed 2.67 as ``f"{2.675:.2f}"`` would.
- A value that rounds to zero prints without a sign: never "-0.000".

Rounding is for presentation only: decisions are taken on the full-precision numbers.

A point without uncertainty (U = 0) is allowed: its U prints "0" and its values with six
significant digits (``:.6g`` style, ties half up, no negative zero). A negative or non-finite
U, or a non-finite value, is a :class:`MetrologyError`.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext

from daq.metrology.budget import round_uncertainty
from daq.metrology.errors import MetrologyError

SIGNIFICANT_DIGITS_WITHOUT_U = 6
"""Significant digits of a value printed without an uncertainty (U = 0)."""


def _finite(what: str, value: float) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MetrologyError(f"{what} must be a finite number, not {value!r}")
    return Decimal(repr(float(value)))


def _rounded_uncertainty(expanded: float) -> Decimal:
    """U rounded by ``round_uncertainty``, as the Decimal of its repr (0 for U = 0)."""
    _finite("an expanded uncertainty", expanded)
    if expanded < 0:
        raise MetrologyError(f"an expanded uncertainty cannot be negative, not {expanded!r}")
    return Decimal(repr(round_uncertainty(float(expanded))))


def _text(number: Decimal, places: int, *, signed: bool = False) -> str:
    """``number`` rounded half up to ``places`` decimals (tens, hundreds... when negative),
    without a negative zero; "+" before a positive value when ``signed``."""
    with localcontext() as context:
        context.prec = max(28, number.adjusted() + places + 3)
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        rounded = rounded.copy_abs()
    text = format(rounded, "f")
    return f"+{text}" if signed and rounded > 0 else text


def decimals_for(expanded: float) -> int:
    """Decimal places of U rounded to two significant digits: the places a result is given
    to. Negative for U ≥ 100 (U = 120 -> -1: results to tens). 0.00020 -> 5, 1.0 -> 1,
    12 -> 0. A MetrologyError for U = 0 (no last digit: see :func:`format_value`), negative
    or non-finite."""
    rounded = _rounded_uncertainty(expanded)
    if rounded.is_zero():
        raise MetrologyError("U = 0 has no last decimal place; format_value prints 6 digits")
    return 1 - rounded.adjusted()


def format_uncertainty(expanded: float) -> str:
    """U with two significant digits, trailing zeros kept (GUM 7.2.6, EA-4/02 M:2022 6.2):
    0.000194 -> "0.00019", 0.0002 -> "0.00020", 1 -> "1.0", 12 -> "12", 123 -> "120";
    0 -> "0". The raw or the already rounded U: ``round_uncertainty`` is applied here."""
    rounded = _rounded_uncertainty(expanded)
    if rounded.is_zero():
        return "0"
    return _text(rounded, 1 - rounded.adjusted())


def format_value(value: float, expanded: float, *, signed: bool = False) -> str:
    """``value`` to the last decimal place of the rounded U (GUM 7.2.6, EA-4/02 M:2022 6.3),
    ties half up, no negative zero: (0.000137, 0.0002) -> "0.00014", (1234.56, 12) -> "1235",
    (1234.56, 120) -> "1230", (-0.0004, 0.012) -> "0.000". ``signed`` puts "+" before a
    positive result (errors, corrections), never before zero. With U = 0, six significant
    digits in ``:.6g`` style: (1234567.0, 0) -> "1.23457e+06"."""
    number = _finite("a value", value)
    rounded = _rounded_uncertainty(expanded)
    if not rounded.is_zero():
        return _text(number, 1 - rounded.adjusted(), signed=signed)
    if number.is_zero():
        return "0"
    places = SIGNIFICANT_DIGITS_WITHOUT_U - 1 - number.adjusted()
    with localcontext() as context:
        context.prec = max(28, number.adjusted() + places + 3)
        six = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    # The float nearest a six-digit decimal prints back as those digits with .6g.
    text = format(float(six), f".{SIGNIFICANT_DIGITS_WITHOUT_U}g")
    return f"+{text}" if signed and six > 0 else text


def format_places(value: float, places: int) -> str:
    """``value`` to ``places`` decimals, ties half up, never "-0.000": a statistic of the
    UUT's indications (a mean, a deviation, a hysteresis) printed to its resolution's
    decimals without snapping it to the digit step."""
    return _text(_finite("a value", value), places)


def format_indication(value: float, resolution: float) -> str:
    """An indication of the unit under test at its resolution (digit step): the nearest
    multiple of the step (ties half up, away from zero), with the step's decimal places
    and no negative zero. Step 0.02: 4.041 -> "4.04", 4.05 -> "4.06"; step 0.5: 2.26 ->
    "2.5", 2.24 -> "2.0"; step 0.0001: 4 decimals; step 1: 12.5 -> "13"; step 10: 1234 ->
    "1230". A MetrologyError for a step that is not a finite number above 0."""
    number = _finite("an indication", value)
    step = _finite("a resolution", resolution)
    if step <= 0:
        raise MetrologyError(f"a resolution (digit step) must be above 0, not {resolution!r}")
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a finite Decimal
    places = max(0, -exponent)
    with localcontext() as context:
        context.prec = max(
            28, number.adjusted() - step.adjusted() + len(step.as_tuple().digits) + 10
        )
        multiple = (number / step).to_integral_value(rounding=ROUND_HALF_UP) * step
    return _text(multiple, places)


def rounded_forms(value: float, expanded: float) -> dict[str, str]:
    """The printed forms of a result for the result document, next to the full-precision
    numbers: {"value": format_value(...), "expanded_uncertainty": format_uncertainty(...)}."""
    return {
        "value": format_value(value, expanded),
        "expanded_uncertainty": format_uncertainty(expanded),
    }
