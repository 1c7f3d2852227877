"""A certificate from a run's result document, with the content ISO/IEC 17025:2017 7.8
requires: laboratory, unique number and pages, customer, item, dates, method, environment,
results with U and k, decision rule and conformity, traceability, deviations and overrides,
the person authorising it, and the hash of the run's record."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError

from daq.config import LabConfig
from daq.engine.document import RunDocument
from daq.engine.record import Point
from daq.metrology.rounding import (
    format_indication,
    format_places,
    format_uncertainty,
    format_value,
)
from daq.reports import plots, wording
from daq.reports.i18n import Translator

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Issue:
    number: str
    issued: dt.datetime
    by: str
    function: str
    language: str
    replaces: str = ""
    """The number of the certificate this one replaces (ISO/IEC 17025 7.8.8.2), else ""."""
    signed_by: str = ""
    """The lab key that signed the run's record ("": recorded before signing)."""
    user: str = ""
    """The login name of the user issuing, proven by their password ("": a lab without
    users); their signature image is chosen by it, never by the name printed."""


def _date(timestamp: float | None, t: Translator) -> str:
    if timestamp is None:
        return ""
    return t.date(dt.datetime.fromtimestamp(timestamp, dt.UTC).date())


RESOLUTION_SETTINGS = ("uut_resolution", "resolution")
"""Where the shipped procedures keep the UUT's digit step in a plan's settings (in the unit of
its results); a procedure naming it otherwise gets its indications printed to U's decimals."""


def _resolution(plan: dict[str, Any]) -> float | None:
    settings = plan.get("settings") or {}
    for name in RESOLUTION_SETTINGS:
        step = settings.get(name)
        if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
            return float(step)
    return None


def _indication(point: Point, expanded: float, resolution: float | None, t: Translator) -> str:
    """The UUT's indication: at its resolution when it is one indication as read (it is one of
    the point's UUT readings); a mean of several indications is a result, printed to U's last
    decimal (GUM 7.2.6): snapped to the digit step it would no longer be the mean."""
    value = point.values["indication"]
    read = any(value in series for name, series in point.readings.items() if name != "reference")
    if resolution is not None and read:
        return t.number(format_indication(value, resolution))
    return t.number(format_value(value, expanded))


def _row(point: Point, t: Translator, resolution: float | None = None) -> dict[str, Any]:
    """One results row, rounded as the certificate states it (daq.metrology.rounding): U to
    two significant digits, trailing zeros kept; reference and error or correction to U's
    last decimal; the UUT's indication at its resolution (``resolution``, its digit step)."""
    assert point.budget is not None and point.decision is not None
    expanded = point.budget["expanded_uncertainty"]
    corrections = point.kind == "comparison"
    result = -point.values["error"] if corrections else point.values["error"]
    values, n = point.values, t.number
    return {
        "key": wording.point(point.key, t),
        "uut": point.uut or "",
        "nominal": n(point.nominal) if point.nominal is not None else "",
        "reference": n(format_value(values["reference"], expanded))
        if "reference" in values
        else "",
        "indication": _indication(point, expanded, resolution, t) if "indication" in values else "",
        "result": n(format_value(result, expanded, signed=True)),
        "result_label": t("correction" if corrections else "error"),
        "expanded": n(format_uncertainty(expanded)),
        "k": n(point.budget["coverage_factor"]),
        "unit": point.unit,
        "decision": t(point.decision["outcome"]),
        "conforms": point.decision["conforms"],
    }


def _limits(plan: dict[str, Any], decided: list[Point]) -> plots.Limits | None:
    """The plan's tolerance as a function of the nominal value, for the plot's band; None
    when it cannot be read (the band then goes through each point's MPE)."""
    from pydantic import TypeAdapter, ValidationError

    from daq.metrology.errors import MetrologyError
    from daq.metrology.tolerance import Tolerance

    if not decided or "tolerance" not in plan:
        return None
    try:
        tolerance = TypeAdapter(Tolerance).validate_python(plan["tolerance"])
    except ValidationError:
        return None
    unit = decided[0].unit

    def limits(nominal: float) -> tuple[float, float]:
        return tolerance.limits(nominal, unit)

    try:
        limits(decided[0].nominal or 0.0)
    except (MetrologyError, ValueError):
        return None
    return limits


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".svg": "image/svg+xml"}  # fmt: skip
MAX_SIGNATURE = 1_000_000
"""Bytes: a signature image larger than this is not printed."""


