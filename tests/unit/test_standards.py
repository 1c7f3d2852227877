"""The register of reference standards: due dates, calibrated range, overrides, the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from daq.config import ConfigError
from daq.standards import (
    WAIVABLE,
    Override,
    Refusal,
    StandardRefused,
    calibrations,
    check_use,
    days_until_due,
    drift,
    load_standards,
    parse_standards,
    problems_with,
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


def test_only_a_passed_due_date_is_waived_by_an_override() -> None:
    override = Override(by="A. Nguyen", reason="needed today")
    with pytest.raises(StandardRefused, match=r"outside the calibrated range.*No override waives"):
        check_use(PRT, 450.0, "°C", TODAY, override)  # no traceable value up there
    with pytest.raises(StandardRefused, match=r"after today.*No override waives"):
        check_use(PRT, 100.0, "°C", dt.date(2026, 3, 1), override)  # dated 2026-03-10
    with pytest.raises(StandardRefused, match=r"outside the calibrated range.*No override waives"):
        check_use(PRT, 450.0, "°C", dt.date(2027, 3, 20), override)  # overdue and out of range
    assert [p.kind for p in problems_with(PRT, 450.0, "°C", dt.date(2027, 3, 20))] == [
        Refusal.OVERDUE,
        Refusal.OUTSIDE_RANGE,
        Refusal.EXTRAPOLATED,
    ]
    assert {Refusal.OVERDUE} == WAIVABLE


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


LAB_REGISTER = """# the lab's register
standards:
  # first
  - id: a
    certificate: {number: A-1, laboratory: L, calibrated: 2026-01-01, due: 2027-01-01,
                  traceability: [NMI]}
    range: {minimum: 0, maximum: 10, unit: bar}
    uncertainty: {value: 0.001, k: 2, unit: bar}

  - {id: b, certificate: {number: B-1, laboratory: L, calibrated: 2026-01-01,
     due: 2027-01-01, traceability: [NMI]}, range: {minimum: 0, maximum: 1, unit: kg},
     uncertainty: {value: 1, k: 2, unit: mg}}
  # between b and c
  - id: c
    certificate:
      number: C-1
      laboratory: L
      calibrated: 2026-01-01
      due: 2027-01-01
      traceability:
        - NMI
    range: {minimum: 0, maximum: 100, unit: °C}
    uncertainty: {value: 0.01, k: 2, unit: °C}
# the end
"""


@pytest.mark.parametrize("which", ["a", "b", "c"])
def test_a_newer_certificate_replaces_only_its_entrys_lines(tmp_path: Path, which: str) -> None:
    from daq.standards_file import recalibrated, write_entry

    path = tmp_path / "standards.yaml"
    path.write_text(LAB_REGISTER)
    current = load_standards(path).standard(which)
    certificate = current.certificate.model_copy(
        update={"number": f"{which.upper()}-2", "calibrated": dt.date(2026, 11, 1)}
    )
    newer = recalibrated(current, current.model_copy(update={"certificate": certificate}),
                         dt.date(2026, 11, 2))  # fmt: skip
    write_entry(path, newer, "new.xml (DCC)")
    after = load_standards(path)
    assert [s.id for s in after.standards] == ["a", "b", "c"]
    for standard in after.standards:
        replaced = standard.id == which
        assert standard.certificate.number == f"{standard.id.upper()}-{2 if replaced else 1}"
        assert [p.certificate.number for p in standard.history] == (
            [f"{which.upper()}-1"] if replaced else []
        )
    text = path.read_text()
    for comment in ("# the lab's register", "# first", "# between b and c", "# the end"):
        assert comment in text
    assert "# imported from new.xml (DCC)" in text
    entry = after.standard(which)
    assert drift(*calibrations(entry)) == ""  # no corrections on either: nothing to compare


def test_recalibration_is_refused_for_another_item_or_an_earlier_date() -> None:
    from daq.standards_file import RegisterRefused, recalibrated

    current = parse_standards(LAB_REGISTER, "standards.yaml").standard("c")
    today = dt.date(2026, 12, 1)
    same_day = current.model_copy(
        update={"certificate": current.certificate.model_copy(update={"number": "C-9"})}
    )
    with pytest.raises(RegisterRefused, match="is not later than c's current one, C-1"):
        recalibrated(current, same_day, today)
    with pytest.raises(RegisterRefused, match="already in c's register entry"):
        recalibrated(current, current, today)
    serials = (
        current.model_copy(update={"serial": "S1"}),
        current.model_copy(update={"serial": "S2"}),
    )
    with pytest.raises(RegisterRefused, match="c is serial S1; the certificate is of serial S2"):
        recalibrated(*serials, today)


def test_drift_across_certificates_in_each_kind_of_correction() -> None:
    from daq.standards import (
        CallendarVanDusen,
        ConventionalMass,
        CorrectionPoint,
        Corrections,
        CorrectionTable,
        PastCalibration,
    )

    current = parse_standards(LAB_REGISTER, "standards.yaml").standard("a")
    now, before = calibrations(current)[0], calibrations(current)[0]

    def on(corrections: Corrections) -> PastCalibration:
        return now.model_copy(update={"corrections": corrections})

    prt = CallendarVanDusen(kind="cvd", r0=100.0, a=3.9083e-3, b=-5.775e-7)
    moved = prt.model_copy(update={"r0": 100.0039083})  # + R0·A · 10 mK
    assert drift(on(moved), on(prt)) == "R0 +10.0 mK"

    def points(*pairs: tuple[float, float]) -> CorrectionTable:
        rows = [CorrectionPoint(nominal=n, correction=c) for n, c in pairs]
        return CorrectionTable(kind="table", unit="bar", points=rows)

    table, later = points((0, 0.0001), (5, 0.0)), points((5, -0.0003), (10, 0.0))
    assert drift(on(later), on(table)) == "correction -0.0003 bar at 5 bar (largest)"
    weight = ConventionalMass(kind="mass", nominal=1000, conventional_mass=1000.0012, unit="g")
    lighter = weight.model_copy(update={"conventional_mass": 1000.0009})
    assert drift(on(lighter), on(weight)) == "conventional mass -0.0003 g"
    assert drift(on(weight), on(prt)) == ""
    assert before.replaced is None


def test_a_block_scalar_ending_an_entry_does_not_take_the_next_with_it(tmp_path: Path) -> None:
    from daq.standards_file import recalibrated, write_entry

    text = LAB_REGISTER.replace(
        "    uncertainty: {value: 0.001, k: 2, unit: bar}\n",
        "    uncertainty: {value: 0.001, k: 2, unit: bar}\n    description: |\n      kept\n"
        "      in the lab\n",
    ).replace("  - {id: b,", "  - {id: b,", 1)
    path = tmp_path / "standards.yaml"
    path.write_bytes(text.replace("\n", "\r\n").encode())  # and written on Windows
    current = load_standards(path).standard("a")
    certificate = current.certificate.model_copy(
        update={"number": "A-2", "calibrated": dt.date(2026, 11, 1)}
    )
    newer = recalibrated(current, current.model_copy(update={"certificate": certificate}),
                         dt.date(2026, 11, 2))  # fmt: skip
    write_entry(path, newer, "new.xml (DCC)")
    after = load_standards(path)
    assert [s.id for s in after.standards] == ["a", "b", "c"]
    assert after.standard("b").certificate.number == "B-1"
    assert after.standard("a").description == "kept\nin the lab\n"
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # its line endings kept
