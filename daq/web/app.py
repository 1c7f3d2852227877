"""The console's application: its state, gate and routes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles

from daq import __version__
from daq.config import LabConfig
from daq.journal import Journal
from daq.web.console import HERE, Console, page
from daq.web.security import BodyLimit, gate
from daq.web.sessions import Sessions, Throttle

if TYPE_CHECKING:
    from daq.agent import Agent


def create_app(
    lab: LabConfig,
    journal: Journal,
    agent: Agent | None = None,
    *,
    sessions: Sessions | None = None,
    throttle: Throttle | None = None,
) -> FastAPI:
    from daq.web import api, live, login, pages, users

    timeout = lab.web.session_timeout if lab.web is not None else 1800.0
    app = FastAPI(
        title=f"benchdaq console of {lab.lab.id}",
        version=__version__,
        docs_url=None,  # its page loads scripts from a CDN: the OpenAPI document is enough
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.console = Console(
        lab, journal, agent, sessions or Sessions(timeout), throttle or Throttle()
    )
    app.middleware("http")(gate)
    app.add_middleware(BodyLimit)
    app.add_exception_handler(HTTPException, _problem)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(users.router)
    app.include_router(live.router)
    app.include_router(api.router, prefix="/api")
    return app


async def _problem(request: Request, exc: Exception) -> Response:
    """A refusal as a page for a person at a browser form, as JSON for the API and htmx."""
    assert isinstance(exc, HTTPException)
    wants_page = "text/html" in request.headers.get("accept", "")
    if request.url.path.startswith("/api/") or request.headers.get("HX-Request") or not wants_page:
        return await http_exception_handler(request, exc)
    response = page(request, "problem.html", status=exc.status_code, detail=exc.detail,
                    back=_came_from(request))  # fmt: skip
    response.status_code = exc.status_code
    return response


def _came_from(request: Request) -> str:
    """The console's page the refused form was on (its path only, never another site)."""
    from daq.web.login import SAME_SITE_PATH

    referer = urlsplit(request.headers.get("referer", ""))
    ours = referer.netloc == request.url.netloc and referer.scheme == request.url.scheme
    return referer.path if ours and SAME_SITE_PATH.fullmatch(referer.path) else ""
