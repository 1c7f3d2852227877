"""Tolerance specifications a calibration plan names, and the tolerance interval each gives
for an instrument's error at a test point.

Each model is one ``kind`` of the ``Tolerance`` union, read from the plan's YAML.
``limits(nominal, unit)`` is what procedures use: the interval [lower, upper] for the error at
a test point of ``nominal`` (in ``unit``), in ``unit``, whatever unit the specification is
written in (a ±50 mK tolerance is ±0.05 °C for a result in °C). ``mpe`` is the half-width of a
symmetric interval in the model's own ``unit``; ``describe`` is the line a certificate quotes.
An interval of zero width (a pure % of reading at zero) is a ``MetrologyError``, never a
verdict. The tables are those of OIML R76-1:2006 (Table 6), OIML R111-1:2004 (Table 1),
IEC 60751:2008 (Table 3) and EN 837-1 (accuracy classes in % of span).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from daq.core.units import check_unit, convert, convert_difference
from daq.metrology.errors import MetrologyError

Unit = Annotated[str, AfterValidator(check_unit)]


def _finite(nominal: float) -> float:
    if not math.isfinite(nominal):
        raise MetrologyError(f"nominal value must be a finite number, not {nominal!r}")
    return nominal


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str

    def lookup_unit(self) -> str:
        """The unit the specification takes a test point's nominal value in."""
        return self.unit

    def mpe(self, nominal: float) -> float:
        """Half-width of the symmetric interval at ``nominal`` (in ``lookup_unit()``), in
        ``unit``."""
        raise NotImplementedError

    def interval(self, nominal: float) -> tuple[float, float]:
        """[lower, upper] for the error at ``nominal`` (in ``lookup_unit()``), in ``unit``."""
        mpe = self.mpe(nominal)
        return -mpe, mpe

    def limits(self, nominal: float, unit: str) -> tuple[float, float]:
        """[lower, upper] for the error at a test point of ``nominal`` ``unit``, in ``unit``;
        MetrologyError when the units measure different things or the interval is empty."""
        try:
            at = convert(_finite(nominal), unit, self.lookup_unit())
            lower, upper = (convert_difference(v, self.unit, unit) for v in self.interval(at))
        except MetrologyError:
            raise
        except ValueError as exc:
            raise MetrologyError(f"tolerance {self.describe()}: {exc}") from None
        if not lower < upper:
            raise MetrologyError(
                f"tolerance {self.describe()} gives no tolerance at {nominal:g} {unit}: "
                "add a fixed or digits term (kind: specification)"
            )
        return lower, upper

    def describe(self) -> str:
        raise NotImplementedError


class Absolute(_Spec):
    """The same MPE at every nominal value."""

    kind: Literal["absolute"]
    value: float = Field(gt=0)
    unit: Unit

    def mpe(self, nominal: float) -> float:
        _finite(nominal)
        return self.value

    def describe(self) -> str:
        return f"±{self.value:g} {self.unit}"


class PercentOfReading(_Spec):
    kind: Literal["percent_of_reading"]
    percent: float = Field(gt=0)
    unit: Unit

    def mpe(self, nominal: float) -> float:
        """Zero at a zero reading: ``limits`` refuses that point (a plan check names it)."""
        return self.percent / 100.0 * abs(_finite(nominal))

    def describe(self) -> str:
        return f"±{self.percent:g} % of reading"


class PercentOfSpan(_Spec):
    kind: Literal["percent_of_span"]
    percent: float = Field(gt=0)
    span: float = Field(gt=0)
    unit: Unit

    def mpe(self, nominal: float) -> float:
        _finite(nominal)
        return self.percent / 100.0 * self.span

    def describe(self) -> str:
        return f"±{self.percent:g} % of span {self.span:g} {self.unit}"


R76Class = Literal["I", "II", "III", "IIII"]

