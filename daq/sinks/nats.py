"""The NATS JetStream sink: the journal's streams published to a fleet's stream, each row
acknowledged by the stream before the cursor moves past it.

Subjects, under ``<prefix>.<lab>.<agent>.`` (the server lets an agent publish only there):

- ``readings.<bench>.<instrument>.<quantity>``
- ``events.<kind>``
- ``points.<run>`` and ``results.<run>``

Each message is the row as JSON (the MQTT payload with ``lab``, ``agent`` and ``bench``
added) with the header ``Nats-Msg-Id: <journal UUID>.<stream>.<row id>``: a row sent again
within the stream's duplicate window (after a crash between the acknowledgement and the
cursor) is dropped by the server, and two journals never share an id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from daq.journal import Journal
from daq.journal.records import EventRow, PointRow, ReadingRow, ResultRow, StreamRow
from daq.sinks.base import Batch, SinkError, SinkRefused, rows_batch
from daq.sinks.settings import NatsSettings, secret
from daq.sinks.tls import TlsError, client_context
from daq.text import cap_id, cap_message

if TYPE_CHECKING:  # nats-py loads when the sink connects
    from nats.aio.client import Client
    from nats.js.client import JetStreamContext

log = logging.getLogger("daq.nats")

_TOKEN = str.maketrans({".": "_", " ": "_", "*": "_", ">": "_", "\t": "_"})
MAX_PAYLOAD = 512 * 1024
"""Bytes: a row larger than this is refused as such (the server's limit is 1 MB)."""


def token(value: str) -> str:
    """One subject token: capped like an id, without a separator, space or wildcard."""
    return cap_id(value).translate(_TOKEN) or "-"


def tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    return client_context(
        "nats", ca_file=settings.ca_file, cert_file=settings.cert_file, key_file=settings.key_file
    )


RECONNECTS = 5
"""Attempts on each server before a connection gives up (then the next use connects anew):
a first connection to a cluster that cannot be reached fails in seconds, not never."""


async def connect(settings: NatsSettings, name: str, attempts: int = RECONNECTS) -> Client:
    """A connection to the cluster with the settings' credentials and TLS; a failure is a
    ``SinkError`` naming the servers and what the last of them said (a refused password, a
    certificate, no route)."""
    import nats
    from nats.errors import Error as NatsError

    options: dict[str, Any] = {
        "servers": settings.servers,
        "name": name,
        "connect_timeout": min(settings.timeout, 10.0),
        "max_reconnect_attempts": attempts,
        "reconnect_time_wait": 1,
        "allow_reconnect": True,
        "inbox_prefix": f"_INBOX.{name}",
    }
    if settings.user:
        options["user"] = settings.user
        options["password"] = secret(settings.password_env) or ""
    if settings.nkey_seed_file is not None:
        options["nkeys_seed"] = str(settings.nkey_seed_file)
    if settings.creds_file is not None:
        options["user_credentials"] = str(settings.creds_file)
    said: list[str] = []

    async def heard(exc: Exception) -> None:  # reconnections are reported by the forwarder
        said[:] = [str(exc) or type(exc).__name__]
        log.debug("NATS %s: %s", settings.servers, exc)

    try:
        options["tls"] = tls_context(settings)
        return await nats.connect(error_cb=heard, **options)
    except (NatsError, OSError, TlsError, TimeoutError) as exc:
        last = f" (the server said: {said[0]})" if said and said[0] not in str(exc) else ""
        text = str(exc) or type(exc).__name__
        raise SinkError(f"NATS {', '.join(settings.servers)}: {text}{last}") from exc


class NatsSink:
    """Publishes batches with JetStream's asynchronous publish and waits for every
    acknowledgement: the batch counts as delivered only when the stream has stored it all."""

    Settings: ClassVar[type[NatsSettings]] = NatsSettings

    def __init__(
        self, settings: NatsSettings, lab: str, benches: Mapping[str, str], name: str = "nats"
    ) -> None:
        self.name = name
        self.settings = settings
        self.streams: list[str] = list(settings.streams)
        self._lab = lab
        self._benches = benches
        if token(lab) != lab:
            raise ValueError(
                f"lab id {lab!r}: a fleet's lab ids are letters, digits, '-' and '_' (its "
                "subjects and permissions are made of them)"
            )
        self._base = f"{settings.prefix}.{lab}.{settings.agent_id}"
        self._client_name = f"{lab}.{settings.agent_id}"
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._journal_id = ""

    def subject(self, *parts: str) -> str:
        return ".".join((self._base, *(token(p) for p in parts)))

    def message(self, row: StreamRow) -> tuple[str, dict[str, Any]]:
        """The subject and JSON payload of one journal row."""
        common = {"lab": self._lab, "agent": self.settings.agent_id}
        match row:
            case ReadingRow():
                bench = self._benches.get(row.instrument, "")
                value = row.value if row.value is not None and math.isfinite(row.value) else None
                payload = {
                    **common,
                    "id": row.id,
                    "bench": bench,
                    "instrument": row.instrument,
                    "quantity": row.quantity,
                    "value": value,
                    "unit": row.unit,
                    "timestamp": row.timestamp,
                    "status": row.status,
                }
                return self.subject("readings", bench or "-", row.instrument, row.quantity), payload
            case EventRow():
                payload = {
                    **common,
                    "id": row.id,
                    "timestamp": row.timestamp,
                    "kind": cap_id(row.kind),
                    "severity": row.severity,
                    "instrument": cap_id(row.instrument) if row.instrument is not None else None,
                    "message": cap_message(row.message),
                    "run": cap_id(row.run) if row.run is not None else None,
                }
                return self.subject("events", row.kind), payload
            case PointRow():
                point = json.loads(row.data)
                payload = {**common, "id": row.id, "run": row.run, "plan": row.plan,
                           "key": row.key, "timestamp": row.timestamp, "point": point}  # fmt: skip
                return self.subject("points", row.run), payload
            case ResultRow():
                payload = {**common, "id": row.id, "run": row.run, "plan": row.plan,
                           "timestamp": row.timestamp, "status": row.status,
                           "conforms": None if row.conforms is None else bool(row.conforms),
                           "failures": row.failures}  # fmt: skip
                return self.subject("results", row.run), payload
        raise TypeError(f"not a row of a journal stream: {row!r}")

    async def fetch(self, journal: Journal, stream: str, after: int, limit: int) -> Batch | None:
        if not self._journal_id:
            self._journal_id = await journal.journal_id()
        return await rows_batch(journal, stream, after, limit)

    async def write(self, batch: Batch) -> None:
        """Publish every row, then wait for every acknowledgement, all within ``timeout``: a
        connection that hangs (a server gone mid-flush) counts as down, and is made anew."""
        from nats.errors import Error as NatsError
        from nats.js.errors import Error as JetStreamError

        encoded = []
        for row in batch.payload:
            subject, payload = self.message(row)
            data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(
                errors="backslashreplace"
            )
            if len(data) > MAX_PAYLOAD:
                raise SinkRefused(f"{batch.stream} row {row.id}: {len(data)} bytes, too large")
            encoded.append((subject, data, f"{self._journal_id}.{batch.stream}.{row.id}"))
        acks: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self.settings.timeout):
                js = await self._jetstream()
                for subject, data, message_id in encoded:
                    acks.append(
                        await js.publish_async(
                            subject,
                            data,
                            stream=self.settings.stream,
                            headers={"Nats-Msg-Id": message_id},
                        )
                    )
                await asyncio.gather(*acks)
        except (NatsError, JetStreamError, TimeoutError, OSError) as exc:
            for ack in acks:
                ack.cancel()
            await self.close()  # the next batch connects anew
            raise SinkError(self._described(exc)) from exc

    def _described(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if "no responders" in text.lower():
            text = (
                f"no JetStream stream {self.settings.stream} takes {self._base}.> (is the "
                "central side up, with its stream? deploy/fleet)"
            )
        return f"NATS {', '.join(self.settings.servers)}: {text}"

    async def _jetstream(self) -> JetStreamContext:
        """One JetStream context per connection (each makes its own reply subscription)."""
        if self._client is None or self._client.is_closed:
            self._client = await connect(self.settings, self._client_name)
            self._js = self._client.jetstream(timeout=self.settings.timeout)
        assert self._js is not None
        return self._js

    async def close(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):  # a connection that hangs is let go
                async with asyncio.timeout(self.settings.timeout):
                    await client.close()
