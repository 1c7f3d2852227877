"""Real servers for the streaming tests: mosquitto, VictoriaMetrics and InfluxDB 1.6 started
as processes on free loopback ports with temporary data folders, stoppable and restartable
at the same port. Outside CI a missing binary skips the test; in CI (CI=true) it fails."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
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
    scheme: str = "http"
    context: ssl.SSLContext | None = None
    """What a client trusts to reach an https service (the lab's CA)."""
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

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
            with urllib.request.urlopen(
                service.url + path, timeout=1, context=service.context
            ) as response:
                return bool(response.status < 300)
        except (urllib.error.URLError, OSError):
            return False

    return ready


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Service]:
    exe = binary("mosquitto", "mosquitto")
    port = free_tcp_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 100000\nset_tcp_nodelay true\n"  # as deploy/mosquitto
    )
    service = Service("mosquitto", [exe, "-c", str(conf)], port, _listening, tmp_path).start()
    yield service
    service.stop()


DEPLOY = Path(__file__).parents[1] / "deploy"
KEY_PASSWORD = "passphrase of the agent's key"
"""The demo-lab client key is encrypted with this (the others are not)."""


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    """A lab's CA (ca.pem), a server certificate for localhost and 127.0.0.1 (broker/) and the
    client certificates demo-lab (its key encrypted with KEY_PASSWORD), other-lab and
    observer (NAME/NAME.pem, NAME/NAME.key), made by the shipped deploy/make-certificates.sh."""
    binary("openssl", "openssl")
    folder = tmp_path / "certs"
    env = {**os.environ, "CERTS_DIR": str(folder)}
    script = str(DEPLOY / "make-certificates.sh")
    for args, extra in (
        (["ca", "Test lab"], {}),
        (["broker", "localhost", "127.0.0.1"], {}),
        (["client", "demo-lab"], {"KEY_PASSWORD": KEY_PASSWORD}),
        (["client", "observer"], {}),
        (["client", "other-lab"], {}),
    ):
        subprocess.run([script, *args], env={**env, **extra}, check=True, capture_output=True)
    return folder


@dataclass
class SecureBroker:
    """mosquitto with the shipped deploy/mosquitto configuration: ``service.port`` is the plain
    loopback listener, ``tls_port`` the TLS listener that wants client certificates."""

    service: Service
    tls_port: int
    certs: Path
    passwords: dict[str, str]
    """User -> password: demo-lab (the shipped ACL's agent), other-lab (an agent added as the
    README says) and observer (reads daq/#)."""


def _substituted(text: str, substitutions: dict[str, str]) -> str:
    for old, new in substitutions.items():
        if old not in text:
            raise AssertionError(f"the shipped configuration has no {old!r} any more")
        text = text.replace(old, new)
    return text


@pytest.fixture
def secure_mosquitto(tmp_path: Path, certificates: Path) -> Iterator[SecureBroker]:
    exe = binary("mosquitto", "mosquitto")
    passwd = binary("mosquitto_passwd", "mosquitto")
    plain, tls = free_tcp_port(), free_tcp_port()
    passwords = {user: f"{user} password" for user in ("demo-lab", "other-lab", "observer")}
    (tmp_path / "passwd").touch()
    for user, password in passwords.items():
        subprocess.run([passwd, "-b", str(tmp_path / "passwd"), user, password], check=True)
    acl = (DEPLOY / "mosquitto" / "acl").read_text()
    added = "user other-lab\ntopic readwrite daq/other-lab/#\nuser observer\ntopic read daq/#\n"
    (tmp_path / "acl").write_text(f"{acl}\n{added}")
    (tmp_path / "data").mkdir()
    shipped = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = _substituted(
        shipped,
        {
            "/mosquitto/config/": f"{tmp_path}/",
            "/mosquitto/certs/": f"{certificates}/broker/",
            "/mosquitto/data/": f"{tmp_path}/data/",
            "listener 1883 127.0.0.1\n": f"listener {plain} 127.0.0.1\n",
            "listener 8883\n": f"listener {tls} 127.0.0.1\n",
        },
    )
    # as root, mosquitto would read the key and password file as the mosquitto user
    conf += f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    service = Service(
        "mosquitto", [exe, "-c", str(tmp_path / "mosquitto.conf")], plain, _listening, tmp_path
    )
    yield SecureBroker(service.start(), tls, certificates, passwords)
    service.stop()


