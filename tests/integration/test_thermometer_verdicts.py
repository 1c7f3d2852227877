"""Regression tests of two wrong verdicts of thermometers by comparison, run in-process on the
real simulators (the 1529 readout and the metrology well over their links).

The reference is made exact: its certificate's Callendar-Van Dusen coefficients are those of
IEC 60751:2008 (R0 = 100 Ω, A = 3.9083e-3, B = -5.775e-7, C = -4.183e-12) and the readout's
reference channel has no offset, so the readout's IEC 60751 conversion and the certificate's
agree and each probe's configured offset is its error of indication at every set point. The
1529 simulator's noise is 0.5 mK per reading and the probes lag the well by at most a few mK
once the reference is stable (checked below), far inside the 10 mK margins of these tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.config import load_lab
from daq.core.clock import Clock
from daq.engine.document import RunDocument
from daq.engine.plan import parse_plan
from daq.engine.runner import Runner
from daq.metrology.budget import round_uncertainty
from daq.session import lab_session
from daq.standards import load_standards
from tests.conftest import CONFIG, lab_text

SCALE = 400.0
"""Process seconds per real second (as the e2e runs)."""
IEC_60751 = {"kind": "cvd", "r0": 100.0, "a": 3.9083e-3, "b": -5.775e-7, "c": -4.183e-12}
TOLERANCE = {"kind": "absolute", "value": 50, "unit": "mK"}


class Quiet:
    def begin(self, run: str, title: str, total: int, done: int) -> None: ...
    def point(self, label: str) -> None: ...
    def status(self, text: str) -> None: ...
    def sample(self, reading: object, verdict: object) -> None: ...
    def completed(self, point: object) -> None: ...


async def calibrate(
    tmp: Path,
    offsets: tuple[float, float],
    *,
    uncertainty: float = 0.02,
    plan: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> RunDocument:
    """The thermometers plan at 30 °C and 140 °C against ±50 mK, probe-2 (channel 2) and
    probe-3 (channel 3) reading ``offsets`` °C high, the reference exact."""
    raw = yaml.safe_load((CONFIG / "standards.yaml").read_text())
    prt = next(s for s in raw["standards"] if s["id"] == "prt-ref-1")
    prt["corrections"] = dict(IEC_60751)
    prt["uncertainty"] = {"value": uncertainty, "k": 2, "unit": "°C"}
    standards = tmp / "standards.yaml"
    standards.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    readout: dict[str, object] = {
        "probe_offsets": [0.0, *offsets, 0.0],
        "probe_slopes": [0.0] * 4,
    }
    (tmp / "lab.yaml").write_text(
        lab_text(tmp, simulators={"readout-1": readout}, standards=standards)
    )
    lab = load_lab(tmp / "lab.yaml")
    raw_plan = yaml.safe_load((CONFIG / "plans" / "thermometers.yaml").read_text())
    raw_plan["tolerance"] = TOLERANCE
    raw_plan.update(plan or {})
    raw_plan["settings"].update(
        set_points=[30, 140], readings=5, interval=2, soak=60, **(settings or {})
    )
    parsed = parse_plan(yaml.safe_dump(raw_plan, allow_unicode=True), "thermometers.yaml")
    async with lab_session(lab, Clock(SCALE), simulate=True) as session:
        document = await Runner(session, load_standards(standards), Quiet()).start(
            parsed, "thermometers.yaml"
        )
    assert document.run.status == "completed", document.run.reason
    return document


@pytest.mark.parametrize("sign", [1, -1], ids=["reading high", "reading low"])
async def test_a_probe_60_mk_off_fails_50_mk_and_one_40_mk_off_passes(
    tmp_path: Path, sign: int
) -> None:
    document = await calibrate(tmp_path, (sign * 0.060, sign * 0.040))
    points = {p.key: p for p in document.points}
    assert set(points) == {f"{t} °C {u}" for t in (30, 140) for u in ("probe-2", "probe-3")}
    for key, point in points.items():
        decision = point.decision or {}
        # ±50 mK is ±0.050 °C for an error in °C (a difference, not an absolute temperature)
        assert (decision["tolerance_lower"], decision["tolerance_upper"]) == pytest.approx(
            (-0.05, 0.05)
        )
        offset = 0.060 if point.uut == "probe-2" else 0.040
        assert point.values["error"] == pytest.approx(sign * offset, abs=0.005), key
        assert point.values["correction"] == -point.values["error"]
        # every round, not only the mean, is within 5 mK of the configured error
        assert all(abs(d - sign * offset) < 0.005 for d in point.readings["difference"]), key
        expected = "fail" if point.uut == "probe-2" else "pass"
        assert decision["outcome"] == expected, key
    assert document.result.conforms is False
    failures = document.result.failures
    assert sorted(f.point for f in failures) == ["140 °C probe-2", "30 °C probe-2"]
    for failure in failures:
        limit = failure.tolerance_upper if sign > 0 else failure.tolerance_lower
        assert failure.excess == pytest.approx(abs(failure.value - limit))
        assert 0.005 < failure.excess < 0.015
    flagged = {e.instrument for e in document.events if e.kind == "out_of_tolerance"}
    assert flagged == {"probe-2"}


async def test_a_relative_cmc_raises_u_at_140_c_and_warns_of_the_tur(tmp_path: Path) -> None:
    """CMC 0.001·|t| (ILAC P14:09/2020 5.4, at the measured value, not at the error): 0.14 °C
    at 140 °C. The budget alone is small enough for a TUR of 4 (U ≤ 12.5 mK against ±50 mK);
    raised to the CMC, TUR = 0.100/(2U) < 4 (ILAC-G8:09/2019 note 4:1 as the rule's minimum),
    so the point carries the warning and the journal a low_tur event."""
    small = {
        "reference_drift": 0.002,
        "readout_accuracy": 0.002,
        "uut_readout_accuracy": 0.002,
        "axial_uniformity": 0.002,
        "radial_uniformity": 0.002,
        "stability": 0.0,
        "immersion": 0.002,
        "self_heating": 0.001,
    }
    document = await calibrate(
        tmp_path,
        (0.0, 0.0),
        uncertainty=0.005,
        plan={"cmc": {"relative": 0.001, "unit": "°C"}},
        settings=small,
    )
    hot = [p for p in document.points if p.nominal == 140]
    assert len(hot) == 2
    for point in hot:
        budget, decision = point.budget or {}, point.decision or {}
        t_ref = point.values["reference"]
        assert t_ref == pytest.approx(140.0, abs=0.02)
        own = budget["coverage_factor"] * budget["combined_standard_uncertainty"]
        assert own <= 0.0125  # the budget alone: TUR ≥ 4
        assert budget["cmc"] == pytest.approx(0.001 * t_ref)
        assert budget["cmc_applied"] is True
        expanded = budget["expanded_uncertainty"]
        assert expanded >= 0.14 and expanded == round_uncertainty(0.001 * t_ref, up=True)
        assert decision["expanded_uncertainty"] == expanded
        assert decision["tur"] == pytest.approx(0.100 / (2 * expanded))
        assert decision["tur"] < 4
        assert any("uncertainty ratio" in w for w in decision["warnings"])
        assert decision["outcome"] == "pass"  # simple acceptance: the error is about 0
    low_tur = [e for e in document.events if e.kind == "low_tur"]
    assert {e.instrument for e in low_tur if e.message.startswith("140 °C")} == {
        "probe-2",
        "probe-3",
    }
    assert any("test uncertainty ratio" in w for w in document.result.warnings)


@pytest.mark.parametrize("sign", [1, -1], ids=["reading high", "reading low"])
async def test_each_probe_s_certificate_carries_its_own_verdict(tmp_path: Path, sign: int) -> None:
    """probe-2 60 mK off fails ±50 mK, probe-3 40 mK off passes: the run does not conform,
    but probe-3's own certificate (one per UUT) must say it conforms, and probe-2's that it
    does not, each with its own points only."""
    from daq.engine.document import certified_items, for_uut
    from daq.reports.certificate import Issue, render_html

    document = await calibrate(tmp_path, (sign * 0.060, sign * 0.040))
    assert certified_items(document) == ["probe-2", "probe-3"]
    failing, passing = for_uut(document, "probe-2"), for_uut(document, "probe-3")
    assert failing.result.conforms is False and passing.result.conforms is True
    assert sorted(f.point for f in failing.result.failures) == ["140 °C probe-2", "30 °C probe-2"]
    assert {p.uut for p in failing.points} == {"probe-2"}
    assert {p.uut for p in passing.points} == {"probe-3"}
    assert [u["id"] for u in passing.uuts] == ["probe-3"]
    assert passing.run.record_hash == document.run.record_hash
    assert [s["standard"]["id"] for s in passing.standards] == ["prt-ref-1"]
    lab = load_lab(tmp_path / "lab.yaml")
    issue = Issue("N-1", dt.datetime(2026, 12, 3, tzinfo=dt.UTC), "J", "QM", "en")
    good, bad = render_html(passing, lab, issue), render_html(failing, lab, issue)
    assert "The item conforms to the specification at every decided point." in good
    assert "probe-2" not in good
    assert "does not conform to the specification at 2 point(s)" in bad and "probe-3" not in bad
    with pytest.raises(ValueError, match="no UUT 'probe-9'"):
        for_uut(document, "probe-9")
