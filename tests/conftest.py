"""Shared fixtures: a lab file of simulated instruments on free ports and temporary ptys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from daq.config import LabConfig, default_lab_text, parse_lab
from simulators.servers import free_tcp_port

CONFIG = Path(__file__).parents[1] / "config"


def lab_text(
    tmp: Path,
    *,
    poll_interval: float = 1.0,
    simulators: dict[str, dict[str, object]] | None = None,
    standards: Path | None = None,
) -> str:
    """The embedded default lab, moved to free ports, paths under ``tmp``, its own journal;
    ``simulators`` updates instruments' simulator settings (to make a UUT fail)."""
    raw = yaml.safe_load(default_lab_text())
    raw["journal"] = {"path": str(tmp / "daq.sqlite"), "batch_interval": 0.1}
    raw["standards"] = str(standards or CONFIG / "standards.yaml")
    raw["plans"] = str(CONFIG / "plans")
    for bench in raw["benches"]:
        for instrument in bench["instruments"]:
            instrument["poll_interval"] = min(instrument.get("poll_interval", 1.0), poll_interval)
            connection = instrument["connection"]
            if connection["type"] == "visa":
                connection["resource"] = f"TCPIP::127.0.0.1::{free_tcp_port()}::SOCKET"
            elif connection["type"] in ("modbus_tcp", "tcp"):
                connection["port"] = free_tcp_port()
            elif "port" in connection:
                connection["port"] = str(tmp / "sim" / instrument["id"])
            instrument.setdefault("simulator", {}).update(
                (simulators or {}).get(instrument["id"], {})
            )
    return yaml.safe_dump(raw, sort_keys=False)


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(lab_text(tmp_path))
    return path


@pytest.fixture
def fast_lab(tmp_path: Path) -> LabConfig:
    """The demo lab polled every 0.1 s, journal in ``tmp_path``."""
    return parse_lab(lab_text(tmp_path, poll_interval=0.1), "fast-lab.yaml")
