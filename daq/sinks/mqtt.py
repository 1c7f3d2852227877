"""MQTT with aiomqtt: one connection per agent with a last will, retained status, commands in,
and a sink that publishes the journal's streams as JSON on the topic tree.

Topics under ``<prefix>/<lab>/`` (docs/STREAMING.md has the payloads):

- ``agent/status`` (retained; the last will sets it offline), ``agent/commands``,
  ``agent/replies``, ``prompts`` (retained: the open operator question)
- ``<bench>/<instrument>/readings/<quantity>``, ``<bench>/<instrument>/status`` (retained)
- ``events/<kind>``, ``alarms/<alarm>`` (retained)
- ``runs/<run>/progress`` (retained), ``runs/<run>/points``, ``runs/<run>/result`` (retained)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiomqtt

from daq import __version__
from daq.core.clock import Clock
from daq.journal import Journal
from daq.journal.records import EventKind, EventRow, PointRow, ReadingRow, ResultRow, StreamRow
from daq.sinks.base import Batch, SinkError, SinkRefused, rows_batch
from daq.sinks.settings import MqttSettings, secret
from daq.sinks.tls import TlsError, client_context
from daq.text import cap_id, cap_message

log = logging.getLogger("daq.mqtt")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
INSTRUMENT_STATES: dict[str, str] = {
    EventKind.INSTRUMENT_FAILED: "failing",
    EventKind.INSTRUMENT_RECOVERED: "ok",
}
ALARM_STATES: dict[str, str] = {
    EventKind.ALARM: "active",
    EventKind.ALARM_CLEARED: "cleared",
    EventKind.ALARM_ACKNOWLEDGED: "acknowledged",
}

CommandHandler = Callable[[bytes, bool], Awaitable[None]]
"""Told each command's payload and whether it came retained."""


_TOPIC_LEVEL = str.maketrans("/+#", "___")
"""Characters a topic level cannot hold: the separator and the wildcards."""


