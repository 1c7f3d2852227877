"""Settings of the outputs, as written in the lab file. Secrets are never in the file: each
setting that needs one names the environment variable holding it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Stream = Literal["readings", "events", "points", "results"]
ALL_STREAMS: tuple[Stream, ...] = ("readings", "events", "points", "results")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def secret(variable: str | None) -> str | None:
    """The value of the environment variable a setting names (None when unset)."""
    return os.environ.get(variable) if variable else None


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


class CommandSettings(_Strict):
    enabled: bool = True
    token_env: str = "DAQ_COMMAND_TOKEN"
    """Environment variable holding the token every command must carry; without it set,
    every command is refused."""


class MqttSettings(_Strict):
    host: str
    port: int = Field(1883, ge=1, le=65535)
    prefix: str = Field("daq", pattern=r"^[^#+/][^#+]*$")
    client_id: str | None = None
    username: str | None = None
    password_env: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    qos: Literal[0, 1, 2] = 1
    keepalive: int = Field(30, ge=5, le=3600)
    batch_size: int = Field(1000, ge=1, le=100_000)
    streams: list[Stream] = Field(default_factory=lambda: list(ALL_STREAMS))
    commands: CommandSettings = Field(default_factory=CommandSettings)
