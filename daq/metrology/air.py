"""Air density and air buoyancy: what turns a weight's conventional mass into the reference
value of a test load weighed in the laboratory's air.

Air density from the CIPM-2007 equation (A. Picard, R. S. Davis, M. Gläser, K. Fujii,
Metrologia 45 (2008) 149-155) or the approximation of OIML R111-1:2004 (E.3-1); conventional
mass per OIML D 28:2004 / R111-1:2004; the buoyancy correction of a test weight and its
uncertainty per EURAMET cg-18 v4.0, 7.1.2 (section and equation numbers there are as we
recall them: the guide's text was not at hand to check them).

Both air-density formulas refuse conditions outside the range of validity of CIPM-2007,
600 hPa to 1100 hPa and 15 °C to 27 °C (0 % to 100 % relative humidity), unless the caller
asks for the extrapolation with ``check_range=False``. Those bounds are the ones quoted for
the equation from Picard et al. (2008) (e.g. by the R package uLPAQ's ``densidad_aire``);
the paper's own text was not at hand to check the wording or the clause.
"""

from __future__ import annotations

import math

from daq.metrology.errors import MetrologyError

RHO_0 = 1.2
"""kg/m³: reference air density of conventional mass (OIML D 28:2004, 4)."""
RHO_C = 8000.0
"""kg/m³: reference density of a weight for conventional mass (OIML D 28:2004, 4)."""

# CIPM-2007, Appendix A: constants of the equation, in the units the paper gives.
_R = 8.314472  # J mol⁻¹ K⁻¹, molar gas constant (CODATA 2006)
_MV = 18.01528e-3  # kg/mol, molar mass of water
_PSV = (1.2378847e-5, -1.9121316e-2, 33.93711047, -6.3431645e3)  # A, B, C, D of psv(T)
_ENHANCEMENT = (1.00062, 3.14e-8, 5.6e-7)  # alpha, beta / Pa⁻¹, gamma / K⁻²
_A0, _A1, _A2 = 1.58123e-6, -2.9331e-8, 1.1043e-10  # compressibility Z
_B0, _B1 = 5.707e-6, -2.051e-8
_C0, _C1 = 1.9898e-4, -2.376e-6
_D, _E = 1.83e-11, -0.765e-8

CIPM_2007_PRESSURE_HPA = (600.0, 1100.0)
"""hPa: the pressures for which CIPM-2007 is stated (Picard et al. 2008; see the module)."""
CIPM_2007_TEMPERATURE_C = (15.0, 27.0)
"""°C: the temperatures for which CIPM-2007 is stated (Picard et al. 2008; see the module)."""


def _check_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise MetrologyError(f"{name} must be a finite number, not {value!r}")


def _check_humidity(relative_humidity: float) -> None:
    if not 0.0 <= relative_humidity <= 100.0:
        raise MetrologyError(
            f"relative_humidity = {relative_humidity:g} %: a relative humidity must be 0 % to 100 %"
        )


def _check_conditions(
    temperature_c: float, pressure: float, pressure_unit: str, relative_humidity: float
) -> None:
    """Refuse the physically impossible: no number, no pressure, below absolute zero."""
    _check_finite(
        temperature_c=temperature_c, pressure=pressure, relative_humidity=relative_humidity
    )
    if pressure <= 0:
        raise MetrologyError(f"pressure must be positive, not {pressure:g} {pressure_unit}")
    if temperature_c <= -273.15:
        raise MetrologyError(f"temperature must be above absolute zero, not {temperature_c:g} °C")
    _check_humidity(relative_humidity)


def _check_range(
    formula: str,
    temperature_c: float,
    pressure_name: str,
    pressure: float,
    pressure_unit: str,
    hpa: float,
) -> None:
    """Refuse conditions outside CIPM-2007's range; ``hpa``: how many of the caller's
    pressure unit make one hPa."""
    t_low, t_high = CIPM_2007_TEMPERATURE_C
    if not t_low <= temperature_c <= t_high:
        raise MetrologyError(
            f"temperature_c = {temperature_c:g} °C is outside {t_low:g} °C to {t_high:g} °C, "
            f"the range of validity of {formula}; pass check_range=False to extrapolate"
        )
    p_low, p_high = (bound * hpa for bound in CIPM_2007_PRESSURE_HPA)
    if not p_low <= pressure <= p_high:
        raise MetrologyError(
            f"{pressure_name} = {pressure:g} {pressure_unit} is outside {p_low:g} "
            f"{pressure_unit} to {p_high:g} {pressure_unit}, the range of validity of "
            f"{formula} (is it in {pressure_unit}?); pass check_range=False to extrapolate"
        )


