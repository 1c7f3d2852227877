"""Start-up benchmark: CPU time of `daq` commands, against a bare Python interpreter and
importing typer and rich alone (the baseline of the ratios), measured in the same run.

Each command runs in a fresh process (`python -m daq ...`), `--repeat` times; the figure is
the median user+system CPU of the child (resource.getrusage), so the machine's other load
changes it little. The lab file is the embedded default moved into a temporary folder with
a journal that has a few runs in it (`daq runs` has something to list).

Run: `python bench/startup.py [--repeat 7]`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def cpu(args: list[str], cwd: Path) -> float:
    """User + system CPU seconds of one child process running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_cpu(args: list[str], cwd: Path, repeat: int) -> float:
    return statistics.median(cpu(args, cwd) for _ in range(repeat))


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
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lab = str(lab_in(folder))
        daq = [python, "-m", "daq"]
        subprocess.run([*daq, "monitor", "--lab", lab, "--simulate", "--duration", "2"],
                       cwd=folder, check=True, capture_output=True)  # fmt: skip
        cases = {
            "bare python (-c pass)": [python, "-c", "pass"],
            "import typer, rich (baseline)": [python, "-c", "import typer, rich"],
            "daq --help": [*daq, "--help"],
            "daq version": [*daq, "version"],
            "daq runs": [*daq, "runs", "--lab", lab],
            "daq status": [*daq, "status", "--lab", lab],
            "daq standards": [*daq, "standards", "--lab", lab],
        }
        figures = {name: median_cpu(args, folder, options.repeat) for name, args in cases.items()}
    baseline = figures["import typer, rich (baseline)"]
    print(f"{'command':32} {'CPU s':>7} {'x baseline':>11}")
    for name, seconds in figures.items():
        print(f"{name:32} {seconds:7.3f} {seconds / baseline:11.2f}")


if __name__ == "__main__":
    main()
