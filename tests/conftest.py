"""Shared fixtures: a lab file of simulated instruments on free ports and temporary ptys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    raw.pop("web", None)  # the console only where a test asks for it
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


@pytest.fixture
def installed_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Path]]:
    """Install a plugin distribution the way pip leaves one: a ``.dist-info`` folder with its
    entry points on the path (and its code, if given, beside it); gone after the test."""
    from daq.core import plugins

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    plugins._scan.cache_clear()

    def install(
        name: str, entry_points: str, files: dict[str, str] | None = None, version: str = "1.0"
    ) -> Path:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(entry_points)
        for relative, text in (files or {}).items():
            (site / relative).parent.mkdir(parents=True, exist_ok=True)
            (site / relative).write_text(text)
        plugins._scan.cache_clear()
        return site

    yield install
    plugins._scan.cache_clear()
