"""Settings of the outputs, as written in the lab file. Secrets are never in the file: each
setting that needs one names the environment variable holding it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Stream = Literal["readings", "events", "points", "results"]
ALL_STREAMS: tuple[Stream, ...] = ("readings", "events", "points", "results")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def secret(variable: str | None) -> str | None:
    """The value of the environment variable a setting names (None when unset)."""
    return os.environ.get(variable) if variable else None


def _absolute(path: Path) -> Path:
    if not path.is_absolute():
        raise ValueError(
            f"give an absolute path, not {str(path)!r}: the agent runs in its own working "
            "directory, not the lab file's folder"
        )
    return path


AbsolutePath = Annotated[Path, AfterValidator(_absolute)]


class InfluxSettings(_Strict):
    url: str = Field(pattern=r"^https?://")
    api: Literal["v2", "v1"] = "v2"
    """v2: /api/v2/write (InfluxDB 2.x, 3.x, Cloud, 1.8+, VictoriaMetrics); v1: /write?db=
    for InfluxDB 1.x older than 1.8."""
    bucket: str = "daq"
    """v2 bucket (on InfluxDB 1.8+: database/retention-policy)."""
    org: str = "-"
    token_env: str | None = "DAQ_INFLUX_TOKEN"
    """Environment variable holding the API token (v2)."""
    database: str = "daq"
    """v1 database."""
    username_env: str | None = None
    password_env: str | None = None
    """v1: environment variables holding the user name and password, if auth is on."""
    batch_size: int = Field(5000, ge=1, le=100_000)
    timeout: float = Field(10.0, gt=0)
    streams: list[Stream] = Field(default_factory=lambda: list(ALL_STREAMS))
    ca_file: AbsolutePath | None = None
    """https: the CA certificate (PEM) the server's certificate must chain to, such as the
    lab's own (deploy/make-certificates.sh); none: the system's CAs. Always verified."""
    tls_insecure_for_tests: bool = False
    """https without checking the server's certificate or name, so anyone on the path can
    read the token. For tests only."""

    @model_validator(mode="after")
    def _tls_needs_https(self) -> InfluxSettings:
        if (self.ca_file or self.tls_insecure_for_tests) and not self.url.startswith("https:"):
            raise ValueError("ca_file and tls_insecure_for_tests need an https:// url")
        return self


def _key_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
        raise ValueError(
            f"{value!r} is not a key id: use up to 64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value


class CommandClient(_Strict):
    """A remote client (a person or a system) that may send commands, with its own key."""

    id: Annotated[str, AfterValidator(_key_id)]
    """The key id its commands name; recorded with everything they do."""
    name: str = Field("", max_length=100)
    """Who holds the key (a person, a LIMS), for the record."""
    secret_env: str | None = None
    """Environment variable holding its secret (at least 32 characters) ..."""
    secret_file: AbsolutePath | None = None
    """... or a file holding it, readable only by the service user."""

    @model_validator(mode="after")
    def _one_source(self) -> CommandClient:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError(
                f"key {self.id}: give exactly one of secret_env (an environment variable) or "
                "secret_file (a file); the secret itself never goes in the lab file"
            )
        return self


class CommandSettings(_Strict):
    enabled: bool = True
    clients: list[CommandClient] = Field(default_factory=list)
    """Who may send commands, each with a key of its own; with none, every command is
    refused."""
    window: float = Field(60.0, gt=0, le=3600)
    """Seconds a command's timestamp may be off the agent's clock (both set by NTP)."""
    rejections_per_minute: int = Field(20, ge=1, le=10_000)
    """Rejections recorded and answered one by one per minute and sender (unauthenticated
    ones share one budget); the rest are counted in one ``commands_rejected`` event."""

    @model_validator(mode="before")
    @classmethod
    def _no_token(cls, data: Any) -> Any:
        if isinstance(data, dict) and "token_env" in data:
            raise ValueError(
                "token_env is no longer used: commands are signed with a key per sender; "
                "replace it by clients: [{id: ..., secret_env: ...}] (docs/STREAMING.md)"
            )
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> CommandSettings:
        ids = [c.id for c in self.clients]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"key ids must be unique: {', '.join(twice)} listed twice")
        return self


class MqttSettings(_Strict):
    host: str
    port: int = Field(1883, ge=1, le=65535)
    prefix: str = Field("daq", pattern=r"^[^#+/][^#+]*$")
    client_id: str | None = None
    username: str | None = None
    password_env: str | None = None
    tls: bool = False
    """Connect to the broker's TLS listener (usually port 8883), which remote benches use."""
    ca_file: AbsolutePath | None = None
    """The CA certificate (PEM) the broker's certificate must chain to, such as the lab's own
    (deploy/make-certificates.sh); none: the system's CAs. Always verified, host name too."""
    cert_file: AbsolutePath | None = None
    """This client's certificate (PEM), signed by a CA the broker trusts."""
    key_file: AbsolutePath | None = None
    """Its private key (PEM), readable only by the service user."""
    key_password_env: str | None = None
    """Environment variable holding the passphrase of an encrypted key_file."""
    tls_insecure_for_tests: bool = False
    """TLS without checking the broker's certificate or name, so anyone on the path can read
    the password and the commands. For tests only."""
    qos: Literal[0, 1, 2] = 1
    keepalive: int = Field(30, ge=5, le=3600)
    batch_size: int = Field(1000, ge=1, le=100_000)
    in_flight: int = Field(20, ge=1, le=1000)
    """Publishes sent before the broker has acknowledged the first of them (QoS 1 and 2): one
    at a time waits a round trip per message (docs/PERFORMANCE.md)."""
    streams: list[Stream] = Field(default_factory=lambda: list(ALL_STREAMS))
    commands: CommandSettings = Field(default_factory=CommandSettings)

    @model_validator(mode="after")
    def _tls_options(self) -> MqttSettings:
        tls_only = ["ca_file", "cert_file", "key_file", "key_password_env"]
        given = [n for n in (*tls_only, "tls_insecure_for_tests") if getattr(self, n)]
        if given and not self.tls:
            raise ValueError(f"{', '.join(given)}: set tls: true to use them")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        if self.key_password_env and self.key_file is None:
            raise ValueError("key_password_env is the passphrase of key_file: give key_file")
        return self