@pytest.fixture
def victoria_metrics_tls(tmp_path: Path, certificates: Path) -> Iterator[Service]:
    """VictoriaMetrics serving https only, with the lab CA's server certificate."""
    service = victoria_metrics_service(
        tmp_path,
        "-tls",
        f"-tlsCertFile={certificates / 'broker' / 'broker.pem'}",
        f"-tlsKeyFile={certificates / 'broker' / 'broker.key'}",
    )
    service.scheme = "https"
    service.context = ssl.create_default_context(cafile=certificates / "ca.pem")
    yield service.start()
    service.stop()


def victoria_metrics_service(folder: Path, *flags: str) -> Service:
    """VictoriaMetrics with its data in ``folder``, not started; ``flags`` are added to the
    command line (a server configured as some lab's is)."""
    exe = binary("victoria-metrics", "victoria-metrics")
    port = free_tcp_port()
    command = [
        exe,
        f"-storageDataPath={folder / 'vm'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-dedup.minScrapeInterval=1ms",  # a replayed point is the same sample, not a second
        "-search.latencyOffset=0s",
        "-retentionPeriod=100y",
        "-loggerLevel=ERROR",
        *flags,
    ]
    return Service("victoria-metrics", command, port, _http_ok("/health"), folder)


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[Service]:
    service = victoria_metrics_service(tmp_path).start()
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
    flush, context = service.url + "/internal/force_flush", service.context
    urllib.request.urlopen(flush, timeout=10, context=context).close()
    query = urllib.parse.urlencode({"match[]": match})
    export = f"{service.url}/api/v1/export?{query}"
    with urllib.request.urlopen(export, timeout=10, context=context) as response:
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


FLEET = DEPLOY / "fleet"


def agent_user(lab: str, agent: str, password: str) -> str:
    """An agent's entry in the shipped deploy/fleet/auth.conf, as its comment says to add it."""
    shipped = (FLEET / "auth.conf").read_text()
    start = shipped.index("    {\n      user: lab-a.bench-pc-1")
    end = shipped.index("\n    }\n", shipped.index("subscribe", start)) + len("\n    }\n")
    block = shipped[start:end]
    return _substituted(
        block,
        {
            "user: lab-a.bench-pc-1": f"user: {lab}.{agent}",
            "$AGENT_LAB_A_BENCH_PC_1_PASSWORD": f'"{password}"',
            "daq.lab-a.bench-pc-1.>": f"daq.{lab}.{agent}.>",
            "$KV.daq_fleet.lab-a.bench-pc-1": f"$KV.daq_fleet.{lab}.{agent}",
            "_INBOX.lab-a.bench-pc-1.>": f"_INBOX.{lab}.{agent}.>",
        },
    )


@dataclass
class NatsCluster:
    """nats-server nodes with the shipped deploy/fleet configuration on loopback; a node can
    be stopped and started again on its ports with its JetStream folder."""

    nodes: list[Service]
    passwords: dict[str, str]
    """User -> password: archive, observer and each agent added (``<lab>.<agent>``)."""

    @property
    def servers(self) -> list[str]:
        return [f"nats://127.0.0.1:{node.port}" for node in self.nodes]


