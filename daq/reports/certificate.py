"""A certificate from a run's result document, with the content ISO/IEC 17025:2017 7.8
requires: laboratory, unique number and pages, customer, item, dates, method, environment,
results with U and k, decision rule and conformity, traceability, deviations and overrides,
the person authorising it, and the hash of the run's record."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from daq.config import LabConfig
from daq.engine.document import RunDocument
from daq.engine.record import Point
from daq.metrology.budget import decimals_of
from daq.reports import plots
from daq.reports.i18n import Translator

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Issue:
    number: str
    issued: dt.datetime
    by: str
    function: str
    language: str


def _date(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date().isoformat()


def _row(point: Point, t: Translator) -> dict[str, Any]:
    """One results row, rounded as the certificate states it (to the decimals of U)."""
    assert point.budget is not None and point.decision is not None
    expanded = point.budget["expanded_uncertainty"]
    places = decimals_of(expanded)
    corrections = point.kind == "comparison"
    result = -point.values["error"] if corrections else point.values["error"]
    values = point.values
    return {
        "key": point.key,
        "uut": point.uut or "",
        "nominal": f"{point.nominal:g}" if point.nominal is not None else "",
        "reference": f"{values['reference']:.{places + 1}f}" if "reference" in values else "",
        "indication": f"{values['indication']:.{places + 1}f}" if "indication" in values else "",
        "result": f"{result:+.{places}f}",
        "result_label": t("correction" if corrections else "error"),
        "expanded": f"{expanded:.2g}",
        "k": f"{point.budget['coverage_factor']:g}",
        "unit": point.unit,
        "decision": t(point.decision["outcome"]),
        "conforms": point.decision["conforms"],
    }


def context(document: RunDocument, lab: LabConfig, issue: Issue) -> dict[str, Any]:
    t = Translator(issue.language)
    plan = document.plan
    decided = [p for p in document.points if p.decision is not None and p.budget is not None]
    rows = [_row(p, t) for p in decided]
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
    result = document.result
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
        "received": plan.get("received") or t("not_recorded"),
        "calibrated": _date(document.run.started)
        + (
            f" – {_date(document.run.finished)}"
            if _date(document.run.finished) != _date(document.run.started)
            else ""
        ),
        "issued": issue.issued.date().isoformat(),
        "rows": rows,
        "conforms": result.conforms,
        "failures": result.failures,
        "standards": document.standards,
        "remarks": remarks,
        "errors_plot": plots.errors(decided, t),
        "hysteresis_plot": plots.hysteresis(document.points, t),
        "corrections": bool(decided) and all(p.kind == "comparison" for p in decided),
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
    return environment.get_template(name).render(**context(document, lab, issue))


def render_pdf(html: str) -> bytes:
    """PDF with WeasyPrint (page size, numbering and running header from the CSS)."""
    import weasyprint  # imported here: it loads Pango, which only PDFs need

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font subsetting notes
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