_R76_LIMITS: dict[str, tuple[int, int, int | None]] = {
    "I": (50_000, 200_000, None),
    "II": (5_000, 20_000, 100_000),
    "III": (500, 2_000, 10_000),
    "IIII": (50, 200, 1_000),
}
"""OIML R76-1:2006 Table 6, load m in e: MPE 0.5 e for 0 <= m <= first, 1.0 e for
first < m <= second, 1.5 e for second < m <= third (no upper limit in class I). Checked
against a public copy of Table 6 and against the same table in the EU directive on
non-automatic weighing instruments (Annex I, 4.1), which also gives the "<=" bounds."""


class OimlR76(_Spec):
    """A non-automatic weighing instrument verified to OIML R76-1."""

    kind: Literal["oiml_r76"]
    accuracy_class: R76Class
    e: float = Field(gt=0)
    """Verification scale interval, in ``unit``."""
    in_service: bool = False
    """In-service MPE is twice that on initial verification (R76-1:2006, 3.5.2)."""
    unit: Unit = "g"

    def mpe(self, nominal: float) -> float:
        """MPE for a load of ``nominal`` (in ``unit``); ValueError beyond Table 6."""
        if _finite(nominal) < 0:
            raise MetrologyError(f"a load cannot be negative: {nominal:g} {self.unit}")
        # Decimal, so that 50 g / 0.1 g is exactly 500 e and lands on the "<=" side.
        m = Decimal(repr(nominal)) / Decimal(repr(self.e))
        first, second, top = _R76_LIMITS[self.accuracy_class]
        if top is not None and m > top:
            raise MetrologyError(
                f"a load of {m:f} e is beyond OIML R76-1 Table 6 for class "
                f"{self.accuracy_class} (at most {top} e)"
            )
        factor = 0.5 if m <= first else 1.0 if m <= second else 1.5
        return factor * self.e * (2.0 if self.in_service else 1.0)

    def describe(self) -> str:
        stage = "in service" if self.in_service else "initial verification"
        return f"OIML R76-1 class {self.accuracy_class}, e = {self.e:g} {self.unit}, {stage}"


R111Class = Literal["E1", "E2", "F1", "F2", "M1", "M1-2", "M2", "M2-3", "M3"]
_R111_CLASSES: tuple[R111Class, ...] = ("E1", "E2", "F1", "F2", "M1", "M1-2", "M2", "M2-3", "M3")

