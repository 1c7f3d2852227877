"""A reference standard's Digital Calibration Certificate read into the register: the
certificate's number, issuing laboratory, date and item, and its table of values with U and k
per point, from which the engine takes corrections.

A DCC names what each quantity is by PTB's reference types (``refType``): the nominal values
(``basic_nominalValue``) and either the errors of indication (``basic_measurementError``,
whose negatives are the corrections) or the corrections themselves
(``basic_measurementErrorCorrection``), one value per point as a list
(``si:realListXMLList``) or one ``si:real`` per point. The first list of a measurement result
that holds both is read; units are D-SI, read by ``daq.reports.dsi``. DCCs of versions 3.1 to
3.3 are read where their content maps.

A platinum resistance thermometer's DCC states resistances at temperatures instead
(``basic_nominalValue`` in °C or K, ``basic_measuredValue`` in Ω): its entry gets
Callendar-Van Dusen coefficients, the certificate's own where it names them (quantities
named R0, A, B and C), else fitted to its table, with the residual recorded either way.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daq.core.units import convert, convert_difference, same_dimension
from daq.metrology import cvd
from daq.metrology.errors import MetrologyError
from daq.reports.dcc_check import safe_tree
from daq.reports.dsi import DsiError, pint_units
from daq.standards import (
    CalibratedRange,
    CallendarVanDusen,
    Certificate,
    CertificateTable,
    CorrectionPoint,
    Corrections,
    CorrectionTable,
    DccSource,
    ExpandedUncertainty,
    Standard,
    TablePoint,
)

NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}
VERSIONS = ("3.1", "3.2", "3.3")
NOMINAL = "basic_nominalValue"
ERROR = "basic_measurementError"
CORRECTION = "basic_measurementErrorCorrection"
MEASURED = "basic_measuredValue"
COEFFICIENTS = ("R0", "A", "B", "C")
"""The names of a PRT certificate's Callendar-Van Dusen coefficients (R0 in Ω)."""
MAX_COEFFICIENT_RESIDUAL = 0.05
"""°C: coefficients that miss their own certificate's table by more are misread (a unit, a
power of ten), not a calibration: refused."""


class DccUnreadable(ValueError):
    """The DCC lacks what a register entry needs; the message says what."""


@dataclass(frozen=True)
class Values:
    """One quantity of the DCC: values, their unit (as pint reads it), and U and k per point
    where it states them."""

    values: list[float]
    unit: str
    uncertainty: list[float] | None = None
    k: list[float] | None = None


def read_standard(
    xml: bytes,
    file: str,
    *,
    standard_id: str,
    due: Any,
    traceability: list[str],
    instrument: str | None = None,
) -> Standard:
    """The register entry of the standard the DCC ``xml`` certifies; DccUnreadable if it
    cannot be read into one."""
    try:
        root = safe_tree(xml)
    except ValueError as exc:
        raise DccUnreadable(str(exc)) from None
    version = root.get("schemaVersion") or ""
    if not version.startswith(VERSIONS):
        raise DccUnreadable(f"DCC version {version or '(none)'}: this daq reads 3.1 to 3.3")
    admin = _one(root, "dcc:administrativeData")
    core = _one(admin, "dcc:coreData")
    laboratory = _text(admin, "dcc:calibrationLaboratory/dcc:contact/dcc:name")
    items = admin.findall("dcc:items/dcc:item", NS)
    if len(items) != 1:
        raise DccUnreadable(
            f"the DCC certifies {len(items)} items: a register entry is one standard's DCC"
        )
    item = items[0]
    serial = item.xpath(
        "dcc:identifications/dcc:identification[dcc:issuer='manufacturer']/dcc:value/text()",
        namespaces=NS,
    )
    nominal, stated, quantity = _table(root)
    count = len(nominal.values)
    uncertainty = _per_point(stated.uncertainty, count, "expanded uncertainties")
    factors = _per_point(stated.k, count, "coverage factors")
    if uncertainty is None or factors is None:
        raise DccUnreadable("the DCC states no expanded uncertainty with its coverage factor")
    rows = sorted(
        (
            TablePoint(nominal=n, value=v, uncertainty=u, k=k)
            for n, v, u, k in zip(nominal.values, stated.values, uncertainty, factors, strict=True)
        ),
        key=lambda p: p.nominal,
    )
    if len({p.nominal for p in rows}) != len(rows):
        raise DccUnreadable("the DCC's table states a nominal value twice")
    table = CertificateTable(
        quantity=quantity, nominal_unit=nominal.unit, unit=stated.unit, points=rows
    )
    corrections: Corrections
    if quantity == "resistance":
        corrections, expanded = _callendar_van_dusen(root, table)
    else:
        points = [
            CorrectionPoint(nominal=p.nominal, correction=p.value, uncertainty=p.uncertainty, k=p.k)
            for p in rows
        ]
        corrections = CorrectionTable(kind="table", unit=nominal.unit, points=points)
        largest = max(rows, key=lambda p: p.uncertainty / p.k)  # the largest u
        expanded = ExpandedUncertainty(value=largest.uncertainty, k=largest.k, unit=nominal.unit)
    return Standard(
        id=standard_id,
        description=_text(item, "dcc:name", required=False),
        manufacturer=_text(item, "dcc:manufacturer/dcc:name", required=False),
        model=item.findtext("dcc:model", default="", namespaces=NS),
        serial=str(serial[0]) if serial else "",
        instrument=instrument,
        certificate=Certificate(
            number=_required(core.findtext("dcc:uniqueIdentifier", namespaces=NS), "number"),
            laboratory=laboratory,
            accreditation=admin.findtext(
                "dcc:calibrationLaboratory/dcc:calibrationLaboratoryCode", default="", namespaces=NS
            ),
            calibrated=_required(core.findtext("dcc:endPerformanceDate", namespaces=NS), "date"),
            due=due,
            traceability=traceability or [laboratory],
        ),
        range=CalibratedRange(
            minimum=rows[0].nominal, maximum=rows[-1].nominal, unit=expanded.unit
        ),
        uncertainty=expanded,
        corrections=corrections,
        imported_from=DccSource(
            file=Path(file).name,
            sha256=hashlib.sha256(xml).hexdigest(),
            schema_version=version,
            table=table,
        ),
    )


