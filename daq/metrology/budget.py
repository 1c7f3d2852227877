"""GUM uncertainty budgets, evaluated with GTC.

A ``Budget`` is the measurement model y = Σ cᵢ xᵢ written as its contributions (the input
estimates xᵢ with their standard uncertainties, sensitivity coefficients cᵢ and degrees of
freedom); GTC combines them (JCGM 100:2008, 5.1.2 and 5.2.2 for correlated inputs) and gives
the Welch-Satterthwaite effective degrees of freedom (G.4.1). The coverage factor is the
t-factor for 95.45 % (G.3, Table G.2), and U is rounded to two significant digits
(GUM 7.2.6, EA-4/02 M:2022 6). A laboratory's CMC is a floor under the reported U.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import GTC
from GTC import reporting
from pydantic import BaseModel, ConfigDict, Field

COVERAGE_PROBABILITY = 95.45
"""Percent: the coverage of U with k = 2 for a normal distribution (GUM G.1.3)."""

Distribution = Literal["normal", "rectangular", "triangular", "U-shaped", "Type A"]


@dataclass(frozen=True)
class Contribution:
    """One input quantity of the model and how it reaches the result."""

    name: str
    value: float
    """Estimate xᵢ, in ``unit``."""
    standard_uncertainty: float
    """u(xᵢ), in ``unit``."""
    unit: str
    sensitivity: float = 1.0
    """cᵢ = ∂y/∂xᵢ, in the result's unit per ``unit``."""
    dof: float = math.inf
    distribution: Distribution = "normal"
    evaluation: Literal["A", "B"] = "B"

    def __post_init__(self) -> None:
        if not math.isfinite(self.standard_uncertainty) or self.standard_uncertainty < 0:
            raise ValueError(f"{self.name}: standard uncertainty must be a number >= 0")
        if not self.dof > 0:
            raise ValueError(f"{self.name}: degrees of freedom must be above 0")

    @property
    def uncertainty_of_result(self) -> float:
        """|cᵢ| u(xᵢ): this contribution's share of u(y), in the result's unit."""
        return abs(self.sensitivity) * self.standard_uncertainty


def type_a(
    name: str, readings: Sequence[float], unit: str, sensitivity: float = 1.0
) -> Contribution:
    """The mean of repeated readings, with the experimental standard deviation of the mean
    s/√n and n - 1 degrees of freedom (GUM 4.2)."""
    if len(readings) < 2:
        raise ValueError(f"{name}: a Type A evaluation needs at least two readings")
    n = len(readings)
    s = statistics.stdev(readings)
    return Contribution(
        name, statistics.fmean(readings), s / math.sqrt(n), unit, sensitivity, n - 1, "Type A", "A"
    )


def standard_deviation(
    name: str, s: float, unit: str, dof: float, sensitivity: float = 1.0, value: float = 0.0
) -> Contribution:
    """A Type A standard deviation of one indication (e.g. repeatability from a series)."""
    return Contribution(name, value, s, unit, sensitivity, dof, "Type A", "A")


def certificate(
    name: str, expanded: float, k: float, unit: str, sensitivity: float = 1.0, value: float = 0.0
) -> Contribution:
    """A value from a calibration certificate: u = U / k, normal (GUM 4.3.3)."""
    return Contribution(name, value, expanded / k, unit, sensitivity)


def rectangular(
    name: str, half_width: float, unit: str, sensitivity: float = 1.0, value: float = 0.0
) -> Contribution:
    """Limits ±a with no better knowledge: u = a/√3 (GUM 4.3.7)."""
    return Contribution(
        name, value, half_width / math.sqrt(3), unit, sensitivity, math.inf, "rectangular"
    )


def triangular(
    name: str, half_width: float, unit: str, sensitivity: float = 1.0, value: float = 0.0
) -> Contribution:
    """Limits ±a, values near the centre more likely: u = a/√6 (GUM 4.3.9)."""
    return Contribution(
        name, value, half_width / math.sqrt(6), unit, sensitivity, math.inf, "triangular"
    )


def resolution(name: str, step: float, unit: str, sensitivity: float = 1.0) -> Contribution:
    """Rounding of a digital indication with digit step d: u = d/(2√3) (EA-4/02 M:2022 S3)."""
    return rectangular(name, step / 2, unit, sensitivity)


