"""InfluxDB over https, on both write paths: the lab file's CA and verification options reach
the clients (influxdb-client for v2, aiohttp for v1), first against a small https server in
the test, then against VictoriaMetrics started with -tls and the lab CA's certificate."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from daq.core.clock import Clock
from daq.forwarder import Forwarder
from daq.journal import Journal
from daq.sinks.base import Batch, SinkError
from daq.sinks.influx import InfluxSink
from daq.sinks.settings import InfluxSettings
from simulators.servers import free_tcp_port
from tests.service.test_influx_sink import BENCHES, drain, readings, samples
from tests.services import Service

LINE = "reading,lab=demo-lab,instrument=balance-1 value=100.0 1700000000000000000"


@asynccontextmanager
async def https_server(
    certs: Path, host: str = "127.0.0.1"
) -> AsyncIterator[tuple[str, list[bytes]]]:
    """An https server taking v1 and v2 writes; yields its base URL and the bodies it got."""
    received: list[bytes] = []

    async def write(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    app.router.add_post("/write", write)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "broker" / "broker.pem", certs / "broker" / "broker.key")
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, host, port, ssl_context=context).start()
    try:
        yield f"https://{host}:{port}", received
    finally:
        await runner.cleanup()


async def write_once(settings: InfluxSettings) -> None:
    sink = InfluxSink(settings, "demo-lab", BENCHES)
    try:
        await sink.write(Batch("readings", 1, 1, LINE))
    finally:
        await sink.close()


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_ca_file_reaches_the_client(certificates: Path, api: str) -> None:
    async with https_server(certificates) as (url, received):
        await write_once(InfluxSettings(url=url, api=api, ca_file=certificates / "ca.pem"))
        assert received == [LINE.encode()]


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_server_verified_by_default(certificates: Path, api: str) -> None:
    """Without the lab's CA the system's CAs do not vouch for the server: nothing is sent."""
    async with https_server(certificates) as (url, received):
        with pytest.raises(SinkError, match="CERTIFICATE_VERIFY_FAILED"):
            await write_once(InfluxSettings(url=url, api=api))
        assert received == []


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_host_name_verified(certificates: Path, api: str) -> None:
    """A certificate of the lab's CA, but for another name (127.0.0.1, not 127.0.0.2)."""
    async with https_server(certificates, "127.0.0.2") as (url, received):
        settings = InfluxSettings(url=url, api=api, ca_file=certificates / "ca.pem")
        with pytest.raises(SinkError, match="CERTIFICATE_VERIFY_FAILED"):
            await write_once(settings)
        assert received == []


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_insecure_option_skips_verification(
    certificates: Path, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with https_server(certificates, "127.0.0.2") as (url, received):
        with caplog.at_level(logging.WARNING, "daq.tls"):
            await write_once(InfluxSettings(url=url, api=api, tls_insecure_for_tests=True))
        assert received == [LINE.encode()]
    assert "influxdb.tls_insecure_for_tests" in caplog.text


async def test_unreadable_ca_file_names_the_setting(tmp_path: Path) -> None:
    settings = InfluxSettings(url="https://127.0.0.1:1", ca_file=tmp_path / "ca.pem")
    with pytest.raises(SinkError, match=r"influxdb\.ca_file: cannot read .*ca\.pem"):
        await write_once(settings)


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_write_to_victoria_metrics_over_tls(
    tmp_path: Path, victoria_metrics_tls: Service, certificates: Path, api: str
) -> None:
    now = time.time() - 60  # export ends at the present: readings are in the past
    settings = InfluxSettings(
        url=victoria_metrics_tls.url, api=api, ca_file=certificates / "ca.pem"
    )
    assert settings.url.startswith("https://")
    async with Journal(tmp_path / "j.sqlite", clock=Clock()) as journal:
        journal.record_many(readings(300, now))
        sink = InfluxSink(settings, "demo-lab", BENCHES)
        await drain(journal, Forwarder(journal, sink, batch_size=100))
        await sink.close()
    assert len(samples(victoria_metrics_tls, 300)) == 300
