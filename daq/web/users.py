"""The users page: an administrator adds users, resets passwords and disables users, through
the same use cases as `daq users` (``daq.people``), each journaled with the administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from daq.people import Right, UserRefused, add_user, disable_user, reset_password
from daq.reports.i18n import languages
from daq.web.console import IDENT, checked_id, console_of, page, require, who

router = APIRouter()
Text = Annotated[str, Form(max_length=200)]
Password = Annotated[str, Form(max_length=256)]


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
    if any(ord(c) < 32 or ord(c) == 127 for c in full_name + function):
        raise HTTPException(422, "a name and a function are printable text")
    try:
        await add_user(console_of(request).journal, name, role, password, full_name=full_name,
                       function=function, language=language, by=who(login))  # fmt: skip
    except UserRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse("/users", 303)


@router.post("/users/{name}/password")
async def reset(request: Request, name: str, password: Password) -> Response:
    login = require(request, Right.ADMINISTER)
    console = console_of(request)
    try:
        await reset_password(console.journal, checked_id(name, IDENT), password, by=who(login))
    except UserRefused as exc:
        raise HTTPException(409, str(exc)) from None
    console.sessions.end_user(name)
    return RedirectResponse("/users", 303)


@router.post("/users/{name}/disable")
async def disable(request: Request, name: str) -> Response:
    login = require(request, Right.ADMINISTER)
    console = console_of(request)
    if name == login.user.name:
        raise HTTPException(409, "an administrator does not disable themselves")
    try:
        await disable_user(console.journal, checked_id(name, IDENT), by=who(login))
    except UserRefused as exc:
        raise HTTPException(409, str(exc)) from None
    console.sessions.end_user(name)
    return RedirectResponse("/users", 303)
