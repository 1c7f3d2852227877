"""Signed commands against a real mosquitto (issue 11). Each finding first: a retained
start_run ran again on every start of the agent; a captured command re-published unchanged
started a new run; ids were not checked (a UUT ``../../etc/passwd`` made a run); details
came back before the token was checked; an unknown plan named the package's path; every
rejected message wrote a row, an event and a reply."""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from daq.agent import Agent
from daq.commands import UNAUTHENTICATED, mac
from daq.config import load_lab
from daq.core.clock import Clock
from tests.e2e.processes import run
from tests.service.test_agent import (
    KEY,
    PREFIX,
    SECRET,
    SECRET_ENV,
    agent_lab,
    signed,
    start_agent,
    stop,
    subscriber,
    until,
)
from tests.services import Service

TOPIC = f"{PREFIX}/demo-lab/agent/commands"


def online(topic: str, payload: dict[str, Any]) -> bool:
    return topic.endswith("agent/status") and payload.get("state") == "online"


@asynccontextmanager
async def running_agent(lab: Path) -> AsyncIterator[Agent]:
    """The agent in this process (its simulators too) until the block ends."""
    agent = Agent(load_lab(lab), Clock(5), simulate=True)
    halt = asyncio.Event()
    task = asyncio.create_task(agent.run(halt))
    try:
        yield agent
    finally:
        halt.set()
        await asyncio.wait_for(task, 60)


async def send(client: aiomqtt.Client, body: dict[str, Any]) -> dict[str, Any]:
    """Publish ``body`` exactly as given; the agent's reply to its id."""
    await client.publish(TOPIC, json.dumps(body).encode(), qos=1)
    _, answer = await until(
        client, lambda t, p: t.endswith("agent/replies") and p.get("id") == body.get("id")
    )
    assert isinstance(answer, dict)
    return answer


async def retained_commands(broker: Service) -> list[bytes]:
    """What the broker holds retained on the command topic: a new subscriber gets it
    before a probe published after subscribing."""
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"probe-{time.monotonic_ns()}"
    ) as client:
        await client.subscribe(TOPIC, qos=1)
        await client.subscribe(f"{PREFIX}/probe", qos=1)
        await client.publish(f"{PREFIX}/probe", b"probe", qos=1)
        found: list[bytes] = []
        async with asyncio.timeout(10):
            async for message in client.messages:
                if str(message.topic).endswith("/probe"):
                    return found
                assert isinstance(message.payload, bytes)
                found.append(message.payload)
    raise AssertionError("unreachable")


def rows(tmp: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp / "daq.sqlite") as db:
        return db.execute(sql, params).fetchall()


async def test_a_retained_start_run_is_never_carried_out_and_is_cleared(
    tmp_path: Path, mosquitto: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    lab = agent_lab(tmp_path, mosquitto)
    retained = signed({"id": "r1", "command": "start_run", "plan": "balance"})
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="sender") as sender:
        await sender.publish(TOPIC, json.dumps(retained).encode(), qos=1, retain=True)
    assert len(await retained_commands(mosquitto)) == 1

    async with subscriber(mosquitto, "agent/#") as client, running_agent(lab):
        _, answer = await until(client, lambda t, p: t.endswith("agent/replies"))
    assert answer == {
        "id": None,
        "command": None,
        "accepted": False,
        "reason": "a retained command is never carried out (it was cleared from the broker): "
        "publish commands without the retain flag",
    }
    assert await retained_commands(mosquitto) == []  # cleared: the next start sees nothing

    async with subscriber(mosquitto, "agent/status") as client, running_agent(lab):
        await until(client, online)  # subscribed to commands before it says online
    assert rows(tmp_path, "SELECT id FROM runs") == []
    rejected = rows(tmp_path, "SELECT message FROM events WHERE kind = 'command_rejected'")
    assert len(rejected) == 1 and "retained" in rejected[0][0]