def _host_name() -> str:
    """The host's name as an id: the default agent id of a fleet."""
    import socket

    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]).strip("-")
    return name[:64] or "agent"


class NatsSettings(_Strict):
    """A NATS JetStream server or cluster the agent publishes to (a ``sinks:`` entry of type
    ``nats``), and what the central archive and ``daq fleet status`` connect with."""

    servers: list[Annotated[str, Field(pattern=r"^(nats|tls)://")]] = Field(min_length=1)
    """Every node of the cluster the client may use, e.g. nats://nats-1:4222."""
    agent_id: str = Field(default_factory=_host_name, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    """This agent's id in the fleet (default: the host name); the server lets it publish
    only under its own lab and this id."""
    prefix: str = Field("daq", pattern=r"^[A-Za-z0-9_-]+$")
    stream: str = Field("DAQ", pattern=r"^[A-Za-z0-9_-]+$")
    """The JetStream stream the fleet's subjects go to (made by the central side)."""
    status_bucket: str = Field("daq_fleet", pattern=r"^[A-Za-z0-9_-]+$")
    """The key-value bucket agents keep their status in, for ``daq fleet status``."""
    status_interval: float = Field(15.0, gt=0, le=3600)
    """Seconds between status updates."""
    user: str | None = None
    password_env: str | None = None
    """Environment variable holding the password of ``user``."""
    nkey_seed_file: AbsolutePath | None = None
    """A file holding this agent's NKey seed (readable only by the service user) ..."""
    creds_file: AbsolutePath | None = None
    """... or a credentials file (JWT and seed, decentralised auth)."""
    tls: bool = False
    ca_file: AbsolutePath | None = None
    cert_file: AbsolutePath | None = None
    key_file: AbsolutePath | None = None
    timeout: float = Field(10.0, gt=0, le=300)
    """Seconds to wait for the stream's acknowledgement of a batch."""
    batch_size: int = Field(1000, ge=1, le=100_000)
    streams: list[Stream] = Field(default_factory=lambda: list(ALL_STREAMS))

    @model_validator(mode="after")
    def _one_way_in(self) -> NatsSettings:
        ways = [n for n in ("user", "nkey_seed_file", "creds_file") if getattr(self, n)]
        if len(ways) > 1:
            raise ValueError(f"{' and '.join(ways)}: give one way to authenticate")
        if self.password_env and not self.user:
            raise ValueError("password_env is the password of user: give user")
        tls_files = [n for n in ("ca_file", "cert_file", "key_file") if getattr(self, n)]
        if tls_files and not self.tls:
            raise ValueError(f"{', '.join(tls_files)}: set tls: true to use them")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        return self
