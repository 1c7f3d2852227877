"""Logging in and out, and the language of the person logged in; the health check."""

from __future__ import annotations

import re
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from daq.journal import EventKind, Severity
from daq.people import authenticate, set_language
from daq.reports.i18n import languages
from daq.web.console import WORDS, console_of, login_of, page
from daq.web.security import COOKIE, LOGIN_COOKIE
from daq.web.sessions import ADDRESS_THROTTLE_AFTER, THROTTLE_AFTER, same_token

router = APIRouter()
LOGIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
SAME_SITE_PATH = re.compile(r"/(?:[A-Za-z0-9_.:-]+(?:/[A-Za-z0-9_.:-]+)*)?")
"""A path of ours to go back to (never ``//host`` or ``/\\host``)."""
Text = Annotated[str, Form(max_length=200)]


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, 303)


@router.get("/health", include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/login")
async def login_page(request: Request) -> Response:
    # the token a browser already holds stays: a second look at the page (another tab, a
    # redirect) must not void the form already shown
    held = request.cookies.get(LOGIN_COOKIE, "")
    token = held if LOGIN_TOKEN.fullmatch(held) else secrets.token_urlsafe(32)
    response: Response = page(request, "login.html", csrf=token, problem="")
    _cookie(request, response, LOGIN_COOKIE, token)
    return response


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="strict", secure=console_of(request).secure, path="/"
    )


@router.post("/login")
async def log_in(
    request: Request,
    name: Text,
    password: Annotated[str, Form(max_length=256)],
    csrf: Text = "",
) -> Response:
    if not same_token(request.cookies.get(LOGIN_COOKIE), csrf):
        return JSONResponse({"detail": "missing or wrong CSRF token"}, 403)
    outcome = await _logged_in(request, name, password)
    if isinstance(outcome, float):
        response: Response = page(request, "login.html", csrf=csrf, problem="throttled")
        response.status_code = 429
        response.headers["Retry-After"] = str(int(outcome) + 1)
        return response
    if outcome is None:
        response = page(request, "login.html", csrf=csrf, problem="wrong")
        response.status_code = 401
        return response
    response = _back("/runs")
    _cookie(request, response, COOKIE, outcome)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    password: str = Field(max_length=256)


@router.post("/api/login")
async def log_in_a_program(request: Request, body: Credentials) -> Response:
    """A program logs in (JSON only, which no form of another site can send): the session
    cookie, and the CSRF token its changes carry in ``X-CSRF-Token``. Throttled and
    journaled as the login page is."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"detail": "send the name and password as JSON"}, 415)
    outcome = await _logged_in(request, body.name, body.password)
    if isinstance(outcome, float):
        headers = {"Retry-After": str(int(outcome) + 1)}
        return JSONResponse({"detail": "too many wrong passwords: wait"}, 429, headers)
    if outcome is None:
        return JSONResponse({"detail": "wrong name or password"}, 401)
    login = console_of(request).sessions.find(outcome, touch=False)
    assert login is not None
    response = JSONResponse({"name": login.user.name, "role": login.user.role,
                             "csrf": login.csrf})  # fmt: skip
    _cookie(request, response, COOKIE, outcome)
    return response


async def _logged_in(request: Request, name: str, password: str) -> str | float | None:
    """A new login's token; None for a wrong name or password; or, throttled, the seconds
    to wait. Each attempt is counted before its password is checked, and journaled."""
    console = console_of(request)
    address = request.client.host if request.client else "unknown"
    attempt = console.throttle.attempt(name, address)
    if attempt.wait > 0:
        return float(attempt.wait)
    user = await authenticate(console.journal, name, password)
    if user is None:
        console.journal.event(
            EventKind.LOGIN_FAILED,
            f"{name[:64]!r}: wrong name or password from {address}",
            Severity.WARNING,
        )
        if attempt.throttles_name:
            console.journal.event(
                EventKind.LOGIN_THROTTLED,
                f"{name[:64]!r}: {THROTTLE_AFTER} wrong passwords in a row from {address}; "
                "logins of that name from there wait",
                Severity.WARNING,
            )
        if attempt.throttles_address:
            console.journal.event(
                EventKind.LOGIN_THROTTLED,
                f"{ADDRESS_THROTTLE_AFTER} wrong passwords in a row from {address}, whatever "
                "the names; every login from there waits",
                Severity.WARNING,
            )
        return None
    console.throttle.succeeded(attempt)
    token = console.sessions.begin(user)
    console.journal.event(EventKind.LOGIN, f"{user.name} logged in from {address}")
    return token


@router.post("/logout")
async def log_out(request: Request) -> Response:
    console = console_of(request)
    ended = console.sessions.end(request.cookies.get(COOKIE))
    if ended is not None:
        console.journal.event(EventKind.LOGOUT, f"{ended.user.name} logged out")
    response = _back("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/language")
async def language(request: Request, choice: Annotated[str, Form(max_length=8)]) -> Response:
    login = login_of(request)
    if choice not in languages(WORDS):
        raise HTTPException(422, f"languages: {', '.join(languages(WORDS))}")
    login.language = choice
    await set_language(console_of(request).journal, login.user.name, choice)
    back = urlsplit(request.headers.get("referer", "")).path
    return _back(back if SAME_SITE_PATH.fullmatch(back) else "/runs")
