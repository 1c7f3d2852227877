"""The example plugin (examples/plugin-example, distribution benchdaq-keysight-dmm) through
real `daq` processes, as a lab installs and uses it: its plan on its simulator, a meter known
to lie just outside (and just inside) its specification at 10 V, and a lab that does not
allow the plugin. The plugin must be installed (`pip install -e examples/plugin-example`,
which `make test` does): without it these tests are skipped, and fail in CI."""

from __future__ import annotations

import json
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.engine.plan import parse_plan
from tests.e2e.processes import run

PLUGIN = "benchdaq-keysight-dmm"
EXAMPLE = Path(__file__).parents[2] / "examples" / "plugin-example"
FAST = ("--simulate", "--time-scale", "1000")
"""Holds and intervals of the plan (70 process seconds) in a tenth of a second."""
POINTS = ["0 V", "100 mV", "1 V", "10 V", "-10 V"]
SEED = 7
"""The simulated meter's noise, the same on every run."""


def installed_version() -> str:
    """The plugin's version; skips the test when it is not installed (fails it in CI)."""
    try:
        return metadata.version(PLUGIN)
    except metadata.PackageNotFoundError:
        message = (
            f"the plugin {PLUGIN} is not installed: install it: "
            "pip install -e examples/plugin-example"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example lab (lab, standards, plans), its meter's noise seeded."""
    installed_version()
    folder = tmp_path / "plugin-example"
    folder.mkdir()
    for name in ("lab.yaml", "standards.yaml", "plans"):
        source = EXAMPLE / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy(source, folder / name)
    simulate(folder, seed=SEED)
    return folder


def edit_lab(folder: Path, change: Any) -> Path:
    lab = folder / "lab.yaml"
    raw = yaml.safe_load(lab.read_text())
    change(raw)
    lab.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return lab


def simulate(folder: Path, **settings: object) -> Path:
    """Update the simulated meter's ``simulator:`` settings in the lab file."""

    def change(raw: dict[str, Any]) -> None:
        raw["benches"][0]["instruments"][0]["simulator"].update(settings)

    return edit_lab(folder, change)


def calibrate(folder: Path) -> tuple[int, dict[str, Any], str]:
    out = folder / "result.json"
    lab = folder / "lab.yaml"
    result = run("run", "dc-voltage", "--lab", str(lab), "--json", str(out), *FAST, cwd=folder)
    document = json.loads(out.read_text()) if out.exists() else {}
    return result.returncode, document, result.stdout + result.stderr


def decided(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in document["points"] if p["decision"] is not None}


def test_the_example_lab_is_valid_and_its_meter_answers(example: Path) -> None:
    lab = example / "lab.yaml"
    checked = run("config", "check", str(lab), cwd=example)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = run("instruments", "--simulate", "--lab", str(lab), cwd=example)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "34465A" in listed.stdout and "MY12345678" in listed.stdout


def test_the_plan_runs_on_the_plugins_simulator_and_names_the_plugin(example: Path) -> None:
    code, document, output = calibrate(example)
    assert code == 0, output
    points = decided(document)
    assert list(points) == POINTS
    assert all(p["decision"]["outcome"] == "pass" for p in points.values())
    assert document["result"]["conforms"] is True
    assert document["software"][f"plugin {PLUGIN}"] == installed_version() == "0.1.0"
    procedure = document["procedure"]
    assert procedure["name"] == "dc_voltage" and PLUGIN in procedure["source"]
    (meter,) = document["instruments"]
    assert (meter["model"], meter["serial"]) == ("34465A", "MY12345678")
    for point in points.values():
        names = {c["name"] for c in point["budget"]["contributions"]}
        assert {"meter indication (mean)", "meter resolution"} <= names
        assert "calibrator calibrator-1 output" in names
        assert point["standards"][0]["standard"]["id"] == "calibrator-1"
        assert len(point["readings"]["indication"]) == 10


def tolerance(folder: Path, volts: float) -> tuple[float, float]:
    """The plan's limits for the error at ``volts``: the Keysight 34465A's 1-year
    specification (Tcal ± 5 °C) for the 10 V range as the plan states it, ±(0.0030 % of
    reading + 0.0005 % of range), recalled from the 34465A data sheet."""
    file = folder / "plans" / "dc-voltage.yaml"
    plan = parse_plan(file.read_text(), str(file))
    return plan.tolerance.limits(volts, "V")


def test_a_meter_just_outside_its_specification_at_10_v_fails_there_only(
    example: Path,
) -> None:
    lower, upper = tolerance(example, 10.0)
    assert (lower, upper) == pytest.approx((-350e-6, 350e-6))  # 300 µV + 50 µV
    # five digits of the meter (10 µV on the 10 V range) beyond and within the limit: far
    # more than the noise of a mean of 10 readings (2 µV each) and its rounding
    digit = yaml.safe_load((example / "plans" / "dc-voltage.yaml").read_text())["settings"][
        "resolution"
    ]
    margin = 5 * digit
    for gain, conforms in ((upper + margin) / 10, False), ((upper - margin) / 10, True):
        folder = example.parent / ("inside" if conforms else "outside")
        shutil.copytree(example, folder)
        simulate(folder, gain_error=gain, offset=0.0)
        code, document, output = calibrate(folder)
        points = decided(document)
        assert list(points) == POINTS, output
        expected_failures = set()
        for key, point in points.items():
            nominal = point["nominal"]
            low, high = tolerance(folder, nominal)
            truth = gain * nominal  # the simulated meter's error
            if not low <= truth <= high:
                expected_failures.add(key)
            assert point["values"]["error"] == pytest.approx(truth, abs=digit)
        failed = {key for key, p in points.items() if not p["decision"]["conforms"]}
        if conforms:
            assert code == 0, output
            assert not failed and not expected_failures
        else:
            assert code == 3, output
            assert failed == expected_failures == {"10 V", "-10 V"}
            for key in failed:
                assert points[key]["decision"]["excess"] == pytest.approx(margin, abs=digit)


def test_a_lab_that_does_not_allow_the_plugin_is_refused(example: Path) -> None:
    def deny(raw: dict[str, Any]) -> None:
        raw["plugins"] = {"allow": ["acme-other-plugin"]}

    lab = edit_lab(example, deny)
    checked = run("config", "check", str(lab), cwd=example)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    message = checked.stdout + checked.stderr
    assert f"plugin {PLUGIN}" in message and "plugins.allow" in message


def test_bad_settings_for_the_plugins_procedure_and_simulator_name_the_plugin(
    example: Path,
) -> None:
    plan = example / "plans" / "dc-voltage.yaml"
    raw = yaml.safe_load(plan.read_text())
    raw["settings"]["readinsg"] = 3
    plan.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    simulate(example, gian_error=1e-5)
    checked = run("config", "check", str(example / "lab.yaml"), cwd=example)
    said = " ".join((checked.stdout + checked.stderr).split())
    assert checked.returncode == 2, said
    assert f"settings.readinsg: Extra inputs are not permitted (plugin {PLUGIN} 0.1.0)" in said
    assert f"simulator.gian_error: unknown field (check the spelling) (plugin {PLUGIN} 0.1.0)" in (
        said
    )