def _callendar_van_dusen(
    root: Any, table: CertificateTable
) -> tuple[CallendarVanDusen, ExpandedUncertainty]:
    """A PRT's coefficients from its DCC (its own, else fitted to its table, the residual
    recorded either way), and its largest U in °C (a resistance's U over dR/dt there)."""
    points = [(p.nominal, p.value) for p in table.points]
    given = _coefficients(root)
    try:
        if given is not None:
            coefficients, source = given, "certificate"
            residual = cvd.residual(coefficients, points)
            if not residual <= MAX_COEFFICIENT_RESIDUAL:
                raise DccUnreadable(
                    f"the DCC's coefficients R0, A, B, C miss its own table by {residual:.3g} °C: "
                    "misread, not imported"
                )
        else:
            (coefficients, residual), source = cvd.fit(points), "fit"
        in_celsius = [(p.uncertainty / coefficients.slope(p.nominal), p.k) for p in table.points]
    except MetrologyError as exc:
        raise DccUnreadable(f"the DCC's table of resistances: {exc}") from None
    value, k = max(in_celsius, key=lambda u: u[0] / u[1])
    return (
        CallendarVanDusen(
            kind="cvd",
            r0=coefficients.r0,
            a=coefficients.a,
            b=coefficients.b,
            c=coefficients.c,
            fit_residual=round(residual, 6),
            valid_from=table.points[0].nominal,
            valid_to=table.points[-1].nominal,
            coefficients_from=source,
        ),
        ExpandedUncertainty(value=value, k=k, unit="°C"),
    )


def _coefficients(root: Any) -> cvd.Coefficients | None:
    """The certificate's own R0, A, B (and C) where it names them, each a ``si:real``."""
    found: dict[str, tuple[float, str]] = {}
    for quantity in root.iterfind(".//dcc:measurementResult//dcc:quantity", NS):
        name = " ".join((quantity.findtext("dcc:name/dcc:content", namespaces=NS) or "").split())
        real = quantity.find("si:real", NS)
        if name in COEFFICIENTS and real is not None:
            value = _numbers(real.findtext("si:value", namespaces=NS))[0]
            found[name] = (value, real.findtext("si:unit", namespaces=NS) or "")
    if not found:
        return None
    missing = [name for name in COEFFICIENTS[:3] if name not in found]
    if missing:
        raise DccUnreadable(f"the DCC names Callendar-Van Dusen coefficients but not {missing}")
    r0, unit = found["R0"]
    r0 = convert(r0, _unit(unit), "ohm")
    return cvd.Coefficients(r0, found["A"][0], found["B"][0], found.get("C", (0.0, ""))[0])


def _per_point(values: list[float] | None, count: int, what: str) -> list[float] | None:
    """One value per point: a single one stands for all; any other count is refused."""
    if values is None:
        return None
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise DccUnreadable(f"the DCC states {len(values)} {what} for {count} values")
    return values


def _one(node: Any, path: str) -> Any:
    found = node.find(path, NS)
    if found is None:
        raise DccUnreadable(f"the DCC has no {path.rsplit('/', 1)[-1]}")
    return found


def _text(node: Any, path: str, *, required: bool = True) -> str:
    """The first content of a ``dcc:textType`` element."""
    text = node.findtext(f"{path}/dcc:content", namespaces=NS)
    if text is None and required:
        raise DccUnreadable(f"the DCC has no {path.rsplit('/', 1)[-1]}")
    return " ".join((text or "").split())


def _required(value: str | None, what: str) -> str:
    if not value:
        raise DccUnreadable(f"the DCC has no certificate {what}")
    return value.strip()