async def test_replayed_stale_unsigned_and_bad_commands_are_refused(
    tmp_path: Path, mosquitto: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    lab = agent_lab(tmp_path, mosquitto)
    async with (
        subscriber(mosquitto, "agent/replies", "agent/status", "runs/+/result") as client,
        running_agent(lab),
    ):
        await until(client, online)
        first = signed({"id": "s1", "command": "start_run", "plan": "balance", "by": "Ann"})
        started = await send(client, first)
        assert started["accepted"] is True, started
        run = started["run"]
        aborted = await send(
            client, signed({"id": "s2", "command": "abort_run", "run": run, "reason": "test"})
        )
        assert aborted["accepted"] is True, aborted
        await until(client, lambda t, p: t.endswith(f"runs/{run}/result"))  # over

        replayed = "replayed: this nonce was used already; every command needs a new nonce"
        again = await send(client, first)  # captured and re-published unchanged
        assert again == {"id": "s1", "command": "start_run", "accepted": False, "reason": replayed}
        reused = signed({"id": "s3", "command": "start_run", "plan": "balance"})
        reused["nonce"] = first["nonce"]  # a new command, properly signed, with a used nonce
        reused["mac"] = mac(reused, SECRET.encode())
        assert (await send(client, reused))["reason"] == replayed

        for offset in (-120, 120):  # outside the default window of ±60 s
            stale: dict[str, Any] = {
                "id": f"t{offset}",
                "command": "start_run",
                "plan": "balance",
                "to": "demo-lab",
                "key": KEY,
                "ts": int(time.time()) + offset,
                "nonce": secrets.token_hex(16),
            }
            stale["mac"] = mac(stale, SECRET.encode())
            answer = await send(client, stale)
            assert answer["accepted"] is False
            assert answer["reason"].startswith("outside the time window"), answer

        tampered = signed({"id": "w3", "command": "start_run", "plan": "balance"})
        tampered["plan"] = "pressure-gauge"
        for body in (
            signed({"id": "w1", "command": "start_run", "plan": "../../etc"}, "0" * 40),
            signed({"id": "w2", "command": "start_run", "plan": "balance"}, key="mallory"),
            tampered,
            {"id": "w4", "command": "start_run", "plan": "balance", "token": SECRET},
        ):  # no detail, not even that the plan of w1 is malformed
            answer = await send(client, body)
            assert answer == {
                "id": body["id"],
                "command": None,
                "accepted": False,
                "reason": UNAUTHENTICATED,
            }

        cases: dict[str, tuple[dict[str, Any], str]] = {
            "b1": ({"command": "start_run", "plan": "balance", "uut": "../../etc/passwd"}, "mal"),
            "b2": ({"command": "start_run", "plan": "balance", "uut": "gauge-9"}, "no instrument"),
            "b3": ({"command": "start_run", "plan": "nope"}, "no plan 'nope'; plans: balance, "),
            "b4": ({"command": "start_run", "plan": "p" * 65}, "malformed: start_run.plan"),
            "b5": ({"command": "abort_run", "run": "r" * 129, "reason": "x"}, "malformed"),
            "b6": ({"command": "abort_run", "run": run, "reason": "x" * 501}, "malformed"),
            "b7": ({"command": "abort_run", "run": run, "reason": "x"}, f"run '{run}' is not"),
            "b8": ({"command": "ack_alarm", "alarm": "../x"}, "malformed: ack_alarm.alarm"),
            "b9": ({"command": "ack_alarm", "alarm": "no-such"}, "no alarm rule 'no-such'"),
            "b10": ({"command": "ack_alarm", "alarm": "balance-drift", "by": "x" * 101}, "mal"),
            "b11": ({"command": "answer_prompt", "prompt": "p" * 65, "answer": "1"}, "malformed"),
            "b12": ({"command": "answer_prompt", "prompt": "abc", "answer": "1\n2"}, "malformed"),
            "b13": ({"command": "answer_prompt", "prompt": "abc", "answer": "1"}, "no open prompt"),
            "b14": ({"command": "ack_alarm", "alarm": "x", "f" * 1000: 1}, "malformed: ack_alarm"),
        }
        for ident, (body, expected) in cases.items():
            answer = await send(client, signed({"id": ident, **body}))
            assert answer["accepted"] is False and answer["reason"].startswith(expected), answer
            assert "/" not in answer["reason"] and len(answer["reason"]) <= 500

        with sqlite3.connect(tmp_path / "daq.sqlite", timeout=30) as blocker:
            blocker.execute("BEGIN IMMEDIATE")  # the journal cannot be written meanwhile
            blocked = await send(
                client, signed({"id": "j1", "command": "start_run", "plan": "balance"})
            )
            blocker.rollback()
        assert blocked["accepted"] is False
        assert blocked["reason"].startswith("not carried out: the journal cannot record its nonce")
        retried = await send(
            client, signed({"id": "j2", "command": "start_run", "plan": "balance"})
        )
        assert retried["accepted"] is True, retried

    runs = dict(rows(tmp_path, "SELECT id, setup FROM runs"))
    assert set(runs) == {run, retried["run"]}  # nothing else ran
    assert json.loads(runs[run])["requested_by"] == {
        "key": KEY,
        "name": "Test Bench",
        "by": "Ann",
        "command": "s1",
    }
    accepted = rows(tmp_path, "SELECT message FROM events WHERE kind = 'command_accepted'")
    assert [m for (m,) in accepted] == [
        "start_run s1 from Ann, key bench-tester (Test Bench)",
        "abort_run s2 from key bench-tester (Test Bench)",
        "start_run j2 from key bench-tester (Test Bench)",
    ]
    (reason,) = rows(tmp_path, "SELECT reason FROM runs WHERE id = ?", run)[0]
    assert reason == "aborted: test; requested by key bench-tester (Test Bench)"


async def test_a_flood_of_bad_commands_leaves_a_bounded_trace_and_readings_flow(
    tmp_path: Path, mosquitto: Service
) -> None:
    lab = agent_lab(tmp_path, mosquitto)
    process = start_agent(tmp_path, lab)
    try:
        async with (
            subscriber(mosquitto, "agent/status", "agent/replies", "+/+/readings/#") as client,
            aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="flooder") as flooder,
        ):
            await until(client, online)
            await until(client, lambda t, p: "/readings/" in t)
            valid = signed(
                {"id": "v1", "command": "abort_run", "run": "balance-1", "reason": "none"}
            )
            refused = await send(client, valid)  # refused, and its nonce used
            assert "is not running" in refused["reason"]

            flood_start = time.time()
            for i in range(1000):
                if i == 500:
                    data = b"{" + b" " * 1_000_000  # one of a megabyte
                elif i % 4 == 0:
                    data = b"\xff not JSON %d" % i
                elif i % 4 == 1:
                    data = json.dumps(signed({"id": f"k{i}", "command": "x"}, key="who")).encode()
                elif i % 4 == 2:
                    body = {"id": f"m{i}", "command": "start_run", "plan": "balance"}
                    data = json.dumps(signed(body, "0" * 40)).encode()
                else:
                    data = json.dumps(valid).encode()  # replayed
                await flooder.publish(TOPIC, data, qos=1)
            final = signed({"id": "v2", "command": "start_run", "plan": "balance"})
            await flooder.publish(TOPIC, json.dumps(final).encode(), qos=1)

            replies, during, after = 0, 0, 0
            answer: dict[str, Any] = {}
            answered: float | None = None
            async with asyncio.timeout(90):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    payload = json.loads(message.payload)
                    if str(message.topic).endswith("agent/replies"):
                        if payload["id"] == "v2":
                            answer, answered = payload, time.time()
                        else:
                            replies += 1
                    elif "/readings/" in str(message.topic):
                        taken = payload["timestamp"]
                        during += flood_start <= taken <= (answered or math.inf)
                        after += answered is not None and taken > answered
                    if after >= 5:
                        break
        assert answer["accepted"] is True, answer  # commands still work after the flood
        assert during > 0  # polled and streamed while the flood was handled
        assert replies <= 40  # at most 20 a minute (two periods at worst)
    finally:
        stop(process)

    rejected = [
        m for (m,) in rows(tmp_path, "SELECT message FROM events WHERE kind = 'command_rejected'")
    ]
    summaries = [
        m for (m,) in rows(tmp_path, "SELECT message FROM events WHERE kind = 'commands_rejected'")
    ]
    assert len(rejected) <= 41 and summaries, (rejected, summaries)
    withheld = sum(int(re.findall(r"^(\d+) more", s)[0]) for s in summaries)
    assert len(rejected) - 1 + withheld == 1000  # every one counted, the one refusal aside
    assert all("replayed" in s or "unauthenticated" in s for s in summaries)
    assert len(rows(tmp_path, "SELECT * FROM command_nonces")) == 2  # v1 and v2 only


