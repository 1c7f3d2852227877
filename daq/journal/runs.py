"""The run store: calibration runs, their points, chained records and results, written at
once (not batched) so a crash loses no finished point; and the nonces of commands."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import astuple, replace
from typing import Any

from daq.chain import (
    Link,
)
from daq.journal.records import (
    RUN_COLUMNS,
    JournalError,
    RunRow,
    RunStatus,
)
from daq.journal.writer import BatchedWriter


class RunStore(BatchedWriter):
    """Runs, points, records and results."""

    async def start_run(self, run: RunRow) -> str:
        """Record a new run as ``run.id``, or ``run.id-2``, ``-3``... where that id is taken
        (two runs of one plan started in the same second, by two processes too): the id the
        run got."""
        await self.flush()

        def claim(db: sqlite3.Connection) -> str:
            for n in range(1, 1000):
                ident = run.id if n == 1 else f"{run.id}-{n}"
                try:
                    db.execute(
                        f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        astuple(replace(run, id=ident)),
                    )
                except sqlite3.IntegrityError:
                    continue  # taken: the next suffix
                except sqlite3.Error as exc:
                    raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
                return ident
            raise JournalError(f"no free run id after {run.id}-999 in {self.path}")

        ident = await self.read_with(claim)
        self._signal_commit()
        return ident

    async def set_run_status(self, run: str, status: RunStatus, reason: str = "") -> None:
        await self._write_now(
            "UPDATE runs SET status = ?, reason = ?, abort_request = NULL WHERE id = ?",
            (status, reason, run),
        )

    async def finish_run(
        self,
        run: str,
        status: RunStatus,
        reason: str,
        finished: float,
        document: str,
        verdict: tuple[bool | None, int],
    ) -> None:
        """Record how the run ended, and append its result to the outbox (``results``)."""
        await self._write_now(
            "UPDATE runs SET status = ?, reason = ?, finished = ?, document = ?, "
            "abort_request = NULL WHERE id = ?",
            (status, reason, finished, document, run),
        )
        conforms, failures = verdict
        await self._write_now(
            "INSERT INTO results (run, plan, timestamp, status, conforms, failures) "
            "SELECT id, plan, ?, ?, ?, ? FROM runs WHERE id = ?",
            (finished, status, None if conforms is None else int(conforms), failures, run),
        )

    async def commit_point(self, run: str, seq: int, key: str, data: str) -> None:
        self.chain(run, "point", json.loads(data))
        await self._write_now(
            "INSERT OR REPLACE INTO points (run, seq, key, timestamp, data) VALUES (?, ?, ?, ?, ?)",
            (run, seq, key, self.clock.now(), data),
        )

    async def request_abort(self, run: str, reason: str) -> None:
        """Ask the process running ``run`` to stop it safely (it polls for this)."""
        await self._write_now("UPDATE runs SET abort_request = ? WHERE id = ?", (reason, run))

    async def chain_links(self, run: str) -> list[Link]:
        rows = await self._run(
            self._query_blocking,
            "SELECT run, seq, kind, content, previous, hash FROM run_records WHERE run = ? "
            "ORDER BY seq",
            (run,),
        )
        return [Link(r, int(s), k, c, p, h) for r, s, k, c, p, h in rows]

    async def runs(
        self, limit: int = 100, *, plan: str = "", status: str = "", text: str = ""
    ) -> list[RunRow]:
        """The newest ``limit`` runs of those with this plan and status whose id holds
        ``text`` (any case); filtered in the query, so older runs are found too."""
        where, params = [], []
        for column, wanted in (("plan", plan), ("status", status)):
            if wanted:
                where.append(f"{column} = ?")
                params.append(wanted)
        if text:
            where.append("instr(lower(id), ?) > 0")
            params.append(text.lower())
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {RUN_COLUMNS} FROM runs {clause}ORDER BY started DESC LIMIT ?",
            (*params, limit),
        )
        return [RunRow(*row) for row in rows]

    async def run_plans(self) -> list[str]:
        """Every plan a run was made of, by name (the runs list's filter)."""
        rows = await self._run(
            self._query_blocking, "SELECT DISTINCT plan FROM runs ORDER BY plan", ()
        )
        return [plan for (plan,) in rows]

    async def run(self, run: str) -> RunRow | None:
        rows = await self._run(
            self._query_blocking, f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run,)
        )
        return RunRow(*rows[0]) if rows else None

    async def run_document(self, run: str) -> str | None:
        rows = await self._run(
            self._query_blocking, "SELECT document FROM runs WHERE id = ?", (run,)
        )
        return rows[0][0] if rows else None

    async def points(self, run: str) -> list[tuple[str, str]]:
        """(key, data) of every committed point of ``run``, in order."""
        rows = await self._run(
            self._query_blocking, "SELECT key, data FROM points WHERE run = ? ORDER BY seq", (run,)
        )
        return [(key, data) for key, data in rows]

    async def run_readings(self, run: str) -> list[tuple[Any, ...]]:
        """(id, instrument, quantity, value, unit, timestamp, status, raw) of every reading
        tagged with ``run``, in order."""
        rows: list[tuple[Any, ...]] = await self._run(
            self._query_blocking,
            "SELECT id, instrument, quantity, value, unit, timestamp, status, raw FROM readings "
            "WHERE run = ? ORDER BY id",
            (run,),
        )
        return rows

    async def last_result(self, run: str) -> tuple[str, int | None, int] | None:
        """(status, conforms, failures) of the newest ``results`` row of ``run``."""
        rows = await self._run(
            self._query_blocking,
            "SELECT status, conforms, failures FROM results WHERE run = ? ORDER BY id DESC LIMIT 1",
            (run,),
        )
        return (str(rows[0][0]), rows[0][1], int(rows[0][2])) if rows else None

    async def claim_nonce(self, key: str, nonce: str, timestamp: int, keep: float) -> bool:
        """Record a command's nonce, committed before the command is carried out; False if
        it was recorded already (a replay). Nonces received more than ``keep`` seconds ago
        are forgotten. Raises ``JournalError`` when it cannot be recorded."""
        now = self.clock.now()

        def claim(db: sqlite3.Connection) -> bool:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM command_nonces WHERE received < ?", (now - keep,))
                added = db.execute(
                    "INSERT OR IGNORE INTO command_nonces (key, nonce, timestamp, received) "
                    "VALUES (?, ?, ?, ?)",
                    (key, nonce, timestamp, now),
                ).rowcount
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
            return added == 1

        assert self._db is not None, "journal not opened"
        fresh: bool = await self._run(claim, self._db)
        return fresh