_NA = None
"""A blank cell of Table 1: the class has no weight of that nominal value."""
_R111_TABLE: dict[int, tuple[float | None, ...]] = {
    # nominal in mg: ±δm in mg for E1, E2, F1, F2, M1, M1-2, M2, M2-3, M3
    5_000_000_000: (_NA, _NA, 25_000, 80_000, 250_000, 500_000, 800_000, 1_600_000, 2_500_000),
    2_000_000_000: (_NA, _NA, 10_000, 30_000, 100_000, 200_000, 300_000, 600_000, 1_000_000),
    1_000_000_000: (_NA, 1_600, 5_000, 16_000, 50_000, 100_000, 160_000, 300_000, 500_000),
    500_000_000: (_NA, 800, 2_500, 8_000, 25_000, 50_000, 80_000, 160_000, 250_000),
    200_000_000: (_NA, 300, 1_000, 3_000, 10_000, 20_000, 30_000, 60_000, 100_000),
    100_000_000: (_NA, 160, 500, 1_600, 5_000, 10_000, 16_000, 30_000, 50_000),
    50_000_000: (25, 80, 250, 800, 2_500, 5_000, 8_000, 16_000, 25_000),
    20_000_000: (10, 30, 100, 300, 1_000, _NA, 3_000, _NA, 10_000),
    10_000_000: (5.0, 16, 50, 160, 500, _NA, 1_600, _NA, 5_000),
    5_000_000: (2.5, 8.0, 25, 80, 250, _NA, 800, _NA, 2_500),
    2_000_000: (1.0, 3.0, 10, 30, 100, _NA, 300, _NA, 1_000),
    1_000_000: (0.5, 1.6, 5.0, 16, 50, _NA, 160, _NA, 500),
    500_000: (0.25, 0.8, 2.5, 8.0, 25, _NA, 80, _NA, 250),
    200_000: (0.10, 0.3, 1.0, 3.0, 10, _NA, 30, _NA, 100),
    100_000: (0.05, 0.16, 0.5, 1.6, 5.0, _NA, 16, _NA, 50),
    50_000: (0.03, 0.10, 0.3, 1.0, 3.0, _NA, 10, _NA, 30),
    20_000: (0.025, 0.08, 0.25, 0.8, 2.5, _NA, 8.0, _NA, 25),
    10_000: (0.020, 0.06, 0.20, 0.6, 2.0, _NA, 6.0, _NA, 20),
    5_000: (0.016, 0.05, 0.16, 0.5, 1.6, _NA, 5.0, _NA, 16),
    2_000: (0.012, 0.04, 0.12, 0.4, 1.2, _NA, 4.0, _NA, 12),
    1_000: (0.010, 0.03, 0.10, 0.3, 1.0, _NA, 3.0, _NA, 10),
    500: (0.008, 0.025, 0.08, 0.25, 0.8, _NA, 2.5, _NA, _NA),
    200: (0.006, 0.020, 0.06, 0.20, 0.6, _NA, 2.0, _NA, _NA),
    100: (0.005, 0.016, 0.05, 0.16, 0.5, _NA, 1.6, _NA, _NA),
    50: (0.004, 0.012, 0.04, 0.12, 0.4, _NA, _NA, _NA, _NA),
    20: (0.003, 0.010, 0.03, 0.10, 0.3, _NA, _NA, _NA, _NA),
    10: (0.003, 0.008, 0.025, 0.08, 0.25, _NA, _NA, _NA, _NA),
    5: (0.003, 0.006, 0.020, 0.06, 0.20, _NA, _NA, _NA, _NA),
    2: (0.003, 0.006, 0.020, 0.06, 0.20, _NA, _NA, _NA, _NA),
    1: (0.003, 0.006, 0.020, 0.06, 0.20, _NA, _NA, _NA, _NA),
}
"""OIML R111-1:2004 Table 1, maximum permissible errors for weights (±δm in mg). Every cell
was compared with public reproductions of the table (the 5000 kg and 2000 kg rows also with
an excerpt of the Recommendation's own text); the Recommendation itself was not at hand."""


def _mass_label(milligrams: int) -> str:
    if milligrams >= 1_000_000:
        return f"{milligrams // 1_000_000} kg"
    if milligrams >= 1_000:
        return f"{milligrams // 1_000} g"
    return f"{milligrams} mg"


class OimlR111(_Spec):
    """A weight of an OIML R111-1 class: its MPE in mg for its nominal value."""

    kind: Literal["oiml_r111"]
    weight_class: R111Class
    nominal_unit: Unit = "g"
    """The unit ``mpe`` takes the nominal value in."""
    unit: Literal["mg"] = "mg"
    """Table 1 gives MPEs in mg, whatever the nominal value's unit."""

    def lookup_unit(self) -> str:
        return self.nominal_unit

    @field_validator("nominal_unit")
    @classmethod
    def _a_mass_unit(cls, unit: str) -> str:
        convert(1.0, unit, "mg")
        return unit

    def mpe(self, nominal: float) -> float:
        """MPE in mg of a weight of ``nominal`` (in ``nominal_unit``); ValueError when Table 1
        has no such nominal value, or no weight of that value in this class."""
        milligrams = convert(_finite(nominal), self.nominal_unit, "mg")
        key = round(milligrams)
        row = _R111_TABLE.get(key)
        if row is None or not math.isclose(milligrams, key, rel_tol=1e-9):
            known = ", ".join(_mass_label(k) for k in sorted(_R111_TABLE))
            raise MetrologyError(
                f"{nominal:g} {self.nominal_unit} is not a nominal value of OIML R111-1 "
                f"Table 1; those are: {known}"
            )
        index = _R111_CLASSES.index(self.weight_class)
        value = row[index]
        if value is None:
            present = [k for k, r in _R111_TABLE.items() if r[index] is not None]
            raise MetrologyError(
                f"OIML R111-1 Table 1 has no class {self.weight_class} weight of "
                f"{_mass_label(key)} (class {self.weight_class} runs from "
                f"{_mass_label(min(present))} to {_mass_label(max(present))})"
            )
        return float(value)

    def describe(self) -> str:
        return f"OIML R111-1 class {self.weight_class} (MPE per Table 1)"