def _table(root: Any) -> tuple[Values, Values, str]:
    """The nominal values and what the certificate states at them, of the first group of
    quantities that has both: corrections (in the nominal values' unit), or a PRT's
    resistances in Ω at temperatures in °C; and which of the two ("correction",
    "resistance")."""
    for group in root.iterfind(".//dcc:measurementResult//dcc:list", NS):
        quantities = {
            token: quantity
            for quantity in group.iterfind("dcc:quantity", NS)
            for token in (quantity.get("refType") or "").split()
        }
        nominal_node = quantities.get(NOMINAL)
        if nominal_node is None:
            continue
        measured = quantities.get(CORRECTION, quantities.get(ERROR))
        if measured is None and MEASURED in quantities:
            resistances = _values(quantities[MEASURED])
            if same_dimension(resistances.unit, "ohm"):
                return (*_resistances(_values(nominal_node), resistances), "resistance")
        if measured is None:
            continue
        nominal = _values(nominal_node)
        found = _values(measured)
        sign = 1.0 if measured is quantities.get(CORRECTION) else -1.0
        if len(found.values) != len(nominal.values):
            raise DccUnreadable("the DCC's nominal values and corrections differ in number")

        corrections = Values(
            [sign * v for v in _converted(found.values, found.unit, nominal.unit)],
            nominal.unit,
            _converted(found.uncertainty, found.unit, nominal.unit) if found.uncertainty else None,
            found.k,
        )
        if any(not math.isfinite(v) for v in corrections.values + nominal.values):
            raise DccUnreadable("the DCC's table holds a value that is not a number")
        return nominal, corrections, "correction"
    raise DccUnreadable(
        f"the DCC has no list with both {NOMINAL} and {ERROR} (or {CORRECTION}) quantities, "
        f"nor {NOMINAL} temperatures with {MEASURED} resistances"
    )


def _resistances(nominal: Values, resistances: Values) -> tuple[Values, Values]:
    """A PRT's table in °C and Ω."""
    if len(resistances.values) != len(nominal.values):
        raise DccUnreadable("the DCC's temperatures and resistances differ in number")
    try:
        celsius = [convert(t, nominal.unit, "°C") for t in nominal.values]
        ohms = [convert(r, resistances.unit, "ohm") for r in resistances.values]
        uncertainty = (
            [convert_difference(u, resistances.unit, "ohm") for u in resistances.uncertainty]
            if resistances.uncertainty
            else None
        )
    except ValueError as exc:
        raise DccUnreadable(f"the DCC's table of resistances: {exc}") from None
    return Values(celsius, "°C"), Values(ohms, "Ω", uncertainty, resistances.k)


def _converted(values: list[float], unit: str, to: str) -> list[float]:
    """Differences (corrections, uncertainties) in ``unit`` expressed in ``to``."""
    try:
        return [convert_difference(v, unit, to) for v in values]
    except ValueError as exc:
        raise DccUnreadable(f"the DCC's corrections and nominal values: {exc}") from None


def _values(quantity: Any) -> Values:
    listed = quantity.find("si:realListXMLList", NS)
    if listed is not None:
        uncertainty = "si:expandedUncXMLList/si:uncertaintyXMLList"
        factor = "si:expandedUncXMLList/si:coverageFactorXMLList"
        return Values(
            _numbers(listed.findtext("si:valueXMLList", namespaces=NS)),
            _unit(listed.findtext("si:unitXMLList", namespaces=NS)),
            _optional(listed.findtext(uncertainty, namespaces=NS)),
            _optional(listed.findtext(factor, namespaces=NS)),
        )
    reals = quantity.findall("si:real", NS) or quantity.findall(".//si:real", NS)
    if not reals:
        raise DccUnreadable("a quantity of the table has no real values")
    units = {r.findtext("si:unit", namespaces=NS) for r in reals}
    if len(units) != 1:
        raise DccUnreadable("the values of one quantity are in different units")
    uncertainties = [r.findtext("si:expandedUnc/si:uncertainty", namespaces=NS) for r in reals]
    factors = [r.findtext("si:expandedUnc/si:coverageFactor", namespaces=NS) for r in reals]
    return Values(
        _numbers(" ".join(r.findtext("si:value", default="", namespaces=NS) for r in reals)),
        _unit(units.pop()),
        _numbers(" ".join(u or "" for u in uncertainties)) if all(uncertainties) else None,
        _numbers(" ".join(f or "" for f in factors)) if all(factors) else None,
    )


def _numbers(text: str | None) -> list[float]:
    """Finite numbers, at least one."""
    try:
        numbers = [float(v) for v in (text or "").split()]
    except ValueError:
        raise DccUnreadable(f"not a list of numbers: {text!r}") from None
    if not numbers or not all(math.isfinite(n) for n in numbers):
        raise DccUnreadable(f"not a list of finite numbers: {text!r}")
    return numbers


def _optional(text: str | None) -> list[float] | None:
    return _numbers(text) if text else None


def _unit(text: str | None) -> str:
    """The one unit of a quantity's values (a list naming one unit per value must name the
    same one for all)."""
    try:
        units = set(pint_units(text or ""))
    except DsiError as exc:
        raise DccUnreadable(str(exc)) from None
    if len(units) != 1:
        raise DccUnreadable(f"the values of one quantity are in different units: {text}")
    return units.pop()
