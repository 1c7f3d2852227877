"""The people of the lab who use the console, and what each role may do.

Roles: an operator starts and aborts runs, answers prompts and acknowledges alarms; an
authoriser may also issue certificates; an administrator manages the users and nothing
else (the person keeping the accounts is no signatory of certificates: one who is both keeps
two accounts). Passwords are kept as argon2 hashes only. Every change to a user is an event
naming who made it.
"""

from __future__ import annotations

import asyncio
import re
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daq.journal import Journal, UserRow

USER_NAME = re.compile(r"[a-z][a-z0-9_.-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
"""Longer is refused before hashing: a huge password costs the server, not the attacker."""


class Role(StrEnum):
    OPERATOR = "operator"
    AUTHORISER = "authoriser"
    ADMINISTRATOR = "administrator"


class Right(StrEnum):
    RUN = "run"
    """Start and abort runs, answer operator prompts, acknowledge alarms."""
    ISSUE = "issue"
    """Issue certificates."""
    ADMINISTER = "administer"
    """Add, edit, disable and enable users, reset their passwords."""


RIGHTS: dict[Role, frozenset[Right]] = {
    Role.OPERATOR: frozenset({Right.RUN}),
    Role.AUTHORISER: frozenset({Right.RUN, Right.ISSUE}),
    Role.ADMINISTRATOR: frozenset({Right.ADMINISTER}),
}


class UserRefused(Exception):
    """A user cannot be added or changed as asked (a bad name, a weak password, unknown)."""


def may(role: str, right: Right) -> bool:
    try:
        return right in RIGHTS[Role(role)]
    except ValueError:
        return False


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    check_password(password)
    return PasswordHasher().hash(password)


async def hashed(password: str) -> str:
    """The password's argon2 hash, made on a thread: it takes a good part of a second of
    the CPU, which the agent's loop (the console, the instruments) must not wait for."""
    return await asyncio.to_thread(hash_password, password)


def password_matches(hashed: str, password: str) -> bool:
    """Whether ``password`` is the one ``hashed`` was made from (never raises)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import Argon2Error, InvalidHashError

    if len(password) > MAX_PASSWORD:
        return False
    try:
        return PasswordHasher().verify(hashed, password)
    except (Argon2Error, InvalidHashError):
        return False


DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$HYUDIQrxFvy+yaTzdJLXyg$"
    "tki9cAGVD2/HFyiMHPt8hyprsWCg1UZ6SPYGVbzjbLg"
)
"""Checked against when the user does not exist, so an unknown name takes as long as a
wrong password and the time tells nothing."""


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserRefused(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserRefused(f"a password has at most {MAX_PASSWORD} characters")


def check_name(name: str) -> None:
    if not USER_NAME.fullmatch(name):
        raise UserRefused(
            f"{name!r} is not a user name: 2 to 32 lower-case letters, digits, '_', '.' or "
            "'-', beginning with a letter"
        )


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserRefused(f"no role {role!r}; roles: {', '.join(Role)}") from None


def named(user: UserRow) -> str:
    """A person as events and records name them: full name and login name."""
    return f"{user.full_name} ({user.name})" if user.full_name != user.name else user.name


async def administrator(journal: Journal, name: str | None, password: str, *, first: str) -> str:
    """Who changes the users, as events name them: once the lab has users, only an
    administrator proven by their password; until then ``first`` (the account at the
    terminal adding the lab's first user, who has no one to prove themselves to)."""
    if not await journal.has_users():
        return first
    if name is None:
        raise UserRefused(
            "this lab has users: only an administrator changes them, with their name and password"
        )
    user = await authenticate(journal, name, password)
    if user is None:
        raise UserRefused(f"wrong user name or password for {name!r}")
    if not may(user.role, Right.ADMINISTER):
        raise UserRefused(f"{name} is an {user.role}: only an administrator changes the users")
    return named(user)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


async def _check_full_name(journal: Journal, name: str, full_name: str) -> None:
    """A certificate names its signatory by full name: no two users may share one."""
    for other in await journal.users():
        if other.name != name and _same_name(other.full_name, full_name):
            raise UserRefused(
                f"{other.name} is called {other.full_name!r} already: a certificate's "
                "signatory must be one person (add a middle name or initial)"
            )


async def _keep_an_administrator(journal: Journal, name: str) -> None:
    """Refuse to take the last enabled administrator's right away: no one could then
    change the users."""
    others = [
        u for u in await journal.users()
        if u.role == Role.ADMINISTRATOR and not u.disabled and u.name != name
    ]  # fmt: skip
    if not others:
        raise UserRefused(
            f"{name} is the lab's only administrator: add another first, or no one could "
            "change the users"
        )


async def add_user(
    journal: Journal,
    name: str,
    role: str,
    password: str,
    *,
    full_name: str,
    function: str,
    language: str = "en",
    by: str,
) -> UserRow:
    """Add a user (journaled, naming ``by``); the lab's first is its administrator."""
    from daq.journal import EventKind, UserRow, UserTaken
    from daq.operations import printable

    check_name(name)
    chosen = _role(role)
    if chosen != Role.ADMINISTRATOR and not await journal.has_users():
        raise UserRefused(
            "the lab's first user is its administrator (--role administrator), who then adds "
            "the others"
        )
    printable(full_name=full_name, function=function)
    full_name = full_name.strip() or name
    await _check_full_name(journal, name, full_name)
    now = journal.clock.now()
    user = UserRow(
        name, chosen, await hashed(password), full_name, function.strip(), language, False,
        now, now,
    )  # fmt: skip
    try:
        await journal.add_user(user)
    except UserTaken as exc:
        raise UserRefused(str(exc)) from None
    journal.event(EventKind.USER_ADDED, f"user {name} ({chosen}) added by {by}")
    await journal.flush()
    return user


async def edit_user(
    journal: Journal,
    name: str,
    *,
    role: str | None = None,
    full_name: str | None = None,
    function: str | None = None,
    by: str,
) -> UserRow:
    """Change a user's role, full name or function (journaled, naming ``by``, with what
    was and what is); certificates already issued keep the name and function they print."""
    from daq.journal import EventKind
    from daq.operations import printable

    user = await _existing(journal, name)
    fields: dict[str, str] = {}
    if role is not None and role != user.role:
        fields["role"] = _role(role).value
        if user.role == Role.ADMINISTRATOR and not user.disabled:
            await _keep_an_administrator(journal, name)
    if full_name is not None:
        printable(full_name=full_name)
        if (full_name := full_name.strip() or name) != user.full_name:
            await _check_full_name(journal, name, full_name)
            fields["full_name"] = full_name
    if function is not None:
        printable(function=function)
        if (function := function.strip()) != user.function:
            fields["function"] = function
    if not fields:
        raise UserRefused(f"nothing to change: {name} is so already")
    await journal.update_user(name, journal.clock.now(), **fields)
    was = {"role": user.role, "full_name": user.full_name, "function": user.function}
    changes = ", ".join(
        f"{field.replace('_', ' ')} {was[field]!r} -> {value!r}" for field, value in fields.items()
    )
    journal.event(EventKind.USER_CHANGED, f"user {name} changed by {by}: {changes}")
    await journal.flush()
    changed = await journal.user(name)
    assert changed is not None
    return changed


async def _existing(journal: Journal, name: str) -> UserRow:
    user = await journal.user(name)
    if user is None:
        raise UserRefused(f"no user {name!r}")
    return user


async def reset_password(journal: Journal, name: str, password: str, *, by: str) -> None:
    from daq.journal import EventKind

    await _existing(journal, name)
    await journal.update_user(name, journal.clock.now(), password=await hashed(password))
    journal.event(EventKind.USER_PASSWORD_RESET, f"password of {name} reset by {by}")
    await journal.flush()


async def disable_user(journal: Journal, name: str, *, by: str) -> None:
    from daq.journal import EventKind, Severity

    user = await _existing(journal, name)
    if user.role == Role.ADMINISTRATOR and not user.disabled:
        await _keep_an_administrator(journal, name)
    await journal.update_user(name, journal.clock.now(), disabled=True)
    journal.event(EventKind.USER_DISABLED, f"user {name} disabled by {by}", Severity.WARNING)
    await journal.flush()


async def enable_user(journal: Journal, name: str, *, by: str) -> None:
    """Let a disabled user log in again, with the password they had."""
    from daq.journal import EventKind

    user = await _existing(journal, name)
    if not user.disabled:
        raise UserRefused(f"{name} is not disabled")
    await journal.update_user(name, journal.clock.now(), disabled=False)
    journal.event(EventKind.USER_ENABLED, f"user {name} enabled by {by}")
    await journal.flush()


async def set_language(journal: Journal, name: str, language: str) -> None:
    from daq.journal import EventKind

    await _existing(journal, name)
    await journal.update_user(name, journal.clock.now(), language=language)
    journal.event(EventKind.USER_LANGUAGE_CHANGED, f"{name} reads the console in {language}")


async def authenticate(journal: Journal, name: str, password: str) -> UserRow | None:
    """The user whose name and password these are, if enabled; else None (in about the same
    time either way)."""
    user = await journal.user(name) if USER_NAME.fullmatch(name) else None
    hashed = user.password if user is not None else DUMMY_HASH
    matches = await asyncio.to_thread(password_matches, hashed, password)
    if user is None or user.disabled or not matches:
        return None
    return user
