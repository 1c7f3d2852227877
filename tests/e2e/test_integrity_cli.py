"""`daq verify` and `daq report` against a journal forged as issue 11 found, with the shipped
configuration, in real processes: a forged result document and reading copy, a rebuilt chain
re-issuing a certificate number, a number issued twice. (Signatures, keys and re-issues:
tests/integration/test_record_integrity.py.)"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import lab_text
from tests.e2e.processes import run
from tests.e2e.test_calibration_cli import calibrate, lab
from tests.integration.test_record_integrity import another_customer, rebuild

SIGNATORY = ("--by", "Jane Doe", "--function", "Quality manager")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A balance calibrated by `daq run` with the shipped configuration (no signing)."""
    folder = tmp_path_factory.mktemp("calibrated")
    code, document, output = calibrate(folder, "balance", lab(folder))
    assert code == 0, output
    return folder, document


def journal_copy(
    calibrated: tuple[Path, dict[str, Any]], tmp: Path, **changes: Any
) -> tuple[Path, str]:
    """The calibrated journal in ``tmp`` and a lab file using it; (lab file, run id)."""
    folder, document = calibrated
    for file in folder.glob("daq.sqlite*"):
        shutil.copy(file, tmp / file.name)
    raw = yaml.safe_load(lab_text(tmp))
    raw.update(changes)
    path = tmp / "lab.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, document["run"]["id"]


def daq(tmp: Path, lab_file: Path, *args: str) -> tuple[int, str, str]:
    done = run(*args, "--lab", str(lab_file), cwd=tmp)
    return done.returncode, done.stdout, done.stderr


def flat(text: str) -> str:
    return " ".join(text.split())


def test_forged_result_document_gets_no_certificate(
    calibrated: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    lab_file, run_id = journal_copy(calibrated, tmp_path)
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        (text,) = db.execute("SELECT document FROM runs WHERE id = ?", (run_id,)).fetchone()
        document = json.loads(text)
        document["uuts"][0]["serial"] = "FORGED-1"
        document["customer"] = "Forged Ltd"
        point = next(p for p in document["points"] if p["key"] == "indication 50 g")
        point["values"]["error"] = 0.0
        document["result"]["conforms"] = False
        db.execute("UPDATE runs SET document = ? WHERE id = ?", (json.dumps(document), run_id))
    code, _, stderr = daq(tmp_path, lab_file, "verify", run_id)
    said = flat(stderr)
    assert code == 1, said
    for field in (
        'uuts[balance-1].serial: "B207696838" in the record, "FORGED-1" in the runs table',
        'customer: "Example Customer Ltd" in the record, "Forged Ltd" in the runs table',
        "points[indication 50 g].values.error: ",
        "result.conforms: true in the record, false in the runs table",
    ):
        assert field in said
    code, _, stderr = daq(tmp_path, lab_file, "report", run_id, *SIGNATORY)
    assert code == 1 and "does not verify" in stderr
    assert not list(tmp_path.glob("*.pdf"))


def test_a_forged_reading_copy_is_named(
    calibrated: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    lab_file, run_id = journal_copy(calibrated, tmp_path)
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        (row,) = db.execute(
            "SELECT readings.id FROM readings JOIN run_records ON run_records.run = ? AND "
            "run_records.kind = 'reading' AND "
            "json_extract(run_records.content, '$.timestamp') = readings.timestamp AND "
            "json_extract(run_records.content, '$.instrument') = readings.instrument "
            "ORDER BY readings.id LIMIT 1",
            (run_id,),
        ).fetchone()
        db.execute("UPDATE readings SET value = value + 0.5 WHERE id = ?", (row,))
    code, _, stderr = daq(tmp_path, lab_file, "verify", run_id)
    said = flat(stderr)
    assert code == 1, said
    assert "(reading of balance-1 mass) at " in said and ": value " in said
    assert f"in the readings table (row {row})" in said


def test_a_rebuilt_chain_cannot_reissue_its_certificate_number(
    calibrated: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    lab_file, run_id = journal_copy(calibrated, tmp_path)
    first = tmp_path / "first.json"
    code, _, stderr = daq(tmp_path, lab_file, "report", run_id, "--format", "json",
                          "--out", str(first), *SIGNATORY)  # fmt: skip
    assert code == 0, stderr
    number = json.loads(first.read_text())["certificate"]["number"]
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:  # every hash recomputed, no key needed
        final = rebuild(db, run_id, another_customer)
        (text,) = db.execute("SELECT document FROM runs WHERE id = ?", (run_id,)).fetchone()
        document = json.loads(text)
        document["customer"] = "Forged Ltd"
        document["run"]["record_hash"] = final
        db.execute("UPDATE runs SET document = ? WHERE id = ?", (json.dumps(document), run_id))
    code, _, stderr = daq(tmp_path, lab_file, "verify", run_id)
    assert code == 1
    assert f"certificate {number} was issued from record hash" in flat(stderr)
    assert "it was changed after it was certified" in flat(stderr)
    second = tmp_path / "second.json"
    code, _, stderr = daq(tmp_path, lab_file, "report", run_id, "--format", "json",
                          "--out", str(second), *SIGNATORY)  # fmt: skip
    assert code == 1 and "does not verify" in stderr and not second.exists()


def test_a_number_is_issued_once(calibrated: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    lab_file, run_id = journal_copy(calibrated, tmp_path)
    number = f"demo-lab-mass-bench-{dt.datetime.now(dt.UTC).year}-0001"  # the next one
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:  # put in by hand, for another run
        db.execute(
            "INSERT INTO certificates (number, run, format, language, issued, issued_by, "
            "function, record_hash) VALUES (?, 'other-run', 'pdf', 'en', 1.0, 'J', 'QM', ?)",
            (number, "f" * 64),
        )
    out = tmp_path / "c.json"
    code, _, stderr = daq(tmp_path, lab_file, "report", run_id, "--format", "json",
                          "--out", str(out), *SIGNATORY)  # fmt: skip
    said = flat(stderr)
    assert code == 1, said
    assert f"certificate number {number} was already issued, for run other-run" in said
    assert "{seq}" in said and not out.exists()
    code, _, stderr = daq(tmp_path, lab_file, "verify", "--certificates")
    assert code == 1 and f"certificate {number} is not in the register" in flat(stderr)
