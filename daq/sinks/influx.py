"""The InfluxDB sink: line protocol over the v2 write API (influxdb-client, async), or the v1
``/write?db=`` endpoint for InfluxDB 1.x older than 1.8 (such as Debian's 1.6)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import ClassVar

import aiohttp
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException

from daq.journal import Journal
from daq.sinks.base import Batch, SinkError, SinkRefused, rows_batch
from daq.sinks.lineprotocol import lines, series_key, series_prefix
from daq.sinks.settings import InfluxSettings, secret
from daq.sinks.tls import client_context

_FAILURES = (
    ApiException,
    InfluxDBError,
    aiohttp.ClientError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
)
REFUSED = frozenset({400, 413})
"""HTTP statuses refusing what was sent (malformed, too large): the forwarder then finds the
record at fault. Any other (401 and 403 authentication, 404 no database or bucket, 5xx)
means the sink is down, and the batch waits."""


class InfluxSink:
    Settings: ClassVar[type[InfluxSettings]] = InfluxSettings

    def __init__(
        self,
        settings: InfluxSettings,
        lab: str,
        benches: Mapping[str, str],
        name: str = "influxdb",
    ) -> None:
        self.name = name
        self.settings = settings
        self.streams: list[str] = list(settings.streams)
        self._lab = lab
        self._benches = benches
        self._prefix = series_prefix(lab, benches)
        self._series = series_key(lab, benches)
        self._client: InfluxDBClientAsync | None = None
        self._session: aiohttp.ClientSession | None = None
        self._database_made = False

    async def fetch(self, journal: Journal, stream: str, after: int, limit: int) -> Batch | None:
        """Readings, the bulk of any backlog, come from SQLite as finished text."""
        if stream != "readings":
            return await rows_batch(journal, stream, after, limit)
        found = await journal.reading_lines(after, limit, self._prefix, self._series)
        return Batch(stream, found[0], found[1], found[2]) if found else None

    async def write(self, batch: Batch) -> None:
        if batch.stream == "readings":
            body: str = batch.payload
        else:
            try:
                body = "\n".join(lines(batch.payload, self._lab, self._benches))
            except (ValueError, KeyError, TypeError) as exc:  # a row no line can be made of
                raise SinkRefused(f"{batch.stream} row not writable: {exc!r}"[:300]) from exc
        await self.write_text(body)

    async def write_text(self, body: str) -> None:
        """Write lines already made (the fleet's archive makes them from messages)."""
        try:
            if self.settings.api == "v2":
                await self._write_v2(body)
            else:
                await self._write_v1(body)
        except ApiException as exc:
            refused = SinkRefused if exc.status in REFUSED else SinkError
            raise refused(f"{self.settings.url}: {_describe(exc)}") from exc
        except _FAILURES as exc:
            raise SinkError(f"{self.settings.url}: {_describe(exc)}") from exc

    async def _write_v2(self, body: str) -> None:
        """Nanosecond precision, the client's default."""
        if self._client is None:
            self._client = InfluxDBClientAsync(
                self.settings.url,
                token=secret(self.settings.token_env) or "",
                org=self.settings.org,
                timeout=int(self.settings.timeout * 1000),
                ssl_context=self._tls(),
            )
        await self._client.write_api().write(
            bucket=self.settings.bucket,
            org=self.settings.org,
            record=body,  # one string: the client serialises a list line by line
        )

    def _tls(self) -> ssl.SSLContext | None:
        """For https: the server checked against ``ca_file`` (else the system's CAs)."""
        if not self.settings.url.startswith("https:"):
            return None
        return client_context(
            "influxdb", ca_file=self.settings.ca_file, insecure=self.settings.tls_insecure_for_tests
        )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            user, password = secret(self.settings.username_env), secret(self.settings.password_env)
            self._session = aiohttp.ClientSession(
                auth=aiohttp.BasicAuth(user, password or "") if user else None,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                connector=aiohttp.TCPConnector(ssl=self._tls() or True),
            )
        return self._session

    async def _write_v1(self, body: str) -> None:
        url = f"{self.settings.url.rstrip('/')}/write"
        params = {"db": self.settings.database, "precision": "ns"}
        async with self._http().post(url, params=params, data=body.encode()) as response:
            if response.status == 204:
                return
            text = await response.text()
        if response.status == 404 and "database not found" in text and not self._database_made:
            await self._create_database()
            await self._write_v1(body)
            return
        refused = SinkRefused if response.status in REFUSED else SinkError
        raise refused(f"{url}: HTTP {response.status}: {text.strip()[:200]}")

    async def _create_database(self) -> None:
        """InfluxDB 1.x writes only into an existing database: make it on first need."""
        url = f"{self.settings.url.rstrip('/')}/query"
        query = {"q": f'CREATE DATABASE "{self.settings.database}"'}
        async with self._http().post(url, data=query) as response:
            if response.status != 200:
                raise SinkError(f"{url}: cannot create database: HTTP {response.status}")
        self._database_made = True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status}: {(exc.body or exc.reason or '')!s}"[:200]
    return str(exc) or type(exc).__name__
