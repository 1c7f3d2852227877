"""The deployment stack stays consistent and secure by default: compose file (ports on the
loopback unless changed), the broker's configuration and ACL, the stack's lab file (the demo
lab plus sinks, reaching the broker as a remote bench does), Grafana provisioning and
dashboards, the systemd unit. tests/service/test_secure_broker.py runs the broker's
configuration in the real mosquitto."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from daq.config import load_lab

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"


def test_compose_runs_the_agent_with_its_servers() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"agent", "mosquitto", "influxdb", "grafana"}
    assert services["agent"]["command"][:2] == ["daq", "agent"]
    assert "DAQ_INFLUX_TOKEN" in services["agent"]["environment"]
    for mount in services["grafana"]["volumes"] + services["mosquitto"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./certs/"):  # made by make-certificates.sh, never shipped
            assert source in ("./certs/broker", "./certs/demo-lab"), source
        elif source.startswith("./"):
            assert (DEPLOY / source).exists(), source


def test_compose_publishes_on_the_loopback_unless_changed() -> None:
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    example = (DEPLOY / ".env.example").read_text()
    published = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            found = re.fullmatch(r"\$\{(\w+):-127\.0\.0\.1\}:(\d+):\d+", port)
            assert found, f"{name}: {port} is not bound to 127.0.0.1 by default"
            assert f"\n{found[1]}=127.0.0.1\n" in example, found[1]
            published[name] = int(found[2])
    assert published == {"mosquitto": 8883, "influxdb": 8086, "grafana": 3000}


def test_every_compose_variable_is_in_the_example() -> None:
    compose = (DEPLOY / "docker-compose.yml").read_text()
    example = (DEPLOY / ".env.example").read_text()
    for variable in set(re.findall(r"\$\{(\w+)", compose)):
        assert re.search(rf"^{variable}=", example, re.MULTILINE), variable


def broker_config() -> dict[str, list[str]]:
    """mosquitto.conf as option -> values, in order (``listener`` starts a listener's part)."""
    options: dict[str, list[str]] = {}
    for line in (DEPLOY / "mosquitto/mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            option, _, value = line.partition(" ")
            options.setdefault(option, []).append(value)
    return options


def test_broker_wants_passwords_and_certificates() -> None:
    options = broker_config()
    assert options["allow_anonymous"] == ["false"]
    assert options["per_listener_settings"] == ["false"]  # passwords and ACL on every listener
    assert options["password_file"] == ["/mosquitto/config/passwd"]
    assert options["acl_file"] == ["/mosquitto/config/acl"]
    assert options["listener"] == ["1883 127.0.0.1", "8883"]
    assert options["require_certificate"] == ["true"]
    assert [options[o] for o in ("cafile", "certfile", "keyfile")] == [
        ["/mosquitto/certs/ca.pem"],
        ["/mosquitto/certs/broker.pem"],
        ["/mosquitto/certs/broker.key"],
    ]
    assert "use_identity_as_username" not in options  # the certificate and the password


def acl_entries() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    user = ""
    for line in (DEPLOY / "mosquitto/acl").read_text().splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            user = words[1]
        elif words[:1] in (["topic"], ["pattern"]):
            entries.setdefault(user, []).append(" ".join(words[1:]))
    return entries


def test_acl_keeps_each_agent_in_its_own_subtree() -> None:
    assert acl_entries() == {"demo-lab": ["readwrite daq/demo-lab/#"]}


def test_stack_agent_reaches_the_broker_as_a_remote_bench() -> None:
    lab = load_lab(DEPLOY / "lab.yaml")
    mqtt = lab.mqtt
    assert mqtt is not None and mqtt.tls and mqtt.port == 8883
    assert not mqtt.tls_insecure_for_tests
    assert mqtt.username == lab.lab.id and f"{mqtt.prefix}/{lab.lab.id}/#" in str(acl_entries())
    agent = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["agent"]
    assert f"./certs/{mqtt.username}:/config/tls:ro" in [v.split(" ")[0] for v in agent["volumes"]]
    assert (mqtt.ca_file, mqtt.cert_file, mqtt.key_file) == (
        Path("/config/tls/ca.pem"),
        Path(f"/config/tls/{mqtt.username}.pem"),
        Path(f"/config/tls/{mqtt.username}.key"),
    )
    raw = (DEPLOY / "lab.yaml").read_text()
    for variable in re.findall(r"_env: (\w+)", raw):
        assert variable in agent["environment"], variable


def test_certificate_script_is_executable() -> None:
    assert os.access(DEPLOY / "make-certificates.sh", os.X_OK)


def test_stack_lab_is_the_demo_lab_with_sinks() -> None:
    stack = load_lab(DEPLOY / "lab.yaml")
    demo = load_lab(ROOT / "config" / "lab.yaml")
    assert stack.benches == demo.benches
    assert stack.influxdb is not None and stack.influxdb.url == "http://influxdb:8086"
    assert stack.mqtt is not None and stack.mqtt.host == "mosquitto"
    instruments = {i.id for _, i in stack.instruments()}
    assert {a.instrument for a in stack.alarms} <= instruments


def test_dashboards_use_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/influxdb.yaml").read_text()
    )["datasources"][0]
    titles = set()
    for file in (DEPLOY / "grafana/dashboards").glob("*.json"):
        dashboard = json.loads(file.read_text())
        titles.add(dashboard["title"])
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"], file.name
            assert 'from(bucket: "daq")' in panel["targets"][0]["query"]
    assert titles == {
        "Live readings",
        "Standards: drift and due dates",
        "Calibration runs",
        "Out-of-tolerance events",
    }


def test_systemd_unit_runs_the_agent() -> None:
    unit = (DEPLOY / "systemd/daq-agent.service").read_text()
    assert "ExecStart=/opt/benchdaq/bin/daq agent --lab /etc/daq/lab.yaml" in unit
    assert "KillSignal=SIGTERM" in unit


FLEET = DEPLOY / "fleet"


def test_the_fleets_central_side_has_three_nodes_two_archives_and_its_store() -> None:
    compose = yaml.safe_load((FLEET / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"nats-1", "nats-2", "nats-3", "archive-1", "archive-2",
                             "influxdb", "grafana"}  # fmt: skip
    routes = {
        name: {services[name]["environment"][k] for k in ("NATS_ROUTE_A", "NATS_ROUTE_B")}
        for name in ("nats-1", "nats-2", "nats-3")
    }
    for name, found in routes.items():  # each node routes to the two others
        others = {f"nats-route://{n}:6222" for n in routes if n != name}
        assert found == others, name
    for name in ("archive-1", "archive-2"):
        assert services[name]["command"] == ["daq", "archive", "/config/archive.yaml"]
    example = (FLEET / ".env.example").read_text()
    text = (FLEET / "compose.yaml").read_text()
    for variable in set(re.findall(r"\$\{(\w+)", text)):
        assert re.search(rf"^{variable}=", example, re.MULTILINE), variable
    for name, service in services.items():
        for port in service.get("ports", []):
            assert re.fullmatch(r"\$\{\w+:-127\.0\.0\.1\}:\d+:\d+", port), (name, port)
    for source in ("./nats.conf", "./auth.conf", "./archive.yaml", "./grafana"):
        assert (FLEET / source).exists(), source


def test_the_archive_and_agent_files_are_valid() -> None:
    from daq.archive import load_settings
    from daq.sinks.settings import NatsSettings

    archive = load_settings(FLEET / "archive.yaml")
    assert archive.replicas == 3 and len(archive.nats.servers) == 3
    lab = load_lab(FLEET / "agent-lab.yaml")
    [sink] = lab.sinks
    settings = NatsSettings.model_validate(sink.settings)
    assert (sink.type, settings.agent_id, settings.user) == ("nats", "bench-pc-1",
                                                             "lab-a.bench-pc-1")  # fmt: skip


def test_an_agent_may_publish_only_under_its_own_lab_and_id() -> None:
    auth = (FLEET / "auth.conf").read_text()
    checked = []
    for block in auth.split("\n    {\n")[1:]:  # its own replies only: never another's deliveries
        user = re.search(r"user: ([\w.-]+)", block)
        assert user is not None
        if user[1] != "archive":
            assert f'subscribe: {{ allow: ["_INBOX.{user[1]}.>"] }}' in block, user[1]
            checked.append(user[1])
    assert checked == ["observer", "lab-a.bench-pc-1"]
    for user, allowed in re.findall(
        r"user: (lab-[\w-]+\.[\w-]+)\n.*?publish: \{ allow: \[(.*?)\] \}", auth, re.S
    ):
        lab, agent = user.split(".", 1)
        subjects = [s.strip().strip('"') for s in allowed.replace("\n", " ").split(",")]
        assert subjects == [f"daq.{lab}.{agent}.>", f"$KV.daq_fleet.{lab}.{agent}",
                            "$JS.API.STREAM.INFO.KV_daq_fleet"]  # fmt: skip


def test_the_fleet_dashboard_uses_the_provisioned_datasource() -> None:
    dashboard = json.loads((FLEET / "grafana" / "fleet.json").read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "daq-influxdb"
        assert 'from(bucket: "daq")' in panel["targets"][0]["query"]
