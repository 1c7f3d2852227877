"""The journal: the local system of record (SQLite in WAL mode), in parts with one job
each, over one connection on a thread of its own:

- ``writer``: readings, events and run records, committed in batches;
- ``runs``: calibration runs, points, records, results (and command nonces), written at once;
- ``certificates``: issued certificates, their chained register, the lab's signatures;
- ``outbox``: the streams the sinks read, their cursors, states and dead letters;
- ``history``: what was recorded, read back, and the monitored streams' anchors;
- ``users``: the people who may log in to the console;
- ``records``: the typed rows and words (statuses, states, event kinds) of all of them.
"""

from __future__ import annotations

import asyncio

from daq.journal.certificates import CertificateStore
from daq.journal.history import History
from daq.journal.outbox import STREAMS, Outbox
from daq.journal.records import (
    AlreadyIssued,
    CertificateFile,
    CertificateRow,
    DeadLetters,
    Event,
    EventKind,
    JournalError,
    NumberTaken,
    RunRow,
    RunStatus,
    Severity,
    SinkState,
    UserRow,
    certificate_file_subject,
    register_subject,
    signature_file_subject,
)
from daq.journal.runs import RunStore
from daq.journal.schema import SCHEMA_VERSION
from daq.journal.users import UserStore, UserTaken

__all__ = [
    "SCHEMA_VERSION",
    "STREAMS",
    "AlreadyIssued",
    "CertificateFile",
    "CertificateRow",
    "DeadLetters",
    "Event",
    "EventKind",
    "Journal",
    "JournalError",
    "NumberTaken",
    "RunRow",
    "RunStatus",
    "Severity",
    "SinkState",
    "UserRow",
    "UserTaken",
    "certificate_file_subject",
    "register_subject",
    "signature_file_subject",
]


class Journal(RunStore, CertificateStore, Outbox, History, UserStore):
    """The whole journal: open it (``async with``), then use any part's methods."""

    async def open(self) -> Journal:
        await self._run(self._open_blocking)
        if not self.read_only:
            for kind, message in await self._run(self._take_back_spills):
                self.event(kind, message, Severity.WARNING)
        self._flush_lock = asyncio.Lock()
        self._committed = asyncio.Event()
        if not self.read_only:
            self._flusher = asyncio.create_task(self._flush_periodically())
        return self

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *_: object) -> None:
        await self.close()
