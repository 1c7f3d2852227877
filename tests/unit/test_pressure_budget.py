"""The DKD-R 6-1 budget of one pressure point, recomputed by hand from fixed inputs.

``procedures.pressure_gauge.point_budget`` is pure: given the series' indications and the
reference readings it returns the model of the error of the mean indication. Here every term
is recomputed with the formulas of DKD-R 6-1:2014 §6 / EURAMET cg-17 (cited from memory:
the guides' text was not at hand; the clause numbers are as recalled), the GUM (JCGM
100:2008) and EA-4/02 M:2022, and compared with what the budget computes with GTC.

The point: a 0.1 %-class digital gauge (sequence A: M1 up, M2 down, M3 up, M4 down) at
5 bar gauge against a reference measuring absolute pressure (a barometer read at each
series), oil as the pressure medium and the standard's reference level 0.10 m above the
UUT's.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pydantic import ValidationError
from scipy.stats import t as student

from procedures.pressure_gauge import (
    AIR,
    ATMOSPHERE,
    DENSITY,
    HEIGHT,
    HYSTERESIS,
    INDICATION,
    REFERENCE,
    REFERENCE_RESOLUTION,
    REPEATABILITY,
    UUT_RESOLUTION,
    ZERO,
    ReferenceStandard,
    SeriesReading,
    Settings,
    head_correction,
    medium_density,
    point_budget,
)

NOMINAL = 5.0  # bar, gauge
G = 9.80665  # m/s²
OIL = 860.0  # kg/m³ ± 10 (half-width)
DH = 0.10  # m ± 0.005 (half-width): the standard's reference level above the UUT's
RHO_AIR = 1.19  # kg/m³ ± 0.02 (half-width), given (normally from the plan's environment)
U_STANDARD, K_STANDARD = 0.0005, 2.0  # bar: the reference's certificate
DRIFT = 0.0002  # bar, half-width
R_UUT = 0.001  # bar, digit step of the UUT
R_REF = 0.0001  # bar, digit step of the reference
U_BAROMETER = 0.3  # hPa, k = 2

INDICATIONS = {1: 5.0012, 2: 5.0020, 3: 5.0014, 4: 5.0019}
"""M1 rising, M2 falling, M3 rising, M4 falling, bar."""
ZEROS = {1: 0.0000, 2: 0.0003, 3: 0.0001, 4: 0.0002}
"""The UUT at 0 bar: before M1 and M3 (rising), after M2 and M4 (falling), bar."""
BASE = 6.0049  # bar absolute: about 5 bar + p_atm - Δp_head
REFERENCES = {
    1: (BASE - 0.003, BASE + 0.003, BASE),
    2: (BASE + 0.0035, BASE - 0.0025, BASE + 0.0005),
    3: (BASE - 0.0035, BASE + 0.0025, BASE - 0.0005),
    4: (BASE + 0.003, BASE - 0.003, BASE),
}
"""Three readings of the absolute reference per series (a large scatter, so that ν_eff is
finite and k is not 2), bar."""
BAROMETER = {1: 1013.0, 2: 1013.2, 3: 1013.4, 4: 1013.6}
"""hPa, read at each series."""


def settings(**changes: object) -> Settings:
    raw: dict[str, object] = {
        "sequence": "A",
        "points": [0, 1.25, 2.5, 3.75, 5, 6.25, 7.5, 8.75, 10],
        "unit": "bar",
        "uut_resolution": R_UUT,
        "reference_resolution": R_REF,
        "reference_drift": DRIFT,
        "reference_mode": "absolute",
        "uut_mode": "gauge",
        "barometer_uncertainty": U_BAROMETER,
        "head": {
            "height": DH,
            "height_uncertainty": 0.005,
            "medium": "liquid",
            "density": OIL,
            "density_uncertainty": 10.0,
            "air_density_uncertainty": 0.02,
            "gravity": G,
        },
    }
    raw.update(changes)
    return Settings.model_validate(raw)


def series() -> list[SeriesReading]:
    return [
        SeriesReading(n, n % 2 == 1, INDICATIONS[n], REFERENCES[n], BAROMETER[n])
        for n in (1, 2, 3, 4)
    ]


def two_digits(value: float) -> float:
    """U to two significant digits, half up (GUM 7.2.6; EA-4/02 M:2022 6)."""
    exact = Decimal(repr(value))
    return float(exact.quantize(Decimal(1).scaleb(exact.adjusted() - 1), ROUND_HALF_UP))


def test_every_term_of_one_point_by_hand() -> None:
    result = point_budget(
        settings(),
        NOMINAL,
        series(),
        ZEROS,
        ReferenceStandard("ref", U_STANDARD, K_STANDARD),
        atmosphere=None,
        air_density=RHO_AIR,
    )
    rows = {c.name: c for c in result.budget.contributions}
    evaluation = result.budget.evaluate()

    # DKD-R 6-1 §6: zero deviation f0 = max over the cycles of |x_zero after M2k - before M2k-1|
    f0 = max(abs(ZEROS[2] - ZEROS[1]), abs(ZEROS[4] - ZEROS[3]))
    assert f0 == pytest.approx(0.0003) and result.zero_deviation == pytest.approx(f0)
    # repeatability b' = |M3 - M1| rising, |M4 - M2| falling (sequence A); the larger is taken
    b = max(abs(INDICATIONS[3] - INDICATIONS[1]), abs(INDICATIONS[4] - INDICATIONS[2]))
    assert b == pytest.approx(0.0002) and result.repeatability == pytest.approx(b)
    # hysteresis h = mean of |M2 - M1| and |M4 - M3| (sequence A); the larger is bounded
    loops = [abs(INDICATIONS[2] - INDICATIONS[1]), abs(INDICATIONS[4] - INDICATIONS[3])]
    h = sum(loops) / 2
    assert h == pytest.approx(0.00065) and result.hysteresis == pytest.approx(h)
    assert result.hysteresis_max == pytest.approx(0.0008)

    # each a rectangle of half-width x/2: u = x/(2√3) (DKD-R 6-1 §6; GUM 4.3.7)
    assert rows[ZERO].standard_uncertainty == pytest.approx(f0 / (2 * math.sqrt(3)))
    assert rows[REPEATABILITY].standard_uncertainty == pytest.approx(b / (2 * math.sqrt(3)))
    assert rows[HYSTERESIS].standard_uncertainty == pytest.approx(h / (2 * math.sqrt(3)))
    # resolutions: u = r/(2√3) (EA-4/02 M:2022 S3)
    assert rows[UUT_RESOLUTION].standard_uncertainty == pytest.approx(R_UUT / (2 * math.sqrt(3)))
    assert rows[REFERENCE_RESOLUTION].standard_uncertainty == pytest.approx(
        R_REF / (2 * math.sqrt(3))
    )
    # certificate u = U/k (GUM 4.3.3); drift u = a/√3 (GUM 4.3.7)
    assert rows["reference ref calibration"].standard_uncertainty == pytest.approx(0.00025)
    assert rows["reference ref drift"].standard_uncertainty == pytest.approx(DRIFT / math.sqrt(3))

    # reference readings: pooled within-series s_p (GUM 4.2.8), u = s_p/√N, ν = N - m
    squares = 0.0
    for readings in REFERENCES.values():
        mean = sum(readings) / 3
        squares += sum((r - mean) ** 2 for r in readings)
    nu_a = 12 - 4
    u_a = math.sqrt(squares / nu_a) / math.sqrt(12)
    assert rows[REFERENCE].standard_uncertainty == pytest.approx(u_a)
    assert rows[REFERENCE].dof == nu_a
    p_ref = sum(sum(r) for r in REFERENCES.values()) / 12
    assert rows[REFERENCE].value == pytest.approx(p_ref)

    # barometer: p_gauge = p_abs - p_atm, u = U/2 (k = 2), mean of the readings
    p_atm = sum(BAROMETER.values()) / 4
    assert rows[ATMOSPHERE].value == pytest.approx(1013.3)
    assert rows[ATMOSPHERE].standard_uncertainty == pytest.approx(U_BAROMETER / 2)

    # head correction Δp = (ρ_fl - ρ_air)·g·Δh (DKD-R 6-1 §6), in Pa then bar (1 Pa = 1e-5 bar)
    head = (OIL - RHO_AIR) * G * DH * 1e-5
    assert head == pytest.approx(0.0084222, rel=1e-4)  # 10 cm of oil is 8.4 mbar
    assert result.head == pytest.approx(head)
    assert rows[HEIGHT].standard_uncertainty == pytest.approx(0.005 / math.sqrt(3))
    assert rows[DENSITY].standard_uncertainty == pytest.approx(10.0 / math.sqrt(3))
    assert rows[AIR].standard_uncertainty == pytest.approx(0.02 / math.sqrt(3))

    # the value: E = x̄ - (p̄_ref + Δp_head - p_atm), the corrections' estimates being 0
    x_bar = sum(INDICATIONS.values()) / 4
    reference = p_ref + head - p_atm * 1e-3
    error = x_bar - reference
    assert result.reference == pytest.approx(reference, abs=1e-12)
    assert result.error == pytest.approx(error, abs=1e-12)
    assert evaluation.value == pytest.approx(error, abs=1e-12)
    # each series against its own reference readings and barometer reading
    for n, name in ((1, "M1 rising"), (2, "M2 falling"), (3, "M3 rising"), (4, "M4 falling")):
        own = sum(REFERENCES[n]) / 3 + head - BAROMETER[n] * 1e-3
        assert result.each[name] == pytest.approx(INDICATIONS[n] - own, abs=1e-12)

    # sensitivity coefficients ∂E/∂xᵢ (GUM 5.1.3)
    sensitivities = {
        UUT_RESOLUTION: 1.0,
        ZERO: 1.0,
        REPEATABILITY: 1.0,
        HYSTERESIS: 1.0,
        REFERENCE: -1.0,
        "reference ref calibration": -1.0,
        "reference ref drift": -1.0,
        REFERENCE_RESOLUTION: -1.0,
        HEIGHT: -(OIL - RHO_AIR) * G * 1e-5,  # bar/m
        DENSITY: -G * DH * 1e-5,  # bar/(kg/m³)
        AIR: G * DH * 1e-5,
        ATMOSPHERE: 1e-3,  # bar/hPa: p_atm is subtracted from the reference
    }
    evaluated = {c.name: c for c in evaluation.contributions}
    for name, c in sensitivities.items():
        assert evaluated[name].sensitivity == pytest.approx(c, rel=1e-9), name
    assert evaluated[INDICATION].sensitivity == pytest.approx(1.0, rel=1e-6)

    # u_c² = Σ (cᵢ u(xᵢ))² (GUM 5.1.2: the inputs are independent)
    u_c = math.sqrt(
        sum((c * rows[name].standard_uncertainty) ** 2 for name, c in sensitivities.items())
    )
    assert evaluation.combined == pytest.approx(u_c, rel=1e-9)
    # Welch-Satterthwaite (GUM G.4.1): only the reference readings have finite ν
    nu_eff = u_c**4 / (u_a**4 / nu_a)
    assert evaluation.dof == pytest.approx(nu_eff, rel=1e-9)
    assert math.floor(nu_eff) == 15
    # k = t_95.45(15) = 2.18: GUM Table G.2 (quoted from memory), and from Student's t
    assert evaluation.k == 2.18
    assert round(float(student.ppf(0.5 + 0.9545 / 2, 15)), 2) == 2.18
    # U = k·u_c to two significant digits (GUM 7.2.6)
    assert evaluation.expanded == two_digits(2.18 * u_c)
    assert evaluation.expanded == pytest.approx(0.0022)


def test_a_gas_is_denser_under_pressure() -> None:
    """Ideal gas: ρ = ρ_atm·p_abs/p_atm, so Δp_head at 10 bar gauge is ~11 times that of the
    gas at atmospheric pressure (less the air column)."""
    gas = settings(
        head={
            "height": 0.5,
            "height_uncertainty": 0.01,
            "medium": "gas",
            "density": 1.2,
            "density_uncertainty": 0.05,
        },
        reference_mode="gauge",
    )
    density, half_width = medium_density(gas, 10.0, 1000.0)  # 1000 hPa = 1 bar
    assert density == pytest.approx(1.2 * 11.0) and half_width == pytest.approx(0.05 * 11.0)
    head = head_correction(gas, 10.0, 1000.0, 1.19)
    assert head == pytest.approx((13.2 - 1.19) * 9.80665 * 0.5 * 1e-5)
    absolute = settings(
        head={**gas.head.model_dump(), "medium": "gas"},
        uut_mode="absolute",
        reference_mode="absolute",
    )
    # an absolute UUT: no air column to subtract, and p_abs is the nominal itself
    assert head_correction(absolute, 10.0, 1000.0, 1.19) == pytest.approx(
        1.2 * 10.0 * 9.80665 * 0.5 * 1e-5
    )


def test_sequence_c_has_no_repeatability_and_one_cycle() -> None:
    c = settings(sequence="C", points=[0, 2.5, 5, 7.5, 10], reference_mode="gauge")
    result = point_budget(
        c,
        NOMINAL,
        [
            SeriesReading(1, True, 5.01, (5.0, 5.0)),
            SeriesReading(2, False, 5.05, (5.0, 5.0)),
        ],
        {1: 0.0, 2: 0.02},
        ReferenceStandard("ref", U_STANDARD, K_STANDARD),
        atmosphere=None,
        air_density=RHO_AIR,
    )
    rows = {r.name: r for r in result.budget.contributions}
    assert result.hysteresis == pytest.approx(0.04) and result.zero_deviation == pytest.approx(0.02)
    assert rows[REPEATABILITY].standard_uncertainty == 0.0  # not determined (DKD-R 6-1 §5)
    assert "not determined" in rows[REPEATABILITY].note
    assert ATMOSPHERE not in rows  # both measure gauge pressure
    assert result.each == pytest.approx(
        {"M1 rising": 0.01 - result.head, "M2 falling": 0.05 - result.head}
    )


def test_every_term_names_its_formula_and_source() -> None:
    result = point_budget(
        settings(),
        NOMINAL,
        series(),
        ZEROS,
        ReferenceStandard("ref", U_STANDARD, K_STANDARD),
        atmosphere=None,
        air_density=RHO_AIR,
    )
    for row in result.budget.contributions:
        assert row.note and ("u =" in row.note or "x̄" in row.note or "p̄_ref" in row.note), row
        assert any(s in row.note for s in ("DKD-R", "GUM", "EA-4/02")), row


@pytest.mark.parametrize(("sequence", "count", "minimum"), [("A", 8, 9), ("B", 8, 9), ("C", 4, 5)])
def test_each_sequence_needs_its_points(sequence: str, count: int, minimum: int) -> None:
    # DKD-R 6-1:2014 §5: sequences A and B at least 9 test points, C at least 5
    with pytest.raises(ValidationError) as caught:
        settings(sequence=sequence, points=[float(p) for p in range(count)])
    [error] = caught.value.errors()
    assert error["loc"] == ("points",)
    assert f"at least {minimum}" in error["msg"] and "settings.points" in error["msg"]
    settings(sequence=sequence, points=[float(p) for p in range(minimum)])


def test_mixed_modes_need_the_barometer_uncertainty() -> None:
    with pytest.raises(ValidationError, match="barometric pressure"):
        settings(barometer_uncertainty=None)
    settings(barometer_uncertainty=None, reference_mode="gauge")  # alike: not needed
    stated = point_budget(
        settings(),
        NOMINAL,
        [SeriesReading(s.number, s.rising, s.indication, s.references) for s in series()],
        ZEROS,
        ReferenceStandard("ref", U_STANDARD, K_STANDARD),
        atmosphere=1010.0,  # the plan's stated pressure, hPa, when no barometer is read
        air_density=RHO_AIR,
    )
    assert stated.atmosphere == 1010.0
    with pytest.raises(ValueError, match="barometric pressure is needed"):
        point_budget(
            settings(),
            NOMINAL,
            [SeriesReading(s.number, s.rising, s.indication, s.references) for s in series()],
            ZEROS,
            ReferenceStandard("ref", U_STANDARD, K_STANDARD),
            atmosphere=None,
            air_density=RHO_AIR,
        )
