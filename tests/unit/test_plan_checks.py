"""A plan is checked at each of its procedure's test points before it runs: a tolerance, CMC
or standard in a unit of another quantity, or a tolerance with no width at a point, is
refused with the file, the field and the point (and by `daq config check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from daq.config import ConfigError, LabConfig, load_lab
from daq.engine.checks import check_plan
from daq.engine.plan import parse_plan
from daq.standards import load_standards, parse_standards
from tests.conftest import CONFIG, lab_text

REGISTER = load_standards(CONFIG / "standards.yaml")


@pytest.fixture
def lab(tmp_path: Path) -> LabConfig:
    path = tmp_path / "lab.yaml"
    path.write_text(lab_text(tmp_path))
    return load_lab(path)


def problems(lab: LabConfig, name: str, register: Any = REGISTER, **changes: Any) -> list[str]:
    raw = yaml.safe_load((CONFIG / "plans" / f"{name}.yaml").read_text())
    for key, value in changes.items():
        if key == "settings":
            raw["settings"].update(value)
        else:
            raw[key] = value
    plan = parse_plan(yaml.safe_dump(raw, allow_unicode=True), f"plans/{name}.yaml")
    return [str(p) for p in check_plan(plan, f"plans/{name}.yaml", lab, register)]


@pytest.mark.parametrize("name", ["balance", "thermometers", "pressure-gauge"])
def test_shipped_plans_pass(lab: LabConfig, name: str) -> None:
    assert problems(lab, name) == []


def test_tolerance_in_a_unit_of_another_quantity(lab: LabConfig) -> None:
    found = problems(lab, "thermometers", tolerance={"kind": "absolute", "value": 5, "unit": "kPa"})
    assert found and found[0].startswith("plans/thermometers.yaml: tolerance: at 30 °C:")
    assert "°C cannot be converted to kPa" in found[0]


def test_tolerance_in_mk_for_thermometers_is_fine(lab: LabConfig) -> None:
    assert (
        problems(lab, "thermometers", tolerance={"kind": "absolute", "value": 50, "unit": "mK"})
        == []
    )


def test_pure_percent_of_reading_at_a_zero_point_names_the_point(lab: LabConfig) -> None:
    found = problems(
        lab, "pressure-gauge", tolerance={"kind": "percent_of_reading", "percent": 1, "unit": "bar"}
    )
    assert len(found) == 1
    assert found[0].startswith("plans/pressure-gauge.yaml: tolerance: at 0 bar:")
    assert "add a fixed or digits term" in found[0]
    with_digits = {
        "kind": "specification",
        "percent_of_reading": 1,
        "digits": 1,
        "resolution": 0.02,
        "unit": "bar",
    }
    assert problems(lab, "pressure-gauge", tolerance=with_digits) == []


def test_iec_class_outside_its_range_names_the_set_point(lab: LabConfig) -> None:
    found = problems(
        lab,
        "thermometers",
        tolerance={"kind": "iec_60751", "tolerance_class": "AA"},
        settings={"set_points": [30, 300]},
    )
    assert found == [
        "plans/thermometers.yaml: tolerance: at 300 °C: IEC 60751 class AA (wire) is valid "
        "from -50 °C to 250 °C, not at 300 °C"
    ]


def test_cmc_in_a_unit_of_another_quantity(lab: LabConfig) -> None:
    found = problems(lab, "balance", cmc={"absolute": 0.05, "unit": "mbar"})
    assert found == [
        "plans/balance.yaml: cmc.unit: mbar cannot express an uncertainty of a result in g"
    ]


def test_cmc_without_a_unit_is_refused_when_the_plan_is_read() -> None:
    raw = yaml.safe_load((CONFIG / "plans" / "balance.yaml").read_text())
    raw["cmc"] = {"absolute": 0.00005}
    with pytest.raises(ConfigError) as caught:
        parse_plan(yaml.safe_dump(raw), "plans/balance.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "plans/balance.yaml: cmc.unit: Field required"
    ]


def test_standard_calibrated_in_a_unit_of_another_quantity(lab: LabConfig) -> None:
    raw = yaml.safe_load((CONFIG / "standards.yaml").read_text())
    for standard in raw["standards"]:
        if standard["id"] == "pressure-ref-1":
            standard["range"]["unit"] = "°C"
    register = parse_standards(yaml.safe_dump(raw, allow_unicode=True), "standards.yaml")
    found = problems(lab, "pressure-gauge", register)
    assert found == [
        "plans/pressure-gauge.yaml: standards.reference: pressure-ref-1: its calibrated range "
        "is in °C, which cannot measure bar"
    ]


def test_unknown_weight_names_its_field(lab: LabConfig) -> None:
    loads = [{"load": 20, "weights": ["weight-20g-e2"]}, {"load": 50, "weights": ["nope"]}]
    found = problems(lab, "balance", settings={"test_loads": loads})
    assert len(found) == 1
    assert found[0].startswith("plans/balance.yaml: settings.test_loads.1.weights.0: no standard")


def test_config_check_lists_plan_problems(tmp_path: Path) -> None:
    from daq.cli import app

    plans = tmp_path / "plans"
    plans.mkdir()
    raw = yaml.safe_load((CONFIG / "plans" / "pressure-gauge.yaml").read_text())
    raw["tolerance"] = {"kind": "percent_of_reading", "percent": 1, "unit": "bar"}
    (plans / "pressure-gauge.yaml").write_text(yaml.safe_dump(raw))
    lab = yaml.safe_load(lab_text(tmp_path))
    lab["plans"] = str(plans)
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(lab))
    result = CliRunner().invoke(app, ["config", "check", str(lab_file)])
    assert result.exit_code == 2
    assert f"{plans / 'pressure-gauge.yaml'}: tolerance: at 0 bar:" in result.output


@pytest.mark.parametrize("name", ["balance", "pressure-gauge"])
def test_a_second_uut_is_refused_where_the_procedure_calibrates_one(
    lab: LabConfig, name: str
) -> None:
    """Otherwise the second UUT would be listed on a passing result without being measured."""
    raw = yaml.safe_load((CONFIG / "plans" / f"{name}.yaml").read_text())
    second = {**raw["uuts"][0], "id": "second-uut"}
    found = problems(lab, name, uuts=[raw["uuts"][0], second])
    assert len(found) == 1 and found[0].startswith(f"plans/{name}.yaml: uuts: procedure")
    assert "calibrates 1 UUT per run, the plan lists 2" in found[0]


def test_a_capacity_beyond_the_r76_table_is_refused_before_the_run(lab: LabConfig) -> None:
    """Class II, e = 2 mg: Table 6 ends at 100 000 e = 200 g; Max 220 g is beyond it."""
    tolerance = {"kind": "oiml_r76", "accuracy_class": "II", "e": 0.002, "unit": "g"}
    found = problems(lab, "balance", tolerance=tolerance, settings={"capacity": 220})
    assert len(found) == 1 and "tolerance: at Max 220 g (in use):" in found[0]


def test_duplicate_test_loads_are_refused(lab: LabConfig) -> None:
    loads = [{"load": 20, "weights": ["weight-20g-e2"]}] * 2
    found = problems(lab, "balance", settings={"test_loads": loads})
    assert found == [
        "plans/balance.yaml: settings: each test load once: two loads of one value share one point"
    ]