IecClass = Literal["AA", "A", "B", "C"]
Element = Literal["wire", "film"]

_IEC_TOLERANCE: dict[str, tuple[float, float]] = {
    "AA": (0.1, 0.0017),
    "A": (0.15, 0.002),
    "B": (0.3, 0.005),
    "C": (0.6, 0.01),
}
"""IEC 60751:2008 Table 3: tolerance ±(a + b |t|) in °C."""

_IEC_RANGE: dict[tuple[str, str], tuple[float, float]] = {
    ("wire", "AA"): (-50.0, 250.0),
    ("wire", "A"): (-100.0, 450.0),
    ("wire", "B"): (-196.0, 600.0),
    ("wire", "C"): (-196.0, 600.0),
    ("film", "AA"): (0.0, 150.0),
    ("film", "A"): (-30.0, 300.0),
    ("film", "B"): (-50.0, 500.0),
    ("film", "C"): (-50.0, 600.0),
}
"""IEC 60751:2008 Table 3: temperature range (°C) over which each class is valid, by element
(wire-wound or film). From the standard as we know it: not checked against its text here."""


class Iec60751(_Spec):
    """An industrial platinum resistance thermometer of an IEC 60751 tolerance class."""

    kind: Literal["iec_60751"]
    tolerance_class: IecClass
    element: Element = "wire"
    unit: Literal["°C"] = "°C"

    @property
    def coefficients(self) -> tuple[float, float]:
        """a and b of the tolerance ±(a + b|t|) in °C."""
        return _IEC_TOLERANCE[self.tolerance_class]

    @property
    def valid_range(self) -> tuple[float, float]:
        """The temperatures (°C) over which the class is valid for this element."""
        return _IEC_RANGE[(self.element, self.tolerance_class)]

    def mpe(self, nominal: float) -> float:
        """Tolerance in °C at ``nominal`` °C; ValueError outside the class's range."""
        low, high = self.valid_range
        if not low <= _finite(nominal) <= high:
            raise MetrologyError(
                f"IEC 60751 class {self.tolerance_class} ({self.element}) is valid from "
                f"{low:g} °C to {high:g} °C, not at {nominal:g} °C"
            )
        a, b = self.coefficients
        return a + b * abs(nominal)

    def describe(self) -> str:
        a, b = self.coefficients
        low, high = self.valid_range
        element = "wire-wound" if self.element == "wire" else "film"
        return (
            f"IEC 60751 class {self.tolerance_class}, {element}, ±({a:g} + {b:g}|t|) °C "
            f"from {low:g} °C to {high:g} °C"
        )


_EN837_CLASSES = (0.1, 0.25, 0.6, 1.0, 1.6, 2.5, 4.0)