def _signature_image(lab: LabConfig, user: str) -> str | None:
    """The signature image of the user issuing as a data URI, where the lab file has one for
    their login name (none without a user proven by their password: a name typed on the
    command line could be anyone's); a missing, unknown or oversized file is reported, not
    printed."""
    path = lab.certificates.signatures.get(user) if user else None
    if path is None:
        return None
    kind = IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise SignatureImageError(f"{path}: a signature image is PNG, JPEG or SVG")
    try:
        if path.stat().st_size > MAX_SIGNATURE:
            raise SignatureImageError(f"{path} is larger than 1 MB: not a signature image")
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureImageError(
            f"cannot read the signature image of {user}, {path}: {exc.strerror or exc}"
        ) from None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


class SignatureImageError(Exception):
    """The lab file names a signature image that cannot be printed."""


POSITIONS = ("centre", "front", "back", "left", "right")


def _sections(document: RunDocument, resolution: float | None, t: Translator) -> dict[str, Any]:
    """What a customer of each calibration expects besides the errors: a balance's
    repeatability and eccentricity, a pressure gauge's series, hysteresis and zero
    deviation. Each rounded to the UUT's resolution where it has one."""
    digits = _decimals(resolution)

    def fixed(value: float, places: int = digits) -> str:
        return t.number(format_places(value, places))

    def nominal(point: Point) -> str:
        return t.number(point.nominal) if point.nominal is not None else ""

    sections: dict[str, Any] = {}
    repeatability = [p for p in document.points if p.kind == "repeatability"]
    if repeatability:
        sections["repeatability"] = [
            {
                "load": nominal(p),
                "unit": p.unit,
                "readings": int(p.values.get("dof", 0)) + 1,
                "mean": fixed(p.values["mean"]),
                "s": fixed(p.values["s"], digits + 1),
            }
            for p in repeatability
            if "mean" in p.values and "s" in p.values
        ]
    eccentricity = [p for p in document.points if p.kind == "eccentricity"]
    if eccentricity:
        sections["eccentricity"] = [
            {
                "load": nominal(p),
                "unit": p.unit,
                "deviations": [
                    fixed(p.values[key]) if key in p.values else ""
                    for key in (f"deviation_{where}" for where in POSITIONS)
                ],
                "largest": fixed(p.values.get("max_deviation", 0.0)),
            }
            for p in eccentricity
        ]
    series = [p for p in document.points if p.kind == "series"]
    if series:
        names = sorted({p.values["series"] for p in series if "series" in p.values})
        by_nominal: dict[float, dict[float, str]] = {}
        for point in series:
            if point.nominal is not None and "indication" in point.values:
                by_nominal.setdefault(point.nominal, {})[point.values["series"]] = fixed(
                    point.values["indication"]
                )
        rising = {p.values["series"]: p.values.get("rising") == 1.0 for p in series}
        sections["series"] = {
            "names": [(f"M{n:g}", rising.get(n, True)) for n in names],
            "unit": series[0].unit,
            "rows": [
                {"nominal": t.number(n), "cells": [cells.get(name, "") for name in names]}
                for n, cells in sorted(by_nominal.items())
            ],
        }
        judged = [p for p in document.points if p.decision is not None and "hysteresis" in p.values]
        if judged:
            sections["hysteresis"] = [
                {
                    "nominal": nominal(p),
                    "unit": p.unit,
                    "hysteresis": fixed(p.values["hysteresis"]),
                    "zero": fixed(p.values["zero_deviation"])
                    if p.nominal == 0 and "zero_deviation" in p.values
                    else "",
                }
                for p in judged
            ]
    return sections


def _decimals(resolution: float | None) -> int:
    """Decimals of the UUT's digit step (3 when it is not known)."""
    if resolution is None:
        return 3
    text = f"{resolution:.10f}".rstrip("0")
    return max(0, len(text.split(".")[1])) if "." in text else 0


