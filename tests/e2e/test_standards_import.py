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
    assert again.returncode == 2 and "already has a standard" in again.stderr
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
