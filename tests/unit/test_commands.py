"""Signed commands without a broker: the documented way to compute the MAC, the order of the
checks (nothing revealed before the MAC passes), the rate of rejections, the keys and their
settings in the lab file. The service tests run the same against a real mosquitto."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.commands import (
    UNAUTHENTICATED,
    Client,
    Command,
    CommandDesk,
    Key,
    load_keys,
    mac,
    sign,
)
from daq.config import ConfigError, default_lab_text, parse_lab
from daq.core.clock import Clock
from daq.journal import Journal
from daq.sinks.settings import CommandClient, CommandSettings

SECRET = "b6e0c4f1a2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7"
LAB = "demo-lab"


class Executor:
    """Records what it is asked to carry out."""

    def __init__(self) -> None:
        self.done: list[tuple[Command, Client]] = []

    async def execute(self, command: Command, client: Client) -> dict[str, Any]:
        self.done.append((command, client))
        return {}


def desk(journal: Journal, executor: Executor, rate: int = 20) -> CommandDesk:
    settings = CommandSettings(
        clients=[CommandClient(id="kim", name="Kim Lee", secret_env="UNUSED")],
        rejections_per_minute=rate,
    )
    keys = {"kim": Key(Client("kim", "Kim Lee"), SECRET.encode())}
    return CommandDesk(settings, keys, executor, journal, Clock(), LAB)


def wire(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


async def test_the_documented_recipe_signs_a_command_the_agent_accepts(tmp_path: Path) -> None:
    # as in README.md, "Sending commands", with a name that is not ASCII
    command = {
        "id": "c1",
        "command": "ack_alarm",
        "alarm": "check-weight",
        "by": "Nguyễn Văn An",
        "to": LAB,
        "key": "kim",
        "ts": int(time.time()),
        "nonce": secrets.token_hex(16),
    }
    canonical = json.dumps(command, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    command["mac"] = hmac.new(SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    assert command["mac"] == mac(command, SECRET.encode())

    executor = Executor()
    async with Journal(tmp_path / "j.sqlite") as journal:
        answer = await desk(journal, executor).handle(wire(command))
        await journal.flush()
        (event,) = await journal.events("command_accepted")
    assert answer == {"id": "c1", "command": "ack_alarm", "accepted": True, "reason": ""}
    ((done, client),) = executor.done
    assert done.by == "Nguyễn Văn An" and client == Client("kim", "Kim Lee")
    assert event.message == "ack_alarm c1 from Nguyễn Văn An, key kim (Kim Lee)"


async def test_nothing_is_revealed_before_the_mac_passes(tmp_path: Path) -> None:
    malformed = {"id": "a1", "command": "start_run", "plan": "../x"}
    unsigned = [
        b"{" + b" " * 9000,
        b"{not json",
        b"[" * 4000 + b"]" * 4000,
        b"[1, 2]",
        wire(malformed),
        wire(sign(malformed, "kim", b"not the secret, but long enough", time.time(), to=LAB)),
        wire(sign(malformed, "nobody", SECRET.encode(), time.time(), to=LAB)),
        wire({**sign(malformed, "kim", SECRET.encode(), time.time(), to=LAB), "mac": "A" * 64}),
    ]
    executor = Executor()
    async with Journal(tmp_path / "j.sqlite") as journal:
        gate = desk(journal, executor)
        answers = [await gate.handle(payload) for payload in unsigned]
        signed = await gate.handle(
            wire(sign(malformed, "kim", SECRET.encode(), time.time(), to=LAB))
        )
        await journal.flush()
        events = [e.message for e in await journal.events("command_rejected")]
    for answer in answers:
        assert answer is not None and answer["reason"] == UNAUTHENTICATED
        assert answer["command"] is None and answer["accepted"] is False
    assert signed is not None and signed["reason"].startswith("malformed: start_run.plan")
    assert not executor.done
    # the lab's journal says which check failed, never echoing what the sender made up
    assert events[:8] == [
        "command (no id): not authenticated: 9001 bytes, over 8192",
        "command (no id): not authenticated: not JSON",
        "command (no id): not authenticated: not JSON",
        "command (no id): not authenticated: not a JSON object",
        "command a1: not authenticated: no key id or MAC",
        "command a1: not authenticated: wrong MAC for key kim",
        "command a1: not authenticated: unknown key id",
        "command a1: not authenticated: wrong MAC for key kim",
    ]


async def test_a_retained_command_is_never_carried_out(tmp_path: Path) -> None:
    executor = Executor()
    command = sign(
        {"id": "r1", "command": "ack_alarm", "alarm": "a"}, "kim", SECRET.encode(), 0, to=LAB
    )
    command["ts"] = int(time.time())
    command["mac"] = mac(command, SECRET.encode())
    async with Journal(tmp_path / "j.sqlite") as journal:
        answer = await desk(journal, executor).handle(wire(command), retained=True)
    assert answer is not None and "retained" in answer["reason"] and not executor.done


async def test_rejections_beyond_the_rate_are_counted_in_one_event(tmp_path: Path) -> None:
    executor = Executor()
    async with Journal(tmp_path / "j.sqlite") as journal:
        gate = desk(journal, executor, rate=3)
        answers = [await gate.handle(b"junk") for _ in range(10)]
        # the flood used the budget of the unauthenticated; a key holder still hears back
        own = await gate.handle(
            wire(
                sign(
                    {"id": "k1", "command": "ack_alarm"},
                    "kim",
                    SECRET.encode(),
                    time.time(),
                    to=LAB,
                )
            )
        )
        gate.roll(force=True)
        gate.roll(force=True)  # nothing withheld since: no second summary
        await journal.flush()
        rejected = await journal.events("command_rejected")
        summaries = await journal.events("commands_rejected")
    assert sum(a is not None for a in answers) == 3 and answers[3:] == [None] * 7
    assert own is not None and own["reason"].startswith("malformed: ack_alarm.alarm")
    assert len(rejected) == 4
    (summary,) = summaries
    assert summary.message.startswith("7 more commands rejected in ")
    assert summary.message.endswith("beyond 3 recorded per sender: unauthenticated 7")


async def test_a_nonce_is_claimed_once(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        assert await journal.claim_nonce("kim", "n" * 32, int(time.time()), 120) is True
        assert await journal.claim_nonce("kim", "n" * 32, int(time.time()), 120) is False
        assert await journal.claim_nonce("lims", "n" * 32, int(time.time()), 120) is True


def test_keys_come_from_the_environment_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, shared = tmp_path / "private.key", tmp_path / "shared.key"
    private.write_text(SECRET + "\n")
    private.chmod(0o600)
    shared.write_text(SECRET)
    shared.chmod(0o644)
    monkeypatch.setenv("KEY_SHORT", "short")
    monkeypatch.setenv("KEY_KIM", SECRET)
    monkeypatch.delenv("KEY_UNSET", raising=False)
    keys, problems = load_keys(
        [
            CommandClient(id="kim", name="Kim Lee", secret_env="KEY_KIM"),
            CommandClient(id="lims", secret_file=private),
            CommandClient(id="shared", secret_file=shared),
            CommandClient(id="short", secret_env="KEY_SHORT"),
            CommandClient(id="unset", secret_env="KEY_UNSET"),
            CommandClient(id="gone", secret_file=tmp_path / "gone.key"),
        ]
    )
    assert set(keys) == {"kim", "lims", "shared"}
    assert keys["lims"].secret == SECRET.encode() == keys["kim"].secret
    assert keys["kim"].client == Client("kim", "Kim Lee")
    assert SECRET not in repr(keys)
    assert problems[0] == f"key shared: {shared} is open to other users; chmod 600 it"
    assert problems[1].startswith("key short: its secret is shorter than 32 characters")
    assert problems[2] == (
        "key unset: the environment variable KEY_UNSET is not set: its commands are refused"
    )
    assert problems[3].startswith(f"key gone: cannot read {tmp_path / 'gone.key'}")
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("commands", "message"),
    [
        ({"token_env": "DAQ_COMMAND_TOKEN"}, "token_env is no longer used"),
        ({"clients": [{"id": "a"}]}, "give exactly one of secret_env"),
        ({"clients": [{"id": "a", "secret_env": "A", "secret_file": "/k"}]}, "exactly one of"),
        ({"clients": [{"id": "a", "secret_file": "a.key"}]}, "give an absolute path"),
        (
            {"clients": [{"id": "../a", "secret_env": "A"}]},
            "clients[../a].id: '../a' is not a key id",
        ),
        (
            {"clients": [{"id": "a", "secret_env": "A"}, {"id": "a", "secret_env": "B"}]},
            "key ids must be unique: a listed twice",
        ),
    ],
)
def test_the_lab_file_says_where_each_secret_is(commands: dict[str, Any], message: str) -> None:
    raw = yaml.safe_load(default_lab_text())
    raw["mqtt"] = {"host": "broker", "commands": commands}
    with pytest.raises(ConfigError) as caught:
        parse_lab(yaml.safe_dump(raw), "lab.yaml")
    assert message in str(caught.value)
    assert "mqtt.commands" in str(caught.value)


@pytest.mark.parametrize("ts", [True, 1.7e9, "1764749000", -1, 2**70, None])
async def test_the_timestamp_is_whole_unix_seconds(tmp_path: Path, ts: object) -> None:
    command = sign({"id": "t1", "command": "ack_alarm", "alarm": "a"}, "kim", b"", 0, to=LAB)
    command["ts"] = ts
    command["mac"] = mac(command, SECRET.encode())
    async with Journal(tmp_path / "j.sqlite") as journal:
        answer = await desk(journal, Executor()).handle(wire(command))
    assert answer is not None
    assert answer["reason"] == (
        "malformed: ts must be whole Unix seconds and nonce 16 to 64 letters, digits, '-' or '_'"
    )


async def test_a_command_for_another_lab_is_refused(tmp_path: Path) -> None:
    """One key on two agents: a command captured on one cannot be replayed on the other,
    since the addressee is under the MAC (and changing it breaks the MAC)."""
    executor = Executor()
    async with Journal(tmp_path / "j.sqlite") as journal:
        gate = desk(journal, executor)
        other = sign(
            {"id": "x1", "command": "ack_alarm", "alarm": "a"},
            "kim",
            SECRET.encode(),
            time.time(),
            to="other-lab",
        )
        reply = await gate.handle(wire(other))
        assert reply is not None and reply["accepted"] is False
        assert "not for this agent" in reply["reason"] and "'other-lab'" in reply["reason"]
        readdressed = await gate.handle(wire({**other, "to": LAB}))
        assert readdressed is not None and "not authenticated" in readdressed["reason"]
    assert executor.done == []
