"""Printed results: U with two significant digits and trailing zeros kept (JCGM 100:2008
(GUM) 7.2.6, EA-4/02 M:2022 6.2), results to U's last decimal (GUM 7.2.6, EA-4/02 M:2022
6.3), indications at the UUT's digit step, ties half up, no negative zero. Every expected
string is written out by hand."""

from __future__ import annotations

import math

import pytest

from daq.engine.display import describe
from daq.engine.record import Point
from daq.metrology.errors import MetrologyError
from daq.metrology.rounding import (
    decimals_for,
    format_indication,
    format_uncertainty,
    format_value,
    rounded_forms,
)
from daq.reports.certificate import _row
from daq.reports.i18n import Translator


@pytest.mark.parametrize(
    ("expanded", "expected", "why"),
    [
        (0.0002, "0.00020", "GUM 7.2.6: two significant digits, the trailing zero kept"),
        (0.00020, "0.00020", "already rounded: the same string"),
        (0.000194, "0.00019", "EA-4/02 6.2: ordinary rounding lowers U by 2 %"),
        (0.0001949, "0.00019", "lowered by 2.5 %: ordinary rounding stands"),
        (0.0001951, "0.00020", "ordinary rounding up"),
        (0.0001049, "0.00010", "lowered by 4.7 %, under the 5 % of EA-4/02 6.2: stands"),
        (0.000106, "0.00011", "ordinary rounding up"),
        (1.0, "1.0", "1.0 mg, not 1 mg"),
        (1, "1.0", "an int U"),
        (0.99, "0.99", "two significant digits below 1"),
        (0.0997, "0.10", "rounds up into the next decade: still two digits"),
        (12, "12", "12, not 12.0"),
        (12.4, "12", "GUM 7.2.6"),
        (120, "120", "two significant digits of a U above 100"),
        (123, "120", "U to tens"),
        (1260, "1300", "U to hundreds"),
        (0.15, "0.15", "EA-4/02 6.2"),
        (0.1 + 0.2, "0.30", "no binary noise: 0.30000000000000004 prints 0.30"),
        (1.2e-10, "0.00000000012", "a tiny U stays in fixed notation"),
        (0.0, "0", "a point without uncertainty"),
    ],
)
def test_expanded_uncertainty(expanded: float, expected: str, why: str) -> None:
    assert format_uncertainty(expanded) == expected, why


@pytest.mark.parametrize(
    ("expanded", "places"),
    [(0.0002, 5), (0.000194, 5), (1.0, 1), (0.15, 2), (12, 0), (99, 0), (120, -1), (1260, -2)],
)
def test_decimals_of_the_rounded_uncertainty(expanded: float, places: int) -> None:
    """GUM 7.2.6: the places of U's last significant digit; negative for tens, hundreds."""
    assert decimals_for(expanded) == places


@pytest.mark.parametrize(
    ("value", "expanded", "expected", "why"),
    [
        (0.000137, 0.0002, "0.00014", "EA-4/02 6.3: to U's last decimal (U = 0.00020 g)"),
        (0.000137, 0.00020, "0.00014", "the same with U already rounded"),
        (1234.56, 12, "1235", "U = 12: to units"),
        (1234.56, 120, "1230", "U = 120: to tens"),
        (1234.56, 1260, "1200", "U = 1300: to hundreds"),
        (0.1049, 0.15, "0.10", "U = 0.15: two decimals, trailing zero kept"),
        (4.05, 1.0, "4.1", "U = 1.0: one decimal, tie half up"),
        (2.675, 0.012, "2.675", "U = 0.012: three decimals"),
        (2.675, 0.12, "2.68", "tie half up on the decimal repr (f'{2.675:.2f}' gives 2.67)"),
        (-2.675, 0.12, "-2.68", "a negative tie rounds away from zero"),
        (0.1 + 0.2, 0.010, "0.300", "U = 0.010: three decimals, no binary noise"),
        (-0.0004, 0.012, "0.000", "no negative zero"),
        (-0.0, 0.012, "0.000", "a negative zero float prints unsigned"),
        (-40.0, 1200, "0", "rounds to zero at hundreds: no sign"),
        (-0.00137, 0.0002, "-0.00137", "a negative result keeps its sign"),
        (1e-7, 0.0002, "0.00000", "fixed notation, never 1e-07"),
        (1234567.0, 0.0, "1.23457e+06", "U = 0: six significant digits, :.6g style"),
        (0.1 + 0.2, 0.0, "0.3", "U = 0: no binary noise"),
        (-0.0, 0.0, "0", "U = 0: no negative zero"),
        (20.0000049, 0.0, "20", "U = 0: :.6g drops trailing zeros"),
        (2.000005, 0.0, "2.00001", "U = 0: tie half up on the decimal repr"),
    ],
)
def test_value_at_the_decimals_of_u(value: float, expanded: float, expected: str, why: str) -> None:
    assert format_value(value, expanded) == expected, why


@pytest.mark.parametrize(
    ("value", "expanded", "expected"),
    [
        (0.000137, 0.0002, "+0.00014"),  # an error or correction shows its sign
        (-0.000137, 0.0002, "-0.00014"),
        (0.000004, 0.0002, "0.00000"),  # zero: neither "+" nor "-"
        (-0.000004, 0.0002, "0.00000"),
        (1234567.0, 0.0, "+1.23457e+06"),
        (0.0, 0.0, "0"),
    ],
)
def test_signed_values(value: float, expanded: float, expected: str) -> None:
    assert format_value(value, expanded, signed=True) == expected


