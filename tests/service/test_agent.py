"""`daq agent` as a user runs it, against real mosquitto and VictoriaMetrics processes:
retained status and last will, live readings, signed commands (accepted, malformed,
unauthenticated), a run started and finished remotely, broker restart, kill -9 of the
agent."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

from daq.commands import UNAUTHENTICATED, sign
from tests.conftest import lab_text
from tests.e2e.processes import DAQ, run
from tests.services import Service, vm_series

KEY = "bench-tester"
SECRET = "7f3c0a9e51b24d68a0c1e2f3b4a5968778695a4b3c2d1e0f"
SECRET_ENV = "DAQ_TEST_COMMAND_SECRET"
CLIENTS = [{"id": KEY, "name": "Test Bench", "secret_env": SECRET_ENV}]
PREFIX = "labs"


def agent_lab(tmp: Path, broker: Service, metrics: Service | None = None) -> Path:
    raw = yaml.safe_load(lab_text(tmp, poll_interval=0.2))
    raw["mqtt"] = {
        "host": "127.0.0.1",
        "port": broker.port,
        "prefix": PREFIX,
        "keepalive": 5,
        "commands": {"clients": CLIENTS},
    }
    if metrics is not None:
        raw["influxdb"] = {"url": metrics.url, "batch_size": 1000}
    raw["alarms"] = [
        {
            "id": "balance-drift",
            "kind": "drift",
            "instrument": "balance-1",
            "quantity": "mass",
            "reference": 100.0,
            "limit": 0.01,
        }
    ]
    path = tmp / "lab.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def start_agent(tmp: Path, lab: Path) -> subprocess.Popen[str]:
    env = {**os.environ, SECRET_ENV: SECRET, "COLUMNS": "200"}
    return subprocess.Popen(
        [*DAQ, "agent", "--lab", str(lab), "--simulate", "--time-scale", "5"],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@asynccontextmanager
async def subscriber(broker: Service, *topics: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"test-{time.monotonic_ns()}"
    ) as client:
        for topic in topics:
            await client.subscribe(f"{PREFIX}/demo-lab/{topic}", qos=1)
        yield client


async def until(client: aiomqtt.Client, match: Any, timeout: float = 30) -> tuple[str, Any]:
    """The first message whose (topic, payload) satisfies ``match``."""
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            try:
                payload = json.loads(message.payload) if message.payload else {}
            except json.JSONDecodeError:
                continue  # our own malformed command, heard back on "#"
            if isinstance(payload, dict) and match(str(message.topic), payload):
                return str(message.topic), payload
    raise AssertionError("unreachable")


async def committed(journal: Path, kind: str, count: int, timeout: float = 30) -> None:
    """Wait until the agent has committed ``count`` events of ``kind`` to its journal."""
    async with asyncio.timeout(timeout):
        while True:
            db = sqlite3.connect(journal)
            (seen,) = db.execute("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,)).fetchone()
            db.close()
            if seen >= count:
                return
            await asyncio.sleep(0.1)


def signed(body: dict[str, Any], secret: str = SECRET, key: str = KEY) -> dict[str, Any]:
    """``body`` as a client sends it: key id, timestamp, nonce and MAC added."""
    return sign(body, key, secret.encode(), time.time(), to="demo-lab")


async def command(
    client: aiomqtt.Client, body: dict[str, Any] | bytes, secret: str = SECRET
) -> dict[str, Any]:
    """Publish a command (a dict is signed first, unless it has its MAC); its reply."""
    if isinstance(body, dict) and "mac" not in body:
        body = signed(body, secret)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    await client.publish(f"{PREFIX}/demo-lab/agent/commands", data, qos=1)
    wanted = None if isinstance(body, bytes) else body.get("id")
    _, reply = await until(
        client, lambda t, p: t.endswith("agent/replies") and p.get("id") == wanted
    )
    return reply


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, as systemd stops the agent; it must exit cleanly (killed if it does not)."""
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, out + err
    return out + err


