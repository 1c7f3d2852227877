"""``daq users``: the people who may log in to the console, and their roles."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from daq.cli_common import LabOption, console, fail, journal_of, load, run

if TYPE_CHECKING:
    from daq.config import LabConfig
    from daq.journal import Journal

users_app = typer.Typer(
    rich_markup_mode=None,
    help="The console's users: add, list, edit, reset a password, disable, enable. Once a lab "
    "has users, every change needs an administrator's name and password (--admin).",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the passwords from standard input, one a line (for scripts): the "
        "administrator's first (with --admin), then the user's new one.",
    ),
]
Admin = Annotated[
    str | None,
    typer.Option(
        "--admin",
        help="An administrator of the lab, who makes the change (their password is asked); "
        "needed once the lab has users.",
        show_default=False,
    ),
]


def _by() -> str:
    """Who adds the lab's first user, as the events name them: the account at the terminal."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):
        account = str(os.getuid())
    return f"{account} (command line)"


def read_password(from_stdin: bool, *, prompt: str = "Password: ", confirm: bool = True) -> str:
    """A password from stdin (scripts: the next line) or typed unseen (twice when
    ``confirm``)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != first:
        raise fail("the two passwords differ", "Nothing was changed; try again.", 2)
    return first


def _administrator(config: LabConfig, admin: str | None, password_stdin: bool) -> str:
    """Who makes the change, proven before anything else is asked: an administrator with
    their password, once the lab has users (``daq.people.administrator``)."""
    from daq.people import UserRefused, administrator

    password = ""
    if admin is not None:
        password = read_password(password_stdin, prompt=f"Password of {admin}: ", confirm=False)

    async def proving() -> str:
        async with journal_of(config) as journal:
            return await administrator(journal, admin, password, first=_by())

    try:
        return run(proving())
    except UserRefused as exc:
        hint = "Add --admin NAME: an administrator, whose password is asked." if not admin else ""
        raise fail(str(exc), hint, 2) from None


def _change(config: LabConfig, changing: Callable[[Journal], Awaitable[object]]) -> None:
    """Make a change to the users in the lab's journal; a refusal is said, exit code 2."""
    from daq.operations import Refused
    from daq.people import UserRefused

    async def making() -> None:
        async with journal_of(config) as journal:
            await changing(journal)

    try:
        run(making())
    except (UserRefused, Refused) as exc:
        raise fail(str(exc), code=2) from None


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name, e.g. an.nguyen.")],
    role: Annotated[
        str,
        typer.Option(
            help="operator, authoriser or administrator (the lab's first user is its "
            "administrator).",
            show_default=False,
        ),
    ],
    full_name: Annotated[
        str,
        typer.Option(
            help="Name as certificates print it, one user's only (default: the login name)."
        ),
    ] = "",
    function: Annotated[str, typer.Option(help="Function, e.g. Quality manager.")] = "",
    language: Annotated[str, typer.Option(help="Console language: en or vi.")] = "en",
    admin: Admin = None,
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Add a user with a role; their password is asked twice (or read from stdin)."""
    from daq.people import Role, UserRefused, add_user, check_name
    from daq.reports.i18n import languages

    config = load(lab)
    if language not in languages():
        raise fail(f"no language {language!r}", f"Languages: {', '.join(languages())}.", 2)
    if role not in set(Role):
        raise fail(f"no role {role!r}", f"Roles: {', '.join(Role)}.", 2)
    try:
        check_name(name)
    except UserRefused as exc:
        raise fail(str(exc), code=2) from None
    by = _administrator(config, admin, password_stdin)
    password = read_password(password_stdin, prompt=f"Password of {name}: ")
    _change(config, lambda journal: add_user(
        journal, name, role, password, full_name=full_name, function=function,
        language=language, by=by,
    ))  # fmt: skip
    console.print(f"user {name} added ({role})")


@users_app.command("list")
def list_users(lab: LabOption = None) -> None:
    """The users, their roles and whether they may log in."""
    from daq.journal import UserRow

    config = load(lab)

    async def reading() -> list[UserRow]:
        async with journal_of(config) as journal:
            return await journal.users()

    users = run(reading())
    if not users:
        console.print("no users: `daq users add NAME --role administrator` adds the first")
        return
    table = Table(title=f"Users of {config.journal.path}")
    for column in ("name", "role", "full name", "function", "language", "state", "changed"):
        table.add_column(column)
    for user in users:
        changed = dt.datetime.fromtimestamp(user.changed, dt.UTC).strftime("%Y-%m-%d %H:%M")
        state = "disabled" if user.disabled else "enabled"
        table.add_row(
            user.name, user.role, user.full_name, user.function, user.language, state, changed
        )
    console.print(table)


@users_app.command("edit")
def edit(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str | None, typer.Option(help="A new role.", show_default=False)] = None,
    full_name: Annotated[
        str | None, typer.Option(help="A new full name (one user's only).", show_default=False)
    ] = None,
    function: Annotated[
        str | None, typer.Option(help="A new function.", show_default=False)
    ] = None,
    admin: Admin = None,
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Change a user's role, full name or function (certificates issued keep theirs)."""
    from daq.people import edit_user

    config = load(lab)
    if role is None and full_name is None and function is None:
        raise fail("nothing to change", "Give --role, --full-name or --function.", 2)
    by = _administrator(config, admin, password_stdin)
    _change(config, lambda journal: edit_user(
        journal, name, role=role, full_name=full_name, function=function, by=by
    ))  # fmt: skip
    console.print(f"user {name} changed")


@users_app.command("reset-password")
def reset(
    name: Annotated[str, typer.Argument(help="The user.")],
    admin: Admin = None,
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Give a user a new password."""
    from daq.people import reset_password

    config = load(lab)
    by = _administrator(config, admin, password_stdin)
    password = read_password(password_stdin, prompt=f"New password of {name}: ")
    _change(config, lambda journal: reset_password(journal, name, password, by=by))
    console.print(f"password of {name} reset")


@users_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The user.")],
    admin: Admin = None,
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Stop a user from logging in (their record stays)."""
    from daq.people import disable_user

    config = load(lab)
    by = _administrator(config, admin, password_stdin)
    _change(config, lambda journal: disable_user(journal, name, by=by))
    console.print(f"user {name} disabled")


@users_app.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="The user.")],
    admin: Admin = None,
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Let a disabled user log in again (with the password they had)."""
    from daq.people import enable_user

    config = load(lab)
    by = _administrator(config, admin, password_stdin)
    _change(config, lambda journal: enable_user(journal, name, by=by))
    console.print(f"user {name} enabled")
