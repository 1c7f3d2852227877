"""The metrology library refuses what it cannot honestly compute with: a MetrologyError that
names the input and its value, instead of a number from outside a standard's range; and a
plan refuses laboratory conditions that are not plausible in the unit they are stated in."""

from __future__ import annotations

import math
import re

import pytest
import yaml

from daq.config import ConfigError
from daq.engine.plan import Environment, parse_plan
from daq.metrology.air import (
    air_density_approximation,
    air_density_cipm2007,
    buoyancy_correction,
    buoyancy_uncertainty,
    conventional_mass,
)
from daq.metrology.cvd import IEC_60751, Coefficients
from daq.metrology.errors import MetrologyError
from tests.conftest import CONFIG

NAN = float("nan")
INF = float("inf")


def test_metrology_error_is_a_value_error() -> None:
    """Callers that catch ValueError (plan checks, procedures) keep working."""
    assert issubclass(MetrologyError, ValueError)


# --- Callendar-Van Dusen: IEC 60751:2008, 4.2 and Table 1 hold from -200 °C to 850 °C ------


@pytest.mark.parametrize("t", [-200.001, -273.15, 850.001, 1000.0, INF, -INF])
def test_cvd_refuses_temperatures_outside_iec_60751(t: float) -> None:
    # IEC 60751:2008, 4.2: the equations of R(t) are defined for -200 °C to 850 °C only.
    message = re.escape(f"t = {t:g} °C is outside") if math.isfinite(t) else "t = -?inf °C"
    with pytest.raises(MetrologyError, match=message):
        IEC_60751.resistance(t)
    with pytest.raises(MetrologyError, match=message):
        IEC_60751.slope(t)


def test_cvd_refuses_nan_temperature() -> None:
    with pytest.raises(MetrologyError, match="t = nan °C"):
        IEC_60751.resistance(NAN)
    with pytest.raises(MetrologyError, match="t = nan °C"):
        IEC_60751.slope(NAN)


def test_cvd_accepts_the_ends_of_the_range() -> None:
    # IEC 60751:2008 Table 1: 18.5201 Ω at -200 °C and 390.4811 Ω at 850 °C (Pt100).
    assert IEC_60751.resistance(-200.0) == pytest.approx(18.5201, abs=5e-5)
    assert IEC_60751.resistance(850.0) == pytest.approx(390.4811, abs=5e-5)
    # dR/dt = R0 (A + 2Bt + C(4t³ - 300t²)) from 4.2, our arithmetic: at -200 °C
    # 100 (3.9083e-3 + 2.31e-4 + 1.84052e-4) = 0.4323352 Ω/°C; at 850 °C (no C term)
    # 100 (3.9083e-3 - 9.8175e-4) = 0.292655 Ω/°C.
    assert IEC_60751.slope(-200.0) == pytest.approx(0.4323352, rel=1e-9)
    assert IEC_60751.slope(850.0) == pytest.approx(0.292655, rel=1e-9)
    assert IEC_60751.temperature(IEC_60751.resistance(-200.0)) == pytest.approx(-200, abs=1e-9)
    assert IEC_60751.temperature(IEC_60751.resistance(850.0)) == pytest.approx(850, abs=1e-9)


@pytest.mark.parametrize("ohms", [18.52, 10.0, 390.4812, 400.0])
def test_cvd_inverse_refuses_resistances_beyond_the_range(ohms: float) -> None:
    # IEC 60751:2008, 4.2: R(-200 °C) = 18.52008 Ω and R(850 °C) = 390.4811 Ω for the
    # standard Pt100; a resistance outside would give a temperature outside the range.
    with pytest.raises(MetrologyError, match=re.escape(f"resistance = {ohms:g} Ω is outside")):
        IEC_60751.temperature(ohms)


def test_cvd_inverse_range_follows_the_certificate_coefficients() -> None:
    """A Pt25 (R0 = 25.5 Ω) reaches only about 99.6 Ω at 850 °C: 100 Ω, a fine Pt100 value, is
    beyond its range (IEC 60751:2008, 4.2 applied with the certificate's R0)."""
    pt25 = Coefficients(r0=25.5)
    assert pt25.temperature(25.5) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(MetrologyError, match="resistance = 100 Ω is outside"):
        pt25.temperature(100.0)


@pytest.mark.parametrize("ohms", [0.0, -5.0, NAN, INF])
def test_cvd_inverse_refuses_impossible_resistances(ohms: float) -> None:
    with pytest.raises(MetrologyError, match=re.escape(f"resistance = {ohms!r} Ω is not a")):
        IEC_60751.temperature(ohms)


