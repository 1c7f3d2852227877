"""The register of reference standards: due dates, calibrated range, overrides, the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from daq.config import ConfigError
from daq.standards import (
    Override,
    StandardRefused,
    check_use,
    days_until_due,
    load_standards,
    parse_standards,
)

REGISTER = load_standards(Path(__file__).parents[2] / "config" / "standards.yaml")
PRT = REGISTER.standard("prt-ref-1")
TODAY = dt.date(2026, 11, 25)


def test_the_example_register_loads() -> None:
    assert [s.id for s in REGISTER.standards][:3] == [
        "prt-ref-1",
        "pressure-ref-1",
        "weight-1kg-f1",
    ]
    assert {"weight-20g-e2", "weight-50g-e2", "weight-100g-e2", "weight-200g-e2"} <= {
        s.id for s in REGISTER.standards
    }
    assert days_until_due(PRT, TODAY) == (dt.date(2027, 3, 10) - TODAY).days == 105


def test_in_date_and_in_range_is_allowed_without_override() -> None:
    use = check_use(PRT, 100.0, "°C", TODAY)
    assert use.problems == () and use.override is None
    snapshot = use.snapshot()
    assert snapshot["standard"]["certificate"]["number"] == "DEMO-T-2026-0117"
    assert snapshot["standard"]["certificate"]["due"] == "2027-03-10"


def test_range_is_checked_in_the_ranges_unit() -> None:
    assert check_use(PRT, 600.0, "K", TODAY).problems == ()  # 326.85 °C
    with pytest.raises(StandardRefused, match=r"450 °C is outside the calibrated range -40 to 420"):
        check_use(PRT, 450.0, "°C", TODAY)


def test_an_overdue_standard_is_refused_and_says_what_to_do() -> None:
    late = dt.date(2027, 3, 20)
    with pytest.raises(StandardRefused) as refused:
        check_use(PRT, 100.0, "°C", late)
    assert "calibration due 2027-03-10 (10 days overdue)" in str(refused.value)
    assert "override with your name and the reason" in str(refused.value)


def test_an_override_allows_the_use_and_is_carried_with_it() -> None:
    override = Override(by="A. Nguyen", reason="recalibration booked; drift checked at TPW")
    use = check_use(PRT, 100.0, "°C", dt.date(2027, 3, 20), override)
    assert use.override == override
    assert use.snapshot()["override"] == {
        "by": "A. Nguyen",
        "reason": "recalibration booked; drift checked at TPW",
    }
    assert "10 days overdue" in use.problems[0]
    assert check_use(PRT, 100.0, "°C", TODAY, override).override is None  # nothing to override


def test_correction_table_interpolates_and_refuses_to_extrapolate() -> None:
    table = REGISTER.standard("pressure-ref-1").corrections
    assert table is not None and table.kind == "table"
    assert table.correction(2.5) == pytest.approx(-0.00005)
    assert table.correction(10.0) == pytest.approx(-0.0004)
    with pytest.raises(ValueError, match="outside the correction table"):
        table.correction(10.5)


CERTIFICATE = """
    certificate:
      number: X-1
      laboratory: Lab
      calibrated: 2026-05-01
      due: {due}
      traceability: [{chain}]
    range: {{minimum: 0, maximum: 100, unit: °C}}
    uncertainty: {{value: 0.1, unit: °C}}
"""


def entry(ident: str, due: str = "2027-05-01", chain: str = "NMI") -> str:
    return f"  - id: {ident}" + CERTIFICATE.format(due=due, chain=chain)


BAD = f"""
standards:
{entry("prt-2", chain="")}
    corrections: {{kind: spline}}
{entry("prt-3", due="2026-04-01")}
  - id: prt-4
    certificate: {{number: X, laboratory: L, calibrated: 2026-01-01, due: 2027-01-01,
                  traceability: [NMI]}}
    range: {{minimum: 10, maximum: 0, unit: blargs}}
    uncertainty: {{value: -1, unit: °C}}
"""


def test_every_problem_in_the_file_is_named_with_its_field() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_standards(BAD, "standards.yaml")
    found = {p.path: p.message for p in raised.value.problems}
    assert found["standards[prt-2].certificate.traceability"].startswith("List should have")
    assert "cvd" in found["standards[prt-2].corrections"]
    assert found["standards[prt-3].certificate"] == "due must be after calibrated"
    assert found["standards[prt-4].range.unit"] == "unknown unit 'blargs'"
    assert "greater than 0" in found["standards[prt-4].uncertainty.value"]


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match="duplicate id 'prt-2'"):
        parse_standards(f"standards:\n{entry('prt-2')}{entry('prt-2')}", "standards.yaml")
