"""TLS for the outputs: one way to make the client context of MQTT and InfluxDB, so that the
server's certificate and host name are always checked (unless a test turns that off, loudly)
and a CA, certificate, key or passphrase that does not work is reported naming its field."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from daq.sinks.base import SinkError
from daq.sinks.settings import secret

log = logging.getLogger("daq.tls")


class TlsError(SinkError):
    """A CA, certificate or key named in the lab file cannot be used. Retried like a server
    that is away, so a file renewed or fixed is taken without restarting the agent."""


def _readable(field: str, path: Path) -> Path:
    """``path``, or a TlsError naming ``field`` (ssl's own errors name no file)."""
    try:
        with path.open("rb"):
            return path
    except OSError as exc:
        raise TlsError(f"{field}: cannot read {path}: {exc.strerror or exc}") from exc


def client_context(
    section: str,
    *,
    ca_file: Path | None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    key_password_env: str | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """A client context verifying the server against ``ca_file`` (else the system's CAs) and
    presenting ``cert_file`` with ``key_file`` if given. ``section`` is the lab-file section
    (``mqtt``, ``influxdb``) that errors name. Files are read now, on every connection."""
    try:
        cafile = str(_readable(f"{section}.ca_file", ca_file)) if ca_file else None
        context = ssl.create_default_context(cafile=cafile)
    except ssl.SSLError as exc:
        raise TlsError(
            f"{section}.ca_file: {ca_file} is not a PEM CA certificate ({exc.reason})"
        ) from exc
    if cert_file is not None:
        _readable(f"{section}.cert_file", cert_file)
        if key_file is not None:
            _readable(f"{section}.key_file", key_file)
        password = secret(key_password_env) or ""
        try:
            # a callable, never None: OpenSSL would otherwise ask on the terminal and block
            context.load_cert_chain(cert_file, key_file, password=lambda: password)
        except OSError as exc:
            hint = (
                f"the environment variable {key_password_env} is not set"
                if key_password_env and secret(key_password_env) is None
                else "a wrong passphrase (key_password_env), or the key is not the certificate's"
            )
            reason = getattr(exc, "reason", None) or exc.strerror or exc
            raise TlsError(
                f"{section}.key_file: cannot use {key_file} with {cert_file}: {hint} ({reason})"
            ) from exc
    if insecure:
        log.warning(
            "%s.tls_insecure_for_tests: the server's certificate and name are NOT checked; "
            "anyone on the path can read what is sent. Never use this outside tests.",
            section,
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
