"""The console's gate: a size limit on every body, a login for everything but the health
check, the login page and the static files, a CSRF token on every change, and headers
that keep pages out of frames and scripts to our own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daq.web.console import console_of
from daq.web.sessions import same_token

MAX_BODY = 64 * 1024
"""Bytes: every form and API body is small."""
COOKIE = "daq_session"
LOGIN_COOKIE = "daq_login"
"""The login form's own CSRF token (double submit), before there is a session."""
OPEN = ("/health", "/login", "/api/login", "/static/", "/favicon.ico")
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class BodyLimit:
    """Refuses a body over ``MAX_BODY`` (by its length, or as it arrives) with 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await JSONResponse({"detail": "body too large"}, 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await JSONResponse({"detail": "body too large"}, 413)(scope, receive, send)


class BodyTooLarge(Exception):
    pass


def is_open(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in OPEN)


async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Who is asking, before anything is revealed; then the CSRF token of a change."""
    console = console_of(request)
    path = request.url.path
    token = request.cookies.get(COOKIE)
    by_itself = request.headers.get("HX-Request") is not None or path.endswith("/events")
    login = console.sessions.find(token, touch=not by_itself or request.method in CHANGES)
    if login is not None:  # disabled, or the password reset, since: the login ends
        now = await console.journal.user(login.user.name)
        if now is None or now.disabled or now.password != login.user.password:
            console.sessions.end(token)
            login = None
        else:  # a role, name or function changed since (from the CLI too) holds at once
            login.user = now
    request.state.login = login
    if not is_open(path):
        if login is None:
            if path.startswith("/api/") or request.headers.get("HX-Request"):
                response: Response = JSONResponse({"detail": "log in first"}, 401)
            else:
                response = RedirectResponse("/login", 303)
            return _secured(response)
        if request.method in CHANGES and not await _csrf_ok(request, login.csrf):
            return _secured(JSONResponse({"detail": "missing or wrong CSRF token"}, 403))
    return _secured(await call_next(request))


async def _csrf_ok(request: Request, expected: str) -> bool:
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        await request.body()  # kept for the route (the form is read again there)
        form = await request.form()
        field: Any = form.get("csrf")
        given = field if isinstance(field, str) else None
    return same_token(given, expected)


def _secured(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
