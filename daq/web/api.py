"""The console's JSON API (``/api``, described at ``/api/openapi.json``): the same use cases
and records as the pages, for programs. Changes need the session and its CSRF token
(header ``X-CSRF-Token``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from daq.operations import OpenPrompt
from daq.people import Right
from daq.web import actions, records
from daq.web.console import IDENT, RUN_ID, checked_id, console_of, login_of, require

router = APIRouter(tags=["console"])
_ID = f"^{IDENT.pattern}$"
_TEXT = r"^[^\x00-\x1f\x7f]*$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRun(_Body):
    plan: str = Field(pattern=_ID)
    uut: str | None = Field(None, pattern=_ID)
    """A configured instrument calibrated instead of the plan's UUT."""
    customer: str = Field("", max_length=200, pattern=_TEXT)
    customer_address: str = Field("", max_length=300, pattern=_TEXT)
    """The customer's address, where the customer is not the plan's."""
    received: dt.date | None = None
    serial: str = Field("", max_length=64, pattern=_TEXT)
    """The serial of the plan's first UUT, where the plan states none."""
    serials: dict[
        Annotated[str, Field(pattern=_ID)], Annotated[str, Field(max_length=64, pattern=_TEXT)]
    ] = Field(default_factory=dict, max_length=50)
    """Each UUT's serial by its id, where the plan states none."""
    override: list[Annotated[str, Field(pattern=_ID)]] = Field(default_factory=list, max_length=20)
    """Standards used despite a refusal, in the name of the person logged in."""
    reason: str = Field("", max_length=500, pattern=_TEXT)


class AbortRun(_Body):
    reason: str = Field("", max_length=500, pattern=_TEXT)


class Answer(_Body):
    answer: str = Field("", max_length=200, pattern=_TEXT)


class Issue(_Body):
    format: str = Field("pdf", pattern="^(pdf|html|json|dcc)$")
    language: str = Field("en", pattern="^[a-z]{2}$")
    nonce: str = Field("", pattern="^([A-Za-z0-9_-]{16,64})?$")
    """The request's own id (16 to 64 letters, digits, - and _): sent again, it gets the
    certificates it issued instead of new numbers."""


@router.get("/me")
async def me(request: Request) -> dict[str, Any]:
    login = login_of(request)
    user = login.user
    return {"name": user.name, "role": user.role, "full_name": user.full_name,
            "function": user.function, "language": login.language, "csrf": login.csrf}  # fmt: skip


@router.get("/runs")
async def runs(
    request: Request,
    plan: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=128)] = "",
) -> list[dict[str, Any]]:
    return await records.runs(console_of(request).journal, plan, status, q)


@router.get("/runs/{run_id}")
async def run(request: Request, run_id: str) -> dict[str, Any]:
    return await records.found_run(console_of(request), run_id)


@router.post("/runs")
async def start_run(request: Request, body: StartRun) -> dict[str, str]:
    login = require(request, Right.RUN)
    start = actions.Start(
        body.plan, body.uut, body.customer, body.customer_address, body.received, body.serial,
        tuple(body.serials.items()), tuple(body.override), body.reason,
    )  # fmt: skip
    return {"run": await actions.start_run(console_of(request), login, start)}


@router.post("/runs/{run_id}/abort")
async def abort_run(request: Request, run_id: str, body: AbortRun) -> dict[str, str]:
    login = require(request, Right.RUN)
    await actions.abort_run(console_of(request), login, checked_id(run_id, RUN_ID), body.reason)
    return {"run": run_id}


@router.post("/runs/{run_id}/certificates")
async def issue(request: Request, run_id: str, body: Issue) -> list[dict[str, str]]:
    login = require(request, Right.ISSUE)
    issued = await actions.issue_certificate(
        console_of(request), login, checked_id(run_id), body.format, body.language, body.nonce
    )
    return [{"number": i.number, "format": i.format, "file": f"/certificates/{quote(i.number)}"}
            for i in issued]  # fmt: skip


@router.get("/certificates")
async def certificates(request: Request) -> list[dict[str, Any]]:
    return await records.certificates(console_of(request).journal)


@router.get("/standards")
async def standards(request: Request) -> list[dict[str, Any]]:
    found, problem = records.standards_today(console_of(request))
    if problem:
        raise HTTPException(409, problem)
    return found


@router.get("/events")
async def events(
    request: Request,
    kind: Annotated[str, Query(max_length=64)] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 300,
) -> list[dict[str, Any]]:
    return await records.events(console_of(request).journal, kind, severity, limit)


@router.post("/alarms/{alarm}/acknowledge")
async def acknowledge(request: Request, alarm: str) -> dict[str, str]:
    login = require(request, Right.RUN)
    actions.acknowledge_alarm(console_of(request), login, checked_id(alarm, IDENT))
    return {"alarm": alarm}


@router.get("/bench")
async def bench(request: Request) -> list[dict[str, Any]]:
    return await records.bench(console_of(request))


@router.get("/prompts")
async def prompts(request: Request) -> list[dict[str, Any]]:
    agent = console_of(request).agent
    if agent is None:
        return []
    return [_prompt(p) for p in agent.prompter.open.values()]


def _prompt(prompt: OpenPrompt) -> dict[str, Any]:
    question, action = prompt.question, prompt.question.action
    return {
        "id": prompt.id,
        "run": prompt.run,
        "instrument": question.instrument,
        "text": question.text,
        "hint": question.hint(),
        "problem": question.problem,
        "confirmation": question.is_confirmation,
        "action": None
        if action is None
        else {"instrument": action.instrument, "name": action.name, "arguments": action.arguments},
    }


@router.post("/prompts/{prompt}/answer")
async def answer(request: Request, prompt: str, body: Answer) -> dict[str, str]:
    login = require(request, Right.RUN)
    actions.answer_prompt(console_of(request), login, checked_id(prompt, IDENT), body.answer)
    return {"prompt": prompt}
