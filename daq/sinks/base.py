"""What a sink is: one job, deliver a batch of journal rows or raise ``SinkError``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from daq.journal import Journal


class SinkError(Exception):
    """The batch was not delivered (server down, refused, timed out); it will be retried."""


class SinkRefused(SinkError):
    """The sink refuses the batch as malformed or too large (HTTP 400, 413): sent again
    unchanged it would be refused again, so the forwarder looks for the record at fault."""


@dataclass(frozen=True)
class Batch:
    """Consecutive rows of one stream, up to row id ``last``, in the form the sink sends."""

    stream: str
    last: int
    count: int
    payload: Any
    """The rows, or what the sink made of them already (line protocol text)."""


class Sink(Protocol):
    name: str
    """Unique per journal: the key of the sink's cursors."""
    streams: list[str]

    async def fetch(self, journal: Journal, stream: str, after: int, limit: int) -> Batch | None:
        """The next batch of ``stream`` after row id ``after`` (None when there is none)."""
        ...

    async def write(self, batch: Batch) -> None:
        """Deliver the whole batch or raise ``SinkError`` (then nothing counts as delivered);
        ``SinkRefused`` when the sink refuses what it was given, not for being down."""
        ...

    async def close(self) -> None: ...


class SinkClass(Protocol):
    """What a ``benchdaq.sinks`` entry point names: a class with its settings model, made
    from a lab file's ``sinks:`` entry. Import heavy client libraries when it connects, not
    at import: the lab file is checked by loading the class."""

    Settings: ClassVar[type[BaseModel]]

    def __call__(
        self, settings: Any, *, lab: str, benches: Mapping[str, str], name: str
    ) -> Sink: ...


async def rows_batch(journal: Journal, stream: str, after: int, limit: int) -> Batch | None:
    """A batch of plain journal rows (how most sinks read)."""
    rows = await journal.outbox(stream, after, limit)
    return Batch(stream, rows[-1][0], len(rows), rows) if rows else None
