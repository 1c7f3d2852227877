"""The Vietnamese certificate of each procedure leaves no English in the text we generate
(the lab's, customer's and plan's own words are theirs), writes numbers with a decimal comma
and dates day first; the PDF reads back the same."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.processes import run
from tests.e2e.test_calibration_cli import calibrate, lab
from tests.e2e.test_certificates import pdf_text
from tests.unit.test_translations import WORD, english_words

SIGNATORY = ("--by", "Nguyễn Thị Lan", "--function", "Trưởng phòng thí nghiệm")


def visible_text(page: str) -> str:
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", re.sub(r'(src|alt)="[^"]*"', "", page))
    return " ".join(html.unescape(page).split())


def their_words(document: dict[str, Any], lab_file: Path) -> list[str]:
    """The text of the lab, the customer and the plan, which the certificate prints as
    written (names, descriptions, traceability), and identifiers (the procedure's name)."""
    lab_text = yaml.safe_load(lab_file.read_text())["lab"]
    plan = document["plan"]
    texts = [lab_text["name"], lab_text.get("address", ""), document["customer"],
             plan.get("customer_address", ""), plan["title"], plan["id"], document["run"]["id"],
             document["software"]["name"], document["procedure"]["name"]]  # fmt: skip
    for uut in document["uuts"]:
        texts += [str(uut.get(k, "")) for k in ("id", "description", "manufacturer", "model")]
    for used in document["standards"]:
        standard = used["standard"]
        certificate = standard["certificate"]
        texts += [standard["id"], standard.get("description", ""), certificate["number"],
                  certificate["laboratory"], *certificate.get("traceability", [])]  # fmt: skip
    return sorted({t for t in texts if t}, key=len, reverse=True)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ("balance", ["Số chỉ 200 g", "OIML R76-1 cấp chính xác I, e = 0,001 g", "Độ lệch tâm"]),
        ("thermometers", ["IEC 60751 cấp A, phần tử dây quấn, ±(0,15 + 0,002|t|) °C"]),
        ("pressure-gauge", ["EN 837-1 cấp chính xác 1,6 (1,6 % khoảng đo 10 bar)", "M2 giảm"]),
    ],
)
def test_the_vietnamese_certificate_leaves_no_english(
    tmp_path: Path, plan: str, expected: list[str]
) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, plan, lab_file)
    assert code == 0, output
    out = tmp_path / "c.html"
    issued = run("report", document["run"]["id"], "--format", "html", "--language", "vi",
                 "--out", str(out), *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    written = sorted(tmp_path.glob("c*.html"))  # one per probe for the thermometers
    assert len(written) == max(1, len(document["uuts"]))
    text = visible_text(written[-1].read_text())
    common = ["chấp nhận đơn giản (ILAC-G8:09/2019 4.2.1, w = 0)", "xác suất phủ xấp xỉ 95,45 %"]
    for phrase in [*expected, *common, "phiên bản"]:
        assert phrase in text, phrase
    number = re.search(r"Số giấy chứng nhận: (\S+)", text)
    assert number  # the certificate's number is made of the lab's and the bench's ids
    version = f"phiên bản {document['procedure']['version']}"
    generated = text.replace(number[1], " ").replace(version, " ")
    for theirs in their_words(document, lab_file):
        generated = generated.replace(theirs, " ")
    english = english_words()
    left = sorted({w for w in WORD.findall(generated) if w.lower() in english})
    assert not left, left
    # numbers: a decimal comma, never a point (the clause numbers of standards aside)
    numbers = re.findall(r"(?<![\w:./-])[-+]?\d+[.,]\d+(?![\w.:])", generated)
    assert numbers and all("." not in n for n in numbers), numbers
    started = dt.datetime.fromtimestamp(document["run"]["started"], dt.UTC)
    assert f"Ngày hiệu chuẩn {started:%d/%m/%Y}" in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)  # no ISO date left


def test_the_vietnamese_pdf_reads_back_with_decimal_commas(tmp_path: Path) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    out = tmp_path / "c.pdf"
    issued = run("report", document["run"]["id"], "--language", "vi", "--out", str(out),
                 *SIGNATORY, "--lab", str(lab_file), cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    _, text = pdf_text(out)
    flat = " ".join(text.split())
    for phrase in ("Giấy chứng nhận hiệu chuẩn", "Độ trễ và sai lệch điểm không",
                   "EN 837-1 cấp chính xác 1,6", "xác suất phủ xấp xỉ 95,45 %",
                   "M1 tăng (bar)"):  # fmt: skip
        assert phrase in flat, phrase
    assert not re.search(r"\b10\.000\b", flat) and re.search(r"\b10,000\b", flat)
