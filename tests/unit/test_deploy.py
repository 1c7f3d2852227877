"""The deployment stack stays consistent: compose file, the stack's lab file (the demo lab
plus sinks), Grafana provisioning and dashboards, the systemd unit."""

from __future__ import annotations

import json
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
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), source


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