async def test_daq_command_signs_sends_and_prints_the_reply(
    tmp_path: Path, mosquitto: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)  # as the lab file says for the key
    lab = str(agent_lab(tmp_path, mosquitto))
    process = start_agent(tmp_path, lab=Path(lab))
    try:
        async with subscriber(mosquitto, "agent/status") as client:
            await until(client, online)
        mine = ("--key-id", KEY, "--lab", lab)
        started = run(
            "command", "start_run", "--plan", "balance", "--by", "Ann", *mine, cwd=tmp_path
        )
        assert started.returncode == 0, started.stdout + started.stderr
        answer = json.loads(started.stdout)
        assert answer["accepted"] is True and answer["command"] == "start_run"
        elsewhere = run(
            "command", "abort_run", "--run", "other-run", "--reason", "x", *mine, cwd=tmp_path
        )
        assert elsewhere.returncode == 1
        reason = json.loads(elsewhere.stdout)["reason"]
        assert reason == "run 'other-run' is not running in this agent"

        refused = run("command", "start_run", "--plan", "nope", *mine, cwd=tmp_path)
        assert refused.returncode == 1
        assert json.loads(refused.stdout)["reason"].startswith("no plan 'nope'")
        (tmp_path / "wrong.key").write_text("0" * 40)
        forged = run(
            "command",
            "ack_alarm",
            "--alarm",
            "balance-drift",
            *mine,
            "--secret-file",
            str(tmp_path / "wrong.key"),
            cwd=tmp_path,
        )
        assert forged.returncode == 1 and json.loads(forged.stdout)["reason"] == UNAUTHENTICATED
        unknown = run(
            "command", "ack_alarm", "--alarm", "x", "--key-id", "nobody", "--lab", lab, cwd=tmp_path
        )
        assert unknown.returncode == 2 and "no key 'nobody'" in unknown.stderr
    finally:
        stop(process)
    accepted = rows(tmp_path, "SELECT message FROM events WHERE kind = 'command_accepted'")
    assert accepted[0][0].startswith("start_run cli-") and accepted[0][0].endswith(
        " from Ann, key bench-tester (Test Bench)"
    )
