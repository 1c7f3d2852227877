"""Fixtures starting real servers (see tests/services.py)."""

from tests.services import (
    certificates,
    influxdb_v1,
    mosquitto,
    nats_cluster,
    nats_server,
    secure_mosquitto,
    victoria_metrics,
    victoria_metrics_tls,
)

__all__ = [
    "certificates",
    "influxdb_v1",
    "mosquitto",
    "nats_cluster",
    "nats_server",
    "secure_mosquitto",
    "victoria_metrics",
    "victoria_metrics_tls",
]
