"""Callendar-Van Dusen against the reference table of IEC 60751:2008 (Table 1, Pt100)."""

import pytest

from daq.metrology.cvd import IEC_60751, IEC_A, IEC_B, IEC_C, Coefficients, fit
from daq.metrology.cvd import residual as residual_of
from daq.metrology.errors import MetrologyError

# IEC 60751:2008 Table 1 (resistance of a Pt100 in Ω at whole degrees Celsius).
IEC_TABLE_1 = [
    (-200.0, 18.5201),
    (-100.0, 60.2558),
    (-50.0, 80.3063),
    (0.0, 100.0000),
    (100.0, 138.5055),
    (200.0, 175.8560),
    (400.0, 247.0920),
    (850.0, 390.4811),
]


@pytest.mark.parametrize(("t", "ohms"), IEC_TABLE_1)
def test_resistance_matches_the_iec_table(t: float, ohms: float) -> None:
    assert IEC_60751.resistance(t) == pytest.approx(ohms, abs=5e-5)


@pytest.mark.parametrize(("t", "ohms"), IEC_TABLE_1)
def test_temperature_inverts_the_iec_table(t: float, ohms: float) -> None:
    # The table is rounded to 0.1 mΩ, about 0.25 mK: the inverse must land within that.
    assert IEC_60751.temperature(ohms) == pytest.approx(t, abs=3e-4)


def test_round_trip_with_certificate_coefficients() -> None:
    prt = Coefficients(r0=100.0123, a=3.9085e-3, b=-5.776e-7, c=-4.18e-12)
    for t in (-80.0, -0.5, 0.0, 0.01, 156.5985, 419.527):
        assert prt.temperature(prt.resistance(t)) == pytest.approx(t, abs=1e-9)


def test_slope_is_the_derivative() -> None:
    for t in (-150.0, 25.0, 300.0):
        numeric = (IEC_60751.resistance(t + 1e-4) - IEC_60751.resistance(t - 1e-4)) / 2e-4
        assert IEC_60751.slope(t) == pytest.approx(numeric, rel=1e-7)
    # about 0.385 Ω/°C near 0 °C: the "alpha" of a Pt100 (IEC 60751 4.2: 0.00385055 /°C)
    assert (IEC_60751.resistance(100) - IEC_60751.resistance(0)) / 100 / 100 == pytest.approx(
        0.00385055, abs=1e-8
    )


@pytest.mark.parametrize("ohms", [0.0, -5.0, float("nan")])
def test_impossible_resistance_is_refused(ohms: float) -> None:
    with pytest.raises(ValueError, match="not a resistance"):
        IEC_60751.temperature(ohms)


def test_a_fit_to_iec_60751_table_1_finds_its_coefficients() -> None:
    fitted, residual = fit(IEC_TABLE_1)
    assert fitted.r0 == pytest.approx(100.0, abs=1e-4)
    assert fitted.a == pytest.approx(IEC_A, abs=1e-9)
    assert fitted.b == pytest.approx(IEC_B, abs=1e-11)
    assert fitted.c == pytest.approx(IEC_C, abs=1e-14)
    # the table's last digit is 0.0001 Ω: ±0.00005 Ω over dR/dt ≥ 0.34 Ω/°C is < 0.15 mK
    assert residual < 0.00015
    # rounded to 0.01 Ω the table still gives the coefficients, with a residual of mK
    rounded, coarse = fit([(t, round(r, 2)) for t, r in IEC_TABLE_1])
    assert rounded.a == pytest.approx(IEC_A, abs=5e-7) and 0.001 < coarse < 0.015


def test_a_fit_to_exact_resistances_recovers_the_coefficients_and_no_residual() -> None:
    prt = Coefficients(100.0123, 3.9085e-3, -5.776e-7, -4.18e-12)
    points = [(t, prt.resistance(t)) for t in (-40.0, -20.0, 0.0, 100.0, 232.0, 420.0)]
    fitted, residual = fit(points)
    assert fitted.r0 == pytest.approx(prt.r0, rel=1e-12)
    assert (fitted.a, fitted.b) == pytest.approx((prt.a, prt.b), rel=1e-9)
    assert fitted.c == pytest.approx(prt.c, rel=1e-6)
    assert residual < 1e-9
    above = [(t, r) for t, r in points if t >= 0]  # no point below 0 °C: C is not fitted
    fitted, _ = fit(above)
    assert fitted.c == 0.0 and fitted.a == pytest.approx(prt.a, rel=1e-9)
    assert residual_of(prt, points) < 1e-9
    # a residual is what the coefficients miss: 0.385 Ω/°C · 0.010 °C off at 100 °C
    shifted = [(t, r + (0.00385 if t == 100.0 else 0.0)) for t, r in points]
    assert residual_of(prt, shifted) == pytest.approx(0.010, rel=0.02)


def test_a_fit_needs_enough_points_and_resistances() -> None:
    with pytest.raises(MetrologyError, match="needs 4 temperatures"):
        fit([(0.0, 100.0), (100.0, 138.5), (200.0, 175.86)])  # 3 points: residual always 0
    with pytest.raises(MetrologyError, match="needs 5 temperatures"):
        fit([(-50.0, 80.3), (0.0, 100.0), (100.0, 138.5), (200.0, 175.86)])
    with pytest.raises(MetrologyError, match="not a resistance"):
        fit([(0.0, 100.0), (100.0, -1.0), (200.0, 175.9), (300.0, 212.05)])


def test_coefficients_that_are_no_platinum_thermometers_are_refused() -> None:
    """A negative slope made a residual look like 0 (|x| missing); an A far from any PRT's
    turns a U in Ω into a U in °C of the wrong size."""
    table = [(t, IEC_60751.resistance(t)) for t in (0.0, 200.0, 300.0, 420.0)]
    falling = Coefficients(100.0, 3.9083e-3, -2e-5, 0.0)  # dR/dt < 0 above ~98 °C
    with pytest.raises(MetrologyError, match="do not rise with t at 200 °C"):
        residual_of(falling, table)
    with pytest.raises(MetrologyError, match="not a platinum thermometer's"):
        residual_of(Coefficients(100.0, 200.0, 0.0, 0.0), table)
    # just inside and just outside the band of A
    residual_of(Coefficients(100.0, 3.85e-3, -5.775e-7, 0.0), table)
    with pytest.raises(MetrologyError, match="not a platinum"):
        residual_of(Coefficients(100.0, 3.849e-3, -5.775e-7, 0.0), table)
