"""Status you can trust: an outage dates from its first failure, a killed agent or run is
told from a live one (their locks go with the process, even on kill -9), and `daq status`
only reads the journal."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from daq.core.clock import Clock
from daq.journal import Journal, JournalError
from daq.presence import Presence, PresenceHeld, alive
from tests.conftest import lab_text
from tests.e2e.processes import run

HOLD = """
import sys, time
from pathlib import Path
from daq.presence import Presence
with Presence(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    time.sleep(600)
"""


class StepClock(Clock):
    """Timestamps we choose: the test does not depend on the wall clock."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 1000.0

    def now(self) -> float:
        return self.t


async def test_an_outage_dates_from_its_first_failure(tmp_path: Path) -> None:
    clock = StepClock()
    async with Journal(tmp_path / "j.sqlite", clock=clock) as journal:
        await journal.set_sink_state("influxdb", "down", "refused")
        clock.t = 1030.0
        await journal.set_sink_state("influxdb", "down", "refused again")  # a retry
        [(_, state, detail, since)] = await journal.sink_states()
        assert (state, detail, since) == ("down", "refused again", 1000.0)
        clock.t = 1060.0
        await journal.set_sink_state("influxdb", "ok")
        [(_, state, _, since)] = await journal.sink_states()
        assert (state, since) == ("ok", 1060.0)


def test_a_killed_holder_is_seen_gone(tmp_path: Path) -> None:
    journal = tmp_path / "daq.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(journal), "agent"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert alive(journal, "agent")
        with pytest.raises(PresenceHeld), Presence(journal, "agent"):
            pass  # a second agent on the same journal is refused
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert not alive(journal, "agent")  # the kernel dropped the lock with the process
    finally:
        if holder.poll() is None:
            holder.kill()
    with Presence(journal, "agent"):
        assert alive(journal, "agent")
    assert not alive(journal, "agent") and not alive(journal, "never-started")


async def test_read_only_journal_never_creates_or_writes(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    with pytest.raises(JournalError, match="no journal at"):
        await Journal(missing, read_only=True).open()
    assert not missing.exists()
    path = tmp_path / "j.sqlite"
    async with Journal(path) as journal:
        await journal.set_sink_state("mqtt", "ok")
    os.chmod(path, 0o444)
    try:
        async with Journal(path, read_only=True) as journal:
            assert [s[:2] for s in await journal.sink_states()] == [("mqtt", "ok")]
            assert (await journal.backlog("mqtt"))["readings"] == 0
    finally:
        os.chmod(path, 0o644)


def test_status_shows_a_stopped_agent_and_an_interrupted_run(tmp_path: Path) -> None:
    raw = yaml.safe_load(lab_text(tmp_path))
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(raw))
    journal_path = tmp_path / "daq.sqlite"
    nothing = run("status", "--lab", str(lab_file), cwd=tmp_path)
    assert nothing.returncode == 1 and "no journal at" in nothing.stderr
    assert not journal_path.exists()  # a read-only command created nothing

    async def prepare() -> None:
        async with Journal(journal_path) as journal:
            await journal.set_sink_state("mqtt", "ok")

    import asyncio

    asyncio.run(prepare())
    with sqlite3.connect(journal_path) as db:  # a run whose process died (kill -9)
        db.execute(
            "INSERT INTO runs (id, plan, procedure, started, status, reason, setup) "
            "VALUES ('balance-1', 'balance', 'weighing', ?, 'running', '', '{}')",
            (time.time(),),
        )
    status = run("status", "--lab", str(lab_file), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "the agent is not running" in status.stdout
    assert "ok (agent stopped)" in status.stdout
    assert "runs in progress: none" in status.stdout
    assert "run balance-1 was interrupted" in status.stdout
    assert "daq run --resume balance-1" in status.stdout
