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
    """Add users, reset passwords, disable users."""


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
    """Add a user (journaled, naming ``by``)."""
    from daq.journal import EventKind, UserRow, UserTaken

    check_name(name)
    try:
        chosen = Role(role)
    except ValueError:
        raise UserRefused(f"no role {role!r}; roles: {', '.join(Role)}") from None
    now = journal.clock.now()
    user = UserRow(
        name, chosen, await hashed(password), full_name.strip() or name, function.strip(),
        language, False, now, now,
    )  # fmt: skip
    try:
        await journal.add_user(user)
    except UserTaken as exc:
        raise UserRefused(str(exc)) from None
    journal.event(EventKind.USER_ADDED, f"user {name} ({chosen}) added by {by}")
    await journal.flush()
    return user


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

    await _existing(journal, name)
    await journal.update_user(name, journal.clock.now(), disabled=True)
    journal.event(EventKind.USER_DISABLED, f"user {name} disabled by {by}", Severity.WARNING)
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
