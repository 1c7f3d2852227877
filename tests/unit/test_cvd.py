"""Callendar-Van Dusen against the reference table of IEC 60751:2008 (Table 1, Pt100)."""

import pytest

from daq.metrology.cvd import IEC_60751, Coefficients

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