def nats_cluster_service(
    folder: Path,
    size: int,
    agents: list[tuple[str, str]],
    nkey_agents: Sequence[tuple[str, str, str]] = (),
    certificates: Path | None = None,
) -> NatsCluster:
    """``size`` nodes (1: without the cluster block), with users for ``agents`` (lab, agent)
    and NKey users for ``nkey_agents`` (lab, agent, public key); with ``certificates`` (the
    fixture's folder) clients connect over TLS and must present a certificate of its CA."""
    exe = binary("nats-server", "nats-server")
    # a value from the environment is read as configuration: no spaces in these
    passwords = {"archive": "archive-secret", "observer": "observer-secret",
                 "lab-a.bench-pc-1": "lab-a-bench-pc-1-secret"}  # fmt: skip
    passwords |= {f"{lab}.{agent}": f"{lab}-{agent}-secret" for lab, agent in agents}
    auth = (FLEET / "auth.conf").read_text()
    extra = "".join(agent_user(lab, agent, passwords[f"{lab}.{agent}"]) for lab, agent in agents)
    for lab, agent, public in nkey_agents:  # the same permissions, an NKey instead of a password
        block = agent_user(lab, agent, "-")
        extra += block.replace(f"user: {lab}.{agent}\n", f"nkey: {public}\n").replace(
            '      password: "-"\n', ""
        )
    end = auth.rindex("  ]\n}")
    (folder / "auth.conf").write_text(auth[:end] + extra + auth[end:])
    conf = (FLEET / "nats.conf").read_text()
    if size == 1:
        start = conf.index("cluster {")
        conf = conf[:start] + conf[conf.index("}\n", start) + 2 :]
    if certificates is not None:
        broker = certificates / "broker"
        conf += (
            f'tls {{\n  cert_file: "{broker / "broker.pem"}"\n'
            f'  key_file: "{broker / "broker.key"}"\n'
            f'  ca_file: "{certificates / "ca.pem"}"\n  verify: true\n}}\n'
        )
    (folder / "nats.conf").write_text(conf)
    clients = [free_tcp_port() for _ in range(size)]
    routes = [free_tcp_port() for _ in range(size)]
    nodes = []
    for i in range(size):
        others = [f"nats-route://127.0.0.1:{routes[j]}" for j in range(size) if j != i]
        env = {
            "NATS_NAME": f"nats-{i + 1}",
            "NATS_LISTEN": f"127.0.0.1:{clients[i]}",
            "NATS_CLUSTER": f"127.0.0.1:{routes[i]}",
            "NATS_ROUTE_A": others[0] if others else "",
            "NATS_ROUTE_B": others[1] if len(others) > 1 else "",
            "NATS_STORE": str(folder / f"store-{i + 1}"),
            "ARCHIVE_PASSWORD": passwords["archive"],
            "OBSERVER_PASSWORD": passwords["observer"],
            "AGENT_LAB_A_BENCH_PC_1_PASSWORD": passwords["lab-a.bench-pc-1"],
        }
        command = [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            exe,
            "-c",
            str(folder / "nats.conf"),
        ]
        node = Service(f"nats-{i + 1}", command, clients[i], _listening, folder)
        nodes.append(node)
    for node in nodes:
        node.start()
    return NatsCluster(nodes, passwords)


FLEET_AGENTS = [("lab-b", "bench-pc-1"), ("demo-lab", "bench-pc-9")]
"""Agents added to the shipped one (lab-a, bench-pc-1)."""


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsCluster]:
    """One node with JetStream and the shipped permissions (and the agents of FLEET_AGENTS)."""
    cluster = nats_cluster_service(tmp_path, 1, FLEET_AGENTS)
    yield cluster
    for node in cluster.nodes:
        node.stop()


FLEET_OF_20 = [(f"lab-{i % 4 + 1}", f"bench-pc-{i + 1}") for i in range(20)]
"""Twenty agents of four labs."""


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nodes with JetStream, clustered, with the agents of FLEET_OF_20."""
    cluster = nats_cluster_service(tmp_path, 3, FLEET_OF_20)
    yield cluster
    for node in cluster.nodes:
        node.stop()
