"""`daq read` and `daq monitor` with --simulate for the balance, pressure-controller and
declared-device families, in real processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml

from tests.e2e.processes import run
from tests.integration.test_custom_devices import BAROMETER, HYGROMETER


def family_lab(tmp: Path) -> Path:
    tcp = {"type": "tcp", "host": "127.0.0.1", "port": 1}
    instruments = [
        {
            "id": "balance-2",
            "driver": "sartorius_sbi",
            "role": "balance",
            "connection": {"type": "serial", "port": str(tmp / "balance-2"), "baudrate": 1200},
            "simulator": {"load": 50.0, "noise": 0.0},
        },
        {"id": "pace-1", "driver": "druck_pace", "role": "pressure_controller", "connection": tcp},
        {
            "id": "cpc-1",
            "driver": "mensor_cpc",
            "role": "pressure_controller",
            "connection": {"type": "serial", "port": str(tmp / "cpc-1")},
        },
        HYGROMETER,
        BAROMETER,
    ]
    lab = {
        "lab": {"id": "family-lab"},
        "journal": {"path": str(tmp / "daq.sqlite"), "batch_interval": 0.1},
        "benches": [
            {
                "id": "b",
                "instruments": [{**i, "simulate": True, "poll_interval": 0.5} for i in instruments],
            }
        ],
    }
    path = tmp / "lab.yaml"
    path.write_text(yaml.safe_dump(lab, allow_unicode=True))
    return path


def test_read_and_monitor_each_family(tmp_path: Path) -> None:
    lab = family_lab(tmp_path)
    expected = {
        "balance-2": "balance-2 mass: 50 g",
        "pace-1": "pace-1 pressure: 1.01",
        "cpc-1": "cpc-1 pressure: 1.01",
        "hygro-1": "hygro-1 humidity: 45 %",
        "baro-1": "baro-1 temperature: 22.34 °C",
    }
    for instrument, text in expected.items():
        result = run("read", instrument, "--simulate", "--lab", str(lab), cwd=tmp_path)
        assert result.returncode == 0, (instrument, result.stderr)
        assert text in result.stdout, result.stdout
    watched = run("monitor", "--simulate", "--lab", str(lab), "--duration", "3", cwd=tmp_path)
    assert watched.returncode == 0, watched.stderr
    db = sqlite3.connect(tmp_path / "daq.sqlite")
    seen = {i for (i,) in db.execute("SELECT DISTINCT instrument FROM readings")}
    assert seen == set(expected)
