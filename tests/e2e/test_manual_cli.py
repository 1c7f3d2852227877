"""`daq read` of an instrument read by hand: at a terminal, without one, and simulated."""

from __future__ import annotations

import os
import select
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.e2e.processes import DAQ, run


def test_the_simulated_operator_reads_the_simulated_dial(lab_file: Path, tmp_path: Path) -> None:
    result = run("read", "gauge-1", "--simulate", "--lab", str(lab_file), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "gauge-1 pressure: 2.5 bar" in result.stdout


def test_without_a_terminal_the_question_fails_at_once(lab_file: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [*DAQ, "read", "gauge-1", "--lab", str(lab_file)],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "there is no terminal" in result.stderr
    db = sqlite3.connect(tmp_path / "daq.sqlite")
    [(kind, instrument)] = db.execute("SELECT kind, instrument FROM events").fetchall()
    assert (kind, instrument) == ("instrument_failed", "gauge-1")


def _read_until(fd: int, wanted: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        assert time.monotonic() < deadline, f"no {wanted!r} in {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
    return seen


def test_at_a_terminal_a_bad_answer_is_asked_again(lab_file: Path, tmp_path: Path) -> None:
    master, slave = os.openpty()
    process = subprocess.Popen(
        [*DAQ, "read", "gauge-1", "--lab", str(lab_file)],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "COLUMNS": "200", "TERM": "dumb"},
    )
    os.close(slave)
    try:
        _read_until(master, b"Read the dial gauge")
        os.write(master, b"two point five\n")
        again = _read_until(master, b"please try again")
        assert b"is not a number" in again
        os.write(master, b"250 kPa\n")
        output = _read_until(master, b"pressure: 2.5 bar")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(master)
    assert b"gauge-1 pressure: 2.5 bar" in output
    db = sqlite3.connect(tmp_path / "daq.sqlite")
    [(value, raw)] = db.execute("SELECT value, raw FROM readings").fetchall()
    assert (value, raw) == (2.5, "250 kPa")
