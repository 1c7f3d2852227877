"""Lab file validation: every mistake reported with file, field path and message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from daq.cli import app
from daq.config import ConfigError, load_lab, parse_lab
from drivers.transports.settings import ModbusRtuConnection, VisaConnection

MANY_MISTAKES = """
lab:
  id: my lab            # space not allowed in an id
benches:
  - id: bench-1
    instruments:
      - id: balance-1
        driver: mt_sics
        role: thermometer             # a balance cannot be a thermometer
        connection:
          type: serial
          port: /dev/ttyUSB0
          baudrate: 9601              # not a standard rate
          parity: X                   # no such parity
      - id: readout-1
        driver: fluke_1529
        role: thermometer
        poll_interval: -1             # must be positive
        connection:
          type: visa
          resource: "192.168.1.20"    # not a VISA resource string
        settings:
          channels: [7]               # the 1529 has channels 1-4
      - id: gauge-1
        driver: keller_s30
        role: pressure_gauge
        connection:
          type: serial                # a Modbus driver needs a Modbus connection
          port: /dev/ttyUSB1
      - id: gauge-1                   # duplicate id
        driver: druck_dpi999          # unknown driver
        role: pressure_gauge
        colour: blue                  # unknown field
        connection:
          type: carrier-pigeon        # unknown connection type
"""


def problems(text: str, file: str = "lab.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_lab(text, file)
    return [str(p) for p in caught.value.problems]


def test_every_mistake_is_reported_with_file_and_field() -> None:
    found = problems(MANY_MISTAKES)
    expected_paths = [
        "lab.yaml: lab.id:",
        "lab.yaml: benches[bench-1].instruments[balance-1].role:",
        "lab.yaml: benches[bench-1].instruments[balance-1].connection.baudrate:",
        "lab.yaml: benches[bench-1].instruments[balance-1].connection.parity:",
        "lab.yaml: benches[bench-1].instruments[readout-1].poll_interval:",
        "lab.yaml: benches[bench-1].instruments[readout-1].connection.resource:",
        "lab.yaml: benches[bench-1].instruments[readout-1].settings.channels",
        "lab.yaml: benches[bench-1].instruments[gauge-1].connection.type:",
        "lab.yaml: benches[bench-1].instruments[gauge-1].driver:",
        "lab.yaml: benches[bench-1].instruments[gauge-1].colour:",
        "lab.yaml: benches[bench-1].instruments[gauge-1].id: duplicate id 'gauge-1'",
    ]
    for path in expected_paths:
        assert any(line.startswith(path) for line in found), (path, found)
    assert any("9601 is not a standard baud rate" in line for line in found)
    assert any("unknown driver 'druck_dpi999'" in line for line in found)
    assert any("unknown field" in line for line in found)
    assert any("type must be one of serial" in line for line in found)


def test_yaml_syntax_error_names_line() -> None:
    [line] = problems("lab: {id: x\nbenches: [", "broken.yaml")
    assert line.startswith("broken.yaml: line ")
    assert "not valid YAML" in line


def test_missing_file_is_a_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_lab(tmp_path / "nowhere.yaml")
    assert "cannot read the lab file" in str(caught.value)
    assert "nowhere.yaml" in str(caught.value)


def test_embedded_default_lab_is_valid_and_covers_all_transports() -> None:
    lab = load_lab()
    kinds = {type(i.connection).__name__ for _, i in lab.instruments()}
    assert {"SerialConnection", "VisaConnection", "ModbusTcpConnection"} <= kinds
    assert ModbusRtuConnection.__name__ in kinds
    assert all(i.simulate for _, i in lab.instruments())
    readout = lab.instrument("readout-1")
    assert isinstance(readout.connection, VisaConnection)
    assert readout.connection.resource.endswith("::SOCKET")


def test_shipped_example_file_matches_embedded_default() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "lab.yaml"
    embedded = load_lab()
    read = load_lab(shipped)
    assert read.journal.path == shipped.parent / embedded.journal.path  # beside the file
    assert (
        read.model_copy(update={"journal": embedded.journal}).model_dump() == embedded.model_dump()
    )


def test_unknown_instrument_id_lists_the_configured_ones() -> None:
    with pytest.raises(KeyError, match="configured: balance-1"):
        load_lab().instrument("nope")


def test_config_check_cli_prints_problems_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MANY_MISTAKES)
    result = CliRunner().invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: benches[bench-1].instruments[balance-1].connection.baudrate:" in result.output
    assert "problem(s) in the lab file" in result.output


def test_config_check_cli_accepts_the_example() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "lab.yaml"
    result = CliRunner().invoke(app, ["config", "check", str(shipped)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
