"""The shipped broker configuration (deploy/mosquitto) run by the real mosquitto, paths and
ports substituted: nobody anonymous, TLS with client certificates from the lab's CA made by
deploy/make-certificates.sh, each agent kept in its own topic subtree by the ACL; and the
agent's MQTT link connecting to it with its certificate, encrypted key and password."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from daq.core.clock import Clock
from daq.journal.records import ReadingRow
from daq.sinks.base import Batch
from daq.sinks.mqtt import MqttLink, MqttSink
from daq.sinks.settings import MqttSettings
from tests.services import KEY_PASSWORD, SecureBroker

KEY_ENV = "TEST_DAQ_MQTT_KEY_PASSWORD"
PASSWORD_ENV = "TEST_DAQ_MQTT_PASSWORD"


def tls(certs: Path, client: str | None, password: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs / "ca.pem")
    if client is not None:
        pem, key = certs / client / f"{client}.pem", certs / client / f"{client}.key"
        context.load_cert_chain(pem, key, password=lambda: password or "")
    return context


def client(broker: SecureBroker, user: str | None, *, over_tls: bool = True) -> aiomqtt.Client:
    """A client as ``user`` (None: anonymous) with that user's certificate over TLS, or on
    the plain loopback listener."""
    key_password = KEY_PASSWORD if user == "demo-lab" else None
    return aiomqtt.Client(
        "127.0.0.1",
        broker.tls_port if over_tls else broker.service.port,
        username=user,
        password=broker.passwords.get(user or ""),
        identifier=f"test-{user}-{time.monotonic_ns()}",
        tls_context=tls(broker.certs, user, key_password) if over_tls and user else None,
        timeout=5,
    )


async def refused(connecting: aiomqtt.Client) -> str:
    with pytest.raises(aiomqtt.MqttError) as caught:
        async with connecting:
            pass
    return str(caught.value)


async def next_message(
    client: aiomqtt.Client, on: str = "", timeout: float = 15
) -> tuple[str, bytes]:
    """The next message (on topics ending with ``on``, if given)."""
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            if str(message.topic).endswith(on):
                return str(message.topic), message.payload
    raise AssertionError("the subscription ended")


async def test_shipped_config_refuses_anonymous_clients(secure_mosquitto: SecureBroker) -> None:
    broker = secure_mosquitto
    assert "Not authorized" in await refused(client(broker, None, over_tls=False))
    wrong = aiomqtt.Client("127.0.0.1", broker.service.port, username="demo-lab", password="x")
    assert "Not authorized" in await refused(wrong)
    # a valid client certificate is not enough: the user must log in too
    anonymous_tls = aiomqtt.Client(
        "127.0.0.1", broker.tls_port, tls_context=tls(broker.certs, "observer"), timeout=5
    )
    assert "Not authorized" in await refused(anonymous_tls)
    # the local client with its password gets in on the loopback listener
    async with client(broker, "observer", over_tls=False):
        pass


async def test_tls_listener_wants_a_client_certificate(secure_mosquitto: SecureBroker) -> None:
    broker = secure_mosquitto
    without_certificate = aiomqtt.Client(
        "127.0.0.1",
        broker.tls_port,
        username="observer",
        password=broker.passwords["observer"],
        tls_context=tls(broker.certs, None),
        timeout=3,  # under TLS 1.3 the broker's refusal comes after the handshake
    )
    await refused(without_certificate)
    deadline = time.monotonic() + 15
    while "peer did not return a certificate" not in broker.service.log.read_text():
        assert time.monotonic() < deadline, broker.service.log.read_text()
        await asyncio.sleep(0.05)
    async with client(broker, "observer"):  # the same with its certificate
        pass


async def test_acl_keeps_each_agent_in_its_own_subtree(secure_mosquitto: SecureBroker) -> None:
    """Ordered so that nothing needs a wait: a message the ACL let through would be queued
    before a later one, so each subscriber's next message is the proof."""
    broker = secure_mosquitto
    async with (
        client(broker, "observer") as observer,
        client(broker, "demo-lab") as demo,
        client(broker, "other-lab") as other,
    ):
        for subscriber in (observer, demo, other):
            await subscriber.subscribe("daq/#", qos=1)
        await demo.publish("daq/other-lab/agent/commands", b"forged", qos=1)
        await demo.publish("daq/demo-lab/agent/status", b"A", qos=1)
        assert await next_message(observer) == ("daq/demo-lab/agent/status", b"A")
        assert await next_message(demo) == ("daq/demo-lab/agent/status", b"A")
        await other.publish("daq/other-lab/agent/status", b"B", qos=1)
        assert await next_message(observer) == ("daq/other-lab/agent/status", b"B")
        # other-lab never heard the forged command, nor demo-lab's status
        assert await next_message(other) == ("daq/other-lab/agent/status", b"B")
        await demo.publish("daq/demo-lab/agent/status", b"C", qos=1)
        # demo-lab never heard other-lab's status
        assert await next_message(demo) == ("daq/demo-lab/agent/status", b"C")
        assert await next_message(observer) == ("daq/demo-lab/agent/status", b"C")
        # nor may a reader publish
        await observer.publish("daq/demo-lab/agent/commands", b"from the observer", qos=1)
        await demo.publish("daq/demo-lab/agent/status", b"D", qos=1)
        assert await next_message(demo) == ("daq/demo-lab/agent/status", b"D")


