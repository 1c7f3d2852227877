"""The journal's SQLite connection, used on a thread of its own so the event loop never
waits on the disk; every part of the journal works through it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from daq.chain import (
    Link,
)
from daq.core.clock import Clock
from daq.core.reading import Reading
from daq.journal.place import network_share
from daq.journal.reading_index import INDEX_BATCH, catch_up
from daq.journal.records import (
    CERTIFICATE_COLUMNS,
    CertificateRow,
    Event,
    JournalError,
)
from daq.journal.register import append_to_register
from daq.journal.schema import (
    INDEX_SCHEMA,
    MIGRATIONS,
    REGISTER_SCHEMA,
    SCHEMA,
    SCHEMA_VERSION,
    UUT_COLUMN,
)
from daq.signing import SigningSettings

log = logging.getLogger("daq.journal")
T = TypeVar("T")


class JournalBase:
    """The connection and the state every part shares."""

    def __init__(
        self,
        path: str | Path,
        *,
        batch_interval: float = 0.5,
        clock: Clock | None = None,
        synchronous: str = "FULL",
        read_only: bool = False,
        memory_limit: int = 1_000_000,
        spill_folder: Path | None = None,
        close_timeout: float = 10.0,
        signing: SigningSettings | None = None,
        index_batch: int = INDEX_BATCH,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        """Opened only to look (``daq status``): never created, migrated or written, so it
        works on a full disk and beside a running agent."""
        self.batch_interval = batch_interval
        self.clock = clock or Clock()
        self._synchronous = synchronous
        self._readings: list[Reading] = []
        self._events: list[Event] = []
        self._links: list[Link] = []
        self._chains: dict[str, tuple[int, str]] = {}
        """Run -> (seq, hash) of its last record, for the runs being recorded."""
        self._heads: dict[str, str] | None = None
        """Instrument -> hash of its last chained reading outside runs (loaded on first
        commit; replaced only once a commit succeeds)."""
        self.index_batch = index_batch
        """Readings committed between two updates of ``reading_index``."""
        self._unindexed: int | None = None
        """Readings committed since ``reading_index`` was last brought up to date (counted
        on first commit)."""
        self._db: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None
        self.committed_readings = 0
        self.last_error: str | None = None
        self.memory_limit = memory_limit
        """Readings kept in memory while the journal cannot be written; beyond, the oldest
        are dropped and counted (a ``readings_lost`` event says how many, and when)."""
        self.spill_folder = spill_folder or self.path.parent
        self.signing = signing
        """The lab's keys: spill files are signed with its key and taken back only when a
        registered key signed them."""
        self.close_timeout = close_timeout
        """Real seconds ``close`` keeps trying to write before it spills what it holds."""
        self.on_trouble: Callable[[str, str], None] | None = None
        """Told (kind, message) when writing fails and recovers, so the agent can raise the
        alarm over MQTT without the journal."""
        self._lost: list[float] = []
        """Count, first and last timestamp of the readings dropped (empty: none)."""
        self._committed: asyncio.Event | None = None

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _refuse_a_network_share(self) -> None:
        share = network_share(self.path)
        if share is not None:
            kind, point = share
            raise JournalError(
                f"the journal {self.path} is on a network share ({kind} at {point}), where "
                "SQLite's locks do not hold: keep it on this computer's own disk (journal: "
                "path: in the lab file), and watch another PC's agent in its own console"
            )

    def _open_read_only(self) -> None:
        self._refuse_a_network_share()
        if not self.path.is_file():
            raise JournalError(f"no journal at {self.path} yet: nothing has been recorded there")
        try:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc
        if version != SCHEMA_VERSION:
            db.close()
            raise JournalError(
                f"{self.path} has journal schema {version}, this daq reads {SCHEMA_VERSION}: "
                "run `daq agent` or `daq monitor` once with this version to upgrade it"
            )
        self._db = db

    def _open_blocking(self) -> None:
        if self.read_only:
            self._open_read_only()
            return
        self._refuse_a_network_share()
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path} was written by a newer version (schema {version}); upgrade daq"
                )
            before_register = REGISTER_SCHEMA - 1
            if 0 < version < before_register:  # all or nothing, the new version with them
                db.execute("BEGIN")
                for old in range(version, before_register):
                    for statement in MIGRATIONS.get(old, ()):
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={before_register}")
                db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")  # two processes upgrading: one adds the column
            columns = {c[1] for c in db.execute("PRAGMA table_info(certificates)")}
            if columns and "uut" not in columns:  # schema 9, before the register reads it
                db.execute(UUT_COLUMN)
            db.execute("COMMIT")
            db.executescript(SCHEMA)
            # readings up to here were recorded before the streams were chained: none, in a
            # new journal; every later reading outside runs must be chained
            db.execute(
                "INSERT OR IGNORE INTO journal_facts (name, value) SELECT 'chained_after', "
                "COALESCE(MAX(id), 0) FROM readings"
            )
            # the journal's own identity: a fleet's message ids never collide across journals
            db.execute(
                "INSERT OR IGNORE INTO journal_facts (name, value) VALUES ('journal_id', ?)",
                (uuid.uuid4().hex,),
            )
            # certificates issued from here on have their files kept: one missing was removed
            db.execute(
                "INSERT OR IGNORE INTO journal_facts (name, value) VALUES ('files_kept_from', ?)",
                (repr(time.time()),),
            )
            # readings by instrument: in reading_index, filled from the rows on upgrading
            db.execute(
                "INSERT OR IGNORE INTO journal_facts (name, value) VALUES ('indexed_upto', 0)"
            )
            if version < INDEX_SCHEMA:  # all or nothing; again, if cut off, at the next open
                db.execute("BEGIN IMMEDIATE")
                catch_up(db)
                db.execute("COMMIT")
            # gone at every open: an older daq opening the file as it was upgraded makes it again
            db.execute("DROP INDEX IF EXISTS readings_by_instrument")
            if version < REGISTER_SCHEMA:  # the register's step, all or nothing with its version
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM certificate_register")
                for row in db.execute(
                    f"SELECT {CERTIFICATE_COLUMNS} FROM certificates ORDER BY rowid"
                ).fetchall():  # certificates issued before the register: taken in, unsigned
                    with contextlib.suppress(sqlite3.IntegrityError):  # a number reused once
                        append_to_register(db, CertificateRow(*row), None, 0.0)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            elif version < SCHEMA_VERSION:  # later versions only add tables (SCHEMA made them)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.close()  # a failed open holds no lock on the file
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self._db = db

    def _query_blocking(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        assert self._db is not None
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc

    def _execute_blocking(self, sql: str, params: tuple[Any, ...]) -> None:
        assert self._db is not None
        self._db.execute(sql, params)

    async def read_with(self, reader: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``reader`` on the journal's connection, on its thread: for a sink that has
        SQLite shape a large batch without a Python object per row."""

        def guarded() -> T:
            assert self._db is not None, "journal not opened"
            try:
                return reader(self._db)
            except sqlite3.Error as exc:
                raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc

        result: T = await self._run(guarded)
        return result

    def _signal_commit(self) -> None:
        if self._committed is not None:
            self._committed.set()

    async def wait_for_commit(self, timeout: float) -> None:
        """Return after the next commit (new rows in the outbox), or after ``timeout``."""
        assert self._committed is not None, "journal not opened"
        self._committed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._committed.wait()
