"""`daq web`: the console alone over the journal, and refused off the loopback without
HTTPS."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from simulators.servers import free_tcp_port
from tests.e2e.processes import DAQ, run
from tests.e2e.test_calibration_cli import lab


def test_the_console_is_served_alone_over_the_journal(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    port = free_tcp_port()
    server = subprocess.Popen([*DAQ, "web", "--lab", str(lab_file), "--listen",
                               f"127.0.0.1:{port}"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline, health = time.monotonic() + 30, ""
        while time.monotonic() < deadline and not health:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    health = r.read().decode()
            except OSError:
                time.sleep(0.2)
        assert health == '{"status":"ok"}'
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/runs", timeout=5) as answer:
            assert answer.url.endswith("/login")  # nothing shown before a login
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=5)
            raise AssertionError("the API answered without a login")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert "console stopped" in output


def test_off_the_loopback_the_console_needs_https(tmp_path: Path) -> None:
    refused = run("web", "--lab", str(lab(tmp_path)), "--listen", "0.0.0.0:8443", cwd=tmp_path)
    assert refused.returncode == 1
    assert "needs HTTPS" in " ".join(refused.stderr.split())
