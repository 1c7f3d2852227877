"""Digital Calibration Certificates through real `daq` processes: the DCC of a simulated run of
each procedure validates against PTB's official XSD (the unmodified DCC 3.1.2 and D-SI 2.1.0
schemas in ../shared/reference/dcc, test data kept outside the project) and PTB's Schematron
rules (shipped in dcclib), and carries the run's numbers in D-SI units; `daq dcc validate`
refuses a broken one; `daq dcc fetch-schema` downloads from a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from tests.e2e.processes import run
from tests.e2e.test_calibration_cli import calibrate, lab

SIGNATORY = ("--by", "Jane Doe", "--function", "Quality manager")
OFFICIAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "dcc"
NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}


def official_schema() -> Path:
    if not (OFFICIAL / "dcc-3.1.2.xsd").is_file():
        pytest.skip(f"the official DCC schema is not at {OFFICIAL} (test data beside the project)")
    return OFFICIAL


def issue_dcc(tmp_path: Path, plan: str) -> tuple[dict[str, Any], Path, str]:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, plan, lab_file)
    assert code == 0, output
    out = tmp_path / f"{plan}.xml"
    issued = run("report", document["run"]["id"], "--format", "dcc", "--out", str(out),
                 *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    return document, out, issued.stdout


def values(node: Any, path: str) -> list[float]:
    return [float(v) for v in node.findtext(path, namespaces=NS).split()]


@pytest.mark.parametrize(
    ("plan", "unit", "error_unit"),
    [
        ("balance", r"\gram", r"\gram"),
        ("thermometers", r"\degreecelsius", r"\kelvin"),
        ("pressure-gauge", r"\bar", r"\bar"),
    ],
)
def test_the_dcc_of_each_procedure_validates_and_carries_the_results(
    tmp_path: Path, plan: str, unit: str, error_unit: str
) -> None:
    schema = official_schema()
    document, out, said = issue_dcc(tmp_path, plan)
    issued = re.findall(r"certificate (\S+)(?: of (\S+))? \(dcc", said)
    several = len(document["uuts"]) > 1  # one certificate per UUT
    assert [uut for _, uut in issued] == ([u["id"] for u in document["uuts"]] if several else [""])
    for number, item in issued:
        path = out.with_name(f"{out.stem}-{item}{out.suffix}") if item else out
        uuts = [u for u in document["uuts"] if u["id"] == item or not item]
        points = [p for p in document["points"] if p["uut"] == item or not item]
        check_dcc(schema, tmp_path, path, number, document["run"]["record_hash"], uuts, points,
                  unit, error_unit)  # fmt: skip


def check_dcc(
    schema: Path,
    tmp_path: Path,
    out: Path,
    number: str,
    record_hash: str,
    uuts: list[dict[str, Any]],
    points: list[dict[str, Any]],
    unit: str,
    error_unit: str,
) -> None:
    checked = run("dcc", "validate", str(out), "--schema-dir", str(schema), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "a valid DCC 3.1.2 (checked against the official schema and PTB's Schematron)" in (
        " ".join(checked.stdout.split())
    )
    root = etree.parse(str(out)).getroot()
    assert root.get("schemaVersion") == "3.1.2"
    assert root.findtext(".//dcc:coreData/dcc:uniqueIdentifier", namespaces=NS) == number
    identifications = {
        e.findtext("dcc:name/dcc:content", namespaces=NS): e.findtext("dcc:value", namespaces=NS)
        for e in root.iterfind(".//dcc:coreData/dcc:identifications/dcc:identification", NS)
    }
    assert identifications["record hash (SHA-256)"] == record_hash
    serials = root.xpath(
        ".//dcc:item//dcc:identification[dcc:issuer='manufacturer']/dcc:value/text()",
        namespaces=NS,
    )
    assert serials == [uut["serial"] for uut in uuts]
    # each UUT's decided points, in order, with U, k and p as the result document has them
    results = root.findall(".//dcc:measurementResult", NS)
    assert len(results) == len(uuts)
    for uut, result in zip(uuts, results, strict=True):
        decided = [p for p in points if p["uut"] == uut["id"] and p["decision"]]
        first_kind = [p for p in decided if p["kind"] == decided[0]["kind"]]
        quantities = result.findall(".//dcc:result[1]//dcc:quantity", NS)
        by_name = {q.findtext("dcc:name/dcc:content", namespaces=NS): q for q in quantities}
        nominal = by_name["test point"]
        assert nominal.findtext(".//si:unitXMLList", namespaces=NS) == unit
        assert values(nominal, ".//si:valueXMLList") == [p["nominal"] for p in first_kind]
        judged = by_name[first_kind[0]["budget"]["quantity"]]
        assert judged.findtext(".//si:unitXMLList", namespaces=NS) == error_unit
        assert values(judged, ".//si:valueXMLList") == pytest.approx(
            [p["budget"]["value"] for p in first_kind]  # the error of indication, with its U
        )
        assert values(judged, ".//si:uncertaintyXMLList") == pytest.approx(
            [p["budget"]["expanded_uncertainty"] for p in first_kind]
        )
        assert values(judged, ".//si:coverageFactorXMLList") == pytest.approx(
            [p["budget"]["coverage_factor"] for p in first_kind]
        )
    conforms = all(p["decision"]["conforms"] for p in points if p["decision"])
    conformity = root.findtext(".//dcc:statement/dcc:conformity", namespaces=NS)
    assert conformity == ("pass" if conforms else "fail")


def test_validate_refuses_a_broken_dcc_and_what_is_not_one(tmp_path: Path) -> None:
    schema = official_schema()
    _, out, _ = issue_dcc(tmp_path, "pressure-gauge")
    text = out.read_text(encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text(re.sub(r"<dcc:endPerformanceDate>.*?</dcc:endPerformanceDate>", "", text),
                      encoding="utf-8")  # fmt: skip
    checked = run("dcc", "validate", str(broken), "--schema-dir", str(schema), cwd=tmp_path)
    said = " ".join((checked.stdout + checked.stderr).split())
    assert checked.returncode == 1, said
    assert "endPerformanceDate" in said and "not a valid DCC 3.1.2" in said
    plain = tmp_path / "plain.xml"
    plain.write_text("<certificate/>", encoding="utf-8")
    checked = run("dcc", "validate", str(plain), cwd=tmp_path)
    assert checked.returncode == 1
    assert "not a DCC" in checked.stderr
    schematron_only = run("dcc", "validate", str(out), cwd=tmp_path)
    assert schematron_only.returncode == 0
    assert "the official schema was not checked" in " ".join(schematron_only.stderr.split())


def test_no_dcc_without_the_labs_country_and_nothing_recorded(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    raw = yaml.safe_load(lab_file.read_text())
    del raw["lab"]["country"]
    lab_file.write_text(yaml.safe_dump(raw))
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    out = tmp_path / "c.xml"
    issued = run("report", document["run"]["id"], "--format", "dcc", "--out", str(out),
                 *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 1
    assert "add lab.country" in issued.stderr and not out.exists()
    json_out = str(tmp_path / "c.json")
    listed = run("report", document["run"]["id"], "--format", "json", "--out", json_out,
                 *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0
    assert "-0001" in listed.stdout  # the refused DCC took no number


XSD = """<?xml version="1.0"?>
<xs:schema version="{version}" xmlns:xs="http://www.w3.org/2001/XMLSchema"/>
"""


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server laid out like https://ptb.de (fixture schemas, not PTB's)."""
    root = tmp_path / "mirror"
    for relative, version in (
        ("dcc/v3.1.2/dcc.xsd", "3.1.2"),
        ("si/v2.1.0/SI_Format.xsd", "2.1.0"),
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(XSD.format(version=version))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_schema_downloads_both_files_and_checks_their_versions(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    address, root = mirror
    target = tmp_path / "schema"
    fetched = run("dcc", "fetch-schema", "--to", str(target), "--from", address, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert sorted(p.name for p in target.iterdir()) == ["SI_Format-2.1.0.xsd", "dcc-3.1.2.xsd"]
    assert 'version="3.1.2"' in (target / "dcc-3.1.2.xsd").read_text()
    (root / "si/v2.1.0/SI_Format.xsd").write_text(XSD.format(version="2.2.0"))
    wrong = run("dcc", "fetch-schema", "--to", str(tmp_path / "other"), "--from", address,
                cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 1
    assert "the schema of version 2.2.0, not 2.1.0" in " ".join(wrong.stderr.split())
    assert not (tmp_path / "other").exists()  # nothing written unless both are right
    (root / "dcc/v3.1.2/dcc.xsd").unlink()
    missing = run("dcc", "fetch-schema", "--to", str(tmp_path / "third"), "--from", address,
                  cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 1 and "cannot fetch" in missing.stderr


def dcc_key(folder: Path, name: str) -> tuple[Path, Path]:
    """An ECDSA P-256 key (mode 600) and its self-signed certificate, as a lab makes them."""
    from tests.unit.test_dcc_sign import key_and_certificate

    _, key, certificate = key_and_certificate(-1, 365, name)
    key_file, certificate_file = folder / f"{name}.key", folder / f"{name}.pem"
    key_file.write_bytes(key)
    key_file.chmod(0o600)
    certificate_file.write_bytes(certificate)
    return key_file, certificate_file


def test_a_signed_dcc_verifies_and_fails_after_one_changed_byte(tmp_path: Path) -> None:
    key, certificate = dcc_key(tmp_path, "Demo lab DCC signing")
    lab_file = lab(tmp_path)
    raw = yaml.safe_load(lab_file.read_text())
    raw["certificates"] = {"dcc_signing": {"key_file": key.name, "certificate": certificate.name}}
    lab_file.write_text(yaml.safe_dump(raw))
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    out = tmp_path / "signed.xml"
    issued = run("report", document["run"]["id"], "--format", "dcc", "--sign", "--out",
                 str(out), *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    signature = tmp_path / "signed.xml.sig"
    assert b"<ds:Signature" in signature.read_bytes()
    checked = run("dcc", "verify", str(out), "--lab", str(lab_file), cwd=tmp_path)
    said = " ".join(checked.stdout.split())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "signature verifies (signed by CN=Demo lab DCC signing)" in said
    assert f"record hash matches run {document['run']['id']}" in said
    if (OFFICIAL / "dcc-3.1.2.xsd").is_file():  # the signed DCC is still a valid one
        valid = run("dcc", "validate", str(out), "--schema-dir", str(OFFICIAL), cwd=tmp_path)
        assert valid.returncode == 0, valid.stdout
    # re-signed by the lab's own key after a change: the signature verifies, but it is not
    # the file that was issued
    from daq.reports.dcc_sign import sign_dcc

    forged = tmp_path / "forged" / "signed.xml"
    forged.parent.mkdir()
    forged_text = out.read_bytes().replace(b"<dcc:role>", b"<dcc:role>Acting ", 1)
    forged.write_bytes(forged_text)
    forged.with_name("signed.xml.sig").write_bytes(
        sign_dcc(forged_text, "signed.xml", key.read_bytes(), certificate.read_bytes())
    )
    refused = run("dcc", "verify", str(forged), "--lab", str(lab_file), cwd=tmp_path)
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 1 and "not the file certificate" in said, said
    # one byte of a result changed: the digest no longer matches
    text = out.read_bytes()
    at = text.index(b"<si:valueXMLList>") + len(b"<si:valueXMLList>")
    changed = tmp_path / "changed" / "signed.xml"
    changed.parent.mkdir()
    changed.write_bytes(text[:at] + (b"9" if text[at : at + 1] != b"9" else b"8") + text[at + 1 :])
    (changed.parent / "signed.xml.sig").write_bytes(signature.read_bytes())
    refused = run("dcc", "verify", str(changed), "--certificate", str(certificate), cwd=tmp_path)
    assert refused.returncode == 1
    assert "Digest mismatch" in " ".join(refused.stderr.split())
    # another key's certificate: the signature is not the lab's
    _, other = dcc_key(tmp_path, "Someone else")
    refused = run("dcc", "verify", str(out), "--certificate", str(other), cwd=tmp_path)
    assert refused.returncode == 1 and "does not verify" in refused.stderr
    # its signature is archived with it: a reprint writes both, byte for byte
    copy = tmp_path / "reprint" / "signed.xml"
    copy.parent.mkdir()
    reprinted = run("report", document["run"]["id"], "--reprint", "--out", str(copy),
                    "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert reprinted.returncode == 0, reprinted.stderr
    assert copy.read_bytes() == out.read_bytes()
    assert (copy.parent / "signed.xml.sig").read_bytes() == signature.read_bytes()
    import sqlite3

    with sqlite3.connect(tmp_path / "daq.sqlite") as db:  # the archived .sig altered
        db.execute("UPDATE certificate_signature_files SET content = content || X'20'")
    altered = run("verify", document["run"]["id"], "--lab", str(lab_file), cwd=tmp_path)
    said = " ".join((altered.stdout + altered.stderr).split())
    assert altered.returncode == 1 and "the archived signature (.sig) of certificate" in said
    assert "was altered" in said
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        db.execute("UPDATE certificate_signature_files SET content = ?", (signature.read_bytes(),))
    # a re-issue replaces it: the first still verifies, with a note
    second = str(tmp_path / "again.xml")
    again = run("report", document["run"]["id"], "--format", "dcc", "--out", second,
                *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    checked = run("dcc", "verify", str(out), "--lab", str(lab_file), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "was replaced by" in " ".join(checked.stderr.split())
    # the journal's record altered since: the DCC no longer matches a verified record
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        db.execute("DELETE FROM run_records WHERE run = ? AND seq = 3", (document["run"]["id"],))
    refused = run("dcc", "verify", str(out), "--lab", str(lab_file), cwd=tmp_path)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and f"the record of run {document['run']['id']}" in said


def test_signing_needs_the_dcc_key_in_the_lab_file(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    refused = run("report", document["run"]["id"], "--format", "dcc", "--sign", *SIGNATORY,
                  "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "dcc_signing" in refused.stderr
    assert not list(tmp_path.glob("*.xml"))


def test_the_dcc_states_the_error_and_its_limits_whichever_check_governs(tmp_path: Path) -> None:
    """A point decided by another check (the hysteresis, conditionally) still shows its error
    of indication with the error's U and limits, as the PDF does, and the outcome in the
    DCC's own word."""
    import datetime as dt

    from daq.config import load_lab
    from daq.engine.document import RunDocument
    from daq.reports.certificate import Issue
    from daq.reports.dcc import render_dcc

    lab_file = lab(tmp_path)
    code, raw, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    document = RunDocument.model_validate(raw)
    point = next(p for p in document.points if p.decision and p.nominal)
    error = next(c for c in point.checks if c["check"] == "error")
    hysteresis = next(c for c in point.checks if c["check"] == "hysteresis")
    governing = {**hysteresis, "value": 0.123, "outcome": "conditional pass", "conforms": True,
                 "tolerance_lower": -0.5, "tolerance_upper": 0.5}  # fmt: skip
    points = [p.model_copy(update={"decision": governing}) if p is point else p
              for p in document.points]  # fmt: skip
    changed = document.model_copy(update={"points": points})
    issue = Issue("N-1", dt.datetime.now(dt.UTC), "Jane Doe", "Quality manager", "en")
    root = etree.fromstring(render_dcc(changed, load_lab(lab_file), issue))
    result = root.find(".//dcc:measurementResult//dcc:result", NS)
    by_name = {
        q.findtext("dcc:name/dcc:content", namespaces=NS): q
        for q in result.iterfind(".//dcc:quantity", NS)
    }
    decided = [p for p in points if p.decision and p.kind == point.kind]
    at = decided.index(next(p for p in decided if p.key == point.key))
    assert point.budget is not None
    assert values(by_name["error of indication"], ".//si:valueXMLList")[at] == pytest.approx(
        point.budget["value"]
    )
    assert values(by_name["lower tolerance limit"], ".//si:valueXMLList")[at] == pytest.approx(
        error["tolerance_lower"]
    )
    words = by_name["decision of each point (ILAC-G8), every check"].findtext(
        "dcc:noQuantity/dcc:content", namespaces=NS
    )
    assert words.split()[at] == "conditionalPass"
    assert root.findtext(".//dcc:statement/dcc:conformity", namespaces=NS) == "conditionalPass"


def test_a_dcc_with_a_document_type_definition_is_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the lab's key")
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" '
        'schemaVersion="3.1.2"><dcc:comment>&x;</dcc:comment>'
        "</dcc:digitalCalibrationCertificate>"
    )
    checked = run("dcc", "validate", str(hostile), cwd=tmp_path)
    assert checked.returncode == 1 and "DOCTYPE" in checked.stderr
    assert "the lab's key" not in checked.stdout + checked.stderr
    lab_file = lab(tmp_path)
    imported = run("standards", "import", str(hostile), "--id", "x", "--due", "2027-01-01",
                   "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert imported.returncode == 1 and "DOCTYPE" in imported.stderr
