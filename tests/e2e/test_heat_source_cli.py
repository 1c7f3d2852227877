"""`daq read` of each heat-source family, simulated, in a real process."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.processes import run

LINE = {"read_termination": "\r", "write_termination": "\r", "timeout": 1.0}


def heat_source_lab(tmp: Path) -> Path:
    """A bench with a metrology well on RS-232 and a classic bath behind a serial server."""
    lab = {
        "lab": {"id": "heat-lab"},
        "journal": {"path": str(tmp / "daq.sqlite")},
        "benches": [
            {
                "id": "temperature-bench",
                "instruments": [
                    {
                        "id": "well-1",
                        "driver": "fluke_heat_source",
                        "role": "temperature_source",
                        "simulate": True,
                        "connection": {
                            "type": "serial",
                            "port": str(tmp / "sim" / "well-1"),
                            "baudrate": 9600,
                            **LINE,
                        },
                        "simulator": {"model": "9142", "noise": 0.0, "ambient": 21.5},
                    },
                    {
                        "id": "bath-1",
                        "driver": "hart_classic",
                        "role": "temperature_source",
                        "simulate": True,
                        "connection": {"type": "tcp", "host": "127.0.0.1", "port": 10001, **LINE},
                        "settings": {"safe_temperature": 25.0},
                        "simulator": {
                            "model": "7341",
                            "minimum": -45.0,
                            "maximum": 150.0,
                            "noise": 0.0,
                            "ambient": 21.5,
                            "set_point": 21.5,
                        },
                    },
                ],
            }
        ],
    }
    path = tmp / "lab.yaml"
    path.write_text(yaml.safe_dump(lab, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("instrument", "printed"),
    [
        ("well-1", ["well-1 temperature: 21.5 °C (unstable)", "well-1 set_point: 21.5 °C"]),
        ("bath-1", ["bath-1 temperature: 21.5 °C (unstable)", "bath-1 set_point: 21.5 °C"]),
    ],
)
def test_daq_read_prints_the_control_temperature(
    instrument: str, printed: list[str], tmp_path: Path
) -> None:
    lab = heat_source_lab(tmp_path)
    result = run("read", instrument, "--simulate", "--lab", str(lab), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for line in printed:
        assert line in result.stdout
