"""The MQTT sink with publishes in flight, against the real mosquitto: every reading
arrives, each batch in the journal's order (the forwarder keeps two batches in flight, so
two batches may interleave; the row id tells a subscriber the order), and the cursor passes
only what the broker acknowledged, through a broker restart in the middle of a window."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from daq.core.clock import Clock
from daq.core.reading import Reading
from daq.forwarder import Forwarder
from daq.journal import Journal
from daq.sinks.mqtt import MqttLink, MqttSink
from daq.sinks.settings import MqttSettings
from simulators.servers import free_tcp_port
from tests.services import Service, binary
from tests.services import _listening as listening

COUNT = 3000
BATCH = 500


@asynccontextmanager
async def sink_running(broker: Service, journal: Journal, in_flight: int) -> AsyncIterator[None]:
    settings = MqttSettings(
        host="127.0.0.1", port=broker.port, prefix="w", streams=["readings"], in_flight=in_flight
    )
    link = MqttLink(settings, "lab", Clock())
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(link.run(stop)),
        asyncio.create_task(Forwarder(journal, MqttSink(link, {}), BATCH).run(stop)),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def subscriber(broker: Service) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, identifier="w-test", clean_session=False)


async def received_values(broker: Service, until: int, seen: list[float]) -> None:
    """Reading values in the order they arrive, until ``until`` distinct ones came."""
    async with subscriber(broker) as c:
        await c.subscribe("w/lab/+/+/readings/#", qos=1)
        async with asyncio.timeout(20):
            async for message in c.messages:
                assert isinstance(message.payload, bytes)
                seen.append(json.loads(message.payload)["value"])
                if len(set(seen)) == until:
                    return


async def fill(journal: Journal, count: int) -> None:
    for n in range(count):
        journal.record(Reading("gauge-1", "pressure", float(n), "bar", 1.8e9 + n))
    await journal.flush()


async def test_fifty_in_flight_arrive_once_each_batch_in_order(
    tmp_path: Path, mosquitto: Service
) -> None:
    seen: list[float] = []
    async with Journal(tmp_path / "j.sqlite") as journal:
        await fill(journal, COUNT)
        listening = asyncio.create_task(received_values(mosquitto, COUNT, seen))
        await asyncio.sleep(0.3)  # subscribed before the first publish
        async with sink_running(mosquitto, journal, in_flight=50):
            await listening
            while await journal.cursor("mqtt", "readings") < COUNT:
                await asyncio.sleep(0.05)
    assert sorted(seen) == [float(n) for n in range(COUNT)]  # none lost, none twice
    for first in range(0, COUNT, BATCH):
        batch = [v for v in seen if first <= v < first + BATCH]
        assert batch == sorted(batch), f"batch from {first} out of order"


@pytest.fixture
def persistent_mosquitto(tmp_path: Path) -> Iterator[Service]:
    """A broker that keeps an absent subscriber's messages across its own restart."""
    exe = binary("mosquitto", "mosquitto")
    port = free_tcp_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
        f"persistence true\npersistence_location {tmp_path}/\n"
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"  # as root it would write as mosquitto
    )
    service = Service("mosquitto", [exe, "-c", str(conf)], port, listening, tmp_path).start()
    yield service
    service.stop()


async def test_a_broker_restart_mid_window_loses_nothing(
    tmp_path: Path, persistent_mosquitto: Service
) -> None:
    """The broker goes away with publishes unacknowledged: those batches are sent again. The
    subscriber's session is kept by the broker, so what it acknowledged reaches it."""
    broker = persistent_mosquitto
    async with subscriber(broker) as client:
        await client.subscribe("w/lab/+/+/readings/#", qos=1)
    seen: list[float] = []
    async with Journal(tmp_path / "j.sqlite") as journal:
        await fill(journal, COUNT)
        async with sink_running(broker, journal, in_flight=50):
            while not 0 < await journal.cursor("mqtt", "readings") < COUNT:
                await asyncio.sleep(0.001)
            broker.stop()
            broker.start()
            while await journal.cursor("mqtt", "readings") < COUNT:
                await asyncio.sleep(0.05)
        await received_values(broker, COUNT, seen)
    assert {int(v) for v in seen} == set(range(COUNT))