def link_settings(broker: SecureBroker, **changes: object) -> MqttSettings:
    settings = {
        "host": "127.0.0.1",
        "port": broker.tls_port,
        "prefix": "daq",
        "username": "demo-lab",
        "password_env": PASSWORD_ENV,
        "tls": True,
        "ca_file": broker.certs / "ca.pem",
        "cert_file": broker.certs / "demo-lab" / "demo-lab.pem",
        "key_file": broker.certs / "demo-lab" / "demo-lab.key",
        "key_password_env": KEY_ENV,
        "keepalive": 5,
    }
    return MqttSettings.model_validate({**settings, **changes})


@asynccontextmanager
async def running(link: MqttLink) -> AsyncIterator[asyncio.Queue[tuple[bool, str]]]:
    """The link running; yields its connection reports (up, detail) as they come."""
    reports: asyncio.Queue[tuple[bool, str]] = asyncio.Queue()
    link.on_connection = lambda up, detail: reports.put_nowait((up, detail))
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    try:
        yield reports
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def first_report(reports: asyncio.Queue[tuple[bool, str]]) -> tuple[bool, str]:
    return await asyncio.wait_for(reports.get(), 30)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, secure_mosquitto: SecureBroker) -> None:
    monkeypatch.setenv(PASSWORD_ENV, secure_mosquitto.passwords["demo-lab"])
    monkeypatch.setenv(KEY_ENV, KEY_PASSWORD)


@pytest.mark.usefixtures("secrets")
async def test_agent_link_streams_over_tls_with_its_certificate(
    secure_mosquitto: SecureBroker,
) -> None:
    broker = secure_mosquitto
    link = MqttLink(link_settings(broker), "demo-lab", Clock())
    sink = MqttSink(link, {"balance-1": "mass-bench"})
    async with client(broker, "observer", over_tls=False) as observer:
        await observer.subscribe("daq/demo-lab/#", qos=1)
        async with running(link) as reports:
            assert await first_report(reports) == (True, "")
            _, status = await next_message(observer, "/agent/status")
            assert json.loads(status)["state"] == "online"
            row = ReadingRow(
                7, "balance-1", "mass", 100.0012, "g", time.time(), "ok", "S S 100.0012 g"
            )
            await sink.write(Batch("readings", 7, 1, [row]))
            topic, reading = await next_message(observer, "/mass")
    assert topic == "daq/demo-lab/mass-bench/balance-1/readings/mass"
    assert json.loads(reading)["value"] == 100.0012


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"ca_file": None}, "CERTIFICATE_VERIFY_FAILED"),  # the system's CAs do not know it
        ({"key_password_env": "TEST_DAQ_UNSET"}, "TEST_DAQ_UNSET is not set"),
        ({"password_env": "TEST_DAQ_UNSET"}, "Not authorized"),  # a certificate is not enough
    ],
    ids=["broker-not-trusted", "key-locked", "no-password"],
)
async def test_agent_link_refused_says_why(
    secure_mosquitto: SecureBroker, changes: dict[str, object], detail: str
) -> None:
    link = MqttLink(link_settings(secure_mosquitto, **changes), "demo-lab", Clock())
    async with running(link) as reports:
        up, said = await first_report(reports)
    assert not up and detail in said
    assert not link.connected


@pytest.mark.usefixtures("secrets")
async def test_insecure_option_skips_verification(secure_mosquitto: SecureBroker) -> None:
    """The tests-only switch does what its name says: a broker nobody vouches for is taken."""
    settings = link_settings(secure_mosquitto, ca_file=None, tls_insecure_for_tests=True)
    link = MqttLink(settings, "demo-lab", Clock())
    async with running(link) as reports:
        assert await first_report(reports) == (True, "")


async def test_agent_shut_out_by_removing_its_acl_entry(secure_mosquitto: SecureBroker) -> None:
    """As the README says: the entry gone and the broker reloaded, a bench still connected
    can publish nothing."""
    broker = secure_mosquitto
    assert broker.service.process is not None
    async with client(broker, "observer") as observer, client(broker, "demo-lab") as demo:
        await observer.subscribe("daq/#", qos=1)
        await demo.publish("daq/demo-lab/agent/status", b"before", qos=1)
        assert await next_message(observer) == ("daq/demo-lab/agent/status", b"before")
        acl = broker.service.folder / "acl"
        acl.write_text(acl.read_text().replace("user demo-lab\n", "user nobody-now\n"))
        broker.service.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while "Reloading config" not in broker.service.log.read_text():
            assert time.monotonic() < deadline, broker.service.log.read_text()
            await asyncio.sleep(0.05)
        await demo.publish("daq/demo-lab/agent/status", b"after", qos=1)
        async with client(broker, "other-lab") as other:
            await other.publish("daq/other-lab/agent/status", b"marker", qos=1)
        assert await next_message(observer) == ("daq/other-lab/agent/status", b"marker")


async def test_link_takes_a_fixed_setup_without_restart(
    secure_mosquitto: SecureBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TLS files and passphrase are read at each connection: set the missing passphrase
    and the retrying link gets in."""
    monkeypatch.setenv(PASSWORD_ENV, secure_mosquitto.passwords["demo-lab"])
    link = MqttLink(link_settings(secure_mosquitto), "demo-lab", Clock())
    async with running(link) as reports:
        up, detail = await first_report(reports)
        assert not up and f"{KEY_ENV} is not set" in detail
        monkeypatch.setenv(KEY_ENV, KEY_PASSWORD)
        assert await first_report(reports) == (True, "")
