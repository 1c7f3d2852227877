"""TLS options of the lab file: verification on unless a test says otherwise, files given as
absolute paths, options that cannot work refused with what to do; and the client context
made from them (certificates made by deploy/make-certificates.sh)."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from daq.config import ConfigError, parse_lab
from daq.sinks.mqtt import tls_context
from daq.sinks.settings import InfluxSettings, MqttSettings
from daq.sinks.tls import TlsError, client_context
from tests.conftest import lab_text
from tests.services import KEY_PASSWORD
from tests.services import certificates as certificates  # the fixture

KEY_ENV = "TEST_DAQ_KEY_PASSWORD"


def problems(tmp_path: Path, section: str, settings: dict[str, Any]) -> str:
    raw = lab_text(tmp_path) + f"{section}: {settings}\n".replace("'", '"')
    with pytest.raises(ConfigError) as caught:
        parse_lab(raw, "lab.yaml")
    return str(caught.value)


def test_defaults_verify() -> None:
    mqtt = MqttSettings(host="broker", tls=True)
    influx = InfluxSettings(url="https://influx:8086")
    assert not mqtt.tls_insecure_for_tests and not influx.tls_insecure_for_tests
    context = tls_context(mqtt)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("section", "settings", "message"),
    [
        ("mqtt", {"host": "b", "ca_file": "/etc/daq/ca.pem"}, "mqtt: ca_file: set tls: true"),
        (
            "mqtt",
            {"host": "b", "tls": True, "cert_file": "/etc/daq/bench.pem"},
            "mqtt: cert_file and key_file go together",
        ),
        (
            "mqtt",
            {"host": "b", "tls": True, "key_password_env": "X"},
            "mqtt: key_password_env is the passphrase of key_file",
        ),
        (
            "mqtt",
            {"host": "b", "tls": True, "ca_file": "certs/ca.pem"},
            "mqtt.ca_file: give an absolute path",
        ),
        (
            "influxdb",
            {"url": "http://influx:8086", "ca_file": "/etc/daq/ca.pem"},
            "influxdb: ca_file and tls_insecure_for_tests need an https:// url",
        ),
        (
            "influxdb",
            {"url": "https://i", "ca_file": "ca.pem"},
            "influxdb.ca_file: give an absolute path",
        ),
    ],
)
def test_unusable_options_refused(
    tmp_path: Path, section: str, settings: dict[str, Any], message: str
) -> None:
    assert message in problems(tmp_path, section, settings)


def test_options_are_validated_as_models() -> None:
    with pytest.raises(ValidationError, match="set tls: true"):
        MqttSettings(host="b", tls_insecure_for_tests=True)


def test_client_certificate_with_encrypted_key(
    certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = MqttSettings(
        host="b",
        tls=True,
        ca_file=certificates / "ca.pem",
        cert_file=certificates / "demo-lab" / "demo-lab.pem",
        key_file=certificates / "demo-lab" / "demo-lab.key",
        key_password_env=KEY_ENV,
    )
    with pytest.raises(TlsError, match=f"the environment variable {KEY_ENV} is not set"):
        tls_context(settings)  # and no passphrase prompt on the terminal
    monkeypatch.setenv(KEY_ENV, "not the passphrase")
    with pytest.raises(TlsError, match=r"mqtt\.key_file: cannot use .* a wrong passphrase"):
        tls_context(settings)
    monkeypatch.setenv(KEY_ENV, KEY_PASSWORD)
    context = tls_context(settings)
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "Test lab CA"),),)]


def test_key_not_the_certificates(certificates: Path) -> None:
    with pytest.raises(TlsError, match="the key is not the certificate's"):
        client_context(
            "mqtt",
            ca_file=None,
            cert_file=certificates / "observer" / "observer.pem",
            key_file=certificates / "other-lab" / "other-lab.key",
        )


def test_files_that_are_not_what_they_should_be(certificates: Path, tmp_path: Path) -> None:
    with pytest.raises(TlsError, match=r"mqtt\.ca_file: .*demo-lab\.key is not a PEM CA"):
        client_context("mqtt", ca_file=certificates / "demo-lab" / "demo-lab.key")
    with pytest.raises(TlsError, match=r"mqtt\.key_file: cannot read .*missing\.key: No such"):
        client_context(
            "mqtt",
            ca_file=None,
            cert_file=certificates / "observer" / "observer.pem",
            key_file=tmp_path / "missing.key",
        )


def test_insecure_is_loud(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "daq.tls"):
        context = tls_context(MqttSettings(host="b", tls=True, tls_insecure_for_tests=True))
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert "mqtt.tls_insecure_for_tests" in caplog.text and "NOT checked" in caplog.text
