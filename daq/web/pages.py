"""The console's pages (HTML) and their forms (logging in: ``daq.web.login``)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from daq.certify import FileAltered, archived_copy
from daq.config import ConfigError
from daq.engine.checks import standards_of
from daq.engine.plan import find_plan
from daq.journal import EventKind, Severity
from daq.people import Right
from daq.reports.i18n import languages
from daq.web import actions, records
from daq.web.charts import charted_rules, control_chart
from daq.web.console import (
    CERTIFICATE_NUMBER,
    IDENT,
    RUN_ID,
    Console,
    checked_id,
    console_of,
    page,
    require,
)

router = APIRouter()
Text = Annotated[str, Form(max_length=200)]
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "dcc": "application/xml",
}

UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9_.-]")
"""Replaced in a download's file name: a number may hold "/" (``{year}/{seq}``)."""


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, 303)


@router.get("/")
async def home() -> Response:
    return _back("/runs")


@router.get("/runs")
async def runs_page(
    request: Request,
    plan: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    journal = console_of(request).journal
    found = await records.runs(journal, plan, status, q)
    plans = await journal.run_plans()
    return page(request, "runs.html", runs=found[:500], plans=plans,
                filters={"plan": plan, "status": status, "q": q})  # fmt: skip


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str) -> Response:
    detail = await records.found_run(console_of(request), run_id)
    # the issuing form's own nonce: sent twice (two clicks), it issues once
    return page(request, "run.html", run=detail, languages=languages(),
                nonce=secrets.token_urlsafe(24))  # fmt: skip


