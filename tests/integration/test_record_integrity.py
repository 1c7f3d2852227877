"""The whole record of a run is its chain, signed with the lab's key: a balance calibrated on
the simulators in-process, then its journal forged the ways issue 11 found (the result
document, a reading's copy, a truncated and a rebuilt chain, a certificate number), each
named by ``daq.integrity.audit``; signatures judged against the key register (valid, wrong
key, revoked, rotated, unsigned old runs); the journal migrated from schema 4."""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import json
import shutil
import sqlite3
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from daq.chain import genesis, make_link
from daq.config import LabConfig, load_lab
from daq.core.clock import Clock
from daq.engine.document import RunDocument
from daq.engine.plan import Plan, find_plan
from daq.engine.runner import Runner, RunRefused
from daq.integrity import Audit, audit, audit_register
from daq.journal import SCHEMA_VERSION, CertificateRow, Journal, NumberTaken
from daq.session import lab_session
from daq.signing import generate, load_signer
from daq.standards import load_standards
from daq.takeover import TakeOverRefused, begin_signing, take_over
from tests.conftest import CONFIG, lab_text
from tests.integration.test_run_identity import TOUCH, Quiet, touch_plan

LONG_AGO = "2020-01-01"


def make_key(folder: Path, ident: str, valid_from: str = LONG_AGO) -> tuple[Path, dict[str, Any]]:
    """A key pair as `daq keys new` makes it: the private key (mode 600) and its entry."""
    pem, public = generate()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ident}.key"
    path.write_bytes(pem)
    path.chmod(0o600)
    return path, {"id": ident, "public_key": public, "valid_from": valid_from}


def write_lab(tmp: Path, signing: dict[str, Any] | None, **changes: Any) -> LabConfig:
    """The test lab (journal in ``tmp``) with a ``signing:`` section and the touch procedure."""
    (tmp / "procedures").mkdir(exist_ok=True)
    (tmp / "procedures" / "touch.py").write_text(TOUCH)
    raw = yaml.safe_load(lab_text(tmp))
    raw["procedures"] = str(tmp / "procedures")
    if signing is not None:
        raw["signing"] = signing
    raw.update(changes)
    path = tmp / "lab.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return load_lab(path)


async def record_run(lab: LabConfig, plan: Plan, scale: float = 400.0) -> RunDocument:
    async with lab_session(lab, Clock(scale), simulate=True) as session:
        register = load_standards(CONFIG / "standards.yaml")
        return await Runner(session, register, Quiet()).start(plan, "plan.yaml")


@dataclass(frozen=True)
class Recorded:
    folder: Path
    key: Path
    entry: dict[str, Any]
    document: RunDocument

    @property
    def run(self) -> str:
        return self.document.run.id

    def signing(self, **entry: Any) -> dict[str, Any]:
        return {"key_file": str(self.key), "keys": [{**self.entry, **entry}]}

    def copy(self, tmp: Path, signing: dict[str, Any] | None = None) -> LabConfig:
        """The recorded journal in ``tmp``, with a lab file signing as ``signing`` says."""
        for file in self.folder.glob("daq.sqlite*"):
            shutil.copy(file, tmp / file.name)
        return write_lab(tmp, self.signing() if signing is None else signing)


def record_balance(folder: Path) -> Recorded:
    """A balance calibrated on the simulators, signed with key ``lab-k1``."""
    key, entry = make_key(folder / "keys", "lab-k1")
    lab = write_lab(folder, {"key_file": str(key), "keys": [entry]})
    plan, _ = find_plan("balance", lab)
    document = asyncio.run(record_run(lab, plan))
    assert document.run.status == "completed", document.run.reason
    return Recorded(folder, key, entry, document)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record_balance(tmp_path_factory.mktemp("recorded"))


async def audited(lab: LabConfig, run: str) -> Audit:
    async with Journal(lab.journal.path) as journal:
        return await audit(journal, run, lab.signing)


def edit(lab: LabConfig, change: Callable[[sqlite3.Connection], object]) -> None:
    """Change the journal as someone with the file (and without the key) could."""
    with sqlite3.connect(lab.journal.path) as db:
        change(db)


def forge_document(lab: LabConfig, run: str, change: Callable[[dict[str, Any]], None]) -> None:
    def forge(db: sqlite3.Connection) -> None:
        (text,) = db.execute("SELECT document FROM runs WHERE id = ?", (run,)).fetchone()
        document = json.loads(text)
        change(document)
        db.execute("UPDATE runs SET document = ? WHERE id = ?", (json.dumps(document), run))

    edit(lab, forge)


def rebuild(db: sqlite3.Connection, run: str, change: Callable[[str, dict[str, Any]], None]) -> str:
    """Rewrite every record of ``run`` through ``change`` and rehash the chain from its start
    (as anyone with the code could), the copies made to agree; the new final hash."""
    rows = db.execute(
        "SELECT seq, kind, content FROM run_records WHERE run = ? ORDER BY seq", (run,)
    ).fetchall()
    previous = genesis(run)
    for seq, kind, content in rows:
        data = json.loads(content)
        change(kind, data)
        link = make_link(run, seq, previous, kind, data)
        db.execute(
            "UPDATE run_records SET content = ?, previous = ?, hash = ? WHERE run = ? AND seq = ?",
            (link.content, link.previous, link.hash, run, seq),
        )
        previous = link.hash
        if kind == "setup":
            db.execute("UPDATE runs SET setup = ? WHERE id = ?", (link.content, run))
        if kind == "document":
            data["run"]["record_hash"] = link.hash
            db.execute("UPDATE runs SET document = ? WHERE id = ?", (json.dumps(data), run))
    return previous