def air_density_cipm2007(
    temperature_c: float,
    pressure_pa: float,
    relative_humidity: float,
    co2_fraction: float = 0.0004,
    *,
    check_range: bool = True,
) -> float:
    """Density of moist air in kg/m³ by the CIPM-2007 equation (Metrologia 45 (2008) 149).

    ``pressure_pa`` in Pa, ``relative_humidity`` in % (0-100), ``co2_fraction`` the mole
    fraction of CO2. The equation is stated for 60 000 Pa to 110 000 Pa (600 hPa to
    1100 hPa) and 15 °C to 27 °C: outside that a MetrologyError, unless ``check_range`` is
    False (an extrapolation, the caller's decision; unphysical inputs are refused always).
    """
    _check_conditions(temperature_c, pressure_pa, "Pa", relative_humidity)
    if check_range:
        _check_range("CIPM-2007", temperature_c, "pressure_pa", pressure_pa, "Pa", 100.0)
    _check_finite(co2_fraction=co2_fraction)
    if not 0.0 <= co2_fraction < 1.0:
        raise MetrologyError(f"CO2 mole fraction must be 0 to 1, not {co2_fraction:g}")

    t = temperature_c
    big_t = t + 273.15
    p = pressure_pa
    a, b, c, d = _PSV
    psv = math.exp(a * big_t**2 + b * big_t + c + d / big_t)  # saturation vapour pressure, Pa
    alpha, beta, gamma = _ENHANCEMENT
    f = alpha + beta * p + gamma * t**2  # enhancement factor
    xv = relative_humidity / 100.0 * f * psv / p  # mole fraction of water vapour
    z = (
        1.0
        - p / big_t * (_A0 + _A1 * t + _A2 * t**2 + (_B0 + _B1 * t) * xv + (_C0 + _C1 * t) * xv**2)
        + (p / big_t) ** 2 * (_D + _E * xv**2)
    )
    ma = (28.96546 + 12.011 * (co2_fraction - 0.0004)) * 1e-3  # molar mass of dry air, kg/mol
    return p * ma / (z * _R * big_t) * (1.0 - xv * (1.0 - _MV / ma))


def air_density_approximation(
    temperature_c: float,
    pressure_hpa: float,
    relative_humidity: float,
    *,
    check_range: bool = True,
) -> float:
    """Air density in kg/m³ by the approximation of OIML R111-1:2004, formula (E.3-1).

    rho_a = (0.34848 p - 0.009 h exp(0.061 t)) / (273.15 + t), p in hPa, h in %, t in °C:
    good enough where the air density's uncertainty is not dominant (classes F and M).
    An approximation of CIPM-2007, it is not trusted beyond that equation's range (600 hPa
    to 1100 hPa, 15 °C to 27 °C): outside it a MetrologyError unless ``check_range`` is
    False. Within it our computed difference from CIPM-2007 is at most 1.6e-4 relative from
    900 hPa to 1100 hPa, rising to 2.5e-4 at 600 hPa (0-100 %). The range R111 itself gives
    for (E.3-1) was not checked against its text.
    """
    _check_conditions(temperature_c, pressure_hpa, "hPa", relative_humidity)
    if check_range:
        _check_range(
            "CIPM-2007, which OIML R111-1 (E.3-1) approximates",
            temperature_c,
            "pressure_hpa",
            pressure_hpa,
            "hPa",
            1.0,
        )
    t = temperature_c
    return (0.34848 * pressure_hpa - 0.009 * relative_humidity * math.exp(0.061 * t)) / (273.15 + t)


def _check_density(name: str, density: float) -> None:
    _check_finite(**{name: density})
    if density <= 0:
        raise MetrologyError(f"{name} must be positive, not {density:g} kg/m³")


def conventional_mass(true_mass: float, density: float) -> float:
    """Conventional mass of a body of (true) mass ``true_mass`` and density ``density`` (kg/m³).

    m_c = m (1 - rho_0/rho) / (1 - rho_0/rho_c) (OIML D 28:2004, 5):
    the mass of a weight of density 8000 kg/m³ that balances the body in air of 1.2 kg/m³.
    Same unit as ``true_mass``.
    """
    _check_finite(true_mass=true_mass)
    _check_density("density", density)
    return true_mass * (1.0 - RHO_0 / density) / (1.0 - RHO_0 / RHO_C)


def buoyancy_correction(
    conventional_mass: float, air_density: float, weight_density: float
) -> float:
    """Correction to add to a weight's conventional mass when it is used in air of
    ``air_density``: delta_m_B = -m_c (rho_a - rho_0) (1/rho - 1/rho_c).

    EURAMET cg-18 v4.0, 7.1.2 (air buoyancy of the reference weights; the equation number
    could not be checked against the text here). Densities in kg/m³; same unit as
    ``conventional_mass``. Zero when rho_a = rho_0 or rho = rho_c.
    """
    _check_finite(conventional_mass=conventional_mass)
    _check_density("air density", air_density)
    _check_density("weight density", weight_density)
    return -conventional_mass * (air_density - RHO_0) * (1.0 / weight_density - 1.0 / RHO_C)


def buoyancy_uncertainty(
    conventional_mass: float,
    air_density: float,
    u_air_density: float,
    weight_density: float,
    u_weight_density: float,
) -> float:
    """Standard uncertainty of ``buoyancy_correction`` from u(rho_a) and u(rho) (kg/m³).

    u²(delta_m_B) = m_c² [u²(rho_a) (rho_c - rho)² / (rho² rho_c²)
                          + (rho_a - rho_0)² u²(rho) / rho⁴]:
    the first-order propagation (GUM 5.1.2) of the correction, the form of EURAMET cg-18 v4.0,
    7.1.2 and of OIML R111-1:2004, C.6.3 (numbers not checked against the texts here).
    """
    _check_finite(conventional_mass=conventional_mass)
    _check_density("air density", air_density)
    _check_density("weight density", weight_density)
    for name, u in (("u(air density)", u_air_density), ("u(weight density)", u_weight_density)):
        _check_finite(**{name: u})
        if u < 0:
            raise MetrologyError(f"{name} must not be negative, not {u:g} kg/m³")
    rho = weight_density
    by_air = u_air_density * (RHO_C - rho) / (rho * RHO_C)
    by_weight = (air_density - RHO_0) * u_weight_density / rho**2
    return abs(conventional_mass) * math.hypot(by_air, by_weight)
