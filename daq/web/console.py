"""What the console's routes share: the lab, the journal, the agent when it serves the
console, the logins; and the pages' templates and words."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request, Response
from fastapi.templating import Jinja2Templates

from daq.config import LabConfig
from daq.journal import Journal
from daq.people import Right, may, named
from daq.reports.i18n import Translator, languages
from daq.web.sessions import Login, Sessions, Throttle

if TYPE_CHECKING:
    from daq.agent import Agent

HERE = Path(__file__).parent
WORDS = HERE / "i18n"
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
"""What a run id looks like (``daq.commands`` holds MQTT's to the same)."""
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
CERTIFICATE_NUMBER = re.compile(r"[^\x00-\x1f\x7f/][^\x00-\x1f\x7f]{0,127}")
"""A certificate number: the lab's format may put any printable text in it, "/" too."""


@dataclass
class Console:
    lab: LabConfig
    journal: Journal
    agent: Agent | None
    """The agent serving the console (runs, prompts, live values); None for ``daq web``."""
    sessions: Sessions
    throttle: Throttle = field(default_factory=Throttle)
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=HERE / "templates")
    )

    @property
    def secure(self) -> bool:
        return self.lab.web is not None and self.lab.web.secure


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def login_of(request: Request) -> Login:
    login: Login | None = getattr(request.state, "login", None)
    if login is None:  # the gate lets no one through without a login; never reached
        raise HTTPException(401, "log in first")
    return login


def require(request: Request, right: Right) -> Login:
    login = login_of(request)
    if not may(login.user.role, right):
        raise HTTPException(403, f"{login.user.name} ({login.user.role}) may not do this")
    return login


def who(login: Login) -> str:
    """The person as events and records name them."""
    return named(login.user)


def words(language: str) -> Translator:
    return Translator(language if language in languages(WORDS) else "en", WORDS)


def _worded(t: Translator, kind: str, value: str) -> str:
    """A value the journal keeps in English (a run's status, a decision, a role) in the
    person's language, where the table has it; else as kept."""
    key = f"{kind}_{value.replace(' ', '_')}"
    return t(key) if t.has(key) else value


def checked_id(text: str, pattern: re.Pattern[str] = RUN_ID) -> str:
    if not pattern.fullmatch(text):
        raise HTTPException(404, "no such record")
    return text


def stamp(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def page(request: Request, template: str, **values: Any) -> Response:
    """A page in the language of the person logged in."""
    console = console_of(request)
    login: Login | None = getattr(request.state, "login", None)
    language = login.language if login is not None else "en"
    response: Response = console.templates.TemplateResponse(
        request,
        template,
        {
            "t": (t := words(language)),
            "word": (lambda kind, value: _worded(t, kind, value)),
            "login": login,
            "lab": console.lab,
            "agent": console.agent is not None,
            "may": (lambda right: login is not None and may(login.user.role, Right(right))),
            "stamp": stamp,
            "languages": languages(WORDS),
            **values,
        },
    )
    return response
