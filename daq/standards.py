"""The register of reference standards: what each is, its certificate, and whether it may be
used today for a given value.

ISO/IEC 17025 (6.4, 6.5) asks that a standard is within its calibration interval and used
inside its calibrated range, and that each result is traceable through the standard's
certificate to the national measurement standard. ``check_use`` enforces both before a
point. Only a passed due date may be overridden, by a named person with a reason (the
override travels with the result): a standard used outside its calibrated range, or
outside the range its coefficients are certified for, or whose certificate is dated after
today, has no traceable value there, and nobody's name gives it one (``WAIVABLE``).
``snapshot`` is the standard's data as used, stored with each result.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from daq.config import ConfigError, Problem, field_path
from daq.core.units import check_unit, convert, same_dimension

Unit = Annotated[str, AfterValidator(check_unit)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Certificate(_Strict):
    number: str = Field(min_length=1)
    laboratory: str = Field(min_length=1)
    """The laboratory that issued it (and its accreditation, if any)."""
    accreditation: str = ""
    calibrated: dt.date
    due: dt.date
    traceability: list[str] = Field(min_length=1)
    """The chain, from the issuing laboratory up to the national measurement standard."""

    @model_validator(mode="after")
    def _due_after_calibration(self) -> Certificate:
        if self.due <= self.calibrated:
            raise ValueError("due must be after calibrated")
        return self


class CalibratedRange(_Strict):
    minimum: float
    maximum: float
    unit: Unit

    @model_validator(mode="after")
    def _ordered(self) -> CalibratedRange:
        if self.minimum > self.maximum:
            raise ValueError("minimum must not be above maximum (equal for a fixed value)")
        return self


class ExpandedUncertainty(_Strict):
    value: float = Field(gt=0)
    k: float = Field(2.0, gt=0)
    unit: Unit


class CallendarVanDusen(_Strict):
    """Certificate coefficients of a platinum resistance thermometer."""

    kind: Literal["cvd"]
    r0: float = Field(gt=0)
    a: float
    b: float
    c: float = 0.0
    fit_residual: float = Field(0.0, ge=0)
    """°C, the largest residual of the certificate's calibration points from these fitted
    coefficients (the interpolation error between the points); 0 when the certificate gives
    none or includes it in its uncertainty."""
    valid_from: float | None = None
    """°C, the lowest temperature the certificate states these coefficients for; None: no
    limit beyond the calibrated range."""
    valid_to: float | None = None
    """°C, the highest temperature the certificate states these coefficients for; None: no
    limit beyond the calibrated range."""
    coefficients_from: Literal["certificate", "fit"] = "certificate"
    """Whether the certificate states these coefficients, or `daq standards import` fitted
    them to its table (``fit_residual`` is then the fit's)."""

    @model_validator(mode="after")
    def _valid_range_ordered(self) -> CallendarVanDusen:
        if (
            self.valid_from is not None
            and self.valid_to is not None
            and self.valid_from >= self.valid_to
        ):
            raise ValueError("valid_from must lie below valid_to")
        return self

    def covers(self, celsius: float) -> bool:
        """Whether the certificate states these coefficients for ``celsius`` (no
        extrapolation)."""
        low = -math.inf if self.valid_from is None else self.valid_from
        high = math.inf if self.valid_to is None else self.valid_to
        return low <= celsius <= high

    def describe_range(self) -> str:
        if self.valid_from is None:
            return "no range" if self.valid_to is None else f"up to {self.valid_to:g} °C"
        if self.valid_to is None:
            return f"from {self.valid_from:g} °C"
        return f"{self.valid_from:g} °C to {self.valid_to:g} °C"


class CorrectionPoint(_Strict):
    nominal: float
    correction: float
    """Add to the indication to obtain the value of the quantity."""
    uncertainty: float | None = Field(None, gt=0)
    """The certificate's expanded uncertainty at this point (in the table's unit), if it
    states one per point."""
    k: float | None = Field(None, gt=0)
    """Its coverage factor."""


class CorrectionTable(_Strict):
    """Corrections at calibration points; linear between them, never beyond them."""

    kind: Literal["table"]
    unit: Unit
    points: list[CorrectionPoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> CorrectionTable:
        nominals = [p.nominal for p in self.points]
        if nominals != sorted(set(nominals)):
            raise ValueError("points must be in increasing order of nominal, each once")
        return self

    def correction(self, nominal: float) -> float:
        points = self.points
        if not points[0].nominal <= nominal <= points[-1].nominal:
            raise ValueError(f"{nominal:g} {self.unit} is outside the correction table")
        for low, high in pairwise(points):
            if low.nominal <= nominal <= high.nominal:
                share = (nominal - low.nominal) / (high.nominal - low.nominal)
                return low.correction + share * (high.correction - low.correction)
        return points[0].correction  # a one-point table


class ConventionalMass(_Strict):
    """A weight's conventional mass as certified (OIML R111 weights)."""

    kind: Literal["mass"]
    nominal: float = Field(gt=0)
    conventional_mass: float = Field(gt=0)
    unit: Unit
    weight_class: Literal["E1", "E2", "F1", "F2", "M1", "M1-2", "M2", "M2-3", "M3"] | None = None
    density: float | None = Field(None, gt=0)
    """kg/m³, when the certificate states it (for air-buoyancy corrections)."""


Corrections = Annotated[
    CallendarVanDusen | CorrectionTable | ConventionalMass, Field(discriminator="kind")
]


class TablePoint(_Strict):
    """One row of a certificate's table of values: the nominal value, the value the
    certificate states there (a correction, a resistance...), and its U with k."""

    nominal: float
    value: float
    uncertainty: float = Field(gt=0)
    k: float = Field(gt=0)


class CertificateTable(_Strict):
    """A certificate's table of values as it states them (units as pint writes them)."""

    quantity: str
    """What ``value`` is: "correction" or "resistance"."""
    nominal_unit: Unit
    unit: Unit
    """Of ``value`` and its uncertainty."""
    points: list[TablePoint] = Field(min_length=1)


class DccSource(_Strict):
    """The Digital Calibration Certificate an entry was imported from."""

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    schema_version: str
    table: CertificateTable | None = None
    """Its table of values with U and k per point, as stated."""


class PastCalibration(_Strict):
    """An earlier certificate of a standard, kept when a newer one replaced it: the lab
    follows its drift across certificates (ISO/IEC 17025 6.4.10, 6.5)."""

    certificate: Certificate
    range: CalibratedRange
    uncertainty: ExpandedUncertainty
    corrections: Corrections | None = None
    imported_from: DccSource | None = None
    replaced: dt.date | None
    """When the next certificate took its place in the register (None: the current one, as
    ``calibrations`` lists it)."""


class Standard(_Strict):
    id: Identifier
    description: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    instrument: str | None = None
    """The lab-file instrument it is read through (a readout, a balance), if any."""
    certificate: Certificate
    range: CalibratedRange
    uncertainty: ExpandedUncertainty
    corrections: Corrections | None = None
    imported_from: DccSource | None = None
    """Set by `daq standards import`: the certificate's DCC and its hash."""
    history: list[PastCalibration] = Field(default_factory=list)
    """Its earlier certificates, newest first."""


class StandardsRegister(_Strict):
    standards: list[Standard] = Field(default_factory=list)

    def standard(self, standard_id: str) -> Standard:
        for standard in self.standards:
            if standard.id == standard_id:
                return standard
        known = ", ".join(s.id for s in self.standards) or "none"
        raise KeyError(f"no standard {standard_id!r} in the register; registered: {known}")


class Override(_Strict):
    """A person taking responsibility for using a standard the register refuses (or, in a
    plan's UUT, for calibrating an item whose serial is not the plan's)."""

    by: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class StandardRefused(Exception):
    """The standard may not be used for this value today, and no override may waive it."""


class Refusal(StrEnum):
    """Why the register refuses a standard for a value."""

    OVERDUE = "overdue"
    """Past its calibration's due date: a named person may accept it with a reason."""
    NOT_YET_CALIBRATED = "certificate dated after today"
    OUTSIDE_RANGE = "outside its calibrated range"
    EXTRAPOLATED = "outside the range of its coefficients"


WAIVABLE = frozenset({Refusal.OVERDUE})
"""The refusals an override may waive; every other one stands, override or not."""


@dataclass(frozen=True)
class Unfit:
    """One reason the register refuses a standard, and its kind."""

    kind: Refusal
    text: str

    @property
    def waivable(self) -> bool:
        return self.kind in WAIVABLE


@dataclass(frozen=True)
class Use:
    """Permission to use a standard for one value, with what was overridden and by whom."""

    standard: Standard
    problems: tuple[str, ...]
    override: Override | None

    def snapshot(self) -> dict[str, Any]:
        """The standard's data as used, for the result (JSON-ready): its current certificate,
        not its history."""
        return {
            "standard": self.standard.model_dump(mode="json", exclude={"history"}),
            "problems": list(self.problems),
            "override": self.override.model_dump() if self.override else None,
        }


def as_past(standard: Standard, replaced: dt.date | None) -> PastCalibration:
    """The standard's current certificate as an entry of its history."""
    return PastCalibration(
        certificate=standard.certificate,
        range=standard.range,
        uncertainty=standard.uncertainty,
        corrections=standard.corrections,
        imported_from=standard.imported_from,
        replaced=replaced,
    )


def calibrations(standard: Standard) -> list[PastCalibration]:
    """The standard's certificates, newest (its current one, ``replaced`` None) first."""
    return [as_past(standard, None), *standard.history]


def drift(newer: PastCalibration, older: PastCalibration) -> str:
    """How the standard moved from ``older``'s certificate to ``newer``'s, in the terms its
    corrections have: a PRT's R0 as a temperature (mK), a table's largest change of a
    correction at the nominal values both state, a weight's conventional mass; "" when the
    two cannot be compared."""
    a, b = newer.corrections, older.corrections
    if isinstance(a, CallendarVanDusen) and isinstance(b, CallendarVanDusen):
        millikelvin = (a.r0 - b.r0) / (b.r0 * b.a) * 1000.0
        return f"R0 {millikelvin:+.1f} mK"
    if isinstance(a, CorrectionTable) and isinstance(b, CorrectionTable) and a.unit == b.unit:
        before = {p.nominal: p.correction for p in b.points}
        changes = [(p.nominal, p.correction - before[p.nominal]) for p in a.points
                   if p.nominal in before]  # fmt: skip
        if not changes:
            return ""
        at, change = max(changes, key=lambda c: abs(c[1]))
        return f"correction {change:+.3g} {a.unit} at {at:g} {a.unit} (largest)"
    if isinstance(a, ConventionalMass) and isinstance(b, ConventionalMass) and a.unit == b.unit:
        return f"conventional mass {a.conventional_mass - b.conventional_mass:+.3g} {a.unit}"
    return ""


def days_until_due(standard: Standard, today: dt.date) -> int:
    return (standard.certificate.due - today).days


def dated_problems(standard: Standard, today: dt.date) -> list[Unfit]:
    """Why ``standard`` may not be used today whatever the value: overdue, or a certificate
    dated after today."""
    found = []
    overdue = -days_until_due(standard, today)
    if overdue > 0:
        found.append(
            Unfit(
                Refusal.OVERDUE,
                f"{standard.id}: calibration due {standard.certificate.due} ({overdue} days "
                "overdue)",
            )
        )
    if today < standard.certificate.calibrated:
        found.append(
            Unfit(
                Refusal.NOT_YET_CALIBRATED,
                f"{standard.id}: certificate dated {standard.certificate.calibrated}, after today",
            )
        )
    return found


def problems_with(standard: Standard, value: float, unit: str, today: dt.date) -> list[Unfit]:
    """Why ``standard`` may not be used for ``value`` today (empty when it may): overdue,
    a certificate dated after today, outside its calibrated range, or outside the range its
    certificate states its Callendar-Van Dusen coefficients for."""
    found = dated_problems(standard, today)
    span = standard.range
    in_range_unit = convert(value, unit, span.unit)
    if not span.minimum <= in_range_unit <= span.maximum:
        found.append(
            Unfit(
                Refusal.OUTSIDE_RANGE,
                f"{standard.id}: {in_range_unit:g} {span.unit} is outside the calibrated range "
                f"{span.minimum:g} to {span.maximum:g} {span.unit}",
            )
        )
    cvd = standard.corrections
    if isinstance(cvd, CallendarVanDusen) and same_dimension(unit, "°C"):
        celsius = convert(value, unit, "°C")
        if not cvd.covers(celsius):
            found.append(
                Unfit(
                    Refusal.EXTRAPOLATED,
                    f"{standard.id}: {celsius:g} °C is outside the range of its certificate's "
                    f"Callendar-Van Dusen coefficients, {cvd.describe_range()} (they would be "
                    "extrapolated)",
                )
            )
    return found


def check_use(
    standard: Standard,
    value: float,
    unit: str,
    today: dt.date,
    override: Override | None = None,
) -> Use:
    """Allow the use, refuse it, or allow it under ``override`` when every problem is one an
    override may waive (recorded in the ``Use``)."""
    found = problems_with(standard, value, unit, today)
    standing = [p.text for p in found if not p.waivable]
    if standing:
        raise StandardRefused(
            "; ".join(standing) + ". No override waives this: use another standard, or one "
            "calibrated for this value"
        )
    if found and override is None:
        raise StandardRefused(
            "; ".join(p.text for p in found) + ". Use another standard, recalibrate this one, "
            "or give an override with your name and the reason"
        )
    return Use(standard, tuple(p.text for p in found), override if found else None)


def parse_standards(text: str, file: str) -> StandardsRegister:
    """Validate a standards file; ConfigError lists every problem as file: path: message."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, "", f"not valid YAML: {exc}")]) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([Problem(file, "", "expected a mapping with a 'standards' list")])
    try:
        register = StandardsRegister.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(file, field_path(raw, e["loc"]), str(e["msg"]).removeprefix("Value error, "))
            for e in exc.errors()
        ]
        raise ConfigError(problems) from None
    counts = Counter(s.id for s in register.standards)
    duplicates = [ident for ident, count in counts.items() if count > 1]
    if duplicates:
        raise ConfigError([Problem(file, "standards", f"duplicate id {d!r}") for d in duplicates])
    return register


def load_standards(path: Path) -> StandardsRegister:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    return parse_standards(text, str(path))
