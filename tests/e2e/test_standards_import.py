"""`daq standards import`: a standard's DCC read into the register, through real `daq`
processes: a round trip through our own DCC (the corrections are the negated errors, with U
and k per point), another laboratory's layout (one si:real per point, corrections instead of
errors, other units), and a DCC that does not validate refused with the reason."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from daq.standards import CorrectionTable, load_standards
from tests.conftest import CONFIG
from tests.e2e.processes import run
from tests.e2e.test_calibration_cli import calibrate, lab

SIGNATORY = ("--by", "Jane Doe", "--function", "Quality manager")


def lab_with_register(tmp_path: Path) -> tuple[Path, Path]:
    register = tmp_path / "standards.yaml"
    shutil.copy(CONFIG / "standards.yaml", register)
    return lab(tmp_path, standards=register), register


def test_our_own_dcc_round_trips_into_the_register(tmp_path: Path) -> None:
    lab_file, register = lab_with_register(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    dcc = tmp_path / "gauge.xml"
    issued = run("report", document["run"]["id"], "--format", "dcc", "--out", str(dcc),
                 *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    imported = run("standards", "import", str(dcc), "--id", "gauge-as-standard", "--due",
                   "2027-12-01", "--traceability", "Demo calibration laboratory",
                   "--traceability", "National metrology institute", "--lab", str(lab_file),
                   cwd=tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    entry = load_standards(register).standard("gauge-as-standard")
    assert entry.certificate.number in issued.stdout
    assert entry.certificate.laboratory == "Demo calibration laboratory"
    assert entry.certificate.traceability == [
        "Demo calibration laboratory",
        "National metrology institute",
    ]
    assert entry.serial == document["uuts"][0]["serial"]
    assert entry.imported_from is not None
    assert entry.imported_from.sha256 == hashlib.sha256(dcc.read_bytes()).hexdigest()
    table = entry.corrections
    assert isinstance(table, CorrectionTable) and table.unit == "bar"
    decided = [p for p in document["points"] if p["decision"] and p["kind"] == "pressure"]
    expected = sorted((p["nominal"], -p["decision"]["value"]) for p in decided)
    assert [p.nominal for p in table.points] == [nominal for nominal, _ in expected]
    assert [p.correction for p in table.points] == pytest.approx([c for _, c in expected])
    for point, source in zip(table.points, sorted(decided, key=lambda p: p["nominal"]),
                             strict=True):  # fmt: skip
        assert point.uncertainty == pytest.approx(source["budget"]["expanded_uncertainty"])
        assert point.k == pytest.approx(source["budget"]["coverage_factor"])
    listed = run("standards", "--lab", str(lab_file), cwd=tmp_path)
    assert listed.returncode == 0
    assert f"DCC {entry.imported_from.sha256[:12]}" in listed.stdout
    again = run("standards", "import", str(dcc), "--id", "gauge-as-standard", "--due",
                "2027-12-01", "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert again.returncode == 2 and "is already in gauge-as-standard" in again.stderr
    assert run("config", "check", str(lab_file), cwd=tmp_path).returncode == 0


FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" xmlns:si="https://ptb.de/si"
    schemaVersion="3.1.2">
  <dcc:administrativeData>
    <dcc:dccSoftware>
      <dcc:software>
        <dcc:name><dcc:content>CalLab Suite</dcc:content></dcc:name>
        <dcc:release>v4.2</dcc:release>
      </dcc:software>
    </dcc:dccSoftware>
    <dcc:coreData>
      <dcc:countryCodeISO3166_1>DE</dcc:countryCodeISO3166_1>
      <dcc:usedLangCodeISO639_1>de</dcc:usedLangCodeISO639_1>
      <dcc:usedLangCodeISO639_1>en</dcc:usedLangCodeISO639_1>
      <dcc:mandatoryLangCodeISO639_1>de</dcc:mandatoryLangCodeISO639_1>
      <dcc:uniqueIdentifier>D-K-99999-01-2026-117</dcc:uniqueIdentifier>
      <dcc:receiptDate>2026-03-02</dcc:receiptDate>
      <dcc:beginPerformanceDate>2026-03-09</dcc:beginPerformanceDate>
      <dcc:endPerformanceDate>2026-03-10</dcc:endPerformanceDate>
      <dcc:performanceLocation>laboratory</dcc:performanceLocation>
    </dcc:coreData>
    <dcc:items>
      <dcc:item>
        <dcc:name>
          <dcc:content lang="de">Digitales Barometer</dcc:content>
          <dcc:content lang="en">Digital barometer</dcc:content>
        </dcc:name>
        <dcc:manufacturer><dcc:name><dcc:content>Druck</dcc:content></dcc:name></dcc:manufacturer>
        <dcc:model>DPI 740</dcc:model>
        <dcc:identifications>
          <dcc:identification>
            <dcc:issuer>customer</dcc:issuer>
            <dcc:value>INV-0042</dcc:value>
          </dcc:identification>
          <dcc:identification>
            <dcc:issuer>manufacturer</dcc:issuer>
            <dcc:value>740-1234</dcc:value>
          </dcc:identification>
        </dcc:identifications>
      </dcc:item>
    </dcc:items>
    <dcc:calibrationLaboratory>
      <dcc:calibrationLaboratoryCode>D-K-99999-01-00</dcc:calibrationLaboratoryCode>
      <dcc:contact>
        <dcc:name><dcc:content>Kalibrierlabor Beispiel GmbH</dcc:content></dcc:name>
        <dcc:eMail>kal@example.de</dcc:eMail>
        <dcc:location><dcc:city>Braunschweig</dcc:city><dcc:countryCode>DE</dcc:countryCode></dcc:location>
      </dcc:contact>
    </dcc:calibrationLaboratory>
    <dcc:respPersons>
      <dcc:respPerson>
        <dcc:person><dcc:name><dcc:content>M. Muster</dcc:content></dcc:name></dcc:person>
      </dcc:respPerson>
    </dcc:respPersons>
    <dcc:customer>
      <dcc:name><dcc:content>Demo calibration laboratory</dcc:content></dcc:name>
      <dcc:eMail>calibration@example.org</dcc:eMail>
      <dcc:location><dcc:city>Example City</dcc:city></dcc:location>
    </dcc:customer>
  </dcc:administrativeData>
  <dcc:measurementResults>
    <dcc:measurementResult>
      <dcc:name><dcc:content>Kalibrierung / calibration</dcc:content></dcc:name>
      <dcc:results>
        <dcc:result>
          <dcc:name><dcc:content>Korrektionen / corrections</dcc:content></dcc:name>
          <dcc:data>
            <dcc:list>
              <dcc:quantity refType="basic_nominalValue">
                <dcc:name><dcc:content>Nennwert</dcc:content></dcc:name>
                <si:hybrid>
                  <si:real><si:value>800</si:value><si:unit>\\hecto\\pascal</si:unit></si:real>
                </si:hybrid>
              </dcc:quantity>
              <dcc:quantity refType="basic_measurementErrorCorrection">
                <dcc:name><dcc:content>Korrektion</dcc:content></dcc:name>
                <si:real>
                  <si:value>12</si:value><si:unit>\\pascal</si:unit>
                  <si:expandedUnc><si:uncertainty>5</si:uncertainty><si:coverageFactor>2</si:coverageFactor><si:coverageProbability>0.95</si:coverageProbability></si:expandedUnc>
                </si:real>
              </dcc:quantity>
            </dcc:list>
          </dcc:data>
        </dcc:result>
      </dcc:results>
    </dcc:measurementResult>
  </dcc:measurementResults>
</dcc:digitalCalibrationCertificate>
"""
"""Another laboratory's DCC, written by hand in another layout: German first, the nominal
value as an si:hybrid, the correction (not the error) in Pa against nominal values in hPa,
one si:real per quantity (a one-point certificate), the laboratory located by city."""