# --- air density: CIPM-2007 (Picard et al., Metrologia 45 (2008) 149) is stated for 600 hPa
# to 1100 hPa and 15 °C to 27 °C; the OIML R111-1:2004 (E.3-1) approximation is held to it.


@pytest.mark.parametrize(
    ("t", "p_pa", "message"),
    [
        (14.9, 101_325.0, "temperature_c = 14.9 °C is outside 15 °C to 27 °C"),
        (27.1, 101_325.0, "temperature_c = 27.1 °C is outside 15 °C to 27 °C"),
        (20.0, 59_999.0, "pressure_pa = 59999 Pa is outside 60000 Pa to 110000 Pa"),
        (20.0, 110_001.0, "pressure_pa = 110001 Pa is outside 60000 Pa to 110000 Pa"),
        (20.0, 1013.25, r"pressure_pa = 1013.25 Pa is outside .* \(is it in Pa\?\)"),
    ],
)
def test_cipm2007_refuses_conditions_outside_its_range(t: float, p_pa: float, message: str) -> None:
    with pytest.raises(MetrologyError, match=message):
        air_density_cipm2007(t, p_pa, 50.0)


@pytest.mark.parametrize(("t", "p_pa"), [(15.0, 60_000.0), (27.0, 110_000.0), (15.0, 110_000.0)])
def test_cipm2007_accepts_the_ends_of_its_range(t: float, p_pa: float) -> None:
    # Picard et al. (2008): the bounds themselves are within the stated range.
    rho = air_density_cipm2007(t, p_pa, 50.0)
    assert rho == air_density_cipm2007(t, p_pa, 50.0, check_range=False)
    assert 0.68 < rho < 1.33  # 0.6887 at 600 hPa / 27 °C, 1.3266 at 1100 hPa / 15 °C


def test_cipm2007_refuses_humidity_above_saturation() -> None:
    # CIPM-2007 takes h as relative humidity in %, 0 % to 100 %.
    with pytest.raises(MetrologyError, match=re.escape("relative_humidity = 100.5 %")):
        air_density_cipm2007(20.0, 101_325.0, 100.5)


@pytest.mark.parametrize(
    ("t", "p_hpa", "message"),
    [
        (10.0, 1013.25, "temperature_c = 10 °C is outside 15 °C to 27 °C"),
        (30.0, 1013.25, "temperature_c = 30 °C is outside 15 °C to 27 °C"),
        (20.0, 599.9, "pressure_hpa = 599.9 hPa is outside 600 hPa to 1100 hPa"),
        (20.0, 101_325.0, r"pressure_hpa = 101325 hPa is outside .* \(is it in hPa\?\)"),
    ],
)
def test_approximation_refuses_conditions_outside_cipm2007s_range(
    t: float, p_hpa: float, message: str
) -> None:
    # OIML R111-1:2004 (E.3-1) approximates CIPM-2007: not trusted beyond that range.
    with pytest.raises(MetrologyError, match=message):
        air_density_approximation(t, p_hpa, 50.0)


@pytest.mark.parametrize(("t", "p_hpa"), [(15.0, 600.0), (27.0, 1100.0), (27.0, 600.0)])
def test_approximation_accepts_the_ends_of_the_range(t: float, p_hpa: float) -> None:
    # Our computed difference from CIPM-2007 at the ends: at most 2.5e-4 relative (600 hPa).
    approx = air_density_approximation(t, p_hpa, 50.0)
    assert approx == pytest.approx(air_density_cipm2007(t, p_hpa * 100, 50.0), rel=2.6e-4)


def test_extrapolation_is_the_callers_explicit_choice() -> None:
    """check_range=False evaluates the formula outside the range, but unphysical input is
    refused even then (no pressure, below absolute zero)."""
    assert air_density_approximation(5.0, 1013.25, 50.0, check_range=False) > 1.25
    with pytest.raises(MetrologyError, match="pressure must be positive"):
        air_density_cipm2007(20.0, -1.0, 50.0, check_range=False)
    with pytest.raises(MetrologyError, match="absolute zero"):
        air_density_approximation(-300.0, 1013.25, 50.0, check_range=False)