class Cmc(BaseModel):
    """The laboratory's calibration and measurement capability: U ≥ absolute + relative·|x|,
    in the unit of the result (written in calibration plans)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    absolute: float = Field(0.0, ge=0)
    relative: float = Field(0.0, ge=0)

    def at(self, value: float) -> float:
        return self.absolute + self.relative * abs(value)


@dataclass(frozen=True)
class Evaluation:
    """The evaluated budget of one point: what the certificate reports and why."""

    quantity: str
    unit: str
    value: float
    combined: float
    """u_c(y)."""
    dof: float
    """Welch-Satterthwaite ν_eff (inf when every input has infinite degrees of freedom)."""
    k: float
    expanded: float
    """U as reported: k·u_c rounded to two significant digits, never below the CMC."""
    cmc_applied: bool
    contributions: tuple[Contribution, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with each row's share of u_c² (the "index" of GTC and EA-4/02)."""
        total = self.combined**2 or 1.0
        return {
            "quantity": self.quantity,
            "unit": self.unit,
            "value": self.value,
            "combined_standard_uncertainty": self.combined,
            "effective_dof": None if math.isinf(self.dof) else self.dof,
            "coverage_factor": self.k,
            "coverage_probability": COVERAGE_PROBABILITY,
            "expanded_uncertainty": self.expanded,
            "cmc_applied": self.cmc_applied,
            "contributions": [
                {
                    "name": c.name,
                    "value": c.value,
                    "standard_uncertainty": c.standard_uncertainty,
                    "unit": c.unit,
                    "distribution": c.distribution,
                    "evaluation": c.evaluation,
                    "sensitivity": c.sensitivity,
                    "dof": None if math.isinf(c.dof) else c.dof,
                    "uncertainty_of_result": c.uncertainty_of_result,
                    "share": c.uncertainty_of_result**2 / total,
                }
                for c in self.contributions
            ],
        }


def coverage_factor(dof: float) -> float:
    """t-factor for 95.45 % at ν_eff truncated to an integer (GUM G.4.1 note 1), to two
    decimals as tabulated in GUM Table G.2 and EA-4/02 Table E.1."""
    if math.isinf(dof):
        return 2.0
    return round(float(reporting.k_factor(max(1, math.floor(dof)), COVERAGE_PROBABILITY)), 2)


def round_uncertainty(expanded: float, *, up: bool = False) -> float:
    """Two significant digits; EA-4/02 M:2022 6.2: round up when ordinary rounding would
    lower the value by more than 5 %; ``up`` always rounds up (a floor stays a floor)."""
    if expanded <= 0 or not math.isfinite(expanded):
        return expanded
    exponent = math.floor(math.log10(expanded)) - 1
    scale = 10.0**exponent
    rounded = round(expanded / scale) * scale
    if up or rounded < 0.95 * expanded:
        rounded = math.ceil(expanded / scale) * scale
    return float(f"{rounded:.2g}")


def decimals_of(expanded: float) -> int:
    """Decimal places of a two-significant-digit U: the result is reported to the same."""
    if expanded <= 0 or not math.isfinite(expanded):
        return 6
    return max(0, 1 - math.floor(math.log10(expanded)))


@dataclass
class Budget:
    """The contributions to one result, built step by step by a procedure."""

    quantity: str
    unit: str
    contributions: list[Contribution] = field(default_factory=list)
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, *contributions: Contribution) -> Budget:
        names = {c.name for c in self.contributions}
        for contribution in contributions:
            if contribution.name in names:
                raise ValueError(f"the budget already has a contribution {contribution.name!r}")
            names.add(contribution.name)
            self.contributions.append(contribution)
        return self

    def correlate(self, first: str, second: str, r: float) -> Budget:
        """Correlation coefficient r between two inputs (e.g. weights calibrated together)."""
        if not -1 <= r <= 1:
            raise ValueError(f"a correlation coefficient is between -1 and 1, not {r}")
        self.correlations[(first, second)] = r
        return self

    def evaluate(self, cmc: Cmc | None = None, at: float | None = None) -> Evaluation:
        """Combine with GTC; ``cmc`` is evaluated at ``at`` (default: the result's value)."""
        if not self.contributions:
            raise ValueError(f"the budget of {self.quantity} has no contributions")
        correlated = {name for pair in self.correlations for name in pair}
        inputs = {}
        for c in self.contributions:
            if c.name in correlated and not math.isinf(c.dof):
                raise ValueError(
                    f"{c.name}: only inputs with infinite degrees of freedom can be correlated"
                )
            inputs[c.name] = GTC.ureal(
                c.value, c.standard_uncertainty, c.dof, c.name, independent=c.name not in correlated
            )
        for (first, second), r in self.correlations.items():
            if first not in inputs or second not in inputs:
                raise ValueError(f"cannot correlate {first!r} and {second!r}: not both in budget")
            GTC.set_correlation(r, inputs[first], inputs[second])
        y = sum((c.sensitivity * inputs[c.name] for c in self.contributions), start=GTC.ureal(0, 0))
        combined = float(y.u)
        dof = float(y.df) if math.isfinite(y.df) else math.inf
        k = coverage_factor(dof)
        expanded = round_uncertainty(k * combined)
        value = float(y.x)
        floor = cmc.at(value if at is None else at) if cmc else 0.0
        cmc_applied = expanded < floor
        return Evaluation(
            self.quantity,
            self.unit,
            value,
            combined,
            dof,
            k,
            round_uncertainty(floor, up=True) if cmc_applied else expanded,
            cmc_applied,
            tuple(self.contributions),
        )