def another_customer(kind: str, data: dict[str, Any]) -> None:
    if kind == "setup":
        data["plan"]["customer"] = "Forged Ltd"
    if kind == "document":
        data["customer"] = data["plan"]["customer"] = "Forged Ltd"


# -- the record as made -------------------------------------------------------------------


async def test_intact_record_verifies_and_is_signed(recorded: Recorded, tmp_path: Path) -> None:
    lab = recorded.copy(tmp_path)
    checked = await audited(lab, recorded.run)
    assert checked.problems == [] and checked.notes == []
    assert checked.finished and checked.signature is not None
    assert (checked.signature.ok, checked.signature.text) == (True, "signed by lab-k1")
    assert checked.document == recorded.document  # what a certificate is rendered from
    assert checked.final == recorded.document.run.record_hash
    with sqlite3.connect(lab.journal.path) as db:
        kinds = [k for (k,) in db.execute(RECORDS, (recorded.run,))]
        tagged = db.execute("SELECT COUNT(*) FROM readings WHERE run = ?", (recorded.run,))
        (count,) = tagged.fetchone()
    assert kinds[0] == "setup" and kinds[-1] == "document" and kinds.count("document") == 1
    assert checked.readings == count == kinds.count("reading") > 10


RECORDS = "SELECT kind FROM run_records WHERE run = ? ORDER BY seq"


# -- finding 1: forged copies -----------------------------------------------------------


async def test_forged_result_document_is_named_field_by_field(
    recorded: Recorded, tmp_path: Path
) -> None:
    lab = recorded.copy(tmp_path)

    def forge(document: dict[str, Any]) -> None:
        document["uuts"][0]["serial"] = "FORGED-1"
        document["customer"] = "Forged Ltd"
        point = next(p for p in document["points"] if p["key"] == "indication 50 g")
        point["values"]["error"] = 0.0
        document["result"]["conforms"] = False

    forge_document(lab, recorded.run, forge)
    checked = await audited(lab, recorded.run)
    text = "\n".join(checked.problems)
    for field in (
        'result document: uuts[balance-1].serial: "B207696838" in the record, "FORGED-1"',
        'result document: customer: "Example Customer Ltd" in the record, "Forged Ltd" in the '
        "runs table",
        "result document: points[indication 50 g].values.error:",
        "result document: result.conforms: true in the record, false in the runs table",
    ):
        assert field in text, text
    assert len(checked.problems) == 4
    assert checked.document is not None  # what would be certified is the record's, unforged
    assert checked.document.customer == "Example Customer Ltd"
    assert checked.document.uuts[0]["serial"] == "B207696838"


async def test_forged_readings_rows_are_named(recorded: Recorded, tmp_path: Path) -> None:
    lab = recorded.copy(tmp_path)
    run = recorded.run

    def forge(db: sqlite3.Connection) -> None:
        ids = [
            i for (i,) in db.execute("SELECT id FROM readings WHERE run = ? ORDER BY id", (run,))
        ]
        db.execute("UPDATE readings SET value = value + 0.5 WHERE id = ?", (ids[3],))
        db.execute("UPDATE readings SET raw = 'S S 1 g' WHERE id = ?", (ids[4],))
        db.execute("DELETE FROM readings WHERE id = ?", (ids[5],))
        db.execute(
            "INSERT INTO readings (instrument, quantity, value, unit, timestamp, status, raw, run)"
            " VALUES ('balance-1', 'mass', 50.0, 'g', 1.0, 'ok', 'S S 50.0 g', ?)",
            (run,),
        )

    edit(lab, forge)
    problems = (await audited(lab, run)).problems
    assert len(problems) == 4, problems
    assert "(reading of balance-1 mass) at " in problems[0]
    assert ": value " in problems[0] and "in the record" in problems[0]
    assert "in the readings table (row " in problems[0]
    assert ": raw " in problems[1] and '"S S 1 g" in the readings table' in problems[1]
    assert problems[2].endswith("is not in the readings table")
    assert "is tagged with run" in problems[3] and "but is not in its record" in problems[3]


async def test_forged_run_row_points_and_results_are_named(
    recorded: Recorded, tmp_path: Path
) -> None:
    lab = recorded.copy(tmp_path)
    run = recorded.run

    def forge(db: sqlite3.Connection) -> None:
        db.execute("UPDATE runs SET reason = 'all fine' WHERE id = ?", (run,))
        db.execute("UPDATE results SET conforms = 0, failures = 1 WHERE run = ?", (run,))
        (data,) = db.execute(
            "SELECT data FROM points WHERE run = ? AND key = 'indication 50 g'", (run,)
        ).fetchone()
        forged = data.replace('"outcome":"pass"', '"outcome":"fail"', 1)
        db.execute(
            "UPDATE points SET data = ? WHERE run = ? AND key = 'indication 50 g'", (forged, run)
        )

    edit(lab, forge)
    problems = (await audited(lab, run)).problems
    assert (
        'point \'indication 50 g\': decision.outcome: "pass" in the record, "fail" in the '
        "points table" in problems
    )
    assert 'runs table: reason: "" in the record, "all fine" in the runs table' in problems
    assert "results table: conforms: 1 in the record, 0 in the results table" in problems
    assert "results table: failures: 0 in the record, 1 in the results table" in problems


