"""`daq report`: certificates of the simulated runs of all three procedures, rendered to PDF
and read back for the content ISO/IEC 17025:2017 7.8 requires; Vietnamese; refusal when
the record does not verify; the issue on record."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pypdf
import pytest
import yaml

from tests.e2e.processes import DAQ, run
from tests.e2e.test_calibration_cli import calibrate, lab

SIGNATORY = ("--by", "Jane Doe", "--function", "Quality manager")


def pdf_text(path: Path) -> tuple[int, str]:
    reader = pypdf.PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (
            "balance",
            [
                "OIML R76-1 class I",
                "weight-100g-e2",
                "Indication 200 g",
                "Error of",
                "Repeatability Load Readings Mean Standard deviation 100 g 5",
                "Eccentricity Load centre (g) front (g) back (g) left (g) right (g)",
            ],
        ),
        (
            "thermometers",
            [
                "IEC 60751 class A",
                "prt-ref-1",
                "Correction",
            ],
        ),
        (
            "pressure-gauge",
            [
                "EN 837-1 class 1.6",
                "pressure-ref-1",
                "Rising and falling series",
                "M1 rising (bar) M2 falling (bar)",
                "Hysteresis and zero deviation",
            ],
        ),
    ],
)
def test_pdf_certificate_has_the_required_content(
    tmp_path: Path, plan: str, expected: list[str]
) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, plan, lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    out = tmp_path / "certificate.pdf"
    issued = run(
        "report", run_id, "--out", str(out), *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path
    )
    assert issued.returncode == 0, issued.stderr
    uuts = [uut["id"] for uut in document["uuts"]]
    if len(uuts) > 1:  # one certificate per UUT, each of its own UUT only
        out = tmp_path / f"certificate-{uuts[0]}.pdf"
        assert sorted(p.name for p in tmp_path.glob("certificate*.pdf")) == [
            f"certificate-{uut}.pdf" for uut in uuts
        ]
    pages, text = pdf_text(out)
    flat = " ".join(text.split())
    assert all((uut in flat) == (uut == uuts[0]) for uut in uuts)
    required = [
        "Calibration certificate",  # title
        "Demo calibration laboratory",
        "1 Example Street, Example City",  # laboratory
        "Certificate number: demo-lab-",  # unique identification
        f"Page 1 of {pages}",  # page numbering
        "Example Customer Ltd",
        "2 Sample Road",  # customer
        document["uuts"][0]["serial"],  # the item
        "Date of receipt of the item",
        "Date of calibration",
        "Date of issue",
        f"version {document['procedure']['version']}",  # method
        "Environmental conditions",
        "Temperature",
        "Expanded uncertainty U",
        "coverage factor k",  # results with U and k
        "Decision rule",
        "simple acceptance (ILAC-G8:09/2019 4.2.1",
        "the probability of a false accept is up to 50 %",  # the rule's risk (ILAC-G8 4.2.1)
        "coverage probability of approximately 95.45 %",
        "The item conforms to the specification at every decided point.",
        "Metrological traceability",
        "National metrology institute",
        "Deviations, overrides and remarks",
        "simulated instruments",
        "Authorised by Jane Doe",
        "Function Quality manager",
        document["run"]["record_hash"][:32],
        *expected,
    ]
    missing = [r for r in required if r not in flat]
    assert not missing, missing
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        issues = db.execute(
            "SELECT number, run, format, issued_by, function FROM certificates"
        ).fetchall()
        kinds = [k for (k,) in db.execute("SELECT kind FROM events")]
    assert len(issues) == len(uuts) and len({number for number, *_ in issues}) == len(uuts)
    assert issues[0][1:] == (run_id, "pdf", "Jane Doe", "Quality manager")
    assert "certificate_issued" in kinds


def test_vietnamese_html_json_and_a_reissue(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    html = tmp_path / "c.html"
    vi = run(
        "report",
        run_id,
        "--format",
        "html",
        "--language",
        "vi",
        "--out",
        str(html),
        "--by",
        "Nguyễn Thị Lan",
        "--function",
        "Trưởng phòng thí nghiệm",
        "--lab",
        str(lab_file),
        cwd=tmp_path,
    )
    assert vi.returncode == 0, vi.stderr
    page = html.read_text()
    for text in (
        "Giấy chứng nhận hiệu chuẩn",
        "Độ không đảm bảo đo mở rộng U",
        "Nguyễn Thị Lan",
        "Liên kết chuẩn đo lường",
        "xác suất chấp nhận sai có thể lên tới 50 %",
        "data:image/svg+xml;base64,",
    ):
        assert text in page
    as_json = tmp_path / "c.json"
    again = run(
        "report",
        run_id,
        "--format",
        "json",
        "--out",
        str(as_json),
        *SIGNATORY,
        "--lab",
        str(lab_file),
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    issued = json.loads(as_json.read_text())
    first = issued["certificate"]["replaces"]  # a re-issue replaces the run's first certificate
    assert first in page and issued["certificate"]["number"] == f"{first}-R1"
    assert issued["run"]["record_hash"] == document["run"]["record_hash"]


def test_no_certificate_from_an_altered_record_or_without_a_signatory(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    unsigned = run("report", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert unsigned.returncode == 2 and "--by" in unsigned.stderr
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        db.execute("DELETE FROM run_records WHERE run = ? AND seq = 3", (run_id,))
    refused = run("report", run_id, *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)
    assert refused.returncode == 1 and "does not verify" in refused.stderr
    assert not list(tmp_path.glob("*.pdf"))


def test_an_issued_certificate_is_archived_and_reprinted_byte_for_byte(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    issued = {}
    for form in ("pdf", "dcc"):
        out = tmp_path / f"issued.{form}"
        done = run("report", run_id, "--format", form, "--out", str(out), *SIGNATORY,
                   "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        issued[done.stdout.split()[1]] = out.read_bytes()
    first, second = issued
    newest = tmp_path / "newest"
    copied = run("report", run_id, "--reprint", "--out", str(newest), "--lab", str(lab_file),
                 cwd=tmp_path)  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    assert newest.read_bytes() == issued[second]  # the run's newest: the DCC
    older = tmp_path / "older"
    copied = run("report", run_id, "--reprint", "--number", first, "--out", str(older),
                 "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    assert older.read_bytes() == issued[first] and older.read_bytes().startswith(b"%PDF")
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:  # one byte of the archive changed
        db.execute(
            "UPDATE certificate_files SET content = CAST(replace(CAST(content AS TEXT), "
            "'pass', 'fail') AS BLOB) WHERE number = ?",
            (second,),
        )
    refused = run("report", run_id, "--reprint", "--out", str(tmp_path / "x"), "--lab",
                  str(lab_file), cwd=tmp_path)  # fmt: skip
    said = " ".join(refused.stderr.split())
    assert (
        refused.returncode == 1 and f"the archived file of certificate {second} was altered" in said
    )
    assert not (tmp_path / "x").exists()
    verified = run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert verified.returncode != 0
    assert f"the archived file of certificate {second} was altered" in " ".join(
        (verified.stdout + verified.stderr).split()
    )


def test_units_head_the_columns_and_a_plot_heading_stays_with_its_plot(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    out = tmp_path / "certificate.pdf"
    issued = run("report", document["run"]["id"], "--out", str(out), *SIGNATORY,
                 "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    reader = pypdf.PdfReader(out)
    texts = [" ".join(page.extract_text().split()) for page in reader.pages]
    flat = " ".join(texts)
    assert "Nominal (bar)" in flat and "Error of indication (bar)" in flat
    assert "0.012 bar" not in flat  # the unit is in the header, not repeated in each cell
    assert "10 bar 10 10.000" in flat  # the point's name on one line with its values
    # the heading "Plots" is high enough on its page for its caption and plot (a figure
    # never breaks) to follow it: 7 x 3.2 inch at the page's width, 505 pt wide -> 231 pt
    found: list[tuple[int, float]] = []
    for number, page in enumerate(reader.pages):

        def seen(text: str, cm: list[float], tm: list[float], *_: object, at: int = number) -> None:
            if text.strip() == "Plots":  # the height on the page: the text's y through the CTM
                found.append((at, cm[3] * tm[5] + cm[5]))

        page.extract_text(visitor_text=seen)
    ((page_number, height),) = found
    bottom_margin, plot = 20 / 25.4 * 72, 505 * 3.2 / 7
    assert height - bottom_margin > plot, (page_number, height)


PNG = bytes.fromhex(  # a 1 x 1 transparent PNG: the smallest image a lab could name
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000105a0d3c10000000049454e44ae426082"
)


def test_the_signature_block_names_the_person_with_their_signature_image(
    tmp_path: Path,
) -> None:
    """An image is printed for the user who issued with their password, chosen by their
    login name: a name typed with --by gets none, whoever's it is."""
    lab_file = lab(tmp_path)
    (tmp_path / "jane.png").write_bytes(PNG)
    raw = yaml.safe_load(lab_file.read_text())
    raw["certificates"] = {"signatures": {"jane.doe": "jane.png", "john.roe": "missing.png"}}
    lab_file.write_text(yaml.safe_dump(raw))
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    where = ("--lab", str(lab_file))
    typed = run("report", run_id, "--format", "html", "--out", str(tmp_path / "t.html"),
                *SIGNATORY, *where, cwd=tmp_path)  # fmt: skip
    assert typed.returncode == 0, typed.stderr  # a lab without users: "Jane Doe" is typed
    assert '<img class="signature"' not in (tmp_path / "t.html").read_text()

    def daq(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*DAQ, *args, "--password-stdin", *where]
        return subprocess.run(command, input=stdin, capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)  # fmt: skip

    admin = ("--admin", "it.admin")
    assert daq("admin password\n", "users", "add", "it.admin", "--role",
               "administrator").returncode == 0  # fmt: skip
    for name, full_name in (("jane.doe", "Jane Doe"), ("john.roe", "John Roe"),
                            ("ann.other", "Ann Other")):  # fmt: skip
        added = daq(f"admin password\n{name} password\n", "users", "add", name, "--role",
                    "authoriser", "--full-name", full_name, "--function", "Quality manager",
                    *admin)  # fmt: skip
        assert added.returncode == 0, added.stderr
    out = tmp_path / "c.html"
    issued = daq("jane.doe password\n", "report", run_id, "--format", "html", "--out", str(out),
                 "--user", "jane.doe")  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    html = out.read_text(encoding="utf-8")
    block = html[html.index('<div class="sign">') :]
    assert "Jane Doe" in block and "Quality manager" in block and "Signature" in block
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in block
    assert re.search(r"Date of issue</th><td>\d{4}-\d\d-\d\d</td>", block)
    refused = daq("john.roe password\n", "report", run_id, "--format", "html", "--out",
                  str(tmp_path / "r.html"), "--user", "john.roe")  # fmt: skip
    assert refused.returncode == 1 and "signature image of john.roe" in refused.stderr
    assert not (tmp_path / "r.html").exists()
    unsigned = daq("ann.other password\n", "report", run_id, "--format", "html", "--out",
                   str(tmp_path / "u.html"), "--user", "ann.other")  # fmt: skip
    assert unsigned.returncode == 0  # no image for her: a place to sign by hand
    assert '<img class="signature"' not in (tmp_path / "u.html").read_text()