def _json(payload: Mapping[str, Any]) -> bytes:
    """A lone surrogate (JSON from outside can carry one, UTF-8 cannot) is written as its JSON
    escape ``\\udXXX`` instead of failing the message."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return text.encode(errors="backslashreplace")


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """The broker's certificate checked against ``ca_file``, this client's own presented."""
    return client_context(
        "mqtt",
        ca_file=settings.ca_file,
        cert_file=settings.cert_file,
        key_file=settings.key_file,
        key_password_env=settings.key_password_env,
        insecure=settings.tls_insecure_for_tests,
    )


class MqttLink:
    """The agent's connection to the broker, kept up with backoff.

    On every (re)connection it publishes ``agent/status`` online (retained) and every
    retained state it knows again, since a broker without persistence forgets them.
    """

    def __init__(self, settings: MqttSettings, lab: str, clock: Clock) -> None:
        self.settings = settings
        self.lab = lab
        self.clock = clock
        self.on_command: CommandHandler | None = None
        self.on_connection: Callable[[bool, str], None] | None = None
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._retained: dict[str, bytes] = {}

    def topic(self, *parts: str) -> str:
        """Each part capped as an id, without a separator or wildcard."""
        levels = (cap_id(p).translate(_TOPIC_LEVEL) for p in parts)
        return "/".join((self.settings.prefix, self.lab, *levels))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def until_connected(self, timeout: float) -> None:
        """Wait up to ``timeout`` real seconds for the broker: a sink's first batch at start
        waits for the link instead of reporting an outage that is only the handshake."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._connected.wait()

    def _status(self, state: str) -> bytes:
        return _json({"state": state, "timestamp": self.clock.now(), "version": __version__})

    def _will(self) -> bytes:
        """The last will, written when connecting but published when the link is lost: it
        carries when the agent went online, not a time that would pass for the loss."""
        return _json(
            {
                "state": "offline",
                "reason": "connection lost (last will)",
                "online_since": self.clock.now(),
                "version": __version__,
            }
        )

    def _client_for(self) -> aiomqtt.Client:
        """A client for one connection. The TLS files are read again each time, so renewed
        ones are taken; one that cannot be used fails the connection, reported and retried
        like an absent broker."""
        s = self.settings
        try:
            context = tls_context(s) if s.tls else None
        except TlsError as exc:
            raise aiomqtt.MqttError(str(exc)) from exc
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=secret(s.password_env),
            identifier=s.client_id or f"daq-{self.lab}",
            will=aiomqtt.Will(self.topic("agent", "status"), self._will(), 1, True),
            keepalive=s.keepalive,
            max_inflight_messages=s.in_flight,
            # publishes in flight are small packets behind unacknowledged ones: with Nagle's
            # algorithm they wait for the broker's TCP acknowledgement (tens of ms)
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            tls_context=context,
            timeout=10,
        )
        # publishes in flight are expected, not a sign of a stuck broker to warn about
        client.pending_calls_threshold = 2 * s.in_flight + 10  # two batches in flight
        return client

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop``; then say offline and disconnect."""
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            try:
                async with self._client_for() as client:
                    self._client = client
                    await self._announce(client)
                    self._connected.set()
                    backoff = FIRST_BACKOFF
                    self._notify(True, "")
                    await self._serve(client, stop)
                    with contextlib.suppress(aiomqtt.MqttError):
                        await client.publish(
                            self.topic("agent", "status"), self._status("offline"), 1, True
                        )
            except aiomqtt.MqttError as exc:
                if self._connected.is_set() or backoff == FIRST_BACKOFF:
                    self._notify(False, str(exc))
                log.warning("MQTT broker %s:%s: %s", self.settings.host, self.settings.port, exc)
            finally:
                self._connected.clear()
                self._client = None
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await stop.wait()
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _notify(self, up: bool, detail: str) -> None:
        if self.on_connection is not None:
            self.on_connection(up, detail)

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Listen for commands, restore the retained states, then say online (last, so
        that "online" means ready)."""
        qos = self.settings.qos
        if self.settings.commands.enabled:
            await client.subscribe(self.topic("agent", "commands"), qos)
        for topic, payload in list(self._retained.items()):
            await client.publish(topic, payload, qos, True)
        await client.publish(self.topic("agent", "status"), self._status("online"), qos, True)

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Hand commands over until ``stop``; a lost connection raises ``MqttError``.

        A retained command is cleared from the broker (an empty retained message) and handed
        over marked as such, never to be carried out: it would come again on every start."""

        async def receive() -> None:
            async for message in client.messages:
                payload = message.payload
                if not isinstance(payload, bytes) or not payload:
                    continue  # empty: a retained command being cleared, heard back
                if message.retain:
                    await client.publish(str(message.topic), b"", self.settings.qos, True)
                if self.on_command is not None:
                    await self.on_command(payload, message.retain)

        receiver = asyncio.ensure_future(receive())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (receiver, stopper):
            task.cancel()
        if receiver in done:
            receiver.result()

    async def publish(
        self, topic: str, payload: Mapping[str, Any] | bytes, *, retain: bool = False
    ) -> None:
        """Publish at the configured QoS (waiting for the broker's acknowledgement)."""
        data = payload if isinstance(payload, bytes) else _json(payload)
        if retain:
            self._retained[topic] = data
        client = self._client
        if client is None or not self._connected.is_set():
            raise SinkError(f"not connected to the MQTT broker {self.settings.host}")
        try:
            await client.publish(topic, data, self.settings.qos, retain)
        except aiomqtt.MqttError as exc:
            raise SinkError(f"MQTT broker {self.settings.host}: {exc}") from exc
        except ValueError as exc:  # the client refuses the topic or the payload as such
            raise SinkRefused(f"MQTT: {exc}"[:300]) from exc

    async def publish_soon(
        self, topic: str, payload: Mapping[str, Any], retain: bool = False
    ) -> None:
        """Best effort for live, non-journalled messages (run progress, prompts): a retained
        one is sent on the next connection if the broker is away now."""
        with contextlib.suppress(SinkError):
            await self.publish(topic, payload, retain=retain)


CONNECT_WAIT = 5.0
"""Real seconds a batch waits for the link before the sink counts as down."""


class MqttSink:
    """Publishes the journal's streams; delivery is at least once (QoS 1 with the journal
    row id in each payload, so a subscriber can drop a replayed message)."""

    def __init__(self, link: MqttLink, benches: Mapping[str, str], name: str = "mqtt") -> None:
        self.name = name
        self.link = link
        self.streams: list[str] = list(link.settings.streams)
        self._benches = benches

    def _instrument_topic(self, instrument: str, *parts: str) -> str:
        return self.link.topic(self._benches.get(instrument, "-"), instrument, *parts)

    def messages(self, row: StreamRow) -> list[tuple[str, dict[str, Any], bool]]:
        """(topic, payload, retained) for one journal row."""
        topic = self.link.topic
        match row:
            case ReadingRow():
                value = row.value
                payload = {
                    "id": row.id,
                    "instrument": row.instrument,
                    "quantity": row.quantity,
                    "value": value if value is not None and math.isfinite(value) else None,
                    "unit": row.unit,
                    "timestamp": row.timestamp,
                    "status": row.status,
                }
                return [
                    (
                        self._instrument_topic(row.instrument, "readings", row.quantity),
                        payload,
                        False,
                    )
                ]
            case EventRow():
                return self._event_messages(row)
            case PointRow():
                point = {"id": row.id, "run": row.run, "plan": row.plan, **json.loads(row.data)}
                return [(topic("runs", row.run, "points"), point, False)]
            case ResultRow():
                conforms = row.conforms
                result = {
                    "id": row.id,
                    "run": row.run,
                    "plan": row.plan,
                    "timestamp": row.timestamp,
                    "status": row.status,
                    "conforms": None if conforms is None else bool(conforms),
                    "failures": row.failures,
                }
                return [(topic("runs", row.run, "result"), result, True)]
        raise TypeError(f"not a row of a journal stream: {row!r}")

    def _event_messages(self, row: EventRow) -> list[tuple[str, dict[str, Any], bool]]:
        """The event, and the instrument's status or the alarm's state it changes (retained)."""
        topic = self.link.topic
        kind, message = cap_id(row.kind), cap_message(row.message)  # as kept since the caps
        instrument = cap_id(row.instrument) if row.instrument is not None else None
        payload = {
            "id": row.id,
            "timestamp": row.timestamp,
            "kind": kind,
            "severity": row.severity,
            "instrument": instrument,
            "message": message,
            "run": cap_id(row.run) if row.run is not None else None,
        }
        found = [(topic("events", kind), payload, False)]
        if kind in INSTRUMENT_STATES and instrument:
            state = {
                "state": INSTRUMENT_STATES[kind],
                "message": message,
                "timestamp": row.timestamp,
            }
            found.append((self._instrument_topic(instrument, "status"), state, True))
        if kind in ALARM_STATES and instrument:
            alarm = {**payload, "state": ALARM_STATES[kind]}
            found.append((topic("alarms", instrument), alarm, True))
        return found

    async def fetch(self, journal: Journal, stream: str, after: int, limit: int) -> Batch | None:
        return await rows_batch(journal, stream, after, limit)

    async def write(self, batch: Batch) -> None:
        """Publish the batch in order with up to ``in_flight`` messages unacknowledged; done
        (and the cursor moved past it) only once the broker has acknowledged every one. A
        failure leaves none of it counted as sent: the batch is sent again."""
        if not self.link.connected:
            await self.link.until_connected(CONNECT_WAIT)
        window = self.link.settings.in_flight
        in_flight: deque[asyncio.Future[None]] = deque()
        try:
            for row in batch.payload:
                for topic, payload, retain in self.messages(row):
                    if len(in_flight) >= window:
                        await in_flight.popleft()
                    publish = self.link.publish(topic, payload, retain=retain)
                    in_flight.append(asyncio.ensure_future(publish))
            while in_flight:
                await in_flight.popleft()
        finally:
            for publishing in in_flight:
                publishing.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def close(self) -> None:
        return None
