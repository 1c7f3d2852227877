"""The command line starts without loading what its commands do not use: instrument
transports, simulators, metrology, reports, streaming clients (checked by module name in a
fresh interpreter, not by time; the time is measured by bench/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "matplotlib",
    "weasyprint",
    "jinja2",
    "GTC",
    "scipy",
    "numpy",
    "pint",
    "influxdb_client",
    "aiomqtt",
    "pymodbus",
    "pyvisa",
    "serial",
    "cryptography",
    "daq.config",
    "daq.journal",
    "daq.engine",
    "daq.agent",
    "drivers",
    "daq.simulation",
    "simulators",
    "fastapi",
    "starlette",
    "uvicorn",
    "argon2",
    "daq.web",
)

PROBE = """
import json, sys
sys.argv = ["daq", *sys.argv[1:]]
from daq.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules))


def test_help_and_version_load_nothing_heavy() -> None:
    for args in (["--help"], ["version"], ["runs", "--help"], ["report", "--help"],
                 ["web", "--help"], ["users", "--help"], ["agent", "--help"]):  # fmt: skip
        modules = loaded(*args)
        assert "daq.cli" in modules  # the probe ran the command line
        assert heavy_in(modules) == [], args


def test_the_agent_and_a_run_load_no_simulator_unless_asked() -> None:
    """The production agent, the engine and every driver import no simulator module."""
    code = (
        "import json, sys, daq.agent, daq.cli_runs, daq.discovery;"
        "from drivers.registry import driver_class, families;"
        "[driver_class(f) for f in families()];"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout))
    assert "daq.agent" in modules and "drivers.mettler_toledo" in modules
    assert sorted(m for m in modules if m.split(".")[0] == "simulators") == []
    assert "daq.simulation" not in modules
    assert "daq.web" not in modules and "fastapi" not in modules  # the console: when served
