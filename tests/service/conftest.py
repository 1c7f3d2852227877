"""Fixtures starting real servers (see tests/services.py)."""

from tests.services import influxdb_v1, mosquitto, victoria_metrics

__all__ = ["influxdb_v1", "mosquitto", "victoria_metrics"]