def context(document: RunDocument, lab: LabConfig, issue: Issue) -> dict[str, Any]:
    t = Translator(issue.language)
    plan = document.plan
    decided = [p for p in document.points if p.decision is not None and p.budget is not None]
    resolution = _resolution(plan)
    rows = [_row(p, t, resolution) for p in decided]
    uuts = list(dict.fromkeys(row["uut"] for row in rows))
    overrides = [
        t(
            "override",
            standard=s["standard"]["id"],
            by=o["by"],
            reason=o["reason"],
            problems="; ".join(s.get("problems", [])),
        )
        for s in document.standards
        for o in s.get("overrides", [])
    ]
    remarks = overrides[:]
    if document.run.resumed:
        remarks.append(t("resumed", count=document.run.resumed))
    if document.run.simulated:
        remarks.append(t("simulated"))
    try:
        minimum = wording.rule(plan.get("decision_rule")).minimum_tur
        decision_rule = wording.decision_rule(plan.get("decision_rule"), t)
        risk = wording.risk(plan.get("decision_rule"), t)
    except ValidationError:  # a rule this version no longer reads: as the run stated it
        minimum, decision_rule, risk = 4.0, document.decision_rule, document.decision_risk
    remarks += [
        wording.low_tur(
            wording.point(p.key, t) + (f" ({p.uut})" if p.uut else ""), p.decision or {}, minimum, t
        )
        for p in decided
        if (p.decision or {}).get("warnings")
    ]
    result = document.result
    procedure = document.procedure
    return {
        "t": t,
        "lab": lab.lab,
        "accreditation": lab.certificates.accreditation,
        "issue": issue,
        "document": document,
        "plan": plan,
        "uuts": document.uuts,
        "customer": document.customer,
        "customer_address": plan.get("customer_address", ""),
        "received": t.date(str(plan["received"])) if plan.get("received") else t("not_recorded"),
        "calibrated": _date(document.run.started, t)
        + (
            f" – {_date(document.run.finished, t)}"
            if _date(document.run.finished, t) != _date(document.run.started, t)
            else ""
        ),
        "issued": t.date(issue.issued.date()),
        "procedure_title": wording.procedure_title(procedure.name, procedure.title, t),
        "specification": wording.worded(plan, document.tolerance, t),
        "decision_rule": decision_rule,
        "risk": risk,
        "environment": {
            name: t.number(value) if isinstance(value, int | float) else value
            for name, value in document.environment.items()
        },
        "rows": rows,
        "groups": [(uut, [r for r in rows if r["uut"] == uut]) for uut in uuts],
        "sections": _sections(document, resolution, t),
        "conforms": result.conforms,
        "failures": [
            {
                "point": wording.point(f.point, t),
                "key": f.point,
                "check": wording.check(f.check, t) if f.check and f.check != "error" else "",
                "value": f.value,
                "unit": f.unit,
                "outcome": t(f.outcome),
                "excess": t.number(f"{f.excess:.3g}"),
            }
            for f in result.failures
        ],
        "uncertainties": {p.key: p.budget["expanded_uncertainty"] for p in decided if p.budget},
        "standards": document.standards,
        "remarks": remarks,
        "errors_plot": plots.errors(decided, t, _limits(plan, decided)),
        "hysteresis_plot": plots.hysteresis(document.points, t),
        "corrections": bool(decided) and all(p.kind == "comparison" for p in decided),
        "signature": t("signed_by", signer=issue.signed_by) if issue.signed_by else t("unsigned"),
        "signature_image": _signature_image(lab, issue.user),
    }


def filters(t: Translator) -> dict[str, Any]:
    """Jinja filters for a lab's template, the rounding rules of daq.metrology.rounding with
    the certificate language's decimal sign: ``{{ U | uncertainty }}``,
    ``{{ value | result(U) }}`` (``result(U, signed=True)`` for an error or correction),
    ``{{ value | indication(resolution) }}``, ``{{ x | number }}``, ``{{ iso | day }}``."""

    def result(value: float, expanded: float, signed: bool = False) -> str:
        return t.number(format_value(value, expanded, signed=signed))

    return {
        "uncertainty": lambda expanded: t.number(format_uncertainty(expanded)),
        "result": result,
        "indication": lambda value, step: t.number(format_indication(value, step)),
        "number": t.number,
        "day": t.date,
    }


def render_html(document: RunDocument, lab: LabConfig, issue: Issue) -> str:
    """The certificate as one HTML page (plots inline): the lab's template, or ours."""
    folders = [str(TEMPLATES)]
    name = "certificate.html"
    if lab.certificates.template is not None:
        folders.insert(0, str(lab.certificates.template.parent))
        name = lab.certificates.template.name
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    values = context(document, lab, issue)
    environment.filters.update(filters(values["t"]))
    return environment.get_template(name).render(**values)


class PdfUnavailable(Exception):
    """WeasyPrint cannot load Pango: the message says what to install."""


PANGO_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"


def render_pdf(html: str) -> bytes:
    """PDF with WeasyPrint (page size, numbering and running header from the CSS)."""
    try:
        import weasyprint  # imported here: it loads Pango, which only PDFs need
    except OSError as exc:  # cffi could not open the Pango library
        raise PdfUnavailable(
            f"PDF certificates need Pango, which cannot be loaded ({exc}): install it with "
            f"`apt-get install {PANGO_PACKAGES}` (Debian, Ubuntu), or issue --format html or json"
        ) from None

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font subsetting notes
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
