"""The console's application: its state, gate and routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from daq import __version__
from daq.config import LabConfig
from daq.journal import Journal
from daq.web.console import HERE, Console
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
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(users.router)
    app.include_router(live.router)
    app.include_router(api.router, prefix="/api")
    return app
