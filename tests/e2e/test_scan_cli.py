"""`daq instruments scan` against `daq simulate`: what answers is found and identified, and
the YAML it prints validates when pasted into a lab file."""

from __future__ import annotations

from pathlib import Path

import yaml

from daq.config import parse_lab
from simulators.servers import free_tcp_port
from tests.e2e.processes import run, simulating


def test_scan_finds_the_simulated_instruments(tmp_path: Path) -> None:
    pace, empty, modbus = free_tcp_port(), free_tcp_port(), free_tcp_port()
    lab = {
        "lab": {"id": "scan-lab"},
        "journal": {"path": str(tmp_path / "daq.sqlite")},
        "benches": [
            {
                "id": "b",
                "instruments": [
                    {
                        "id": "balance-1",
                        "driver": "mt_sics",
                        "role": "balance",
                        "simulate": True,
                        "connection": {"type": "serial", "port": str(tmp_path / "balance")},
                    },
                    {
                        "id": "pace-1",
                        "driver": "druck_pace",
                        "role": "pressure_controller",
                        "simulate": True,
                        "connection": {"type": "tcp", "host": "127.0.0.1", "port": pace},
                    },
                    {
                        "id": "pt-1",
                        "driver": "keller_s30",
                        "role": "pressure_gauge",
                        "simulate": True,
                        "connection": {
                            "type": "modbus_tcp",
                            "host": "127.0.0.1",
                            "port": modbus,
                            "device_id": 3,
                        },
                    },
                ],
            }
        ],
    }
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(lab))
    with simulating(lab_file, tmp_path, free_tcp_port()):
        result = run(
            "instruments",
            "scan",
            "--no-serial-list",
            "--port",
            str(tmp_path / "balance"),
            "--tcp",
            f"127.0.0.1:{pace}",
            "--tcp",
            f"127.0.0.1:{empty}",
            "--modbus-tcp",
            f"127.0.0.1:{modbus}",
            "--ids",
            "1-4",
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    for expected in ("Mettler Toledo XS204", "GE Druck Pace5000", "KELLER Series 30", "#3"):
        assert expected in result.stderr
    entries = yaml.safe_load(result.stdout)
    assert [e["driver"] for e in entries] == ["mt_sics", "druck_pace", "keller_s30"]
    assert entries[2]["connection"]["device_id"] == 3
    pasted = {**lab, "benches": [{"id": "b", "instruments": entries}]}
    parsed = parse_lab(yaml.safe_dump(pasted), "pasted.yaml")
    assert [i.role for _, i in parsed.instruments()] == [
        "balance",
        "pressure_controller",
        "pressure_gauge",
    ]


def test_nothing_found_says_what_was_probed(tmp_path: Path) -> None:
    result = run(
        "instruments",
        "scan",
        "--no-serial-list",
        "--tcp",
        f"127.0.0.1:{free_tcp_port()}",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "nothing answered on 0 serial port(s), 1 socket(s)" in result.stderr
