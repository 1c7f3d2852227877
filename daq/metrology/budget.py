"""GUM uncertainty budgets, evaluated with GTC.

A ``Budget`` is a measurement model y = f(x₁, …, x_N) and its input quantities (estimates
xᵢ with standard uncertainties, degrees of freedom and distributions). The model is a
function GTC evaluates on uncertain numbers, so the value of y is the measurand computed from
the model (not a sum of corrections), and each sensitivity coefficient cᵢ = ∂f/∂xᵢ comes from
the model (JCGM 100:2008 5.1.3); without a model, y = Σ cᵢ xᵢ with the cᵢ given. Correlated
inputs combine per 5.2.2; inputs with finite degrees of freedom may be correlated only as an
ensemble of simultaneous Type A observations (GUM H.2, GTC's ``multiple_ureal``), so that
Welch-Satterthwaite stays valid (G.4.1; Willink's extension). The coverage factor is the
t-factor for the chosen coverage probability (G.3, Table G.2: 95.45 % by default, 95 % and
99 % available), and U is rounded to two significant digits (GUM 7.2.6, EA-4/02 M:2022 6).
A laboratory's CMC, with its unit, is a floor under the reported U, evaluated at the
measured value (ILAC P14:09/2020 5.4).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

import GTC
import numpy
from GTC import reporting
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from daq.core.units import check_unit, convert_difference, same_dimension
from daq.metrology.errors import MetrologyError

COVERAGE_PROBABILITY = 95.45
"""Percent: the coverage of U with k = 2 for a normal distribution (GUM G.1.3)."""
COVERAGE_PROBABILITIES = (95.45, 95.0, 99.0)
"""The coverage probabilities a plan may ask for, in percent."""

Distribution = Literal["normal", "rectangular", "triangular", "U-shaped", "Type A"]
Model = Callable[[Mapping[str, Any]], Any]
"""y = f(inputs): takes the inputs by name (GTC uncertain numbers, or plain floats when a
sensitivity is taken numerically) and returns the measurand."""


def _finite(name: str, what: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise MetrologyError(f"{name}: {what} must be a finite number, not {value!r}")


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
    """cᵢ = ∂y/∂xᵢ, in the result's unit per ``unit`` (from the model when the budget has
    one)."""
    dof: float = math.inf
    distribution: Distribution = "normal"
    evaluation: Literal["A", "B"] = "B"
    note: str = ""
    """The formula and source of this term, as the budget table shows it."""

    def __post_init__(self) -> None:
        _finite(self.name, "the estimate", self.value)
        _finite(self.name, "the standard uncertainty", self.standard_uncertainty)
        _finite(self.name, "the sensitivity coefficient", self.sensitivity)
        if self.standard_uncertainty < 0:
            raise MetrologyError(
                f"{self.name}: a standard uncertainty cannot be negative, "
                f"not {self.standard_uncertainty:g}"
            )
        if not self.dof >= 1:
            raise MetrologyError(
                f"{self.name}: degrees of freedom must be at least 1, not {self.dof!r}"
            )

    @property
    def uncertainty_of_result(self) -> float:
        """|cᵢ| u(xᵢ): this contribution's share of u(y), in the result's unit."""
        return abs(self.sensitivity) * self.standard_uncertainty


def type_a(
    name: str, readings: Sequence[float], unit: str, sensitivity: float = 1.0, note: str = ""
) -> Contribution:
    """The mean of repeated readings, with the experimental standard deviation of the mean
    s/√n and n - 1 degrees of freedom (GUM 4.2.3)."""
    if len(readings) < 2:
        raise MetrologyError(f"{name}: a Type A evaluation needs at least two readings")
    n = len(readings)
    s = statistics.stdev(readings)
    return Contribution(
        name,
        statistics.fmean(readings),
        s / math.sqrt(n),
        unit,
        sensitivity,
        n - 1,
        "Type A",
        "A",
        note or "s(x̄) = s/√n, ν = n - 1 (GUM 4.2.3)",
    )


def standard_deviation(
    name: str,
    s: float,
    unit: str,
    dof: float,
    sensitivity: float = 1.0,
    value: float = 0.0,
    note: str = "",
) -> Contribution:
    """A Type A standard deviation of one indication (e.g. repeatability from a series)."""
    return Contribution(name, value, s, unit, sensitivity, dof, "Type A", "A", note)


def certificate(
    name: str,
    expanded: float,
    k: float,
    unit: str,
    sensitivity: float = 1.0,
    value: float = 0.0,
    note: str = "",
) -> Contribution:
    """A value from a calibration certificate: u = U / k, normal (GUM 4.3.3)."""
    _finite(name, "the expanded uncertainty", expanded)
    _finite(name, "the coverage factor", k)
    if k <= 0:
        raise MetrologyError(f"{name}: a coverage factor must be above 0, not {k:g}")
    if expanded < 0:
        raise MetrologyError(f"{name}: an expanded uncertainty cannot be negative ({expanded:g})")
    return Contribution(
        name, value, expanded / k, unit, sensitivity, note=note or f"u = U/k, k = {k:g} (GUM 4.3.3)"
    )


def _limits(
    name: str,
    half_width: float,
    divisor: float,
    distribution: Distribution,
    unit: str,
    sensitivity: float,
    value: float,
    note: str,
) -> Contribution:
    """Limits ±a of a distribution with u = a/divisor (GUM 4.3.7, 4.3.9)."""
    _finite(name, "the half-width", half_width)
    if half_width < 0:
        raise MetrologyError(f"{name}: a half-width cannot be negative ({half_width:g})")
    return Contribution(
        name, value, half_width / divisor, unit, sensitivity, math.inf, distribution, note=note
    )


def rectangular(
    name: str,
    half_width: float,
    unit: str,
    sensitivity: float = 1.0,
    value: float = 0.0,
    note: str = "",
) -> Contribution:
    """Limits ±a with no better knowledge: u = a/√3 (GUM 4.3.7)."""
    return _limits(
        name,
        half_width,
        math.sqrt(3),
        "rectangular",
        unit,
        sensitivity,
        value,
        note or "u = a/√3 (GUM 4.3.7)",
    )


def triangular(
    name: str,
    half_width: float,
    unit: str,
    sensitivity: float = 1.0,
    value: float = 0.0,
    note: str = "",
) -> Contribution:
    """Limits ±a, values near the centre more likely: u = a/√6 (GUM 4.3.9)."""
    return _limits(
        name,
        half_width,
        math.sqrt(6),
        "triangular",
        unit,
        sensitivity,
        value,
        note or "u = a/√6 (GUM 4.3.9)",
    )


def resolution(
    name: str, step: float, unit: str, sensitivity: float = 1.0, note: str = ""
) -> Contribution:
    """Rounding of a digital indication with digit step d: u = d/(2√3) (EA-4/02 M:2022 S3)."""
    return rectangular(
        name, step / 2, unit, sensitivity, note=note or "u = d/(2√3) (EA-4/02 M:2022 S3)"
    )


def _coverage(probability: float) -> float:
    if probability not in COVERAGE_PROBABILITIES:
        allowed = ", ".join(f"{p:g} %" for p in COVERAGE_PROBABILITIES)
        raise ValueError(f"coverage probability must be one of {allowed}, not {probability:g} %")
    return probability


CoverageProbability = Annotated[float, AfterValidator(_coverage)]


class Cmc(BaseModel):
    """The laboratory's calibration and measurement capability: U ≥ absolute + relative·|x|,
    ``absolute`` in ``unit``, x the measured value in the result's unit (written in
    calibration plans)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    absolute: float = Field(0.0, ge=0)
    relative: float = Field(0.0, ge=0)
    unit: Annotated[str, AfterValidator(check_unit)]

    def at(self, value: float, unit: str) -> float:
        """The floor under U, in ``unit``, for a measured value of ``value`` ``unit``;
        MetrologyError when ``unit`` does not measure what the CMC's unit measures."""
        _finite("CMC", "the measured value", value)
        try:
            absolute = convert_difference(self.absolute, self.unit, unit)
        except ValueError as exc:
            raise MetrologyError(f"CMC in {self.unit} for a result in {unit}: {exc}") from None
        return absolute + self.relative * abs(value)

    def describe(self) -> str:
        terms = [f"{self.absolute:g} {self.unit}"] if self.absolute else []
        if self.relative:
            terms.append(f"{self.relative:g}·|x|")
        return " + ".join(terms) or "0"


