"""Real servers for the streaming tests: mosquitto, VictoriaMetrics and InfluxDB 1.6 started
as processes on free loopback ports with temporary data folders, stoppable and restartable
at the same port. Outside CI a missing binary skips the test; in CI (CI=true) it fails."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulators.servers import free_tcp_port


def binary(name: str, package: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), None
    )
    if found is None:
        message = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class Service:
    name: str
    command: list[str]
    port: int
    ready: Callable[[Service], bool]
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Service:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            if self.ready(self):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def _listening(service: Service) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", service.port)) == 0


def _http_ok(path: str) -> Callable[[Service], bool]:
    def ready(service: Service) -> bool:
        try:
            with urllib.request.urlopen(service.url + path, timeout=1) as response:
                return bool(response.status < 300)
        except (urllib.error.URLError, OSError):
            return False

    return ready


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Service]:
    exe = binary("mosquitto", "mosquitto")
    port = free_tcp_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    service = Service("mosquitto", [exe, "-c", str(conf)], port, _listening, tmp_path).start()
    yield service
    service.stop()


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[Service]:
    exe = binary("victoria-metrics", "victoria-metrics")
    port = free_tcp_port()
    command = [
        exe,
        f"-storageDataPath={tmp_path / 'vm'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-dedup.minScrapeInterval=1ms",  # a replayed point is the same sample, not a second
        "-search.latencyOffset=0s",
        "-retentionPeriod=100y",
        "-loggerLevel=ERROR",
    ]
    service = Service("victoria-metrics", command, port, _http_ok("/health"), tmp_path).start()
    yield service
    service.stop()


@pytest.fixture
def influxdb_v1(tmp_path: Path) -> Iterator[Service]:
    exe = binary("influxd", "influxdb")
    port, rpc = free_tcp_port(), free_tcp_port()
    data = tmp_path / "influxdb"
    conf = tmp_path / "influxdb.conf"
    conf.write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc}"\n'
        f'[meta]\n  dir = "{data}/meta"\n'
        f'[data]\n  dir = "{data}/data"\n  wal-dir = "{data}/wal"\n  query-log-enabled = false\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n'
        "[monitor]\n  store-enabled = false\n"
    )
    service = Service("influxdb", [exe, "-config", str(conf)], port, _http_ok("/ping"), tmp_path)
    yield service.start()
    service.stop()


def _vm_export(service: Service, match: str) -> list[dict[str, Any]]:
    urllib.request.urlopen(service.url + "/internal/force_flush", timeout=10).close()
    query = urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(f"{service.url}/api/v1/export?{query}", timeout=10) as response:
        return [json.loads(line) for line in response.read().decode().splitlines() if line]


def vm_series(
    service: Service, match: str, samples: int = 1, timeout: float = 15
) -> list[dict[str, Any]]:
    """What VictoriaMetrics holds for ``match``, read through its export API, once at least
    ``samples`` samples are searchable (new series become so within about a second) and
    then a second longer, so that anything doubled would show too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        series = _vm_export(service, match)
        if sum(len(s["values"]) for s in series) >= samples:
            time.sleep(1.0)
            return _vm_export(service, match)
        time.sleep(0.2)
    return _vm_export(service, match)


def influx_query(service: Service, database: str, query: str) -> list[dict[str, Any]]:
    """The series of an InfluxQL query, through InfluxDB 1.x's own /query API."""
    params = urllib.parse.urlencode({"db": database, "q": query, "epoch": "ns"})
    with urllib.request.urlopen(f"{service.url}/query?{params}", timeout=10) as response:
        result = json.loads(response.read())["results"][0]
    series: list[dict[str, Any]] = result.get("series", [])
    return series
