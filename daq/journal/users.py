"""The people who may log in to the console: their names, roles and password hashes,
written at once (what the rules are lives in ``daq.people``)."""

from __future__ import annotations

import sqlite3
from dataclasses import astuple
from typing import Any

from daq.journal.records import USER_COLUMNS, JournalError, UserRow
from daq.journal.writer import BatchedWriter


class UserTaken(JournalError):
    """A user of that name exists already."""


class UserStore(BatchedWriter):
    """Users: added, read, their password, language and state changed."""

    async def add_user(self, user: UserRow) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    astuple(user),
                )
            except sqlite3.IntegrityError:
                raise UserTaken(f"there is a user {user.name!r} already") from None

        await self.read_with(insert)

    async def user(self, name: str) -> UserRow | None:
        rows = await self._run(
            self._query_blocking, f"SELECT {USER_COLUMNS} FROM users WHERE name = ?", (name,)
        )
        return _user(rows[0]) if rows else None

    async def users(self) -> list[UserRow]:
        rows = await self._run(
            self._query_blocking, f"SELECT {USER_COLUMNS} FROM users ORDER BY name", ()
        )
        return [_user(row) for row in rows]

    async def has_users(self) -> bool:
        rows = await self._run(self._query_blocking, "SELECT 1 FROM users LIMIT 1", ())
        return bool(rows)

    async def update_user(self, name: str, changed: float, **fields: str | bool) -> None:
        """Set ``fields`` (password, language, disabled, role, full name, function) of user
        ``name``."""
        allowed = {"password", "language", "disabled", "role", "full_name", "function"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"only {', '.join(sorted(allowed))} of a user change")
        columns = ", ".join(f"{column} = ?" for column in fields)
        await self._write_now(
            f"UPDATE users SET {columns}, changed = ? WHERE name = ?",
            (*fields.values(), changed, name),
        )


def _user(row: tuple[Any, ...]) -> UserRow:
    name, role, password, full_name, function, language, disabled, created, changed = row
    return UserRow(
        name, role, password, full_name, function, language, bool(disabled), created, changed
    )
