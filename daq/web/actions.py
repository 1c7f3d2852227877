"""The console's changes, each through the one use case every front end calls: the
agent's (start, abort, answer, acknowledge) and ``daq.certify`` (issue). A refusal is an
HTTP error with the use case's reason."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import HTTPException

from daq.certify import FORMATS, Issued, IssueRefused, Request, issue
from daq.engine.order import RunOrder
from daq.journal import NumberTaken
from daq.operations import Refused, Unprintable, printable
from daq.people import Right, may
from daq.reports.i18n import languages
from daq.web.console import IDENT, Console, who
from daq.web.sessions import Login

if TYPE_CHECKING:
    from daq.agent import Agent

NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
"""An issuing form's request id."""


def _agent(console: Console) -> Agent:
    if console.agent is None:
        raise HTTPException(409, "runs are started and answered where the agent serves it")
    return console.agent


@dataclass(frozen=True)
class Start:
    """A run asked for in the console (what ``RunOrder`` adds to the plan)."""

    plan: str
    uut: str | None = None
    customer: str = ""
    customer_address: str = ""
    received: dt.date | None = None
    serial: str = ""
    """The serial of the plan's first UUT (where the plan has none)."""
    serials: tuple[tuple[str, str], ...] = ()
    """Each UUT's serial by its id (where the plan has none)."""
    override: tuple[str, ...] = ()
    reason: str = ""


async def start_run(console: Console, login: Login, start: Start) -> str:
    """Start a run; overrides are taken in the name of the person logged in."""
    agent = _agent(console)
    items = dict(start.serials)
    for ident in (start.plan, start.uut or "x", *start.override, *items):
        if not IDENT.fullmatch(ident):
            raise HTTPException(422, "an id is letters, digits and _.:-")
    try:
        printable(customer=start.customer, customer_address=start.customer_address,
                  serial=start.serial, reason=start.reason)  # fmt: skip
        for uut, serial in items.items():
            printable(**{f"serial of {uut}": serial})
    except Unprintable as exc:
        raise HTTPException(422, str(exc)) from None
    if start.override and not start.reason.strip():
        raise HTTPException(422, "an override needs the reason you take responsibility for")
    order = RunOrder(
        uut=start.uut, customer=start.customer, customer_address=start.customer_address,
        received=start.received, serial=start.serial,
        serials=items, override=list(start.override), by=login.user.full_name,
        reason=start.reason.strip(),
    )  # fmt: skip
    requested = {"user": login.user.name, "name": login.user.full_name, "via": "console"}
    try:
        run: str = await agent.start_run(start.plan, order, requested)
    except Refused as exc:
        raise refusal(exc) from None
    return run


async def abort_run(console: Console, login: Login, run: str, reason: str) -> None:
    try:
        printable(reason=reason)
        await _agent(console).abort_run(run, reason or "aborted from the console", who(login))
    except Refused as exc:
        raise refusal(exc) from None


def answer_prompt(console: Console, login: Login, prompt: str, answer: str) -> None:
    try:
        printable(answer=answer)
        _agent(console).answer_prompt(prompt, answer, who(login), "console")
    except Refused as exc:
        raise refusal(exc) from None


def refusal(exc: Refused) -> HTTPException:
    """A use case's refusal as HTTP: text no one can read back is unprocessable (422), any
    other refusal a conflict with the agent's state (409)."""
    return HTTPException(422 if isinstance(exc, Unprintable) else 409, str(exc))


def acknowledge_alarm(console: Console, login: Login, alarm: str) -> None:
    try:
        _agent(console).acknowledge_alarm(alarm, who(login))
    except Refused as exc:
        raise HTTPException(409, str(exc)) from None


async def issue_certificate(
    console: Console, login: Login, run: str, form: str, language: str, nonce: str = ""
) -> list[Issued]:
    """Issue the run's certificate (one per UUT where it has several) in the name and
    function of the authoriser logged in; the issuing form's ``nonce`` issues once."""
    if not may(login.user.role, Right.ISSUE):
        raise HTTPException(403, "only an authoriser issues certificates")
    if form not in FORMATS:
        raise HTTPException(422, f"a certificate is one of {', '.join(FORMATS)}")
    if language not in languages():
        raise HTTPException(422, f"languages: {', '.join(languages())}")
    if nonce and not NONCE.fullmatch(nonce):
        raise HTTPException(422, "the form's request id is 16 to 64 letters, digits, - and _")
    user = login.user
    if not user.function:
        raise HTTPException(
            409, f"{user.name} has no function to print on certificates: an administrator sets it"
        )
    request = Request(form, language, user.full_name, user.function, nonce=nonce,
                      user=user.name)  # fmt: skip
    try:
        return await issue(console.lab, console.journal, run, request)
    except IssueRefused as exc:
        raise HTTPException(409, f"{exc} {exc.hint}".strip()) from None
    except NumberTaken as exc:
        raise HTTPException(409, f"{exc}; issue it again: it gets the next number") from None