@dataclass(frozen=True)
class Evaluation:
    """The evaluated budget of one point: what the certificate reports and why."""

    quantity: str
    unit: str
    value: float
    """y computed from the model."""
    combined: float
    """u_c(y)."""
    dof: float
    """Welch-Satterthwaite ν_eff (inf when every input has infinite degrees of freedom)."""
    k: float
    expanded: float
    """U as reported: k·u_c rounded to two significant digits, never below the CMC."""
    cmc_applied: bool
    contributions: tuple[Contribution, ...]
    probability: float = COVERAGE_PROBABILITY
    """The coverage probability of U, in percent."""
    cmc: float = 0.0
    """The CMC at the measured value (the floor under U), in ``unit``; 0 without a CMC."""
    decisive: float = 0.0
    """U as decisions use it: the largest of k·u_c at full precision, the CMC and the
    reported (rounded) U, so rounding never narrows a guard band."""

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
            "coverage_probability": self.probability,
            "expanded_uncertainty": self.expanded,
            "expanded_uncertainty_unrounded": self.decisive,
            "cmc": self.cmc,
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
                    "note": c.note,
                }
                for c in self.contributions
            ],
        }


def coverage_factor(dof: float, probability: float = COVERAGE_PROBABILITY) -> float:
    """t-factor for ``probability`` at ν_eff truncated to an integer (GUM G.4.1 note 1), to
    two decimals as tabulated in GUM Table G.2 and EA-4/02 Table E.1."""
    _coverage(probability)
    if not dof >= 1:
        raise MetrologyError(f"effective degrees of freedom must be at least 1, not {dof!r}")
    if math.isinf(dof):
        return round(float(reporting.k_factor(math.inf, probability)), 2)
    return round(float(reporting.k_factor(math.floor(dof), probability)), 2)


