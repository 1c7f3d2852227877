"""Callendar-Van Dusen: platinum resistance thermometers, resistance <-> temperature.

IEC 60751:2008 (clause 4.2) defines R(t) = R0 (1 + A t + B t² + C (t - 100 °C) t³), the C
term only below 0 °C, with the standard coefficients below; a reference PRT's certificate
gives its own R0, A, B and C in the same form. Above 0 °C the inverse is the root of a
quadratic; below 0 °C it is found by Newton iteration.

IEC 60751:2008 states these equations (and its Table 1) for -200 °C to 850 °C only: a
temperature outside that range, or a resistance whose temperature would lie outside it, is
refused with a MetrologyError rather than extrapolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from daq.metrology.errors import MetrologyError

IEC_A = 3.9083e-3
IEC_B = -5.775e-7
IEC_C = -4.183e-12
T_MIN = -200.0
T_MAX = 850.0
"""°C: the range of IEC 60751:2008 (clause 4.2, Table 1) for the equations of R(t)."""


def _check_temperature(t: float) -> None:
    if not math.isfinite(t):
        raise MetrologyError(f"t = {t!r} °C: the temperature must be a finite number")
    if not T_MIN <= t <= T_MAX:
        raise MetrologyError(
            f"t = {t:g} °C is outside the range of the Callendar-Van Dusen equations, "
            f"{T_MIN:g} °C to {T_MAX:g} °C (IEC 60751:2008, 4.2)"
        )


@dataclass(frozen=True)
class Coefficients:
    """One thermometer's Callendar-Van Dusen coefficients (°C, Ω)."""

    r0: float = 100.0
    a: float = IEC_A
    b: float = IEC_B
    c: float = IEC_C

    def resistance(self, t: float) -> float:
        """R(t) in Ω for t in °C, -200 °C to 850 °C."""
        _check_temperature(t)
        return self._resistance(t)

    def slope(self, t: float) -> float:
        """dR/dt in Ω/°C: the sensitivity that converts u(R) into u(t); -200 °C to 850 °C."""
        _check_temperature(t)
        return self._slope(t)

    def temperature(self, resistance: float) -> float:
        """t in °C for a resistance in Ω (the inverse of ``resistance``): only for a
        resistance between R(-200 °C) and R(850 °C) of these coefficients."""
        if not math.isfinite(resistance) or resistance <= 0:
            raise MetrologyError(
                f"resistance = {resistance!r} Ω is not a resistance a PRT can have"
            )
        low, high = self._resistance(T_MIN), self._resistance(T_MAX)
        if not low <= resistance <= high:
            raise MetrologyError(
                f"resistance = {resistance:g} Ω is outside {low:.6g} Ω to {high:.7g} Ω, "
                f"the resistances of these coefficients from {T_MIN:g} °C to {T_MAX:g} °C "
                "(the range of IEC 60751:2008, 4.2)"
            )
        ratio = resistance / self.r0
        discriminant = self.a * self.a - 4 * self.b * (1.0 - ratio)
        if discriminant < 0:
            raise MetrologyError(
                f"resistance = {resistance:g} Ω is beyond the range of these coefficients"
            )
        t = (-self.a + math.sqrt(discriminant)) / (2 * self.b) if self.b else (ratio - 1) / self.a
        if t >= 0 or self.c == 0:
            return t
        for _ in range(50):
            step = (self._resistance(t) - resistance) / self._slope(t)
            t -= step
            if abs(step) < 1e-10:
                return t
        raise MetrologyError(  # pragma: no cover
            f"resistance = {resistance:g} Ω: no temperature found"
        )

    # Unchecked: the inverse iterates through (and may step just past) the range's ends.
    def _resistance(self, t: float) -> float:
        cubic = self.c * (t - 100.0) * t**3 if t < 0 else 0.0
        return self.r0 * (1.0 + self.a * t + self.b * t * t + cubic)

    def _slope(self, t: float) -> float:
        cubic = self.c * (4 * t**3 - 300.0 * t * t) if t < 0 else 0.0
        return self.r0 * (self.a + 2 * self.b * t + cubic)


