"""The operator at a distance: a prompt answered and an alarm acknowledged over MQTT, with
the agent in this process and a real mosquitto."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from daq.agent import Agent
from daq.config import load_lab
from daq.core.clock import Clock
from daq.core.prompts import Question
from daq.operations import PromptDesk
from tests.conftest import lab_text
from tests.service.test_agent import (
    CLIENTS,
    PREFIX,
    SECRET,
    SECRET_ENV,
    command,
    subscriber,
    until,
)
from tests.services import Service


async def test_prompt_answered_and_alarm_acknowledged(
    tmp_path: Path, mosquitto: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    raw = yaml.safe_load(lab_text(tmp_path, poll_interval=0.2))
    raw["mqtt"] = {
        "host": "127.0.0.1",
        "port": mosquitto.port,
        "prefix": PREFIX,
        "commands": {"clients": CLIENTS},
    }
    raw["alarms"] = [
        {
            "id": "pan-load",
            "kind": "limits",
            "instrument": "balance-1",
            "quantity": "mass",
            "high": 50,
        }
    ]
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    agent = Agent(load_lab(tmp_path / "lab.yaml"), Clock(5), simulate=True)
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    try:
        async with subscriber(mosquitto, "#") as client:
            await until(client, lambda t, p: t.endswith("agent/status") and p["state"] == "online")
            _, alarm = await until(client, lambda t, p: t.endswith("alarms/pan-load"))
            assert alarm["state"] == "active" and "above the high limit 50" in alarm["message"]
            acked = await command(
                client,
                {"id": "a1", "command": "ack_alarm", "alarm": "pan-load", "by": "Kim"},
            )
            assert acked["accepted"] is True
            _, alarm = await until(
                client, lambda t, p: t.endswith("alarms/pan-load") and p["state"] == "acknowledged"
            )
            assert "Kim, key bench-tester (Test Bench)" in alarm["message"]
            unknown = await command(client, {"id": "a2", "command": "ack_alarm", "alarm": "x"})
            assert unknown["accepted"] is False and "no alarm rule 'x'" in unknown["reason"]

            assert isinstance(agent.prompter, PromptDesk)
            question = Question("gauge-9", "Read the dial gauge", "pressure", "bar", 0, 10)
            asking = asyncio.create_task(agent.prompter.ask(question))
            _, prompt = await until(client, lambda t, p: t.endswith("/prompts") and p.get("id"))
            assert prompt["text"] == "Read the dial gauge" and prompt["unit"] == "bar"
            wrong = await command(
                client,
                {"id": "p0", "command": "answer_prompt", "prompt": "nope", "answer": "1"},
            )
            assert wrong["accepted"] is False and "no open prompt" in wrong["reason"]
            answered = await command(
                client,
                {
                    "id": "p1",
                    "command": "answer_prompt",
                    "prompt": prompt["id"],
                    "answer": "2.34 bar",
                },
            )
            assert answered["accepted"] is True
            assert await asyncio.wait_for(asking, 10) == "2.34 bar"
            await until(client, lambda t, p: t.endswith("/prompts") and p == {})  # cleared
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