def test_shipped_plans_environments_are_within_range() -> None:
    """The weighing procedure computes air density from the plan's environment: every shipped
    plan's conditions are inside CIPM-2007's range and give a lab-like air density."""
    for path in sorted((CONFIG / "plans").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        env = Environment.model_validate(raw.get("environment", {}))
        rho = air_density_approximation(env.temperature, env.pressure, env.humidity)
        assert 1.15 < rho < 1.22, path.name


# --- buoyancy (EURAMET cg-18 v4.0, 7.1.2; OIML D 28:2004, 5) -------------------------------


def test_buoyancy_refuses_unphysical_densities_and_uncertainties() -> None:
    with pytest.raises(MetrologyError, match="weight density must be positive, not -8000"):
        buoyancy_correction(1.0, 1.2, -8000.0)
    with pytest.raises(MetrologyError, match="air density must be a finite number, not nan"):
        buoyancy_correction(1.0, NAN, 8000.0)
    with pytest.raises(MetrologyError, match=r"u\(air density\) must not be negative, not -0.01"):
        buoyancy_uncertainty(1.0, 1.2, -0.01, 8000.0, 10.0)
    with pytest.raises(MetrologyError, match=r"u\(weight density\) must not be negative, not -1"):
        buoyancy_uncertainty(1.0, 1.2, 0.01, 8000.0, -1.0)
    with pytest.raises(MetrologyError, match="density must be positive, not 0"):
        conventional_mass(1.0, 0.0)


# --- the plan's stated laboratory conditions ------------------------------------------------
# ISO/IEC 17025:2017, 7.8.4.1 a) (as we recall it): a calibration certificate states the
# environmental conditions that influence the result; the plausibility ranges are the lab's
# choice for a calibration laboratory (10-35 °C, 0-100 %, 500-1100 hPa, u(t) 0-10 °C), not
# from a standard.

PLAN = yaml.safe_load((CONFIG / "plans" / "balance.yaml").read_text())


def _environment_problems(environment: dict[str, float]) -> list[str]:
    """The plan loader's problems about ``environment`` (other fields are not this test's)."""
    try:
        parse_plan(yaml.safe_dump({**PLAN, "environment": environment}), "plans/x.yaml")
    except ConfigError as error:
        return [str(p) for p in error.problems if p.path.startswith("environment")]
    return []


def test_plan_refuses_a_pressure_given_in_pascals() -> None:
    problems = _environment_problems({"temperature": 20.0, "pressure": 101325})
    assert problems == [
        "plans/x.yaml: environment.pressure: 101325 hPa is not a plausible air pressure: "
        "give it in hPa (e.g. 1013.25), 500 hPa to 1100 hPa"
    ]
    with pytest.raises(ConfigError, match=r"environment\.pressure: 101325 hPa"):
        parse_plan(yaml.safe_dump({**PLAN, "environment": {"pressure": 101325}}), "x.yaml")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", 293.15, "293.15 °C is not a plausible laboratory temperature"),
        ("temperature", 9.9, "9.9 °C is not a plausible laboratory temperature"),
        ("temperature", 35.1, "35.1 °C is not a plausible laboratory temperature"),
        ("humidity", 100.5, "100.5 % is not a plausible relative humidity"),
        ("humidity", -1.0, "-1 % is not a plausible relative humidity"),
        ("humidity", NAN, "nan % is not a plausible relative humidity"),
        ("pressure", 499.0, "499 hPa is not a plausible air pressure"),
        ("pressure", 1100.5, "1100.5 hPa is not a plausible air pressure"),
        ("pressure", 101.325, "101.325 hPa is not a plausible air pressure"),  # kPa
        ("temperature_uncertainty", -0.1, "-0.1 °C is not a plausible temperature half-width"),
        ("temperature_uncertainty", 10.5, "10.5 °C is not a plausible temperature half-width"),
    ],
)
def test_plan_refuses_implausible_conditions(field: str, value: float, message: str) -> None:
    problems = _environment_problems({field: value})
    assert len(problems) == 1
    assert problems[0].startswith(f"plans/x.yaml: environment.{field}: {message}")


@pytest.mark.parametrize(
    "environment",
    [
        {"temperature": 10.0, "humidity": 0.0, "pressure": 500.0, "temperature_uncertainty": 0},
        {"temperature": 35.0, "humidity": 100.0, "pressure": 1100.0, "temperature_uncertainty": 10},
    ],
)
def test_plan_accepts_the_ends_of_the_plausible_ranges(environment: dict[str, float]) -> None:
    assert _environment_problems(environment) == []
    assert Environment.model_validate(environment).model_dump(exclude={"monitors"}) == environment