IEC_60751 = Coefficients()
"""The standard Pt100 of IEC 60751."""


def fit(points: list[tuple[float, float]]) -> tuple[Coefficients, float]:
    """Callendar-Van Dusen coefficients fitted by least squares to a certificate's table of
    (t in °C, R in Ω), and the fit's residual: the largest |t(Rᵢ) - tᵢ| in °C over the table
    (the interpolation error a budget carries). R is linear in R0, R0·A, R0·B and R0·C, so the
    fit is linear; C is fitted only when the table has points below 0 °C (it is 0 above).
    Three points at least, four with points below 0 °C."""
    import numpy as np

    for t, r in points:
        _check_temperature(t)
        if not math.isfinite(r) or r <= 0:
            raise MetrologyError(f"R = {r!r} Ω at {t:g} °C is not a resistance a PRT can have")
    below = any(t < 0 for t, _ in points)
    unknowns = 4 if below else 3
    if len({t for t, _ in points}) <= unknowns:
        raise MetrologyError(
            f"a Callendar-Van Dusen fit of {unknowns} coefficients needs {unknowns + 1} "
            f"temperatures at least (more points than coefficients, or its residual says "
            f"nothing){' (the table goes below 0 °C)' if below else ''}, not {len(points)}"
        )
    # in x = t / 100 °C the columns are of like size, and the least squares well conditioned
    rows = [
        [1.0, x, x * x, *(((x - 1.0) * x**3 if x < 0 else 0.0),) * below]
        for x in (t / 100.0 for t, _ in points)
    ]
    solution, _, rank, _ = np.linalg.lstsq(
        np.array(rows), np.array([r for _, r in points]), rcond=None
    )
    if rank < unknowns:
        raise MetrologyError("the table's temperatures do not determine the coefficients")
    r0 = float(solution[0])
    fitted = Coefficients(
        r0,
        float(solution[1]) / r0 / 1e2,
        float(solution[2]) / r0 / 1e4,
        float(solution[3]) / r0 / 1e8 if below else 0.0,
    )
    return plausible(fitted, points), residual(fitted, points)


A_RANGE = (3.85e-3, 3.93e-3)
"""/°C: the A of every platinum resistance thermometer (IEC 60751's 3.9083e-3, an SPRT's
about 3.9259e-3 with its W(29.76 °C) >= 1.11807): coefficients outside are not a PRT's."""


def plausible(coefficients: Coefficients, points: list[tuple[float, float]]) -> Coefficients:
    """``coefficients`` if they can be a platinum thermometer's over the table: A in
    ``A_RANGE``, R0 positive and R rising with t at every point (else dR/dt would turn a U in
    Ω into a U in °C of the wrong size or sign)."""
    low, high = A_RANGE
    if not (coefficients.r0 > 0 and low <= coefficients.a <= high):
        raise MetrologyError(
            f"R0 = {coefficients.r0:g} Ω, A = {coefficients.a:g} /°C are not a platinum "
            f"thermometer's (A lies between {low:g} and {high:g})"
        )
    for t, _ in points:
        if not coefficients._slope(t) > 0:
            raise MetrologyError(f"these coefficients do not rise with t at {t:g} °C")
    return coefficients


def residual(coefficients: Coefficients, points: list[tuple[float, float]]) -> float:
    """The largest |t(Rᵢ) - tᵢ| in °C of ``coefficients`` over a table of (t, R), as
    |R(tᵢ) - Rᵢ| / (dR/dt): exact to far below a microkelvin for residuals of millikelvins,
    and defined at the ends of the range, where the inverse may step just past them."""
    for t, _ in points:
        _check_temperature(t)
    plausible(coefficients, points)
    return max(abs((coefficients._resistance(t) - r) / coefficients._slope(t)) for t, r in points)
