"""Start-up benchmark: CPU time of `daq` commands, against a bare Python interpreter and
importing typer and rich alone (the baseline of the ratios), measured in the same run.

Each command runs in a fresh process (`python -m daq ...`), once to warm the bytecode cache
(written even where PYTHONDONTWRITEBYTECODE is set, as on a user's machine), then `--repeat`
times; the figures are the median and the least user+system CPU of the child
(resource.getrusage), so the machine's other load changes them little. The lab file is the
embedded default moved into a temporary folder with a journal that a short `daq monitor`
filled (`daq runs` has a journal to read).

Run: `python bench/startup.py [--repeat 15]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cpu(args: list[str], cwd: Path) -> float:
    """User + system CPU seconds of one child process running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=ENV)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def figures(args: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    """Median and least CPU seconds over ``repeat`` runs, after one that warms the caches."""
    cpu(args, cwd)
    runs = [cpu(args, cwd) for _ in range(repeat)]
    return statistics.median(runs), min(runs)


def lab_in(folder: Path) -> Path:
    from daq.config import default_lab_text

    raw = yaml.safe_load(default_lab_text())
    raw["journal"] = {"path": "daq.sqlite"}
    raw["standards"] = str(Path(__file__).resolve().parents[1] / "config" / "standards.yaml")
    path = folder / "lab.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lab = str(lab_in(folder))
        daq = [python, "-m", "daq"]
        subprocess.run([*daq, "monitor", "--lab", lab, "--simulate", "--duration", "2"],
                       cwd=folder, check=True, capture_output=True, env=ENV)  # fmt: skip
        cases = {
            "bare python (-c pass)": [python, "-c", "pass"],
            "import typer, rich (baseline)": [python, "-c", "import typer, rich"],
            "daq --help": [*daq, "--help"],
            "daq version": [*daq, "version"],
            "daq runs": [*daq, "runs", "--lab", lab],
            "daq status": [*daq, "status", "--lab", lab],
            "daq standards": [*daq, "standards", "--lab", lab],
        }
        found = {name: figures(args, folder, options.repeat) for name, args in cases.items()}
    baseline = found["import typer, rich (baseline)"][0]
    print(f"{'command':32} {'median s':>9} {'least s':>8} {'x baseline':>11}")
    for name, (median, least) in found.items():
        print(f"{name:32} {median:9.3f} {least:8.3f} {median / baseline:11.2f}")


if __name__ == "__main__":
    main()
