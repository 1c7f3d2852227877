"""The fleet's central archive (``daq archive``): consumes the fleet's JetStream stream with a
durable pull consumer and writes every message to InfluxDB or VictoriaMetrics with the same
line schema an agent writes (``daq.sinks.lineprotocol``), acknowledging a message only after
its line is written.

Several archive processes bind the same durable consumer and share the messages; one that
dies leaves its unacknowledged messages to be delivered again to the others after the ack
wait. A line written twice is the same point (measurement, tags, timestamp), which InfluxDB
overwrites and VictoriaMetrics deduplicates, so "at least once" on the wire is "once" in the
store. A message that is not a row of ours (malformed, or naming another lab or agent than
its subject, which the server ties to the sender) is terminated, never retried, and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daq.core.reading import Status
from daq.journal.records import EventRow, PointRow, ReadingRow, ResultRow, StreamRow
from daq.sinks.base import SinkError, SinkRefused
from daq.sinks.influx import InfluxSink
from daq.sinks.lineprotocol import lines
from daq.sinks.nats import connect
from daq.sinks.settings import InfluxSettings, NatsSettings

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

log = logging.getLogger("daq.archive")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


LATEST = 9_223_372_036.0


class ArchiveSettings(_Strict):
    """The archive's file (deploy/fleet/archive.yaml)."""

    nats: NatsSettings
    consumer: str = Field("archive", pattern=r"^[A-Za-z0-9_-]+$")
    """The durable consumer every archive process shares."""
    replicas: int = Field(1, ge=1, le=5)
    """Of the stream and the status bucket, when the archive makes them (3 on a cluster)."""
    duplicate_window: float = Field(600.0, gt=0)
    """Seconds the stream remembers message ids: a replay within them is dropped."""
    max_gigabytes: float = Field(150.0, gt=0)
    """What the stream may hold on each node before it refuses new messages (the agents
    then keep them in their journals): below the nodes' ``max_file_store``. The stream is a
    work queue: a message is gone once an archive has written and acknowledged it, so this
    is the backlog of a store that is down (about a day at 6,000 readings/s)."""
    ack_wait: float = Field(30.0, gt=0)
    """Seconds before a message an archive took without acknowledging goes to another."""
    batch: int = Field(1000, ge=1, le=100_000)
    store: InfluxSettings


VALUE = "Value error, "
MAX_STATUS = 256 * 1024
"""Bytes: the largest agent status the bucket takes (``daq.fleet.MAX_ENTRY``)."""


def load_settings(path: Path) -> ArchiveSettings:
    from daq.config import ConfigError, Problem, field_path

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([Problem(str(path), "", str(exc))]) from None
    try:
        return ArchiveSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(
                    str(path),
                    field_path(raw, e["loc"]),
                    str(e["msg"]).removeprefix("Value error, "),
                )
                for e in exc.errors()
            ]
        ) from None


Timestamp = Annotated[float, Field(ge=0, lt=LATEST)]
"""Seconds since 1970, before 2262: InfluxDB's nanoseconds fit in 64 bits only so far."""


class _Message(BaseModel):
    """A row as an agent sends it. Fields this archive does not know are ignored, so that
    agents upgraded before the archive keep being archived (upgrade the archive first all
    the same: docs/SCALING.md); the fields it needs are checked, numbers finite."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class _Reading(_Message):
    lab: str
    agent: str
    id: int
    bench: str
    instrument: str
    quantity: str
    value: float | None
    unit: str
    timestamp: Timestamp
    status: Status


class _Event(_Message):
    lab: str
    agent: str
    id: int
    timestamp: Timestamp
    kind: str
    severity: str
    instrument: str | None
    message: str
    run: str | None


class _Point(_Message):
    lab: str
    agent: str
    id: int
    run: str
    plan: str
    key: str
    timestamp: Timestamp
    point: dict[str, Any]


class _Result(_Message):
    lab: str
    agent: str
    id: int
    run: str
    plan: str
    timestamp: Timestamp
    status: str
    conforms: bool | None
    failures: int


MESSAGES: dict[str, type[_Message]] = {
    "readings": _Reading,
    "events": _Event,
    "points": _Point,
    "results": _Result,
}


class NotOurs(ValueError):
    """A message that is not a row of a fleet agent's stream."""


def line_of(subject: str, data: bytes, prefix: str) -> str:
    """The line an agent would have written for the row a message carries."""
    parts = subject.split(".")
    if len(parts) < 5 or parts[0] != prefix or parts[3] not in MESSAGES:
        raise NotOurs(f"subject {subject[:200]!r} is not {prefix}.<lab>.<agent>.<stream>...")
    try:
        message: Any = MESSAGES[parts[3]].model_validate_json(data)
    except ValidationError as exc:
        raise NotOurs(f"{parts[3]} message: {exc.errors()[0]['msg']}") from None
    if message.lab != parts[1] or message.agent != parts[2]:
        said = f"{message.lab}/{message.agent}"
        raise NotOurs(f"a message under {'.'.join(parts[:3])} says it is from {said}")
    row: StreamRow
    benches: dict[str, str] = {}
    match message:
        case _Reading():
            row = ReadingRow(message.id, message.instrument, message.quantity, message.value,
                             message.unit, message.timestamp, message.status, "")  # fmt: skip
            if message.bench:
                benches[message.instrument] = message.bench
        case _Event():
            row = EventRow(message.id, message.timestamp, message.kind, message.severity,
                           message.instrument, message.message, message.run)  # fmt: skip
        case _Point():
            row = PointRow(message.id, message.run, message.plan, message.key, message.timestamp,
                           json.dumps(message.point))  # fmt: skip
        case _Result():
            conforms = None if message.conforms is None else int(message.conforms)
            row = ResultRow(message.id, message.run, message.plan, message.timestamp,
                            message.status, conforms, message.failures)  # fmt: skip
    try:
        return lines([row], message.lab, benches)[0]
    except Exception as exc:  # whatever a hostile row holds, it stops no archive
        raise NotOurs(
            f"{parts[3]} row {message.id}: no line can be made of it ({exc!r})"[:300]
        ) from None