def test_signature_images_are_keyed_by_login_name(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    raw = yaml.safe_load(lab_file.read_text())
    raw["certificates"] = {"signatures": {"Jane Doe": "jane.png"}}
    lab_file.write_text(yaml.safe_dump(raw))
    refused = run("users", "list", "--lab", str(lab_file), cwd=tmp_path)
    assert refused.returncode != 0
    assert "'Jane Doe' is not a login name" in " ".join(refused.stderr.split())


def test_an_archived_file_removed_from_the_journal_is_named(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "balance", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    done = run("report", run_id, "--format", "json", "--out", str(tmp_path / "c.json"),
               *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    number = done.stdout.split()[1]
    assert run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        db.execute("DELETE FROM certificate_files WHERE number = ?", (number,))
    verified = run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path)
    said = " ".join((verified.stdout + verified.stderr).split())
    assert verified.returncode != 0
    assert f"the archived file of certificate {number} is gone" in said


def test_a_run_of_several_probes_issues_one_certificate_per_probe(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "thermometers", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]

    def report(*args: str) -> tuple[int, str]:
        done = run("report", run_id, *args, *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)
        return done.returncode, done.stdout + done.stderr

    code, said = report("--format", "json", "--out", str(tmp_path / "c.json"))
    assert code == 0, said
    issued = {
        uut: json.loads((tmp_path / f"c-{uut}.json").read_text()) for uut in ("probe-2", "probe-3")
    }
    numbers = {uut: c["certificate"]["number"] for uut, c in issued.items()}
    assert len(set(numbers.values())) == 2
    for uut, certificate in issued.items():
        assert [u["id"] for u in certificate["uuts"]] == [uut]
        assert {p["uut"] for p in certificate["points"]} == {uut}
        assert certificate["run"]["record_hash"] == document["run"]["record_hash"]
        assert f"certificate {numbers[uut]} of {uut}" in " ".join(said.split())
    # a re-issue of one probe's certificate replaces that one only
    code, said = report("--format", "json", "--uut", "probe-3", "--out", str(tmp_path / "r.json"))
    assert code == 0, said
    again = json.loads((tmp_path / "r.json").read_text())["certificate"]
    assert again["replaces"] == numbers["probe-3"]
    assert again["number"] == f"{numbers['probe-3']}-R1"
    with sqlite3.connect(tmp_path / "daq.sqlite") as db:
        rows = db.execute(
            "SELECT number, uut, replaces FROM certificates ORDER BY rowid"
        ).fetchall()
    assert rows == [
        (numbers["probe-2"], "probe-2", ""),
        (numbers["probe-3"], "probe-3", ""),
        (again["number"], "probe-3", numbers["probe-3"]),
    ]
    code, said = report("--uut", "probe-9")
    assert code == 2 and "Its certificates are per UUT: probe-2, probe-3" in said
    copy = tmp_path / "copy.json"
    reprinted = run("report", run_id, "--reprint", "--uut", "probe-2", "--out", str(copy),
                    "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert reprinted.returncode == 0, reprinted.stderr
    assert copy.read_bytes() == (tmp_path / "c-probe-2.json").read_bytes()
    verified = run("verify", run_id, "--lab", str(lab_file), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
