"""The certificate words the specification, the decision rule, the points and the checks in
its own language: in English exactly as the run's document (``describe()``) does, in
Vietnamese with a decimal comma and the day first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import TypeAdapter

from daq.metrology.decision import DecisionRule
from daq.metrology.tolerance import Tolerance
from daq.reports import wording
from daq.reports.i18n import Translator

EN, VI = Translator("en"), Translator("vi")

TOLERANCES: list[dict[str, Any]] = [
    {"kind": "absolute", "value": 0.25, "unit": "bar"},
    {"kind": "percent_of_reading", "percent": 0.05, "unit": "V"},
    {"kind": "percent_of_span", "percent": 0.1, "span": 16, "unit": "bar"},
    {"kind": "oiml_r76", "accuracy_class": "II", "e": 0.01, "unit": "g"},
    {"kind": "oiml_r76", "accuracy_class": "III", "e": 0.5, "unit": "g", "in_service": True},
    {"kind": "oiml_r111", "weight_class": "F1", "unit": "mg"},
    {"kind": "iec_60751", "tolerance_class": "A"},
    {"kind": "iec_60751", "tolerance_class": "B", "element": "film"},
    {"kind": "en_837_1", "accuracy_class": 1.6, "span": 10, "unit": "bar"},
    {"kind": "specification", "unit": "mbar", "percent_of_reading": 0.01,
     "percent_of_span": 0.02, "span": 2000, "fixed": 0.5, "digits": 2, "resolution": 0.1},
    {"kind": "limits", "lower": -0.1, "upper": 0.3, "unit": "°C"},
]  # fmt: skip

RULES: list[dict[str, Any]] = [
    {},
    {"acceptance": "guarded"},
    {"acceptance": "guarded", "guard_band": "pfa", "max_false_accept": 0.01},
    {"statements": "non-binary"},
    {"acceptance": "guarded", "guard_band": "pfa", "statements": "non-binary"},
]


@pytest.mark.parametrize("raw", TOLERANCES, ids=lambda raw: str(raw["kind"]))
def test_the_english_specification_is_the_run_documents(raw: dict[str, Any]) -> None:
    spec = TypeAdapter(Tolerance).validate_python(raw)
    assert wording.specification(raw, EN) == spec.describe()


@pytest.mark.parametrize("raw", RULES)
def test_the_english_decision_rule_is_the_run_documents(raw: dict[str, Any]) -> None:
    assert wording.decision_rule(raw, EN) == DecisionRule.model_validate(raw).describe()


def test_vietnamese_specifications_use_a_decimal_comma_and_no_english() -> None:
    worded = [wording.specification(raw, VI) for raw in TOLERANCES]
    assert worded[0] == "±0,25 bar"
    assert worded[2] == "±0,1 % khoảng đo 16 bar"
    assert worded[3] == "OIML R76-1 cấp chính xác II, e = 0,01 g, kiểm định ban đầu"
    assert worded[4].endswith("e = 0,5 g, trong sử dụng")
    # IEC 60751:2008 Table 3, class A: ±(0.15 + 0.002|t|) °C, wire-wound -100 °C to 450 °C
    assert worded[6] == (
        "IEC 60751 cấp A, phần tử dây quấn, ±(0,15 + 0,002|t|) °C từ -100 °C đến 450 °C"
    )
    assert worded[8] == "EN 837-1 cấp chính xác 1,6 (1,6 % khoảng đo 10 bar)"
    assert worded[9] == (
        "±(0,01 % giá trị đọc + 0,02 % khoảng đo 2000 mbar + 0,5 mbar"
        " + 2 chữ số của độ phân giải 0,1 mbar)"
    )
    assert worded[10] == "từ -0,1 °C đến +0,3 °C"
    english = {"of", "reading", "span", "class", "initial", "verification", "service", "digits",
               "to", "from", "wire", "film", "per", "table"}  # fmt: skip
    for text in worded:
        assert not english & set(text.lower().replace("(", " ").split()), text


def test_vietnamese_decision_rules_and_risks() -> None:
    assert wording.decision_rule({}, VI) == "chấp nhận đơn giản (ILAC-G8:09/2019 4.2.1, w = 0)"
    pfa = {"acceptance": "guarded", "guard_band": "pfa", "max_false_accept": 0.015}
    assert "nhỏ hơn 1,5%" in wording.decision_rule(pfa, VI)
    assert "nhỏ hơn 1,5 %" in wording.risk(pfa, VI)
    assert wording.decision_rule({"statements": "non-binary"}, VI).endswith(
        ", công bố không nhị phân (4.2.3)"
    )
    both = wording.risk({"statements": "non-binary"}, VI)
    assert both.startswith("dải bảo vệ w = U") and "đạt có điều kiện" in both


def test_an_unknown_tolerance_keeps_the_run_documents_wording() -> None:
    plan = {"tolerance": {"kind": "plugin_spec", "ppm": 3}}
    assert wording.worded(plan, "±3 ppm (plugin)", VI) == "±3 ppm (plugin)"


@pytest.mark.parametrize(
    ("key", "english", "vietnamese"),
    [
        ("indication 0.5 g", "Indication 0.5 g", "Số chỉ 0,5 g"),
        ("in use", "In use", "Trong sử dụng"),
        ("repeatability", "Repeatability", "Độ lặp lại"),
        ("2.5 bar", "2.5 bar", "2,5 bar"),
        ("-0.5 °C probe-2.1", "-0.5 °C probe-2.1", "-0,5 °C probe-2.1"),  # an id stays
        ("M1 0 bar", "M1 0 bar", "M1 0 bar"),
    ],
)
def test_point_labels(key: str, english: str, vietnamese: str) -> None:
    assert wording.point(key, EN) == english
    assert wording.point(key, VI) == vietnamese


def test_check_names_and_procedure_titles() -> None:
    assert wording.check("M2 falling", VI) == "M2 giảm"
    assert wording.check("hysteresis", VI) == "Độ trễ"
    assert wording.check("flatness", VI) == "flatness"  # a plugin's own check
    assert wording.procedure_title("weighing", "Weighing", VI).startswith("Cân không tự động")
    assert wording.procedure_title("dc_voltage", "DC voltage", VI) == "DC voltage"


def test_numbers_and_dates() -> None:
    assert VI.number("-0.00003") == "-0,00003" and VI.number(95.45) == "95,45"
    assert EN.number(95.45) == "95.45"
    day = dt.date(2026, 3, 7)
    assert VI.date(day) == "07/03/2026" and EN.date(day) == "2026-03-07"
    assert VI.date("2027-05-20") == "20/05/2027"
    assert VI.date("early May") == "early May"  # a plan's own words are kept


def test_the_english_procedure_titles_are_the_procedures_own() -> None:
    import procedures.pressure_gauge
    import procedures.thermometer_comparison
    import procedures.weighing

    for module in (procedures.weighing, procedures.thermometer_comparison,
                   procedures.pressure_gauge):  # fmt: skip
        name = module.__name__.rsplit(".", 1)[1]
        title = " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())
        assert EN(f"procedure_{name}") == title
