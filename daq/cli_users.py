"""``daq users``: the people who may log in to the console, and their roles."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from daq.cli_common import LabOption, console, fail, journal_of, load, run

users_app = typer.Typer(
    rich_markup_mode=None,
    help="The console's users: add, list, reset a password, disable.",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (for scripts)."),
]


def _by() -> str:
    """Who administers, as the events name them: the account at the terminal."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):
        account = str(os.getuid())
    return f"{account} (command line)"


def read_password(from_stdin: bool, *, confirm: bool = True) -> str:
    """A password from stdin (scripts) or typed unseen (twice when ``confirm``)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise fail("the two passwords differ", "Nothing was changed; try again.", 2)
    return first


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name, e.g. an.nguyen.")],
    role: Annotated[
        str, typer.Option(help="operator, authoriser or administrator.", show_default=False)
    ],
    full_name: Annotated[
        str, typer.Option(help="Name as certificates print it (default: the login name).")
    ] = "",
    function: Annotated[str, typer.Option(help="Function, e.g. Quality manager.")] = "",
    language: Annotated[str, typer.Option(help="Console language: en or vi.")] = "en",
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Add a user with a role; the password is asked twice (or read from stdin)."""
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
    password = read_password(password_stdin)

    async def adding() -> None:
        async with journal_of(config) as journal:
            await add_user(
                journal, name, role, password, full_name=full_name, function=function,
                language=language, by=_by(),
            )  # fmt: skip

    try:
        run(adding())
    except UserRefused as exc:
        raise fail(str(exc), code=2) from None
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


@users_app.command("reset-password")
def reset(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: PasswordStdin = False,
    lab: LabOption = None,
) -> None:
    """Give a user a new password."""
    from daq.people import UserRefused, reset_password

    config = load(lab)
    password = read_password(password_stdin)

    async def resetting() -> None:
        async with journal_of(config) as journal:
            await reset_password(journal, name, password, by=_by())

    try:
        run(resetting())
    except UserRefused as exc:
        raise fail(str(exc), code=2) from None
    console.print(f"password of {name} reset")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="The user.")], lab: LabOption = None) -> None:
    """Stop a user from logging in (their record stays)."""
    from daq.people import UserRefused, disable_user

    config = load(lab)

    async def disabling() -> None:
        async with journal_of(config) as journal:
            await disable_user(journal, name, by=_by())

    try:
        run(disabling())
    except UserRefused as exc:
        raise fail(str(exc), code=2) from None
    console.print(f"user {name} disabled")
