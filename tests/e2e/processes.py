"""Running `daq` as a user does: real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DAQ = [sys.executable, "-m", "daq"]


def run(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*DAQ, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@contextmanager
def simulating(lab_file: Path, cwd: Path, control_port: int, *extra: str) -> Iterator[str]:
    """`daq simulate LAB` in the background until its banner is out; yields the banner."""
    server = subprocess.Popen(
        [*DAQ, "simulate", "--lab", str(lab_file), "--control-port", str(control_port), *extra],
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = ""
        deadline = time.monotonic() + 20
        while "Control interface" not in banner and time.monotonic() < deadline:
            banner += server.stdout.readline()
        assert "Control interface" in banner, banner
        yield banner
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(10) == 0
