"""Callendar-Van Dusen: platinum resistance thermometers, resistance <-> temperature.

IEC 60751:2008 (clause 4.2) defines R(t) = R0 (1 + A t + B t² + C (t - 100 °C) t³), the C
term only below 0 °C, with the standard coefficients below; a reference PRT's certificate
gives its own R0, A, B and C in the same form. Above 0 °C the inverse is the root of a
quadratic; below 0 °C it is found by Newton iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

IEC_A = 3.9083e-3
IEC_B = -5.775e-7
IEC_C = -4.183e-12


@dataclass(frozen=True)
class Coefficients:
    """One thermometer's Callendar-Van Dusen coefficients (°C, Ω)."""

    r0: float = 100.0
    a: float = IEC_A
    b: float = IEC_B
    c: float = IEC_C

    def resistance(self, t: float) -> float:
        """R(t) in Ω for t in °C."""
        cubic = self.c * (t - 100.0) * t**3 if t < 0 else 0.0
        return self.r0 * (1.0 + self.a * t + self.b * t * t + cubic)

    def slope(self, t: float) -> float:
        """dR/dt in Ω/°C: the sensitivity that converts u(R) into u(t)."""
        cubic = self.c * (4 * t**3 - 300.0 * t * t) if t < 0 else 0.0
        return self.r0 * (self.a + 2 * self.b * t + cubic)

    def temperature(self, resistance: float) -> float:
        """t in °C for a resistance in Ω (the inverse of ``resistance``)."""
        if not math.isfinite(resistance) or resistance <= 0:
            raise ValueError(f"{resistance!r} Ω is not a resistance a PRT can have")
        ratio = resistance / self.r0
        discriminant = self.a * self.a - 4 * self.b * (1.0 - ratio)
        if discriminant < 0:
            raise ValueError(f"{resistance:g} Ω is beyond the range of these coefficients")
        t = (-self.a + math.sqrt(discriminant)) / (2 * self.b) if self.b else (ratio - 1) / self.a
        if t >= 0 or self.c == 0:
            return t
        for _ in range(50):
            step = (self.resistance(t) - resistance) / self.slope(t)
            t -= step
            if abs(step) < 1e-10:
                return t
        raise ValueError(f"no temperature found for {resistance:g} Ω")  # pragma: no cover


IEC_60751 = Coefficients()
"""The standard Pt100 of IEC 60751."""
