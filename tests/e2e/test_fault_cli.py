"""Faults switched with `daq fault` while `daq simulate` serves and a separate agent reads."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from simulators.servers import free_tcp_port
from tests.e2e.processes import run, simulating


def test_a_fault_switched_at_run_time_is_seen_and_recovered_from(
    lab_file: Path, tmp_path: Path
) -> None:
    control = str(free_tcp_port())
    with simulating(lab_file, tmp_path, int(control)) as banner:
        assert f"127.0.0.1:{control}" in banner

        def daq(*args: str) -> subprocess.CompletedProcess[str]:
            return run(*args, cwd=tmp_path)

        switched = daq("fault", "balance-1", "no_reply", "overload", "--control-port", control)
        assert switched.returncode == 0, switched.stderr
        assert "balance-1: faults now no_reply, overload" in switched.stdout
        listed = daq("fault", "--control-port", control)
        assert "balance-1" in listed.stdout and "no_reply, overload" in listed.stdout
        assert "place" in listed.stdout  # the actions a simulated operator may take

        silent = daq("read", "balance-1", "--lab", str(lab_file))
        assert silent.returncode == 1 and "no reply within" in silent.stderr

        healed = daq("fault", "balance-1", "no_reply", "--clear", "--control-port", control)
        assert "balance-1: faults now overload" in healed.stdout
        over = daq("read", "balance-1", "--lab", str(lab_file))
        assert over.returncode == 0 and "mass overload" in over.stdout

        cleared = daq("fault", "balance-1", "--clear", "--control-port", control)
        assert "faults now none" in cleared.stdout
        healthy = daq("read", "balance-1", "--lab", str(lab_file))
        assert healthy.returncode == 0, healthy.stderr
        weighed = re.search(r"balance-1 mass: ([\d.]+) g", healthy.stdout)
        assert weighed and abs(float(weighed[1]) - 100.0) < 0.001

        refused = daq("fault", "balance-9", "drop", "--control-port", control)
        assert refused.returncode == 1 and "balance-9 is not simulated" in refused.stderr
        wrong = daq("fault", "balance-1", "melted", "--control-port", control)
        assert wrong.returncode == 2 and "melted" in wrong.stderr


def test_fault_without_a_running_simulator_says_what_to_do(tmp_path: Path) -> None:
    result = run("fault", "balance-1", "drop", "--control-port", str(free_tcp_port()), cwd=tmp_path)
    assert result.returncode == 1
    assert "no simulator control interface" in result.stderr and "daq simulate" in result.stderr