async def test_nonsense_in_the_journal_is_named_not_a_crash(
    recorded: Recorded, tmp_path: Path
) -> None:
    lab = recorded.copy(tmp_path)
    run = recorded.run

    def garble(db: sqlite3.Connection) -> None:
        (seq,) = db.execute(
            "SELECT MIN(seq) FROM run_records WHERE run = ? AND kind = 'reading'", (run,)
        ).fetchone()
        db.execute("UPDATE run_records SET content = '{not json' WHERE run = ? AND seq = ?",
                   (run, seq))  # fmt: skip
        db.execute("UPDATE runs SET started = 'yesterday', setup = '[]' WHERE id = ?", (run,))
        db.execute("UPDATE signatures SET signed = 1e300")

    edit(lab, garble)
    checked = await audited(lab, run)
    text = "\n".join(checked.problems)
    assert "(reading, not a JSON object) was altered: its content no longer has its hash" in text
    assert "(reading, not a JSON object) is not a JSON object: it was altered" in text
    assert "the setup in the runs table is not a JSON object" in text
    assert "runs table: started: " in text and '"yesterday" in the runs table' in text
    assert checked.signature is not None and "does not match" in checked.signature.text


# -- chains cut short or rebuilt without the key ------------------------------------------


async def test_truncated_chain_is_refused(recorded: Recorded, tmp_path: Path) -> None:
    lab = recorded.copy(tmp_path)
    run = recorded.run

    def truncate(db: sqlite3.Connection) -> None:
        (last,) = db.execute("SELECT MAX(seq) FROM run_records WHERE run = ?", (run,)).fetchone()
        db.execute("DELETE FROM run_records WHERE run = ? AND seq > ?", (run, last - 3))
        (final,) = db.execute(
            "SELECT hash FROM run_records WHERE run = ? AND seq = ?", (run, last - 3)
        ).fetchone()
        (text,) = db.execute("SELECT document FROM runs WHERE id = ?", (run,)).fetchone()
        document = json.loads(text)
        document["run"]["record_hash"] = final  # the document made to agree
        db.execute("UPDATE runs SET document = ? WHERE id = ?", (json.dumps(document), run))

    edit(lab, truncate)
    checked = await audited(lab, run)
    assert not checked.finished and checked.document is None
    text = "\n".join(checked.problems)
    assert "without its result document, though the run is completed" in text
    assert "a signature by lab-k1 of " in text and "which is not in the record" in text


async def test_rebuilt_chain_without_the_key_is_refused(recorded: Recorded, tmp_path: Path) -> None:
    lab = recorded.copy(tmp_path)
    run = recorded.run
    edit(lab, lambda db: rebuild(db, run, another_customer))
    checked = await audit_problems(lab, run)
    assert len(checked) == 2, checked  # the chain and every copy agree: only the key is missing
    assert "which is not in the record: it was cut short or rebuilt" in checked[0]
    assert checked[1].startswith("unsigned, but the run started ")
    assert "after the lab began signing (lab-k1 valid from 2020-01-01" in checked[1]
    edit(lab, lambda db: db.execute("DELETE FROM signatures"))  # the signature removed too
    assert (await audit_problems(lab, run)) == checked[1:]


async def audit_problems(lab: LabConfig, run: str) -> list[str]:
    return (await audited(lab, run)).problems


# -- signatures and the key register ------------------------------------------------------


async def test_signatures_are_judged_against_the_register(
    recorded: Recorded, tmp_path: Path
) -> None:
    _, stranger = make_key(tmp_path / "other", "lab-k1")
    cases = {
        "wrong key": (
            recorded.signing(public_key=stranger["public_key"]),
            "the signature by lab-k1 does not match: the record or its signature was altered",
        ),
        "revoked": (recorded.signing(revoked=True), "signed by lab-k1, which is REVOKED"),
        "unknown": (
            {"keys": [{**stranger, "id": "lab-k2"}]},
            "signed by lab-k1, a key not in the lab's register",
        ),
        "expired": (
            recorded.signing(valid_to="2020-06-30"),
            "outside its validity (2020-01-01T00:00:00+00:00 to 2020-07-01T00:00:00+00:00)",
        ),
    }
    for name, (signing, expected) in cases.items():
        lab = recorded.copy(tmp_path, signing)
        checked = await audited(lab, recorded.run)
        assert checked.signature is not None and not checked.signature.ok, name
        assert expected in checked.signature.text, name
        assert checked.problems == [checked.signature.text], name