def round_uncertainty(expanded: float, *, up: bool = False) -> float:
    """Two significant digits, ties rounded half up on the decimal value (GUM 7.2.6);
    EA-4/02 M:2022 6.2: round up when ordinary rounding would lower the value by more than
    5 % (at two digits it cannot, but the rule is kept for what calls this); ``up`` always
    rounds up (a CMC floor stays a floor)."""
    if expanded <= 0 or not math.isfinite(expanded):
        return expanded
    # 12 significant digits first: 1.2e-4 × 2.5 = 0.00030000000000000003 is 0.00030
    exact = Decimal(f"{expanded:.12g}")
    step = Decimal(1).scaleb(exact.adjusted() - 1)
    rounded = exact.quantize(step, ROUND_HALF_UP)
    if up or rounded < Decimal("0.95") * exact:
        rounded = exact.quantize(step, ROUND_CEILING)
    return float(rounded)


@dataclass
class Budget:
    """The model of one result and its inputs, built step by step by a procedure."""

    quantity: str
    unit: str
    model: Model | None = None
    """y = f(inputs by name); None for y = Σ cᵢ xᵢ with the given sensitivities."""
    contributions: list[Contribution] = field(default_factory=list)
    correlations: dict[frozenset[str], float] = field(default_factory=dict)
    ensembles: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *contributions: Contribution) -> Budget:
        names = {c.name for c in self.contributions}
        for contribution in contributions:
            if contribution.name in names:
                raise MetrologyError(f"the budget already has a contribution {contribution.name!r}")
            names.add(contribution.name)
            self.contributions.append(contribution)
        return self

    def ensemble(self, *names: str) -> Budget:
        """Inputs observed together (simultaneous Type A series with the same ν, GUM H.2):
        only these may be correlated while their degrees of freedom are finite."""
        if len(names) < 2:
            raise MetrologyError("an ensemble has at least two inputs")
        self.ensembles.append(tuple(names))
        return self

    def correlate(self, first: str, second: str, r: float) -> Budget:
        """Correlation coefficient r between two inputs (e.g. weights calibrated together)."""
        _finite(f"correlation of {first!r} and {second!r}", "r", r)
        if not -1 <= r <= 1:
            raise MetrologyError(
                f"correlation of {first!r} and {second!r}: a correlation coefficient is "
                f"between -1 and 1, not {r}"
            )
        if first == second:
            raise MetrologyError(f"{first!r} cannot be correlated with itself")
        pair = frozenset((first, second))
        if pair in self.correlations:
            raise MetrologyError(f"the correlation of {first!r} and {second!r} is given twice")
        self.correlations[pair] = r
        return self

    def evaluate(
        self,
        cmc: Cmc | None = None,
        *,
        at: float | None = None,
        probability: float = COVERAGE_PROBABILITY,
    ) -> Evaluation:
        """Evaluate the model with GTC. ``cmc`` is evaluated at ``at``, the measured value
        (the reference value, not the error) in the budget's unit."""
        if not self.contributions:
            raise MetrologyError(f"the budget of {self.quantity} has no contributions")
        if cmc is not None and at is None:
            raise MetrologyError("a CMC is evaluated at the measured value: give `at`")
        inputs = self._inputs()
        y = self.model(inputs) if self.model else self._linear(inputs)
        if not isinstance(y, GTC.lib.UncertainReal):
            raise MetrologyError(f"the model of {self.quantity} does not depend on its inputs")
        contributions = tuple(
            dataclasses.replace(c, sensitivity=self._sensitivity(y, inputs, c))
            if self.model
            else dataclasses.replace(c, sensitivity=c.sensitivity * self._scale(c))
            for c in self.contributions
        )
        combined = float(y.u)
        dof = float(y.df) if math.isfinite(y.df) else math.inf
        k = coverage_factor(max(dof, 1.0), probability)
        expanded = round_uncertainty(k * combined)
        floor = cmc.at(at, self.unit) if cmc is not None and at is not None else 0.0
        cmc_applied = expanded < floor
        if cmc_applied:
            expanded = round_uncertainty(floor, up=True)
        decisive = max(k * combined, floor, expanded)  # rounding never narrows a guard band
        return Evaluation(
            self.quantity,
            self.unit,
            float(y.x),
            combined,
            dof,
            k,
            expanded,
            cmc_applied,
            contributions,
            probability,
            floor,
            decisive,
        )

    def _inputs(self) -> dict[str, Any]:
        by_name = {c.name: c for c in self.contributions}
        for pair in self.correlations:
            missing = [name for name in pair if name not in by_name]
            if missing:
                raise MetrologyError(
                    f"cannot correlate {' and '.join(map(repr, sorted(pair)))}: "
                    f"{', '.join(map(repr, missing))} not in the budget"
                )
        grouped: dict[str, tuple[str, ...]] = {}
        for group in self.ensembles:
            for name in group:
                if name not in by_name:
                    raise MetrologyError(f"ensemble input {name!r} is not in the budget")
                if name in grouped:
                    raise MetrologyError(f"{name!r} is in two ensembles")
                grouped[name] = group
        correlated = {name for pair in self.correlations for name in pair}
        for pair in self.correlations:
            first, second = sorted(pair)
            finite = [n for n in pair if not math.isinf(by_name[n].dof)]
            if finite and (grouped.get(first) is None or grouped.get(first) != grouped.get(second)):
                raise MetrologyError(
                    f"{finite[0]!r} has finite degrees of freedom: it can be correlated only "
                    "within an ensemble of simultaneous observations (Budget.ensemble, GUM H.2)"
                )
        self._check_correlation_matrix(sorted(correlated))
        inputs: dict[str, Any] = {}
        for group in self.ensembles:
            members = [by_name[n] for n in group]
            dofs = {m.dof for m in members}
            if len(dofs) != 1:
                raise MetrologyError(
                    f"the ensemble {', '.join(group)} needs one number of degrees of freedom"
                )
            made = GTC.multiple_ureal(
                [m.value for m in members],
                [m.standard_uncertainty for m in members],
                dofs.pop(),
                label_seq=list(group),
            )
            inputs.update(zip(group, made, strict=True))
        for c in self.contributions:
            if c.name not in inputs:
                inputs[c.name] = GTC.ureal(
                    c.value,
                    c.standard_uncertainty,
                    c.dof,
                    c.name,
                    independent=c.name not in correlated,
                )
        for pair, r in self.correlations.items():
            first, second = sorted(pair)
            if r:
                GTC.set_correlation(r, inputs[first], inputs[second])
        return inputs

    def _check_correlation_matrix(self, names: list[str]) -> None:
        """The correlation matrix must be positive semi-definite (fully correlated weights,
        r = 1, make it singular, which is legitimate)."""
        if not names:
            return
        index = {name: i for i, name in enumerate(names)}
        matrix = numpy.identity(len(names))
        for pair, r in self.correlations.items():
            first, second = (index[n] for n in pair)
            matrix[first, second] = matrix[second, first] = r
        lowest = float(numpy.linalg.eigvalsh(matrix).min())
        if lowest < -1e-9:
            pairs = ", ".join(
                f"{a}~{b} = {self.correlations[frozenset((a, b))]:g}"
                for a, b in itertools.combinations(names, 2)
                if frozenset((a, b)) in self.correlations
            )
            raise MetrologyError(
                f"the correlations of {self.quantity} ({pairs}) are not a valid correlation "
                "matrix (not positive semi-definite): no set of inputs can be correlated so"
            )

    def _scale(self, c: Contribution) -> float:
        """For y = Σ cᵢxᵢ: an input in another unit of the result's quantity (mK in a budget
        in °C) is converted; one of another quantity keeps cᵢ as given (its unit is then the
        result's unit per the input's)."""
        if c.unit == self.unit or not same_dimension(c.unit, self.unit):
            return 1.0
        return convert_difference(1.0, c.unit, self.unit)

    def _linear(self, inputs: Mapping[str, Any]) -> Any:
        return sum(
            (c.sensitivity * self._scale(c) * inputs[c.name] for c in self.contributions),
            start=GTC.ureal(0, 0),
        )

    def _sensitivity(self, y: Any, inputs: Mapping[str, Any], c: Contribution) -> float:
        """∂f/∂xᵢ from GTC; for an input with u = 0 (GTC holds it as a constant) by a central
        difference of the model on the estimates."""
        if c.standard_uncertainty > 0:
            return float(reporting.sensitivity(y, inputs[c.name]))
        assert self.model is not None
        estimates = {x.name: x.value for x in self.contributions}
        step = 1e-6 * max(1.0, abs(c.value))
        high = float(self.model({**estimates, c.name: c.value + step}))
        low = float(self.model({**estimates, c.name: c.value - step}))
        return (high - low) / (2 * step)
