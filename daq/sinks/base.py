"""What a sink is: one job, write a batch of journal rows or raise ``SinkError``."""

from __future__ import annotations

from typing import Any, Protocol


class SinkError(Exception):
    """The batch was not delivered (server down, refused, timed out); it will be retried."""


class Sink(Protocol):
    name: str
    """Unique per journal: the key of the sink's cursors."""
    streams: list[str]

    async def write(self, stream: str, rows: list[tuple[Any, ...]]) -> None:
        """Deliver every row or raise ``SinkError`` (then nothing counts as delivered)."""
        ...

    async def close(self) -> None: ...