async def test_a_rotated_key_keeps_verifying(recorded: Recorded, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()  # to the microsecond: after the fixture signed
    new_key, new_entry = make_key(tmp_path / "keys", "lab-k2", valid_from=now)
    rotated = {"key_file": str(new_key), "keys": [{**recorded.entry, "valid_to": now}, new_entry]}
    lab = recorded.copy(tmp_path, rotated)
    assert (await audited(lab, recorded.run)).signature.text == "signed by lab-k1"  # type: ignore[union-attr]
    document = await record_run(lab, touch_plan("balance"))
    assert document.run.status == "completed", document.run.reason
    checked = await audited(lab, document.run.id)
    assert checked.problems == [] and checked.signature is not None
    assert checked.signature.text == "signed by lab-k2"
    old_key = {**rotated, "key_file": str(recorded.key)}  # the retired key can sign no more
    retired = write_lab(tmp_path, old_key)
    with pytest.raises(RunRefused, match="cannot sign the run's record: key lab-k1 is valid"):
        await record_run(retired, touch_plan("balance"))


async def test_runs_recorded_before_signing_are_taken_over_as_they_are(tmp_path: Path) -> None:
    lab = write_lab(tmp_path, None)
    document = await record_run(lab, touch_plan("balance"))
    run = document.run.id
    checked = await audited(lab, run)
    assert checked.problems == [] and checked.signature is not None
    assert checked.signature.text.startswith("unsigned (recorded before signing")
    assert document.run.finished is not None
    began = dt.datetime.fromtimestamp(document.run.finished, dt.UTC).isoformat()
    key, entry = make_key(tmp_path / "keys", "lab-k1", valid_from=began)
    signing = write_lab(tmp_path, {"key_file": str(key), "keys": [entry]})
    checked = await audited(signing, run)  # nothing signed in this journal yet
    assert checked.problems == [] and checked.signature is not None
    assert "not yet taken over: `daq keys take-over`" in checked.signature.text
    backdated = write_lab(
        tmp_path, {"key_file": str(key), "keys": [{**entry, "valid_from": LONG_AGO}]}
    )
    assert (await audit_problems(backdated, run))[0].startswith("unsigned, but the run started")

    signing = write_lab(tmp_path, {"key_file": str(key), "keys": [entry]})
    assert signing.signing is not None
    async with Journal(signing.journal.path) as journal:
        signer = load_signer(signing.signing, journal.clock.now())
        done = await take_over(journal, signing.signing, signer)
        assert done.taken == [f"run {run}"] and done.left == []
        with pytest.raises(TakeOverRefused, match="were taken over on"):
            await take_over(journal, signing.signing, signer)
    checked = await audited(signing, run)
    assert checked.problems == [] and checked.signature is not None
    assert checked.signature.text.startswith("unsigned (recorded before signing; taken over by")
    assert checked.signature.key is None  # a certificate of it needs --accept-unsigned

    # someone without the key records a run and dates it before signing began
    forged = (await record_run(write_lab(tmp_path, None), touch_plan("balance"))).run.id
    long_ago = dt.datetime.fromisoformat(LONG_AGO).replace(tzinfo=dt.UTC).timestamp()

    def backdate(kind: str, data: dict[str, Any]) -> None:
        if kind == "document":
            data["run"]["started"] = long_ago

    def rewrite(db: sqlite3.Connection) -> None:
        rebuild(db, forged, backdate)
        db.execute("UPDATE runs SET started = ? WHERE id = ?", (long_ago, forged))

    edit(signing, rewrite)
    signing = write_lab(tmp_path, {"key_file": str(key), "keys": [entry]})
    [problem] = await audit_problems(signing, forged)
    assert "unsigned and dated before signing began, but not among the records taken over" in (
        problem
    )
    assert await audit_problems(signing, run) == []  # the one taken over still verifies

    def hide(db: sqlite3.Connection) -> None:  # its take-over removed, as if never taken over
        db.execute("DELETE FROM signatures WHERE subject = ?", (f"before-signing:run:{run}",))

    edit(signing, hide)
    [problem] = await audit_problems(signing, run)
    assert "not those it signed: a take-over signature was removed" in problem


async def test_the_first_signed_run_takes_over_and_a_removed_take_over_is_named(
    tmp_path: Path,
) -> None:
    before = await record_run(write_lab(tmp_path, None), touch_plan("balance"))
    assert before.run.finished is not None
    began = dt.datetime.fromtimestamp(before.run.finished, dt.UTC).isoformat()
    key, entry = make_key(tmp_path / "keys", "lab-k1", valid_from=began)
    lab = write_lab(tmp_path, {"key_file": str(key), "keys": [entry]})
    signed = await record_run(lab, touch_plan("balance"))
    assert (await audited(lab, signed.run.id)).signature.text == "signed by lab-k1"  # type: ignore[union-attr]
    assert await audit_problems(lab, before.run.id) == []
    edit(lab, lambda db: db.execute("DELETE FROM signatures WHERE subject LIKE 'before-signing:%'"))
    [problem] = await audit_problems(lab, before.run.id)
    assert "not those it signed: a take-over signature was removed" in problem
    edit(lab, lambda db: db.execute("DELETE FROM signatures WHERE subject = 'signing-began'"))
    [problem] = await audit_problems(lab, before.run.id)  # the signed run's signature stays
    assert "the journal holds signatures but no record of when signing began" in problem
    async with Journal(lab.journal.path) as journal:
        assert lab.signing is not None
        signer = load_signer(lab.signing, journal.clock.now())
        with pytest.raises(TakeOverRefused, match="holds signatures but no record of when"):
            await take_over(journal, lab.signing, signer)


async def test_two_processes_beginning_to_sign_take_over_once(tmp_path: Path) -> None:
    document = await record_run(write_lab(tmp_path, None), touch_plan("balance"))
    assert document.run.finished is not None
    began = dt.datetime.fromtimestamp(document.run.finished, dt.UTC).isoformat()
    key, entry = make_key(tmp_path / "keys", "lab-k1", valid_from=began)
    lab = write_lab(tmp_path, {"key_file": str(key), "keys": [entry]})
    assert lab.signing is not None
    async with Journal(lab.journal.path) as one, Journal(lab.journal.path) as two:
        signer = load_signer(lab.signing, one.clock.now())
        await asyncio.gather(
            begin_signing(one, lab.signing, signer), begin_signing(two, lab.signing, signer)
        )
        assert len(await one.signatures("signing-began")) == 1
    assert await audit_problems(lab, document.run.id) == []


def _later(document: RunDocument) -> str:
    assert document.run.finished is not None
    moment = dt.datetime.fromtimestamp(document.run.finished, dt.UTC)
    return moment.isoformat()


async def test_a_run_recorded_before_documents_were_chained(tmp_path: Path) -> None:
    """A run of schema 4: no record format, no document record, readings rows untagged."""
    lab = write_lab(tmp_path, None)
    document = await record_run(lab, touch_plan("balance"))
    run = document.run.id

    def as_recorded_before(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM run_records WHERE run = ? AND kind = 'document'", (run,))
        db.execute("UPDATE readings SET run = NULL")
        final = rebuild(db, run, lambda kind, data: data.pop("record_format", None))
        old = json.loads(document.model_dump_json())
        old["run"]["record_hash"] = final
        db.execute("UPDATE runs SET document = ? WHERE id = ?", (json.dumps(old), run))

    edit(lab, as_recorded_before)
    checked = await audited(lab, run)
    assert checked.problems == [] and checked.finished
    assert [n.split(":")[0] for n in checked.notes] == [
        "recorded before readings rows were tied to runs",
        "recorded before result documents were chained",
    ]
    assert checked.signature is not None and checked.signature.ok
    forge_document(lab, run, lambda d: d["run"].update(record_hash="0" * 64))
    assert "records were removed or added" in (await audit_problems(lab, run))[0]


# -- certificates ----------------------------------------------------------------------------


async def test_a_certificate_number_is_issued_once_and_reissues_replace(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        number, replaces = await journal.certificate_number("run-a", "{lab}-{year}-{seq:04d}", "x")
        now = time.time()
        year = dt.datetime.fromtimestamp(now, dt.UTC).year
        assert (number, replaces) == (f"x-{year}-0001", "")
        first = CertificateRow(number, "run-a", "pdf", "en", now, "J", "QM", "a" * 64)
        await journal.record_issue(first, None)
        with pytest.raises(NumberTaken, match=r"for run run-a with record hash a{64} \(another"):
            await journal.record_issue(
                CertificateRow(number, "run-b", "pdf", "en", now, "J", "QM", "b" * 64), None
            )
        with pytest.raises(NumberTaken, match="the same record"):
            await journal.record_issue(first, None)
        again = await journal.certificate_number("run-a", "{lab}-{year}-{seq:04d}", "x")
        assert again == (f"{number}-R1", number)
        await journal.record_issue(
            CertificateRow(again[0], "run-a", "pdf", "en", now, "J", "QM", "a" * 64, number), None
        )
        assert await journal.certificate_number("run-a", "{lab}", "x") == (f"{number}-R2", again[0])
        assert await journal.certificate_number("run-b", "{lab}-{year}-{seq:04d}", "x") == (
            f"x-{year}-0002",  # a re-issue takes no number of the year's sequence
            "",
        )
        rows = await journal.certificates("run-a")
    assert [(r.number, r.replaces) for r in rows] == [(number, ""), (again[0], number)]


async def test_a_deleted_certificate_leaves_its_number_taken(tmp_path: Path) -> None:
    """Deleting a certificate's row frees neither its number nor the year's sequence."""
    async with Journal(tmp_path / "j.sqlite") as journal:
        number, _ = await journal.certificate_number("run-a", "{lab}-{seq:04d}", "x")
        issue = CertificateRow(number, "run-a", "pdf", "en", time.time(), "J", "QM", "a" * 64)
        await journal.record_issue(issue, None)
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        db.execute("DELETE FROM certificates")
    async with Journal(tmp_path / "j.sqlite") as journal:
        assert await journal.certificate_number("run-b", "{lab}-{seq:04d}", "x") == ("x-0002", "")
        assert await journal.certificate_number("run-a", "{lab}-{seq:04d}", "x") == (
            "x-0001-R1",  # a re-issue of the deleted certificate, not a new number
            "x-0001",
        )
        with pytest.raises(NumberTaken, match=r"x-0001 was already issued, for run run-a .*gone"):
            await journal.record_issue(replace(issue, run="run-b"), None)
        assert await audit_register(journal, None) == [
            "register entry 1 (certificate x-0001): its certificate's row is gone (deleted)"
        ]


OLD_TABLES = """
CREATE TABLE readings (id INTEGER PRIMARY KEY, instrument TEXT NOT NULL, quantity TEXT NOT NULL,
    value REAL, unit TEXT NOT NULL, timestamp REAL NOT NULL, status TEXT NOT NULL,
    raw TEXT NOT NULL DEFAULT '');
CREATE TABLE certificates (number TEXT NOT NULL, run TEXT NOT NULL, format TEXT NOT NULL,
    language TEXT NOT NULL, issued REAL NOT NULL, issued_by TEXT NOT NULL,
    function TEXT NOT NULL, record_hash TEXT NOT NULL);
INSERT INTO readings (instrument, quantity, value, unit, timestamp, status)
    VALUES ('balance-1', 'mass', 1.5, 'g', 1.0, 'ok');
INSERT INTO certificates VALUES ('x-0001', 'r', 'pdf', 'en', 1.0, 'J', 'QM', 'h');
INSERT INTO certificates VALUES ('x-0001', 'r', 'html', 'vi', 2.0, 'J', 'QM', 'h');
PRAGMA user_version = 4;
"""


async def test_a_schema_4_journal_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_TABLES)
    async with Journal(path) as journal:
        assert (await journal.readings())[0].value == 1.5
        assert (await journal.recent_readings("balance-1"))[0].value == 1.5  # indexed too
        issued, again = await journal.certificates("r")  # a number reused, as schema 4 did
        assert issued.replaces == "" and issued.number == again.number == "x-0001"
        [entry] = await journal.register()  # issued before the register: taken in, onceto it
        assert (entry.number, entry.hash) == ("x-0001", issued.digest())
        assert await audit_register(journal, None) == []
        assert await journal.run_readings("r") == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        columns = [c[1] for c in db.execute("PRAGMA table_info(readings)")]
    assert columns[-2:] == ["run", "chain"]


async def test_a_schema_8_journal_gains_the_certificates_uut_and_still_verifies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eight.sqlite"
    async with Journal(path) as journal:
        number, _ = await journal.certificate_number("run-a", "{lab}-{seq:04d}", "x")
        row = CertificateRow(number, "run-a", "pdf", "en", 1.0, "J", "QM", "a" * 64)
        await journal.record_issue(row, None)
    with sqlite3.connect(path) as db:  # as schema 8 left it: no UUT column
        db.execute("ALTER TABLE certificates DROP COLUMN uut")
        db.execute("PRAGMA user_version=8")
    async with Journal(path) as journal:
        [kept] = await journal.certificates("run-a")
        assert kept == row and kept.digest() == row.digest()  # hashed as schema 8 hashed it
        assert await audit_register(journal, None) == []
        assert await journal.certificate_number("run-a", "{lab}-{seq:04d}", "x") == (
            f"{number}-R1",
            number,
        )
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert [c[1] for c in db.execute("PRAGMA table_info(certificates)")][-1] == "uut"


async def test_a_run_certified_as_one_is_replaced_by_each_uuts_first_certificate(
    tmp_path: Path,
) -> None:
    """A run of two probes certified as one before certificates were per UUT: each probe's
    first certificate names the whole-run one as replaced, and numbering goes on without a
    gap or a clash."""
    fmt = "{lab}-{seq:04d}"
    async with Journal(tmp_path / "j.sqlite") as journal:

        async def issue(run: str, uut: str = "") -> tuple[str, str]:
            number, replaces = await journal.certificate_number(run, fmt, "x", uut=uut)
            row = CertificateRow(number, run, "pdf", "en", journal.clock.now(), "J", "QM",
                                 "a" * 64, replaces, uut)  # fmt: skip
            await journal.record_issue(row, None)
            return number, replaces

        assert await issue("run-a") == ("x-0001", "")
        assert await issue("run-a", "probe-2") == ("x-0002", "x-0001")
        assert await issue("run-a", "probe-3") == ("x-0003", "x-0001")
        assert await issue("run-a", "probe-3") == ("x-0003-R1", "x-0003")
        assert await issue("run-b") == ("x-0004", "")
        assert await audit_register(journal, None) == []


async def test_a_signed_dccs_archived_signature_altered_or_removed_is_named(
    tmp_path: Path,
) -> None:
    from daq.integrity import archived_file_problems
    from daq.signing import RegisteredKey, SigningSettings

    pem, public = generate()
    key_file = tmp_path / "lab.key"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    key = RegisteredKey.model_validate(
        {"id": "lab-k1", "public_key": public, "valid_from": "2026-01-01"}
    )
    signing = SigningSettings(key_file=key_file, keys=[key])
    path = tmp_path / "j.sqlite"
    async with Journal(path) as journal:
        signer = load_signer(signing, journal.clock.now())
        row = CertificateRow("x-0001", "run-a", "dcc", "en", journal.clock.now(), "J", "QM",
                             "a" * 64)  # fmt: skip
        await journal.record_issue(row, None, signer, b"<dcc/>", b"<ds:Signature/>")
        assert (await journal.signature_file("x-0001")).content == b"<ds:Signature/>"  # type: ignore[union-attr]
        assert await archived_file_problems(journal, "x-0001", [key]) == []
    with sqlite3.connect(path) as db:
        db.execute("UPDATE certificate_signature_files SET content = X'00'")
    async with Journal(path) as journal:
        [problem] = await archived_file_problems(journal, "x-0001", [key])
        assert problem == (
            "the archived signature (.sig) of certificate x-0001 was altered: its content no "
            "longer has the hash it was issued with"
        )
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM certificate_signature_files")
    async with Journal(path) as journal:
        assert await archived_file_problems(journal, "x-0001", [key]) == [
            "the archived signature (.sig) of certificate x-0001 is gone"
        ]


# -- the commands, in-process -------------------------------------------------------------

SIGNATORY = ("--by", "Jane Doe", "--function", "Quality manager")


def daq(folder: Path, *args: str) -> tuple[int, str]:
    """A `daq` command with the lab file in ``folder``: (exit code, output flattened)."""
    from daq.cli import app

    result = CliRunner().invoke(app, [*args, "--lab", str(folder / "lab.yaml")])
    return result.exit_code, " ".join(result.output.split())


def test_a_reissue_replaces_the_earlier_certificate(recorded: Recorded, tmp_path: Path) -> None:
    lab = recorded.copy(tmp_path)
    numbers = []
    for name in ("first.html", "second.json", "third.html"):
        out = str(tmp_path / name)
        code, said = daq(tmp_path, "report", recorded.run, "--format", name[-4:].strip("."),
                         "--out", out, *SIGNATORY)  # fmt: skip
        assert code == 0, said
        numbers.append(said.split()[1])
    first, second, third = numbers
    year = dt.datetime.now(dt.UTC).year
    assert first == f"demo-lab-mass-bench-{year}-0001"  # the bench of the balance calibrated
    assert (second, third) == (f"{first}-R1", f"{first}-R2")
    assert f"written to {tmp_path / 'third.html'}, replacing certificate {second}" in said
    page = (tmp_path / "first.html").read_text()
    assert "replaces certificate" not in page
    assert "Record signed with the laboratory&#39;s key lab-k1 (Ed25519)" in page
    issued = json.loads((tmp_path / "second.json").read_text())["certificate"]
    assert (issued["number"], issued["replaces"]) == (second, first)
    assert issued["record_signed_by"] == "lab-k1" and issued["signature"]["key"] == "lab-k1"
    page = (tmp_path / "third.html").read_text()
    assert f"This certificate replaces certificate {second}, which is withdrawn." in page
    code, said = daq(tmp_path, "verify", recorded.run)
    assert code == 0, said
    for number in numbers:
        assert f"certificate {number}: signed by lab-k1" in said

    edit(lab, lambda db: db.execute("UPDATE certificates SET issued_by = 'A. Forger'"))
    code, said = daq(tmp_path, "verify", recorded.run)
    assert code == 1
    assert f"certificate {first} was altered in the certificates table after it was signed" in said
    edit(lab, lambda db: db.execute("DELETE FROM signatures WHERE subject LIKE 'certificate:%'"))
    code, said = daq(tmp_path, "verify", recorded.run)
    assert code == 1 and f"certificate {first}: unsigned, but it was issued " in said


def test_certificates_removed_from_the_journal_are_named(
    recorded: Recorded, tmp_path: Path
) -> None:
    lab = recorded.copy(tmp_path)
    numbers = []
    for name in ("first.json", "second.json"):
        code, said = daq(tmp_path, "report", recorded.run, "--format", "json",
                         "--out", str(tmp_path / name), *SIGNATORY)  # fmt: skip
        assert code == 0, said
        numbers.append(said.split()[1])
    first, second = numbers
    code, said = daq(tmp_path, "verify", "--certificates")
    assert code == 0 and "2 issued certificates: the register and their records hold" in said

    def delete(number: str, register: bool = False) -> Callable[[sqlite3.Connection], None]:
        def change(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM certificates WHERE number = ?", (number,))
            db.execute("DELETE FROM signatures WHERE subject LIKE ?", (f"%:{number}",))
            if register:
                db.execute("DELETE FROM certificate_register WHERE number = ?", (number,))

        return change

    edit(lab, delete(second))  # the row and its signature, as someone with the file could
    code, said = daq(tmp_path, "verify", recorded.run)
    assert code == 1 and f"certificate {second} was issued on" in said
    assert "its row is gone from the certificates table: it was deleted" in said
    code, said = daq(tmp_path, "verify", "--certificates")
    assert code == 1 and f"(certificate {second}): its certificate's row is gone (deleted)" in said
    code, said = daq(tmp_path, "report", recorded.run, "--format", "json",
                     "--out", str(tmp_path / "third.json"), *SIGNATORY)  # fmt: skip
    assert code == 1 and "does not verify" in said and not (tmp_path / "third.json").exists()

    edit(lab, delete(first, register=True))  # the register's entry too: the chain breaks
    code, said = daq(tmp_path, "verify", "--certificates")
    assert code == 1
    assert f"register entry 2 (certificate {second}): does not follow from the entry" in said

    forged = (
        "INSERT INTO certificates VALUES ('LAB-FORGED', ?, 'pdf', 'en', 1.0, 'A. Forger', 'QM', "
        "?, '', '')"
    )
    edit(lab, lambda db: db.execute(forged, (recorded.run, recorded.document.run.record_hash)))
    code, said = daq(tmp_path, "verify", "--certificates")
    assert "certificate LAB-FORGED is not in the register of issued certificates" in said


def test_a_register_entry_without_its_signature_is_named(
    recorded: Recorded, tmp_path: Path
) -> None:
    lab = recorded.copy(tmp_path)
    code, said = daq(tmp_path, "report", recorded.run, "--format", "json",
                     "--out", str(tmp_path / "c.json"), *SIGNATORY)  # fmt: skip
    assert code == 0, said
    number = said.split()[1]
    edit(lab, lambda db: db.execute("DELETE FROM signatures WHERE subject LIKE 'certificate-r%'"))
    code, said = daq(tmp_path, "verify", "--certificates")
    assert code == 1 and f"register entry 1 (certificate {number}): unsigned, but it was" in said


def test_latest_names_the_newest_run(recorded: Recorded, tmp_path: Path) -> None:
    recorded.copy(tmp_path)
    code, said = daq(tmp_path, "verify", "latest")
    assert code == 0 and f"run {recorded.run}: " in said, said
    code, said = daq(tmp_path, "runs", "show", "latest")
    assert code == 0 and f"run {recorded.run}: completed" in said, said
    listed = CliRunner().invoke(app_of(), ["runs", "--json", "--lab", str(tmp_path / "lab.yaml")])
    [row] = json.loads(listed.output)
    assert (row["id"], row["status"], row["plan"]) == (recorded.run, "completed", "balance")
    started = dt.datetime.fromisoformat(row["started"]).timestamp()
    assert started == pytest.approx(recorded.document.run.started, abs=1e-5)  # microseconds
    empty = tmp_path / "empty"
    empty.mkdir()
    write_lab(empty, None)

    async def make_empty() -> None:
        async with Journal(empty / "daq.sqlite"):
            pass

    asyncio.run(make_empty())
    code, said = daq(empty, "runs", "show", "latest")
    assert code == 1 and "no runs in" in said and "`daq run PLAN` starts one" in said


def test_a_missing_pango_says_what_to_install(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = recorded.copy(tmp_path)
    real_import = builtins.__import__

    def without_pango(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint":  # as cffi fails on a machine without the library
            raise OSError("cannot load library 'libpango-1.0-0': not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(builtins, "__import__", without_pango)
    out = tmp_path / "c.pdf"
    code, said = daq(tmp_path, "report", recorded.run, "--format", "pdf", "--out", str(out),
                     *SIGNATORY)  # fmt: skip
    assert code == 1 and not out.exists()
    assert "PDF certificates need Pango" in said and "apt-get install libpango-1.0-0" in said
    assert "--format html or json" in said
    with sqlite3.connect(lab.journal.path) as db:
        assert db.execute("SELECT COUNT(*) FROM certificates").fetchone() == (0,)


def test_keys_new_and_a_signed_record(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    result = CliRunner().invoke(app_of(), ["keys", "new", "--out", str(keys), "--id", "lab-k1"])
    assert result.exit_code == 0, result.output
    private, public = keys / "lab-k1.key", keys / "lab-k1.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) & 0o077 == 0o044
    assert "BEGIN PRIVATE KEY" in private.read_text() and "PRIVATE" not in result.stdout
    [entry] = yaml.safe_load(result.stdout)
    assert entry["id"] == "lab-k1" and entry["public_key"] == public.read_text().strip()
    assert "mode 600" in result.stderr
    again = CliRunner().invoke(app_of(), ["keys", "new", "--out", str(keys), "--id", "lab-k1"])
    assert again.exit_code == 1 and "never overwritten" in again.output
    assert private.read_text().count("BEGIN") == 1

    lab = write_lab(tmp_path, {"key_file": str(private), "keys": [entry]})
    code, said = daq(tmp_path, "keys")
    assert code == 0 and "this machine signs with lab-k1" in said
    document = asyncio.run(record_run(lab, touch_plan("balance")))
    code, said = daq(tmp_path, "verify", document.run.id)
    assert code == 0, said
    assert "signed by lab-k1" in said and "readings in the readings table match" in said

    private.chmod(0o644)
    code, said = daq(tmp_path, "keys")
    assert "may be read by others (mode 644)" in said and "chmod 600" in said
    code, said = daq(tmp_path, "report", document.run.id, *SIGNATORY)
    assert code == 1 and "cannot sign the certificate" in said
    with pytest.raises(RunRefused, match="may be read by others"):
        asyncio.run(record_run(lab, touch_plan("balance")))


def app_of() -> typer.Typer:
    from daq.cli import app

    return app


def test_an_unsigned_run_is_certified_in_a_signing_lab_only_when_accepted(
    recorded: Recorded, tmp_path: Path
) -> None:
    """Signing began after the run was recorded (its signature is not there)."""
    later = _later(recorded.document)
    lab = recorded.copy(tmp_path, recorded.signing(valid_from=later))
    edit(lab, lambda db: db.execute("DELETE FROM signatures"))
    code, said = daq(tmp_path, "verify", recorded.run)
    assert code == 0 and "not yet taken over: `daq keys take-over`" in said, said
    code, said = daq(tmp_path, "keys", "take-over")
    assert code == 0 and "1 record(s) made before signing taken over with key lab-k1" in said
    code, said = daq(tmp_path, "verify", recorded.run)
    assert code == 0 and "unsigned (recorded before signing; taken over by lab-k1" in said, said
    out = tmp_path / "c.json"
    code, said = daq(tmp_path, "report", recorded.run, "--format", "json", "--out", str(out),
                     *SIGNATORY)  # fmt: skip
    assert code == 1 and "--accept-unsigned" in said and not out.exists()
    code, said = daq(tmp_path, "report", recorded.run, "--format", "json", "--out", str(out),
                     "--accept-unsigned", *SIGNATORY)  # fmt: skip
    assert code == 0, said
    issued = json.loads(out.read_text())["certificate"]
    assert issued["record_signed_by"] is None and issued["signature"]["key"] == "lab-k1"
    with sqlite3.connect(lab.journal.path) as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM events WHERE run = ?", (recorded.run,))]
    assert "unsigned_record_certified" in kinds