def test_another_laboratorys_layout_is_read(tmp_path: Path) -> None:
    lab_file, register = lab_with_register(tmp_path)
    foreign = tmp_path / "barometer.xml"
    foreign.write_text(FOREIGN, encoding="utf-8")
    imported = run("standards", "--lab", str(lab_file), "import", str(foreign), "--id",
                   "baro-ref", "--due", "2027-03-10", cwd=tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr  # the group's --lab names the register
    assert "the official schema was not checked" in " ".join(imported.stderr.split())
    entry = load_standards(register).standard("baro-ref")
    assert (entry.manufacturer, entry.model, entry.serial) == ("Druck", "DPI 740", "740-1234")
    assert entry.certificate.number == "D-K-99999-01-2026-117"
    assert entry.certificate.accreditation == "D-K-99999-01-00"
    assert str(entry.certificate.calibrated) == "2026-03-10"
    table = entry.corrections
    assert isinstance(table, CorrectionTable) and table.unit == "hPa"
    (point,) = table.points
    assert (point.nominal, point.correction) == pytest.approx((800.0, 0.12))  # 12 Pa in hPa
    assert (point.uncertainty, point.k) == pytest.approx((0.05, 2.0))
    assert (entry.uncertainty.value, entry.uncertainty.unit) == (pytest.approx(0.05), "hPa")


def test_a_dcc_that_does_not_validate_is_refused_with_the_reason(tmp_path: Path) -> None:
    lab_file, register = lab_with_register(tmp_path)
    before = register.read_text()
    broken = tmp_path / "broken.xml"
    bad_release = FOREIGN.replace("<dcc:release>v4.2", "<dcc:release>4.2 beta")
    broken.write_text(bad_release, encoding="utf-8")
    refused = run("standards", "import", str(broken), "--id", "x", "--due", "2027-01-01",
                  "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1, said
    assert "release version" in said and "does not validate: not imported" in said
    assert register.read_text() == before
    no_table = tmp_path / "no-table.xml"
    no_table.write_text(FOREIGN.replace("basic_measurementErrorCorrection", "basic_other"),
                        encoding="utf-8")  # fmt: skip
    refused = run("standards", "import", str(no_table), "--id", "x", "--due", "2027-01-01",
                  "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1 and "basic_measurementError" in refused.stderr
    assert register.read_text() == before
    assert yaml.safe_load(before) == yaml.safe_load(register.read_text())


def test_with_the_official_schema_the_import_checks_it_too(tmp_path: Path) -> None:
    from tests.e2e.test_dcc import official_schema

    schema = official_schema()
    lab_file, register = lab_with_register(tmp_path)
    foreign = tmp_path / "barometer.xml"
    foreign.write_text(FOREIGN, encoding="utf-8")
    imported = run("standards", "import", str(foreign), "--id", "baro-ref", "--due",
                   "2027-03-10", "--schema-dir", str(schema), "--lab", str(lab_file),
                   cwd=tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "not checked" not in imported.stderr
    invalid = tmp_path / "invalid.xml"  # Schematron passes, the XSD does not: no eMail
    invalid.write_text(FOREIGN.replace("<dcc:eMail>kal@example.de</dcc:eMail>", ""))
    refused = run("standards", "import", str(invalid), "--id", "other", "--due",
                  "2027-03-10", "--schema-dir", str(schema), "--lab", str(lab_file),
                  cwd=tmp_path)  # fmt: skip
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "location" in said and "not imported" in said
    assert [s.id for s in load_standards(register).standards].count("other") == 0


PRT_TEMPERATURES = (-40.0, 0.0, 100.0, 232.0, 420.0)


def prt_dcc(
    number: str, calibrated: str, r0: float, *, serial: str = "712345", stated: bool = False,
    a_factor: float = 1.0,
) -> str:  # fmt: skip
    """A PRT's DCC in another laboratory's layout: resistances (basic_measuredValue, Ω) at
    temperatures (basic_nominalValue, °C) from R0 and prt-ref-1's A, B, C; with ``stated``
    the certificate also names its coefficients R0, A (times ``a_factor``), B and C."""
    from daq.metrology.cvd import Coefficients

    prt = Coefficients(r0, 3.9085e-3, -5.776e-7, -4.18e-12)
    temperatures = " ".join(f"{t:g}" for t in PRT_TEMPERATURES)
    ohms = " ".join(f"{prt.resistance(t):.6f}" for t in PRT_TEMPERATURES)
    coefficients = "".join(
        f'<dcc:quantity refType="basic_calibrationCoefficient"><dcc:name><dcc:content>{name}'
        f"</dcc:content></dcc:name><si:real><si:value>{value!r}</si:value>"
        f"<si:unit>{unit}</si:unit></si:real></dcc:quantity>"
        for name, value, unit in (("R0", prt.r0, "\\ohm"), ("A", prt.a * a_factor, "\\one"),
                                  ("B", prt.b, "\\one"), ("C", prt.c, "\\one"))
    )  # fmt: skip
    results = f"""<dcc:measurementResults><dcc:measurementResult>
      <dcc:name><dcc:content>Kalibrierung / calibration</dcc:content></dcc:name>
      <dcc:results><dcc:result>
        <dcc:name><dcc:content>Widerstand / resistance</dcc:content></dcc:name>
        <dcc:data><dcc:list>
          <dcc:quantity refType="basic_nominalValue">
            <dcc:name><dcc:content>Temperatur</dcc:content></dcc:name>
            <si:realListXMLList><si:valueXMLList>{temperatures}</si:valueXMLList>
              <si:unitXMLList>\\degreecelsius</si:unitXMLList></si:realListXMLList>
          </dcc:quantity>
          <dcc:quantity refType="basic_measuredValue">
            <dcc:name><dcc:content>Widerstand</dcc:content></dcc:name>
            <si:realListXMLList><si:valueXMLList>{ohms}</si:valueXMLList>
              <si:unitXMLList>\\ohm</si:unitXMLList>
              <si:expandedUncXMLList><si:uncertaintyXMLList>0.002</si:uncertaintyXMLList>
                <si:coverageFactorXMLList>2</si:coverageFactorXMLList>
                <si:coverageProbabilityXMLList>0.95</si:coverageProbabilityXMLList>
              </si:expandedUncXMLList></si:realListXMLList>
          </dcc:quantity>
        </dcc:list></dcc:data>
      </dcc:result>{"<dcc:result><dcc:name><dcc:content>CVD</dcc:content></dcc:name><dcc:data><dcc:list>" + coefficients + "</dcc:list></dcc:data></dcc:result>" if stated else ""}</dcc:results>
    </dcc:measurementResult></dcc:measurementResults>"""  # noqa: E501
    start, end = (
        FOREIGN.index("<dcc:measurementResults>"),
        FOREIGN.index("</dcc:measurementResults>"),
    )
    text = FOREIGN[:start] + results + FOREIGN[end + len("</dcc:measurementResults>") :]
    for old, new in (("D-K-99999-01-2026-117", number), ("2026-03-10", calibrated),
                     ("2026-03-09", calibrated), ("2026-03-02", calibrated),
                     ("Digitales Barometer", "Platin-Widerstandsthermometer"),
                     ("Digital barometer", "Platinum resistance thermometer"),
                     ("<dcc:content>Druck</dcc:content>", "<dcc:content>Fluke</dcc:content>"),
                     ("DPI 740", "5615"), ("740-1234", serial)):  # fmt: skip
        text = text.replace(old, new)
    return text


def import_prt(
    tmp_path: Path, lab_file: Path, name: str, xml: str, standard_id: str
) -> tuple[int, str]:
    dcc = tmp_path / name
    dcc.write_text(xml, encoding="utf-8")
    done = run("standards", "import", str(dcc), "--id", standard_id, "--due", "2027-11-20",
               "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_a_prt_certificate_gets_fitted_coefficients_with_their_residual(tmp_path: Path) -> None:
    from daq.metrology.cvd import Coefficients
    from daq.standards import CallendarVanDusen

    lab_file, register = lab_with_register(tmp_path)
    code, said = import_prt(tmp_path, lab_file, "prt.xml",
                            prt_dcc("K-T-2026-0501", "2026-11-20", 100.0133), "prt-2")  # fmt: skip
    assert code == 0, said
    assert "Callendar-Van Dusen coefficients fitted to its table" in said
    entry = load_standards(register).standard("prt-2")
    cvd = entry.corrections
    assert isinstance(cvd, CallendarVanDusen) and cvd.coefficients_from == "fit"
    # resistances printed to 1 µΩ: the fit finds the coefficients they came from
    assert cvd.r0 == pytest.approx(100.0133, abs=2e-5)
    assert (cvd.a, cvd.b) == pytest.approx((3.9085e-3, -5.776e-7), rel=1e-5)
    assert cvd.fit_residual < 0.0001  # °C
    assert (cvd.valid_from, cvd.valid_to) == (-40.0, 420.0)
    assert (entry.range.minimum, entry.range.maximum, entry.range.unit) == (-40.0, 420.0, "°C")
    # U = 0.002 Ω (k = 2) over dR/dt: largest where the PRT is least sensitive, at 420 °C
    slope = Coefficients(100.0133, 3.9085e-3, -5.776e-7, -4.18e-12).slope(420.0)
    assert (entry.uncertainty.value, entry.uncertainty.k) == pytest.approx((0.002 / slope, 2))
    assert entry.uncertainty.unit == "°C"
    assert entry.imported_from is not None and entry.imported_from.table is not None
    kept = entry.imported_from.table
    assert (kept.quantity, kept.nominal_unit) == ("resistance", "°C")
    assert [p.nominal for p in kept.points] == list(PRT_TEMPERATURES)
    assert {(p.uncertainty, p.k) for p in kept.points} == {(0.002, 2.0)}


def test_a_newer_certificate_replaces_the_entry_and_keeps_the_history(tmp_path: Path) -> None:
    from daq.standards import CallendarVanDusen

    lab_file, register = lab_with_register(tmp_path)
    before = register.read_text()
    older = prt_dcc("K-T-2025-0001", "2025-11-20", 100.0123)
    code, said = import_prt(tmp_path, lab_file, "older.xml", older, "prt-ref-1")
    assert code == 2 and "is not later than prt-ref-1's current one, DEMO-T-2026-0117" in said
    code, said = import_prt(tmp_path, lab_file, "other.xml",
                            prt_dcc("K-T-2026-0600", "2026-11-20", 100.0123, serial="999"),
                            "prt-ref-1")  # fmt: skip
    assert code == 2 and "prt-ref-1 is serial 712345; the certificate is of serial 999" in said
    misread = prt_dcc("K-T-2026-0601", "2026-11-20", 100.0133, stated=True, a_factor=1.001)
    code, said = import_prt(tmp_path, lab_file, "misread.xml", misread, "prt-ref-1")
    assert code == 1 and "miss its own table by" in said
    assert register.read_text() == before

    newer = prt_dcc("K-T-2026-0602", "2026-11-20", 100.0133, stated=True)
    code, said = import_prt(tmp_path, lab_file, "newer.xml", newer, "prt-ref-1")
    assert code == 0, said
    assert "its earlier certificate DEMO-T-2026-0117 is kept in its history" in said
    assert "Callendar-Van Dusen coefficients stated by the certificate" in said
    entry = load_standards(register).standard("prt-ref-1")
    cvd = entry.corrections
    assert isinstance(cvd, CallendarVanDusen) and cvd.coefficients_from == "certificate"
    assert cvd.r0 == 100.0133 and cvd.fit_residual < 0.0001
    assert entry.certificate.number == "K-T-2026-0602"
    assert entry.description.startswith("Secondary reference PRT")  # the lab's words kept
    assert entry.instrument == "readout-1"
    (past,) = entry.history
    assert past.certificate.number == "DEMO-T-2026-0117" and past.replaced is not None
    assert isinstance(past.corrections, CallendarVanDusen) and past.corrections.r0 == 100.0123
    # the rest of the lab's file is as it was written: comments and the other entries
    after = register.read_text()
    assert after.startswith(before[: before.index("  - id: prt-ref-1")])
    assert after.endswith(before[before.index("  - id: pressure-ref-1") - 1 :])
    shown = run("standards", "history", "prt-ref-1", "--lab", str(lab_file), cwd=tmp_path)
    table = " ".join(shown.stdout.split())
    assert shown.returncode == 0, shown.stderr
    assert "K-T-2026-0602" in table and "DEMO-T-2026-0117" in table and "current" in table
    # R0 moved 1 mΩ: 0.001 Ω / (R0 · A) = 2.6 mK
    assert "R0 +2.6 mK" in table
    again = run("standards", "import", str(tmp_path / "newer.xml"), "--id", "prt-ref-1",
                "--due", "2027-11-20", "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert again.returncode == 2 and "is already in prt-ref-1's register entry" in again.stderr

    # the engine takes its corrections from the new certificate
    code, document, output = calibrate(tmp_path, "thermometers", lab_file)
    assert code == 0, output
    used = next(s for s in document["standards"] if s["standard"]["id"] == "prt-ref-1")
    assert used["standard"]["certificate"]["number"] == "K-T-2026-0602"
    assert used["standard"]["corrections"]["r0"] == 100.0133
    assert "history" not in used["standard"]
