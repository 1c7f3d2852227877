"""The example lab with every supported family: valid, and every instrument identified by
`daq instruments --simulate`, in a real process."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from daq.core.plugins import registered
from tests.conftest import CONFIG
from tests.e2e.processes import run

EXAMPLE = CONFIG / "examples" / "every-family.yaml"


def test_the_example_lab_has_every_family_and_each_answers(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    instruments = [i for bench in raw["benches"] for i in bench["instruments"]]
    built_in = {name for name, found in registered("drivers").items() if found[0].builtin}
    assert {i["driver"] for i in instruments} == built_in
    lab = tmp_path / "every-family.yaml"
    shutil.copy(EXAMPLE, lab)
    checked = run("config", "check", str(lab), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    listed = run("instruments", "--simulate", "--lab", str(lab), cwd=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for instrument in instruments:
        assert instrument["id"] in listed.stdout
    assert (tmp_path / "data" / "every-family.sqlite").exists()  # beside the lab file
