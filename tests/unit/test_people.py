"""Users of the console: argon2 hashes in the journal, roles and rights, every change an
event naming who made it, and a schema 9 journal brought up to hold them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from daq.journal import SCHEMA_VERSION, Journal
from daq.people import (
    Right,
    UserRefused,
    add_user,
    authenticate,
    disable_user,
    may,
    reset_password,
    set_language,
)

PASSWORD = "correct horse battery"


async def test_a_user_is_kept_as_an_argon2_hash_and_logs_in_with_the_password(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await add_user(
            journal, "ha.tran", "authoriser", PASSWORD, full_name="Trần Thu Hà",
            function="Quality manager", by="root (command line)",
        )  # fmt: skip
        kept = await journal.user("ha.tran")
        assert kept is not None
        assert kept.password.startswith("$argon2id$") and PASSWORD not in kept.password
        assert (await authenticate(journal, "ha.tran", PASSWORD)) == kept
        assert await authenticate(journal, "ha.tran", PASSWORD + "x") is None
        assert await authenticate(journal, "nobody", PASSWORD) is None
        [event] = await journal.events("user_added")
    assert event.message == "user ha.tran (authoriser) added by root (command line)"
    assert event.instrument == "ha.tran"


async def test_reset_disable_and_language_are_journaled(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await add_user(journal, "an.nguyen", "operator", PASSWORD, full_name="", function="",
                       by="admin")  # fmt: skip
        await reset_password(journal, "an.nguyen", "another long one", by="admin")
        assert await authenticate(journal, "an.nguyen", PASSWORD) is None
        assert await authenticate(journal, "an.nguyen", "another long one") is not None
        await set_language(journal, "an.nguyen", "vi")
        await disable_user(journal, "an.nguyen", by="admin")
        assert await authenticate(journal, "an.nguyen", "another long one") is None
        kinds = [e.kind for e in await journal.events()]
        user = await journal.user("an.nguyen")
    assert kinds == ["user_added", "user_password_reset", "user_language_changed",
                     "user_disabled"]  # fmt: skip
    assert user is not None and user.language == "vi" and user.disabled
    assert user.full_name == "an.nguyen"  # the login name when no full name is given


@pytest.mark.parametrize(
    ("name", "role", "password", "problem"),
    [
        ("An Nguyen", "operator", PASSWORD, "not a user name"),
        ("an", "boss", PASSWORD, "no role 'boss'"),
        ("an", "operator", "short", "at least 10"),
        ("an", "operator", "x" * 300, "at most 256"),
    ],
)
async def test_bad_users_are_refused(
    tmp_path: Path, name: str, role: str, password: str, problem: str
) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        with pytest.raises(UserRefused, match=problem):
            await add_user(journal, name, role, password, full_name="", function="", by="a")
        assert await journal.users() == []


async def test_a_name_is_added_once_and_unknown_users_are_not_changed(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await add_user(journal, "an", "operator", PASSWORD, full_name="", function="", by="a")
        with pytest.raises(UserRefused, match="already"):
            await add_user(journal, "an", "authoriser", PASSWORD, full_name="", function="",
                           by="a")  # fmt: skip
        with pytest.raises(UserRefused, match="no user 'bo'"):
            await disable_user(journal, "bo", by="a")
        with pytest.raises(UserRefused, match="no user 'bo'"):
            await reset_password(journal, "bo", PASSWORD, by="a")
        [user] = await journal.users()
    assert user.role == "operator"


def test_rights_by_role() -> None:
    assert may("operator", Right.RUN) and not may("operator", Right.ISSUE)
    assert may("authoriser", Right.ISSUE) and not may("authoriser", Right.ADMINISTER)
    assert may("administrator", Right.ADMINISTER)
    assert not may("visitor", Right.RUN)


async def test_a_schema_9_journal_gains_the_users_table(tmp_path: Path) -> None:
    path = tmp_path / "nine.sqlite"
    async with Journal(path) as journal:
        journal.event("agent_started", "before")  # type: ignore[arg-type]
    with sqlite3.connect(path) as db:  # as schema 9 left it
        db.execute("DROP TABLE users")
        db.execute("PRAGMA user_version=9")
    async with Journal(path) as journal:
        assert await journal.users() == []
        await add_user(journal, "an", "operator", PASSWORD, full_name="", function="", by="a")
        assert [e.message for e in await journal.events("agent_started")] == ["before"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION == 11