async def ensure_stream(js: JetStreamContext, settings: ArchiveSettings) -> None:
    """The fleet's stream and status bucket, made if the cluster has none yet."""
    from nats.js.api import (
        DiscardPolicy,
        RetentionPolicy,
        StorageType,
        StreamConfig,
    )
    from nats.js.errors import NotFoundError

    nats = settings.nats
    try:
        await js.stream_info(nats.stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=nats.stream,
                subjects=[f"{nats.prefix}.>"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.WORK_QUEUE,  # kept until archived, not for a time
                discard=DiscardPolicy.NEW,  # full: refuse new ones, never drop unarchived ones
                max_bytes=int(settings.max_gigabytes * 1e9),
                num_replicas=settings.replicas,
                duplicate_window=settings.duplicate_window,
            )
        )
    try:
        await js.stream_info(f"KV_{nats.status_bucket}")
    except NotFoundError:  # a key-value bucket, made by hand to refuse rollups and purges:
        await js.add_stream(  # no agent can wipe the others' status with one message
            StreamConfig(
                name=f"KV_{nats.status_bucket}",
                subjects=[f"$KV.{nats.status_bucket}.>"],
                storage=StorageType.FILE,
                allow_direct=True,
                allow_rollup_hdrs=False,
                deny_delete=True,
                deny_purge=True,
                discard=DiscardPolicy.NEW,
                duplicate_window=120,
                max_msgs_per_subject=1,
                max_msg_size=MAX_STATUS,
                num_replicas=settings.replicas,
            )
        )


@dataclass
class Archive:
    settings: ArchiveSettings
    written: int = 0
    refused: int = 0
    _store: InfluxSink = field(init=False)

    def __post_init__(self) -> None:
        self._store = InfluxSink(self.settings.store, "-", {}, name="archive")

    async def run(self, stop: asyncio.Event) -> None:
        """Archive until ``stop``; the batch in hand is finished first."""
        from nats.errors import Error as NatsError
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        nats = self.settings.nats
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            client = None
            try:
                client = await connect(nats, f"archive-{nats.agent_id}")
                js = client.jetstream(timeout=nats.timeout)
                await ensure_stream(js, self.settings)
                config = ConsumerConfig(
                    durable_name=self.settings.consumer,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=self.settings.ack_wait,
                    max_ack_pending=self.settings.batch * 20,
                )
                subscription = await js.pull_subscribe(
                    f"{nats.prefix}.>", durable=self.settings.consumer, stream=nats.stream,
                    config=config,
                )  # fmt: skip
                backoff = FIRST_BACKOFF
                while not stop.is_set():
                    try:
                        messages = await subscription.fetch(self.settings.batch, timeout=1.0)
                    except (NatsTimeout, TimeoutError):
                        continue
                    await self._archive(messages)
            except (SinkError, NatsError, OSError, TimeoutError) as exc:
                log.warning("archive: %s", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await stop.wait()
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.close()
        await self._store.close()

    async def _archive(self, messages: list[Msg]) -> None:
        """Write the lines of ``messages``, then acknowledge them; a failed write leaves them
        unacknowledged (another archive, or this one, takes them again)."""
        prefix = self.settings.nats.prefix
        made: list[str] = []
        taken: list[Msg] = []
        for message in messages:
            try:
                made.append(line_of(message.subject, message.data, prefix))
                taken.append(message)
            except NotOurs as exc:
                self.refused += 1
                log.warning("archive refuses a message: %s", exc)
                await message.term()
        if made:
            try:
                refused = await self._write(list(zip(made, taken, strict=True)))
            except SinkError:  # the store is down: all of it again, later
                for message in taken:
                    await message.nak(delay=FIRST_BACKOFF)
                raise
            for message in refused:
                await message.term()
            self.refused += len(refused)
            taken = [m for m in taken if m not in refused]
        for message in taken:
            await message.ack()
        self.written += len(taken)

    async def _write(self, lines_of: list[tuple[str, Msg]]) -> list[Msg]:
        """Write the lines; a batch the store refuses as such is halved down to the lines
        it refuses, which are returned (the rest is written): one line cannot hold the
        stream up."""
        try:
            await self._store.write_text("\n".join(line for line, _ in lines_of))
            return []
        except SinkRefused as exc:
            if len(lines_of) == 1:
                log.warning("the store refuses a message of %s: %s", lines_of[0][1].subject, exc)
                return [lines_of[0][1]]
        half = len(lines_of) // 2
        return await self._write(lines_of[:half]) + await self._write(lines_of[half:])