@pytest.mark.parametrize(
    ("value", "resolution", "expected", "why"),
    [
        (4.04, 0.02, "4.04", "a reading on the 0.02 bar step"),
        (4.041, 0.02, "4.04", "nearest multiple of 0.02"),
        (4.05, 0.02, "4.06", "halfway between 4.04 and 4.06: half up"),
        (4.0, 0.02, "4.00", "the step's two decimals, trailing zeros kept"),
        (-0.004, 0.02, "0.00", "no negative zero"),
        (2.26, 0.5, "2.5", "nearest multiple of 0.5 (2.5 is 0.24 away, 2.0 is 0.26)"),
        (2.24, 0.5, "2.0", "nearest multiple of 0.5"),
        (2.25, 0.5, "2.5", "halfway: half up"),
        (-2.25, 0.5, "-2.5", "halfway below zero: away from zero"),
        (20.00004999, 0.0001, "20.0000", "step 0.0001: four decimals"),
        (20.00015, 0.0001, "20.0002", "half up on the decimal repr"),
        (0.1 + 0.2, 0.1, "0.3", "no binary noise"),
        (12.5, 1, "13", "step 1: whole numbers, half up"),
        (12.0, 1.0, "12", "step 1.0: no decimals"),
        (1234.0, 10, "1230", "step 10: tens"),
    ],
)
def test_indication_at_the_resolution(
    value: float, resolution: float, expected: str, why: str
) -> None:
    assert format_indication(value, resolution) == expected, why


def test_rounded_forms_for_the_result_document() -> None:
    assert rounded_forms(0.000137, 0.000194) == {
        "value": "0.00014",
        "expanded_uncertainty": "0.00019",
    }
    assert rounded_forms(-0.0001, 120) == {"value": "0", "expanded_uncertainty": "120"}
    assert rounded_forms(101.3251, 0.0) == {"value": "101.325", "expanded_uncertainty": "0"}


@pytest.mark.parametrize("expanded", [-0.001, -0.0, math.nan, math.inf, -math.inf])
def test_bad_uncertainty(expanded: float) -> None:
    if expanded == 0:  # -0.0 is zero, not negative: a point without uncertainty
        assert format_uncertainty(expanded) == "0"
        return
    for call in (
        lambda: format_uncertainty(expanded),
        lambda: format_value(1.0, expanded),
        lambda: decimals_for(expanded),
        lambda: rounded_forms(1.0, expanded),
    ):
        with pytest.raises(MetrologyError, match="expanded uncertainty"):
            call()


def test_bad_values_and_resolutions() -> None:
    with pytest.raises(MetrologyError, match="U = 0 has no last decimal place"):
        decimals_for(0.0)
    with pytest.raises(MetrologyError, match="a value must be a finite number"):
        format_value(math.nan, 0.1)
    with pytest.raises(MetrologyError, match="an indication must be a finite number"):
        format_indication(math.inf, 0.1)
    for step in (0.0, -0.02, math.nan, math.inf):
        with pytest.raises(MetrologyError, match="resolution"):
            format_indication(4.04, step)
    assert issubclass(MetrologyError, ValueError)


def _point(error: float, expanded: float, indication: float, readings: list[float]) -> Point:
    return Point(
        key="indication 200 g",
        kind="indication",
        uut="balance-1",
        nominal=200.0,
        unit="g",
        readings={"indication": readings},
        values={"indication": indication, "reference": indication - error, "error": error},
        budget={"expanded_uncertainty": expanded, "coverage_factor": 2.02},
        decision={"outcome": "pass", "conforms": True, "value": error},
    )


def test_live_view_runs_show_and_certificate_agree() -> None:
    """One point, printed by the live view and `daq runs show` (describe) and by the
    certificate's results table: the same U (0.00020 g, trailing zero kept) and the same
    error to U's last decimal (EA-4/02 M:2022 6.3)."""
    point = _point(0.000137, 0.0002, 200.0001, [200.0001])
    assert describe(point).plain == "indication 200 g: +0.00014 ± 0.00020 g (k = 2.02) pass"
    row = _row(point, Translator("en"), 0.0001)
    assert (row["result"], row["expanded"], row["k"]) == ("+0.00014", "0.00020", "2.02")
    assert row["reference"] == "199.99996"  # 200.0001 - 0.000137 = 199.999963 to U's decimals
    assert row["indication"] == "200.0001"  # one indication as read: at the 0.1 mg step


def test_certificate_mean_indication_and_no_negative_zero() -> None:
    """A mean of indications is a result: to U's decimals, not snapped to the digit step; an
    error that rounds to zero prints "0.000", never "-0.000"."""
    point = _point(-0.0004, 0.012, 4.05, [4.04, 4.06])
    row = _row(point, Translator("en"), 0.02)
    assert (row["indication"], row["result"], row["expanded"]) == ("4.050", "0.000", "0.012")
    assert describe(point).plain == "indication 200 g: 0.000 ± 0.012 g (k = 2.02) pass"
    assert _row(point, Translator("en"))["indication"] == "4.050"  # no resolution known


def test_a_point_without_a_budget_shows_six_digits() -> None:
    point = Point(key="M1 2 bar", kind="series", unit="bar", values={"reference": 1.9999849})
    assert describe(point).plain == "M1 2 bar: reference 1.99998 bar"
