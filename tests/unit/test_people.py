"""Users of the console: argon2 hashes in the journal, roles and rights, every change an
event naming who made it, and a schema 9 journal brought up to hold them."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from daq.journal import SCHEMA_VERSION, Journal
from daq.people import (
    Right,
    UserRefused,
    add_user,
    administrator,
    authenticate,
    disable_user,
    edit_user,
    enable_user,
    may,
    reset_password,
    set_language,
)

PASSWORD = "correct horse battery"


async def administrator_first(journal: Journal) -> None:
    """The lab's first user, its administrator, who adds the others."""
    await add_user(journal, "root.admin", "administrator", PASSWORD, full_name="Root Admin",
                   function="", by="root (command line)")  # fmt: skip


async def test_a_user_is_kept_as_an_argon2_hash_and_logs_in_with_the_password(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
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
        event = (await journal.events("user_added"))[-1]
    assert event.message == "user ha.tran (authoriser) added by root (command line)"
    assert event.instrument is None  # a person is no instrument: the message names them


async def test_reset_disable_and_language_are_journaled(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        await add_user(journal, "an.nguyen", "operator", PASSWORD, full_name="", function="",
                       by="admin")  # fmt: skip
        await reset_password(journal, "an.nguyen", "another long one", by="admin")
        assert await authenticate(journal, "an.nguyen", PASSWORD) is None
        assert await authenticate(journal, "an.nguyen", "another long one") is not None
        await set_language(journal, "an.nguyen", "vi")
        await disable_user(journal, "an.nguyen", by="admin")
        assert await authenticate(journal, "an.nguyen", "another long one") is None
        events = (await journal.events())[1:]  # after the administrator's
        user = await journal.user("an.nguyen")
    kinds = [e.kind for e in events]
    assert all(e.instrument is None and "an.nguyen" in e.message for e in events)
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
        await administrator_first(journal)
        with pytest.raises(UserRefused, match=problem):
            await add_user(journal, name, role, password, full_name="", function="", by="a")
        assert [u.name for u in await journal.users()] == ["root.admin"]


async def test_a_name_is_added_once_and_unknown_users_are_not_changed(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        await add_user(journal, "an", "operator", PASSWORD, full_name="", function="", by="a")
        with pytest.raises(UserRefused, match="already"):
            await add_user(journal, "an", "authoriser", PASSWORD, full_name="", function="",
                           by="a")  # fmt: skip
        with pytest.raises(UserRefused, match="no user 'bo'"):
            await disable_user(journal, "bo", by="a")
        with pytest.raises(UserRefused, match="no user 'bo'"):
            await reset_password(journal, "bo", PASSWORD, by="a")
        user = await journal.user("an")
    assert user is not None and user.role == "operator"


async def test_passwords_are_hashed_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash takes a good part of a second: the console's loop must go on meanwhile."""
    from argon2 import PasswordHasher

    threads: list[int] = []
    real = PasswordHasher.hash

    def watched(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
        threads.append(threading.get_ident())
        return real(self, password, salt=salt)

    monkeypatch.setattr(PasswordHasher, "hash", watched)
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        await add_user(journal, "an", "operator", PASSWORD, full_name="", function="", by="a")
        await reset_password(journal, "an", "another long one", by="a")
        assert await authenticate(journal, "an", "another long one") is not None
    assert len(threads) == 3 and threading.get_ident() not in threads


def test_rights_by_role() -> None:
    assert may("operator", Right.RUN) and not may("operator", Right.ISSUE)
    assert may("authoriser", Right.ISSUE) and not may("authoriser", Right.ADMINISTER)
    assert may("administrator", Right.ADMINISTER)
    # the keeper of the accounts signs no certificate and runs nothing
    assert not may("administrator", Right.ISSUE) and not may("administrator", Right.RUN)
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
        await administrator_first(journal)
        await add_user(journal, "an", "operator", PASSWORD, full_name="", function="", by="a")
        assert [e.message for e in await journal.events("agent_started")] == ["before"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION == 12


async def test_the_first_user_is_the_administrator_who_then_proves_each_change(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        with pytest.raises(UserRefused, match="first user is its administrator"):
            await add_user(journal, "an", "operator", PASSWORD, full_name="", function="",
                           by="x")  # fmt: skip
        # no one to prove oneself to yet: the account at the terminal adds the first
        assert await administrator(journal, None, "", first="lab (command line)") == (
            "lab (command line)"
        )
        await administrator_first(journal)
        await add_user(journal, "an", "operator", PASSWORD, full_name="An Nguyen", function="",
                       by="Root Admin (root.admin)")  # fmt: skip
        with pytest.raises(UserRefused, match="only an administrator changes them"):
            await administrator(journal, None, "", first="lab (command line)")
        with pytest.raises(UserRefused, match="wrong user name or password"):
            await administrator(journal, "root.admin", "not the password", first="x")
        with pytest.raises(UserRefused, match="an is an operator"):
            await administrator(journal, "an", PASSWORD, first="x")
        assert await administrator(journal, "root.admin", PASSWORD, first="x") == (
            "Root Admin (root.admin)"
        )


async def test_a_full_name_is_one_users_only(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        await add_user(journal, "ha.tran", "authoriser", PASSWORD, full_name="Trần Thu Hà",
                       function="Quality manager", by="a")  # fmt: skip
        with pytest.raises(UserRefused, match=r"ha\.tran is called 'Trần Thu Hà' already"):
            await add_user(journal, "forger", "authoriser", PASSWORD,
                           full_name=" trần  thu HÀ ", function="QM", by="a")  # fmt: skip
        await add_user(journal, "bao", "operator", PASSWORD, full_name="Lê Bảo", function="",
                       by="a")  # fmt: skip
        with pytest.raises(UserRefused, match="already"):
            await edit_user(journal, "bao", full_name="Trần Thu Hà", by="a")
        with pytest.raises(UserRefused, match="already"):  # a login name left as full name
            await add_user(journal, "x.y", "operator", PASSWORD, full_name="root.admin2",
                           function="", by="a")  # fmt: skip
            await add_user(journal, "root.admin2", "operator", PASSWORD, full_name="",
                           function="", by="a")  # fmt: skip
        with pytest.raises(UserRefused, match="already"):
            await add_user(journal, "bao.le", "operator", PASSWORD, full_name="Root Admin",
                           function="", by="a")  # fmt: skip


async def test_role_name_and_function_are_edited_and_a_user_enabled_again(
    tmp_path: Path,
) -> None:
    from daq.operations import Unprintable

    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        await add_user(journal, "an", "operator", PASSWORD, full_name="An Nguyen", function="",
                       by="a")  # fmt: skip
        edited = await edit_user(journal, "an", role="authoriser", full_name="Nguyễn Văn An",
                                 function="Technical manager", by="root.admin")  # fmt: skip
        assert (edited.role, edited.full_name, edited.function) == (
            "authoriser",
            "Nguyễn Văn An",
            "Technical manager",
        )
        with pytest.raises(UserRefused, match="nothing to change"):
            await edit_user(journal, "an", role="authoriser", by="a")
        with pytest.raises(UserRefused, match="no role 'boss'"):
            await edit_user(journal, "an", role="boss", by="a")
        with pytest.raises(Unprintable, match="the function holds a control character"):
            await edit_user(journal, "an", function="QM\x1b[2J", by="a")
        await disable_user(journal, "an", by="a")
        with pytest.raises(UserRefused, match=r"root\.admin is not disabled"):
            await enable_user(journal, "root.admin", by="a")
        await enable_user(journal, "an", by="Root Admin (root.admin)")
        assert await authenticate(journal, "an", PASSWORD) is not None  # her old password
        changed = (await journal.events("user_changed"))[0]
        enabled = (await journal.events("user_enabled"))[0]
    assert changed.message == (
        "user an changed by root.admin: role 'operator' -> 'authoriser', "
        "full name 'An Nguyen' -> 'Nguyễn Văn An', function '' -> 'Technical manager'"
    )
    assert enabled.message == "user an enabled by Root Admin (root.admin)"


async def test_the_last_administrator_is_kept(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await administrator_first(journal)
        with pytest.raises(UserRefused, match="only administrator"):
            await disable_user(journal, "root.admin", by="a")
        with pytest.raises(UserRefused, match="only administrator"):
            await edit_user(journal, "root.admin", role="authoriser", by="a")
        await add_user(journal, "it.two", "administrator", PASSWORD, full_name="", function="",
                       by="a")  # fmt: skip
        await edit_user(journal, "root.admin", role="authoriser", by="it.two")
        with pytest.raises(UserRefused, match="only administrator"):
            await disable_user(journal, "it.two", by="a")
