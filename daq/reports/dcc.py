"""The Digital Calibration Certificate (PTB DCC, schema 3.1.2) of a verified run.

Written from the run's result document as its record holds it, like the PDF certificate:
the administrative data (software, core data with the certificate number and dates, the
items with their identifications, the laboratory, the person authorising it, the customer,
the statements of conformity and of the record's hash) and, for each UUT, a measurement
result (the method, the standards and instruments used, the environment, and a list of the
decided points with D-SI quantities: nominal, reference, indication, the judged value with
its expanded uncertainty, and the tolerance limits). Units are in D-SI syntax
(``daq.reports.dsi``). ``daq dcc validate`` checks a DCC against the official schema and
PTB's Schematron.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from lxml import etree

from daq import __version__
from daq.config import LabConfig
from daq.engine.document import RunDocument
from daq.engine.record import Point
from daq.reports.certificate import Issue
from daq.reports.dcc_check import safe_tree
from daq.reports.dsi import dsi_unit

SCHEMA_VERSION = "3.1.2"
DCC = "https://ptb.de/dcc"
SI = "https://ptb.de/si"
NAMESPACES = {"dcc": DCC, "si": SI}
RUN_NAME = "calibration run"
RECORD_NAME = "record hash (SHA-256)"
"""How the core data's identifications name the run and its record's final hash."""


class DccUnavailable(Exception):
    """The lab file lacks what a DCC must say (the laboratory's country)."""


def _q(tag: str) -> str:
    prefix, _, name = tag.partition(":")
    return f"{{{NAMESPACES[prefix]}}}{name}"


def _add(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, _q(tag), {k: v for k, v in attrs.items() if v})
    if text is not None:
        element.text = text
    return element


def _text(parent: etree._Element, tag: str, content: str, language: str) -> Any:
    """A ``dcc:textType`` element: its content in the certificate's language."""
    element = _add(parent, tag)
    _add(element, "dcc:content", content, lang=language)
    return element


def _date(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date().isoformat()


def _number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "NaN"


def render_dcc(document: RunDocument, lab: LabConfig, issue: Issue) -> bytes:
    """The DCC as UTF-8 XML; raises ``DccUnavailable`` for what the lab file must add."""
    if not lab.lab.country:
        raise DccUnavailable(
            "a DCC names the laboratory's country: add lab.country (ISO 3166, e.g. VN) to the "
            "lab file"
        )
    language = issue.language
    root = etree.Element(
        _q("dcc:digitalCalibrationCertificate"), nsmap=NAMESPACES, schemaVersion=SCHEMA_VERSION
    )
    _administrative_data(root, document, lab, issue)
    results = _add(root, "dcc:measurementResults")
    for uut in document.uuts:
        _measurement_result(results, document, uut, language)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _administrative_data(
    root: etree._Element, document: RunDocument, lab: LabConfig, issue: Issue
) -> None:
    language = issue.language
    admin = _add(root, "dcc:administrativeData")
    software = _add(_add(admin, "dcc:dccSoftware"), "dcc:software")
    _text(software, "dcc:name", "benchdaq", language)
    _add(software, "dcc:release", f"v{__version__}")  # PTB's rule: a letter, then the number

    core = _add(admin, "dcc:coreData")
    _add(core, "dcc:countryCodeISO3166_1", lab.lab.country)
    _add(core, "dcc:usedLangCodeISO639_1", language)
    _add(core, "dcc:mandatoryLangCodeISO639_1", language)
    _add(core, "dcc:uniqueIdentifier", issue.number)
    identifications = _add(core, "dcc:identifications")
    for name, value in (
        (RUN_NAME, document.run.id),
        (RECORD_NAME, document.run.record_hash),
        ("replaces certificate", issue.replaces),
    ):
        if value:
            found = _add(identifications, "dcc:identification")
            _add(found, "dcc:issuer", "calibrationLaboratory")
            _add(found, "dcc:value", value)
            _text(found, "dcc:name", name, language)
    received = document.plan.get("received")
    if received:
        _add(core, "dcc:receiptDate", str(received))
    _add(core, "dcc:beginPerformanceDate", _date(document.run.started))
    _add(core, "dcc:endPerformanceDate", _date(document.run.finished or document.run.started))
    _add(core, "dcc:performanceLocation", "laboratory")

    items = _add(admin, "dcc:items")
    for uut in document.uuts:
        item = _add(items, "dcc:item")
        _text(item, "dcc:name", uut.get("description") or uut["id"], language)
        _text(_add(item, "dcc:manufacturer"), "dcc:name", uut.get("manufacturer") or "-", language)
        if uut.get("model"):
            _add(item, "dcc:model", str(uut["model"]))
        _identifications(item, [
            ("manufacturer", uut.get("serial"), "serial number"),
            ("calibrationLaboratory", uut["id"], "identification in the laboratory"),
        ], language)  # fmt: skip

    laboratory = _add(admin, "dcc:calibrationLaboratory")
    if lab.certificates.accreditation:
        _add(laboratory, "dcc:calibrationLaboratoryCode", lab.certificates.accreditation)
    _contact(_add(laboratory, "dcc:contact"), lab.lab.name or lab.lab.id, lab.lab.email,
             lab.lab.address, language)  # fmt: skip

    person = _add(_add(admin, "dcc:respPersons"), "dcc:respPerson")
    _text(_add(person, "dcc:person"), "dcc:name", issue.by, language)
    _add(person, "dcc:role", issue.function)
    _add(person, "dcc:mainSigner", "true")

    plan = document.plan
    _contact(_add(admin, "dcc:customer"), document.customer or "-",
             str(plan.get("customer_email") or ""), str(plan.get("customer_address") or ""),
             language)  # fmt: skip

    statements = _add(admin, "dcc:statements")
    statement = _add(statements, "dcc:statement")
    _add(statement, "dcc:norm", document.tolerance)
    declaration = _add(statement, "dcc:declaration")
    words = (
        f"Decision rule: {document.decision_rule}. Specification: {document.tolerance}."
        + (f" {document.decision_risk[0].upper()}{document.decision_risk[1:]}." if
           document.decision_risk else "")
    )  # fmt: skip
    _add(declaration, "dcc:content", words, lang=language)
    verdict = document.result.conforms
    outcomes = {str((p.decision or {}).get("outcome")) for p in document.points if p.decision}
    worst = next((o for o in ("fail", "conditional fail", "conditional pass") if o in outcomes),
                 "pass")  # fmt: skip
    _add(statement, "dcc:conformity", conformity(worst) if verdict is not None else "noPass")
    traceability = _add(statements, "dcc:statement")
    _add(traceability, "dcc:traceable", "true")
    text = _add(traceability, "dcc:declaration")
    _add(text, "dcc:content",
         "The results are traceable to national measurement standards through the reference "
         "standards named in each measurement result.", lang=language)  # fmt: skip
    _add(traceability, "dcc:conformity", "noFail" if verdict is not False else "noPass")


def _contact(element: etree._Element, name: str, email: str, address: str, language: str) -> None:
    _text(element, "dcc:name", name, language)
    _add(element, "dcc:eMail", email)
    location = _add(element, "dcc:location")
    further = _add(location, "dcc:further")
    _add(further, "dcc:content", address or "-", lang=language)


def _id(kind: str, value: str) -> str:
    """An xs:ID: letters, digits, '-', '_' and '.', starting with a letter."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in value)
    return f"{kind}_{cleaned}"


def _measurement_result(
    results: etree._Element, document: RunDocument, uut: dict[str, Any], language: str
) -> None:
    result = _add(results, "dcc:measurementResult")
    procedure = document.procedure
    _text(result, "dcc:name", f"{procedure.title} ({uut['id']})", language)
    method = _add(_add(result, "dcc:usedMethods"), "dcc:usedMethod")
    _text(method, "dcc:name", procedure.title, language)
    description = _add(method, "dcc:description")
    _add(description, "dcc:content",
         f"procedure {procedure.name} version {procedure.version}, SHA-256 {procedure.digest}",
         lang=language)  # fmt: skip
    _equipment(result, document, language)
    _environment(result, document.environment, language)
    listed = _add(result, "dcc:results")
    points = [p for p in document.points if p.uut == uut["id"] and p.decision is not None]
    kinds: dict[tuple[str, str], list[Point]] = {}  # one list per kind and unit
    for point in points:
        kinds.setdefault((point.kind, point.unit), []).append(point)
    for (kind, _), group in kinds.items():
        _points(listed, kind, group, language)
    if not points:
        empty = _add(listed, "dcc:result")
        _text(empty, "dcc:name", "no point decided", language)
        data = _add(empty, "dcc:data")
        _add(_add(data, "dcc:text"), "dcc:content", "no point was decided", lang=language)


def _equipment(result: etree._Element, document: RunDocument, language: str) -> None:
    standards = [s.get("standard", {}) for s in document.standards]
    if not standards and not document.instruments:
        return
    equipment = _add(result, "dcc:measuringEquipments")
    for standard in standards:
        item = _add(equipment, "dcc:measuringEquipment")
        _text(item, "dcc:name", standard.get("description") or standard["id"], language)
        if standard.get("manufacturer"):
            _text(_add(item, "dcc:manufacturer"), "dcc:name", standard["manufacturer"], language)
        if standard.get("model"):
            _add(item, "dcc:model", str(standard["model"]))
        certificate = standard.get("certificate") or {}
        _identifications(item, [
            ("manufacturer", standard.get("serial"), "serial number"),
            ("calibrationLaboratory", standard["id"], "identification in the laboratory"),
            ("other", certificate.get("number"),
             f"calibration certificate of {certificate.get('laboratory', '')}, calibrated "
             f"{certificate.get('calibrated', '')}, due {certificate.get('due', '')}"),
        ], language)  # fmt: skip
    for instrument in document.instruments:
        item = _add(equipment, "dcc:measuringEquipment")
        _text(item, "dcc:name", f"{instrument.id} ({', '.join(instrument.roles)})", language)
        if instrument.manufacturer:
            _text(_add(item, "dcc:manufacturer"), "dcc:name", instrument.manufacturer, language)
        if instrument.model:
            _add(item, "dcc:model", instrument.model)
        _identifications(item, [
            ("manufacturer", instrument.serial, "serial number"),
            ("calibrationLaboratory", instrument.id, "identification in the laboratory"),
        ], language)  # fmt: skip


def _identifications(
    parent: etree._Element,
    entries: Sequence[tuple[str, object, str]],
    language: str,
) -> None:
    present = [(issuer, str(value), name) for issuer, value, name in entries if value]
    if not present:
        return
    found = _add(parent, "dcc:identifications")
    for issuer, value, name in present:
        identification = _add(found, "dcc:identification")
        _add(identification, "dcc:issuer", issuer)
        _add(identification, "dcc:value", value)
        _text(identification, "dcc:name", name, language)


ENVIRONMENT = (
    ("temperature", "ambient temperature", "°C"),
    ("humidity", "relative humidity", "%"),
    ("pressure", "atmospheric pressure", "hPa"),
)


def _environment(result: etree._Element, environment: dict[str, Any], language: str) -> None:
    present = [(k, name, unit) for k, name, unit in ENVIRONMENT if environment.get(k) is not None]
    if not present:
        return
    conditions = _add(result, "dcc:influenceConditions")
    for key, name, unit in present:
        condition = _add(conditions, "dcc:influenceCondition")
        _text(condition, "dcc:name", name, language)
        quantity = _add(_add(condition, "dcc:data"), "dcc:quantity")
        real = _add(quantity, "si:real")
        converted = dsi_unit(unit)
        _add(real, "si:value", _number(float(environment[key]) * converted.factor))
        _add(real, "si:unit", converted.text)


def _points(listed: etree._Element, kind: str, points: list[Point], language: str) -> None:
    """One ``dcc:result`` for the decided points of one kind in one unit: a list of
    quantities, each a ``si:realListXMLList`` with a value per point."""
    result = _add(listed, "dcc:result")
    _text(result, "dcc:name", kind, language)
    data_list = _add(_add(result, "dcc:data"), "dcc:list")
    unit = points[0].unit
    _quantity(data_list, "test point", [p.nominal for p in points], unit, language,
              ref_type="basic_nominalValue")  # fmt: skip
    for key, name, ref_type in (
        ("reference", "reference value", "basic_referenceValue"),
        ("indication", "indication", "basic_measuredValue"),
    ):
        if all(key in p.values for p in points):
            _quantity(data_list, name, [p.values[key] for p in points], unit, language,
                      ref_type=ref_type)  # fmt: skip
    budgets = [p.budget or {} for p in points]
    decisions = [p.decision or {} for p in points]
    checks = [_main_check(p) for p in points]
    judged = str(budgets[0].get("quantity") or "value")
    _quantity(
        data_list,
        judged,
        [b.get("value") for b in budgets],
        unit,
        language,
        difference=True,
        ref_type="basic_measurementError" if "error" in judged else "",
        uncertainty=(
            [float(b.get("expanded_uncertainty", math.nan)) for b in budgets],
            [float(b.get("coverage_factor", math.nan)) for b in budgets],
            [float(b.get("coverage_probability", math.nan)) / 100 for b in budgets],
        ),
    )
    for key, name in (("tolerance_lower", "lower tolerance limit"),
                      ("tolerance_upper", "upper tolerance limit")):  # fmt: skip
        _quantity(data_list, name, [c.get(key) for c in checks], unit, language,
                  difference=True)  # fmt: skip
    outcomes = _add(data_list, "dcc:quantity")
    _text(outcomes, "dcc:name", "decision of each point (ILAC-G8), every check", language)
    words = _add(outcomes, "dcc:noQuantity")
    _add(words, "dcc:content", " ".join(conformity(d.get("outcome")) for d in decisions),
         lang=language)  # fmt: skip


CONFORMITY = {
    "pass": "pass",
    "conditional pass": "conditionalPass",
    "conditional fail": "conditionalFail",
    "fail": "fail",
}
"""ILAC-G8 outcomes in the DCC's words (stringConformityStatementStatusType)."""


def conformity(outcome: object) -> str:
    return CONFORMITY.get(str(outcome), "noPass")


def _main_check(point: Point) -> dict[str, Any]:
    """The check of the quantity the budget is for (the error of indication), which the
    value and U in the DCC belong to; the governing decision when the point has no list."""
    for check in point.checks:
        if check.get("check") == "error":
            return check
    return point.decision or {}


def _quantity(
    parent: etree._Element,
    name: str,
    values: Iterable[float | None],
    unit: str,
    language: str,
    *,
    difference: bool = False,
    ref_type: str = "",
    uncertainty: tuple[list[float], list[float], list[float]] | None = None,
) -> None:
    """A ``dcc:quantity`` of one value per point; ``ref_type`` is PTB's name for what it is
    (``basic_nominalValue``...), by which a reader finds it (``daq standards import``)."""
    converted = dsi_unit(unit, difference=difference)
    numbers = [math.nan if v is None else float(v) * converted.factor for v in values]
    quantity = _add(parent, "dcc:quantity", refType=ref_type)
    _text(quantity, "dcc:name", name, language)
    real = _add(quantity, "si:realListXMLList")
    _add(real, "si:valueXMLList", " ".join(map(_number, numbers)))
    _add(real, "si:unitXMLList", converted.text)
    if uncertainty is not None:
        expanded, factors, probabilities = uncertainty
        unc = _add(real, "si:expandedUncXMLList")
        _add(unc, "si:uncertaintyXMLList",
             " ".join(_number(u * converted.factor) for u in expanded))  # fmt: skip
        _add(unc, "si:coverageFactorXMLList", " ".join(map(_number, factors)))
        _add(unc, "si:coverageProbabilityXMLList", " ".join(map(_number, probabilities)))


def record_of(xml: bytes) -> tuple[str, str]:
    """The run and record hash a DCC of ours names (ValueError if it names none)."""
    root = safe_tree(xml)
    found = {
        identification.findtext("dcc:name/dcc:content", namespaces=NAMESPACES): (
            identification.findtext("dcc:value", namespaces=NAMESPACES)
        )
        for identification in root.iterfind(
            "dcc:administrativeData/dcc:coreData/dcc:identifications/dcc:identification",
            NAMESPACES,
        )
    }
    run, record = found.get(RUN_NAME), found.get(RECORD_NAME)
    if not run or not record:
        raise ValueError("the DCC names no calibration run and record hash of this laboratory")
    return run, record


def number_of(xml: bytes) -> str:
    """The certificate number a DCC states (ValueError if none)."""
    number = safe_tree(xml).findtext(
        "dcc:administrativeData/dcc:coreData/dcc:uniqueIdentifier", namespaces=NAMESPACES
    )
    if not number:
        raise ValueError("the DCC states no certificate number")
    return str(number).strip()
