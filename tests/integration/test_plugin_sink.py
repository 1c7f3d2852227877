"""A sink from an installed plugin distribution: its settings checked by the lab file with
the plugin named, refused when the lab's allow-list leaves it out, and fed by the agent from
the journal like the built-in sinks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from daq.agent import Agent
from daq.config import ConfigError, load_lab
from daq.core.clock import Clock
from tests.conftest import lab_text

SINK = '''
"""A sink that appends each batch's rows to a JSON-lines file."""
import json
from pathlib import Path
from typing import ClassVar
from pydantic import BaseModel, ConfigDict
from daq.sinks.base import rows_batch

class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path
    streams: list[str] = ["readings", "events"]

class FileSink:
    Settings: ClassVar[type[BaseModel]] = Settings

    def __init__(self, settings, *, lab, benches, name):
        self.name, self.settings, self.streams = name, settings, list(settings.streams)
        self.lab = lab

    async def fetch(self, journal, stream, after, limit):
        return await rows_batch(journal, stream, after, limit)

    async def write(self, batch):
        with self.settings.path.open("a") as out:
            for row in batch.payload:
                out.write(json.dumps([self.lab, batch.stream, *map(str, row)]) + "\\n")

    async def close(self):
        pass
'''


@pytest.fixture
def file_sink(installed_plugin: Callable[..., Path]) -> None:
    installed_plugin(
        "acme-file-sink",
        "[benchdaq.sinks]\nfile = acme_file_sink:FileSink\n",
        {"acme_file_sink.py": SINK},
        version="2.3",
    )


def lab_with(tmp_path: Path, **extra: object) -> Path:
    raw = yaml.safe_load(lab_text(tmp_path, poll_interval=0.2))
    raw.update(extra)
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.usefixtures("file_sink")
def test_the_plugins_settings_are_checked_and_their_errors_name_it(tmp_path: Path) -> None:
    bad = lab_with(tmp_path, sinks=[{"type": "file", "settings": {"paht": "x"}}])
    with pytest.raises(ConfigError) as caught:
        load_lab(bad)
    assert [str(p) for p in caught.value.problems] == [
        f"{bad}: sinks[0].settings.path: Field required (plugin acme-file-sink 2.3)",
        f"{bad}: sinks[0].settings.paht: unknown field (check the spelling) "
        "(plugin acme-file-sink 2.3)",
    ]


@pytest.mark.usefixtures("file_sink")
def test_a_sink_the_allow_list_leaves_out_is_refused(tmp_path: Path) -> None:
    refused = lab_with(
        tmp_path,
        sinks=[{"type": "file", "settings": {"path": str(tmp_path / "out.jsonl")}}],
        plugins={"allow": ["someone-else"]},
    )
    with pytest.raises(
        ConfigError,
        match=r"sinks\[0\]\.type: sink 'file' comes from plugin "
        r"acme-file-sink 2.3, which the lab file's plugins.allow does not list",
    ):
        load_lab(refused)


@pytest.mark.usefixtures("file_sink")
async def test_the_agent_feeds_a_plugin_sink_from_the_journal(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    path = lab_with(
        tmp_path,
        sinks=[{"type": "file", "name": "archive", "settings": {"path": str(out)}}],
        plugins={"allow": ["ACME_file_sink"]},
    )
    agent = Agent(load_lab(path), Clock(5), simulate=True)
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    try:
        async with asyncio.timeout(60):
            while not (out.exists() and "readings" in out.read_text()):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row[0] for row in rows} == {"demo-lab"}
    assert any(row[1] == "events" and "agent_started" in row for row in rows)
    assert [f.sink.name for f in agent.forwarders] == ["archive"]
