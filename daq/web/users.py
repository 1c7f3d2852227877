"""The users page: an administrator adds users, changes their role, name and function,
resets passwords, disables and enables users, through the same use cases as `daq users`
(``daq.people``), each journaled with the administrator."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from daq.operations import Unprintable
from daq.people import (
    Right,
    UserRefused,
    add_user,
    disable_user,
    edit_user,
    enable_user,
    reset_password,
)
from daq.reports.i18n import languages
from daq.web.console import IDENT, checked_id, console_of, page, require, who

router = APIRouter()
Text = Annotated[str, Form(max_length=200)]
Password = Annotated[str, Form(max_length=256)]


async def _done(change: Awaitable[object]) -> Response:
    """The change made, back to the users; a refusal as HTTP (text no one can read back:
    422, anything else the use case refuses: 409)."""
    try:
        await change
    except Unprintable as exc:
        raise HTTPException(422, str(exc)) from None
    except UserRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse("/users", 303)


@router.get("/users")
async def users_page(request: Request) -> Response:
    require(request, Right.ADMINISTER)
    found = await console_of(request).journal.users()
    return page(request, "users.html", users=found, problem="")


@router.post("/users")
async def add(
    request: Request,
    name: Annotated[str, Form(max_length=32)],
    role: Annotated[str, Form(max_length=16)],
    password: Password,
    full_name: Text = "",
    function: Text = "",
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    login = require(request, Right.ADMINISTER)
    if language not in languages():
        raise HTTPException(422, f"languages: {', '.join(languages())}")
    return await _done(add_user(console_of(request).journal, name, role, password,
                                full_name=full_name, function=function, language=language,
                                by=who(login)))  # fmt: skip


@router.post("/users/{name}")
async def edit(
    request: Request,
    name: str,
    role: Annotated[str, Form(max_length=16)],
    full_name: Text = "",
    function: Text = "",
) -> Response:
    login = require(request, Right.ADMINISTER)
    user = checked_id(name, IDENT)
    journal = console_of(request).journal
    return await _done(
        edit_user(journal, user, role=role, full_name=full_name, function=function, by=who(login))
    )


@router.post("/users/{name}/password")
async def reset(request: Request, name: str, password: Password) -> Response:
    login = require(request, Right.ADMINISTER)
    console = console_of(request)
    answer = await _done(
        reset_password(console.journal, checked_id(name, IDENT), password, by=who(login))
    )
    console.sessions.end_user(name)
    return answer


@router.post("/users/{name}/disable")
async def disable(request: Request, name: str) -> Response:
    login = require(request, Right.ADMINISTER)
    console = console_of(request)
    if name == login.user.name:
        raise HTTPException(409, "an administrator does not disable themselves")
    answer = await _done(disable_user(console.journal, checked_id(name, IDENT), by=who(login)))
    console.sessions.end_user(name)
    return answer


@router.post("/users/{name}/enable")
async def enable(request: Request, name: str) -> Response:
    login = require(request, Right.ADMINISTER)
    return await _done(
        enable_user(console_of(request).journal, checked_id(name, IDENT), by=who(login))
    )