async def test_agent_streams_takes_commands_and_runs_a_plan(
    tmp_path: Path, mosquitto: Service, victoria_metrics: Service
) -> None:
    lab = agent_lab(tmp_path, mosquitto, victoria_metrics)
    process = start_agent(tmp_path, lab)
    try:
        async with subscriber(mosquitto, "#") as client:
            await until(client, lambda t, p: t.endswith("agent/status") and p["state"] == "online")
            topic, reading = await until(client, lambda t, p: "/readings/" in t)
            bench, instrument = topic.split("/")[2:4]
            assert reading["instrument"] == instrument and isinstance(reading["id"], int)
            assert bench in ("mass-bench", "temperature-bench", "pressure-bench")

            rejected = await command(client, b"{not json")
            assert rejected == {
                "id": None,
                "command": None,
                "accepted": False,
                "reason": UNAUTHENTICATED,
            }
            bad = await command(client, {"id": "c1", "command": "start_run", "plan": "../x"})
            assert (
                bad["accepted"] is False
                and "malformed" in bad["reason"]
                and "plan" in bad["reason"]
            )
            intruder = await command(
                client, {"id": "c2", "command": "start_run", "plan": "balance"}, "guess" * 8
            )
            assert intruder == {
                "id": "c2",
                "command": None,
                "accepted": False,
                "reason": UNAUTHENTICATED,
            }
            unknown = await command(client, {"id": "c3", "command": "start_run", "plan": "nope"})
            assert unknown["accepted"] is False and "no plan 'nope'" in unknown["reason"]
            assert "/" not in unknown["reason"]  # the plan is named, never a file path

            started = await command(
                client, {"id": "c4", "command": "start_run", "plan": "balance", "by": "J. Doe"}
            )
            assert started["accepted"] is True, started
            run_id = started["run"]
            busy = await command(client, {"id": "c5", "command": "start_run", "plan": "balance"})
            assert busy["accepted"] is False and run_id in busy["reason"]
            _, result = await until(
                client, lambda t, p: t.endswith(f"runs/{run_id}/result"), timeout=90
            )
            assert result["status"] == "completed" and result["conforms"] is True
            assert result["failures"] == 0
        healthy = run("status", "--check", "--lab", str(lab), cwd=tmp_path)
        assert (healthy.returncode, healthy.stdout.strip()) == (0, "healthy"), healthy.stdout
    finally:
        output = stop(process)
    assert "agent stopped" in output
    db = sqlite3.connect(tmp_path / "daq.sqlite")
    kinds = [k for (k,) in db.execute("SELECT kind FROM events")]
    assert kinds.count("command_rejected") == 5 and kinds.count("command_accepted") == 1
    ((message, event_run),) = db.execute(
        "SELECT message, run FROM events WHERE kind = 'command_accepted'"
    )
    assert message == "start_run c4 from J. Doe, key bench-tester (Test Bench)"
    assert event_run == run_id  # so it is also in the run's chained record
    (setup,) = db.execute("SELECT setup FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert json.loads(setup)["requested_by"] == {
        "key": KEY,
        "name": "Test Bench",
        "by": "J. Doe",
        "command": "c4",
    }
    assert "run_completed" in kinds and "agent_stopped" in kinds
    assert "sink_down" not in kinds  # a clean stop is not an outage
    assert "stream_anchor" in kinds  # the monitored streams anchored at stop
    async with subscriber(mosquitto, "agent/anchor") as client:  # retained, off the bench
        _, anchored = await until(client, lambda t, p: "heads" in p)
    assert "balance-1" in anchored["heads"] and len(anchored["digest"]) == 64
    streams = run("verify", "--streams", "--lab", str(lab), cwd=tmp_path)
    assert streams.returncode == 0 and "anchors hold" in streams.stdout, streams.stderr
    status = run("status", "--lab", str(lab), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "the agent is not running" in status.stdout  # stopped: states as it left them
    unhealthy = run("status", "--check", "--lab", str(lab), cwd=tmp_path)
    assert unhealthy.returncode == 1
    assert unhealthy.stdout.strip() == "unhealthy: the agent is not running"
    for sink in ("influxdb", "mqtt"):
        assert re.search(rf"{sink}\s+│\s+ok \(agent stopped\)\s+│.*│\s+none\s+│", status.stdout), (
            status.stdout
        )
    # VictoriaMetrics keeps one sample per series and millisecond; two polls back to back
    # (one after a slow reply) can fall in the same millisecond
    (committed,) = db.execute(
        "SELECT COUNT(DISTINCT CAST(timestamp * 1000 AS INTEGER)) FROM readings "
        "WHERE instrument = 'transmitter-1' AND quantity = 'pressure'"
    ).fetchone()
    series = vm_series(
        victoria_metrics,
        '{__name__="reading_value",instrument="transmitter-1",quantity="pressure"}',
        committed,
    )
    assert sum(len(s["values"]) for s in series) == committed  # all of them, once
    points = vm_series(victoria_metrics, '{__name__="calibration_point_value"}', 5)
    assert sum(len(s["values"]) for s in points) == 5


async def test_last_will_broker_restart_and_kill_9(
    tmp_path: Path, mosquitto: Service, victoria_metrics: Service
) -> None:
    lab = agent_lab(tmp_path, mosquitto, victoria_metrics)
    process = start_agent(tmp_path, lab)
    try:
        async with subscriber(mosquitto, "agent/status") as client:
            await until(client, lambda t, p: p["state"] == "online")
        mosquitto.stop()  # no persistence: the broker forgets every retained message
        await asyncio.sleep(1.0)
        mosquitto.start()
        async with subscriber(mosquitto, "agent/status", "+/+/status") as client:
            await until(client, lambda t, p: t.endswith("agent/status") and p["state"] == "online")
        await committed(tmp_path / "daq.sqlite", "mqtt_connected", 2)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        async with subscriber(mosquitto, "agent/status") as client:
            _, will = await until(client, lambda t, p: p["state"] == "offline", timeout=15)
        assert "timestamp" not in will and will["reason"] == "connection lost (last will)"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    db = sqlite3.connect(tmp_path / "daq.sqlite")
    kinds = [k for (k,) in db.execute("SELECT kind FROM events")]
    messages = list(db.execute("SELECT kind, message FROM events"))
    assert "mqtt_disconnected" in kinds and kinds.count("mqtt_connected") >= 2, messages

    # restarted after the kill, the agent forwards what the dead one had committed: after a
    # clean stop every committed reading is in VictoriaMetrics, once
    (before,) = db.execute(
        "SELECT COUNT(*) FROM readings WHERE instrument = 'balance-1'"
    ).fetchone()
    assert before > 0
    again = start_agent(tmp_path, lab)
    try:
        async with subscriber(mosquitto, "agent/status") as client:
            await until(
                client, lambda t, p: p["state"] == "online" and p["timestamp"] > time.time() - 5
            )
        await asyncio.sleep(1.0)
    finally:
        stop(again)
    (after,) = db.execute("SELECT COUNT(*) FROM readings WHERE instrument = 'balance-1'").fetchone()
    assert after > before
    final = vm_series(victoria_metrics, '{__name__="reading_value",instrument="balance-1"}', after)
    assert sum(len(s["values"]) for s in final) == after
