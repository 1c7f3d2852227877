"""`daq users` and, once a lab has users, `daq report` issued only by an authoriser who gives
their password (the name and function printed are theirs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pypdf

from tests.e2e.processes import DAQ, run
from tests.e2e.test_calibration_cli import calibrate, lab


def daq_with(password: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DAQ, *args], input=password + "\n", capture_output=True, text=True,
                          cwd=cwd, timeout=120)  # fmt: skip


def test_users_are_administered_and_certificates_need_an_authorisers_password(
    tmp_path: Path,
) -> None:
    lab_file = lab(tmp_path)
    code, document, output = calibrate(tmp_path, "pressure-gauge", lab_file)
    assert code == 0, output
    run_id = document["run"]["id"]
    where = ("--lab", str(lab_file))
    for name, role, function in (("ha.tran", "authoriser", "Quality manager"),
                                 ("an.nguyen", "operator", "Technician")):  # fmt: skip
        added = daq_with("a password of hers", "users", "add", name, "--role", role,
                         "--full-name", name.upper(), "--function", function,
                         "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
        assert added.returncode == 0, added.stderr
    refused = daq_with("x", "users", "add", "bo", "--role", "boss", "--password-stdin", *where,
                       cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "no role 'boss'" in refused.stderr

    anonymous = run("report", run_id, "--by", "Jane Doe", "--function", "QM", *where, cwd=tmp_path)
    assert anonymous.returncode == 2 and "--user" in anonymous.stderr
    operator = daq_with("a password of hers", "report", run_id, "--user", "an.nguyen",
                        "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert operator.returncode == 2 and "only an authoriser" in operator.stderr
    wrong = daq_with("not it", "report", run_id, "--user", "ha.tran", "--password-stdin", *where,
                     cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2 and "wrong user name or password" in wrong.stderr
    added = daq_with("a password of his", "users", "add", "no.fn", "--role", "authoriser",
                     "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    typed = daq_with("a password of his", "report", run_id, "--user", "no.fn", "--function",
                     "Quality manager", "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert typed.returncode == 2 and "no function on record" in typed.stderr  # not the typed one
    out = tmp_path / "issued.pdf"
    issued = daq_with("a password of hers", "report", run_id, "--user", "ha.tran",
                      "--password-stdin", "--out", str(out), *where, cwd=tmp_path)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    assert "HA.TRAN" in text and "Quality manager" in text

    reset = daq_with("a new long password", "users", "reset-password", "ha.tran",
                     "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    disabled = run("users", "disable", "an.nguyen", *where, cwd=tmp_path)
    assert disabled.returncode == 0, disabled.stderr
    listed = run("users", "list", *where, cwd=tmp_path)
    assert "disabled" in listed.stdout and "authoriser" in listed.stdout