@router.post("/runs/{run_id}/certificates")
async def issue_page(
    request: Request,
    run_id: str,
    form: Annotated[str, Form(max_length=8)] = "pdf",
    language: Annotated[str, Form(max_length=8)] = "en",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    login = require(request, Right.ISSUE)
    await actions.issue_certificate(
        console_of(request), login, checked_id(run_id), form, language, nonce
    )
    return _back(f"/runs/{run_id}")


@router.get("/certificates")
async def certificates_page(request: Request) -> Response:
    found = await records.certificates(console_of(request).journal)
    return page(request, "certificates.html", certificates=found)


@router.get("/certificates/{number:path}")
async def certificate_file(request: Request, number: str) -> Response:
    """The file of a certificate as issued, once it checks as issued: an altered one is
    refused, and the refusal recorded."""
    console = console_of(request)
    journal = console.journal
    try:
        kept = await archived_copy(console.lab, journal, checked_id(number, CERTIFICATE_NUMBER))
    except FileAltered as exc:
        issue = await journal.certificate(number)
        journal.event(
            EventKind.CERTIFICATE_FILE_ALTERED,
            f"{exc}; the console did not give it out",
            Severity.ERROR,
            run=issue.run if issue is not None else None,
        )
        raise HTTPException(
            409, f"{exc}: it is not given out. `daq verify` checks the run's whole record."
        ) from None
    if kept is None:
        raise HTTPException(404, "no such certificate file")
    suffix = "xml" if kept.format == "dcc" else kept.format
    name = UNSAFE_IN_FILE_NAMES.sub("-", number)
    return Response(
        kept.content,
        media_type=CONTENT_TYPES.get(kept.format, "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}.{suffix}"'},
    )


@router.get("/standards")
async def standards_page(request: Request) -> Response:
    console = console_of(request)
    found, problem = records.standards_today(console)
    charts: dict[str, list[Any]] = {}
    for rule in charted_rules(console.lab.alarms):
        chart = await control_chart(console.journal, rule)
        for standard in found:
            if chart is not None and standard["instrument"] == rule.instrument:
                charts.setdefault(standard["id"], []).append(chart)
    return page(request, "standards.html", standards=found, problem=problem, charts=charts)


@router.get("/events")
async def events_page(
    request: Request,
    kind: Annotated[str, Query(max_length=64)] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    console = console_of(request)
    found = await records.events(console.journal, kind, severity)
    agent = console.agent
    active = agent.active_alarms if agent is not None else []
    acknowledged = agent.acknowledged_alarms if agent is not None else {}
    kinds = [k.value for k in EventKind]
    return page(request, "events.html", events=found, active=active, kinds=kinds,
                acknowledged=acknowledged,
                filters={"kind": kind, "severity": severity})  # fmt: skip


@router.post("/alarms/{alarm}/acknowledge")
async def acknowledge(request: Request, alarm: str) -> Response:
    login = require(request, Right.RUN)
    actions.acknowledge_alarm(console_of(request), login, checked_id(alarm, IDENT))
    return _back("/events")


@router.get("/bench")
async def bench_page(request: Request) -> Response:
    return page(request, "bench.html", instruments=await records.bench(console_of(request)))


@router.get("/bench/panel")
async def bench_panel(request: Request) -> Response:
    return page(request, "bench_panel.html", instruments=await records.bench(console_of(request)))


@router.get("/start")
async def start_page(request: Request) -> Response:
    console = console_of(request)
    plans = console.agent.plans() if console.agent is not None else []
    instruments = [i.id for _, i in console.lab.instruments()]
    return page(request, "start.html", plans=plans, instruments=instruments,
                **_items(console, plans[0] if plans else ""))  # fmt: skip


@router.get("/start/items")
async def start_items(request: Request, plan: Annotated[str, Query(max_length=64)]) -> Response:
    """The chosen plan's UUTs, each with its serial (to be given where the plan has none),
    and those of its standards the register refuses today (an override may be asked)."""
    return page(request, "start_items.html", **_items(console_of(request), plan))


def _items(console: Console, name: str) -> dict[str, list[Any]]:
    if console.agent is None or name not in console.agent.plans():
        return {"items": [], "refused": []}
    try:
        plan = find_plan(name, console.lab, files=False)[0]
    except ConfigError:
        return {"items": [], "refused": []}  # the start itself names the plan's problem
    used = standards_of(plan, console.lab)
    found, _ = records.standards_today(console)
    refused = [s for s in found if s["state"] == "overdue" and s["id"] in used]
    return {"items": plan.uuts, "refused": refused}


@router.post("/start")
async def start(
    request: Request,
    plan: Annotated[str, Form(max_length=64)],
    uut: Annotated[str, Form(max_length=64)] = "",
    customer: Text = "",
    customer_address: Annotated[str, Form(max_length=300)] = "",
    received: Annotated[str, Form(max_length=10)] = "",
    item: Annotated[list[str] | None, Form(max_length=50)] = None,
    item_serial: Annotated[list[str] | None, Form(max_length=50)] = None,
    override: Annotated[list[str] | None, Form(max_length=20)] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    login = require(request, Right.RUN)
    try:
        day = dt.date.fromisoformat(received) if received else None
    except ValueError:
        raise HTTPException(422, "the receipt date is YYYY-MM-DD") from None
    items, serials = item or [], item_serial or []
    if len(items) != len(serials) or any(len(s) > 64 for s in serials):
        raise HTTPException(422, "each UUT has one serial of at most 64 characters")
    start = actions.Start(
        checked_id(plan, IDENT), uut or None, customer, customer_address, day, "",
        tuple(zip(items, serials, strict=True)), tuple(override or ()), reason,
    )  # fmt: skip
    await actions.start_run(console_of(request), login, start)
    return _back("/live")


@router.get("/live")
async def live_page(request: Request) -> Response:
    return page(request, "live.html", **_live(request))


@router.get("/live/panel")
async def live_panel(request: Request) -> Response:
    return page(request, "live_panel.html", **_live(request))


@router.get("/live/prompts")
async def prompts_panel(request: Request) -> Response:
    return page(request, "prompts.html", **_live(request))


def _live(request: Request) -> dict[str, Any]:
    agent = console_of(request).agent
    if agent is None:
        return {"live": None, "prompts": [], "running": False}
    return {"live": agent.live, "prompts": list(agent.prompter.open.values()),
            "running": agent.running, "trace": records.spark([v for _, v in agent.live.trace],
                                                             width=600, height=80)}  # fmt: skip


@router.post("/prompts/{prompt}/answer")
async def answer(request: Request, prompt: str, text: Text = "") -> Response:
    login = require(request, Right.RUN)
    actions.answer_prompt(console_of(request), login, checked_id(prompt, IDENT), text)
    return _back("/live")


@router.post("/runs/{run_id}/abort")
async def abort(request: Request, run_id: str, reason: Text = "") -> Response:
    login = require(request, Right.RUN)
    await actions.abort_run(console_of(request), login, checked_id(run_id, RUN_ID), reason)
    return _back("/live")