class En837(_Spec):
    """A Bourdon tube pressure gauge of an EN 837-1 accuracy class (MPE in % of span)."""

    kind: Literal["en_837_1"]
    accuracy_class: float
    """One of 0.1, 0.25, 0.6, 1, 1.6, 2.5, 4 (a float: Literal cannot hold floats for mypy)."""
    span: float = Field(gt=0)
    lower_range_value: float = 0.0
    """The start of the scale (-1 bar for a compound gauge), in ``unit``."""
    unit: Unit

    @field_validator("accuracy_class")
    @classmethod
    def _a_class(cls, value: float) -> float:
        if value not in _EN837_CLASSES:
            classes = ", ".join(f"{c:g}" for c in _EN837_CLASSES)
            raise MetrologyError(f"EN 837-1 accuracy class must be one of {classes}, not {value:g}")
        return value

    def mpe(self, nominal: float) -> float:
        """MPE in % of span, for a point on the scale; MetrologyError beyond it."""
        low, high = self.lower_range_value, self.lower_range_value + self.span
        slack = 1e-9 * self.span
        if not low - slack <= _finite(nominal) <= high + slack:
            raise MetrologyError(
                f"{nominal:g} {self.unit} is beyond the span of this EN 837-1 gauge "
                f"({low:g} to {high:g} {self.unit})"
            )
        return self.accuracy_class / 100.0 * self.span

    def describe(self) -> str:
        return (
            f"EN 837-1 class {self.accuracy_class:g} "
            f"({self.accuracy_class:g} % of span {self.span:g} {self.unit})"
        )


class Specification(_Spec):
    """A specification as instruments are sold: ±(% of reading + % of span + a fixed term +
    digits of resolution), each term optional, at least one given. Defined at zero when it
    has a span, fixed or digits term."""

    kind: Literal["specification"]
    unit: Unit
    percent_of_reading: float = Field(0.0, ge=0)
    percent_of_span: float = Field(0.0, ge=0)
    span: float | None = Field(None, gt=0)
    """The span, or the full scale of a range that starts at zero, in ``unit``."""
    fixed: float = Field(0.0, ge=0)
    digits: int = Field(0, ge=0)
    resolution: float | None = Field(None, gt=0)
    """The digit step of the indication, in ``unit``."""

    @model_validator(mode="after")
    def _complete(self) -> Specification:
        if self.percent_of_span and self.span is None:
            raise ValueError("percent_of_span needs the span (or full scale)")
        if self.digits and self.resolution is None:
            raise ValueError("digits need the resolution (the digit step)")
        if not (self.percent_of_reading or self.percent_of_span or self.fixed or self.digits):
            raise ValueError(
                "give at least one term: percent_of_reading, percent_of_span, fixed or digits"
            )
        return self

    def mpe(self, nominal: float) -> float:
        return (
            self.percent_of_reading / 100.0 * abs(_finite(nominal))
            + self.percent_of_span / 100.0 * (self.span or 0.0)
            + self.fixed
            + self.digits * (self.resolution or 0.0)
        )

    def describe(self) -> str:
        terms = []
        if self.percent_of_reading:
            terms.append(f"{self.percent_of_reading:g} % of reading")
        if self.percent_of_span:
            terms.append(f"{self.percent_of_span:g} % of span {self.span:g} {self.unit}")
        if self.fixed:
            terms.append(f"{self.fixed:g} {self.unit}")
        if self.digits:
            terms.append(f"{self.digits} digits of {self.resolution:g} {self.unit}")
        return f"±({' + '.join(terms)})"


class Limits(_Spec):
    """Asymmetric limits for the error, the same at every test point (e.g. -0.1 to +0.3)."""

    kind: Literal["limits"]
    lower: float
    upper: float
    unit: Unit

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if not self.lower < self.upper:
            raise ValueError(f"lower must be below upper, not {self.lower:g} and {self.upper:g}")
        return self

    def interval(self, nominal: float) -> tuple[float, float]:
        _finite(nominal)
        return self.lower, self.upper

    def describe(self) -> str:
        return f"{self.lower:+g} {self.unit} to {self.upper:+g} {self.unit}"


Tolerance = Annotated[
    Absolute
    | PercentOfReading
    | PercentOfSpan
    | Specification
    | Limits
    | OimlR76
    | OimlR111
    | Iec60751
    | En837,
    Field(discriminator="kind"),
]
