"""`daq users` (the first user the administrator, who then proves every change with their
password) and, once a lab has users, `daq report` issued only by an authoriser who gives
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
    admin = ("--admin", "it.admin")
    first = daq_with("a password of hers", "users", "add", "an.nguyen", "--role", "operator",
                     "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 2 and "first user is its administrator" in first.stderr
    first = daq_with("the admin's password", "users", "add", "it.admin", "--role",
                     "administrator", "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    for name, role, function in (("ha.tran", "authoriser", "Quality manager"),
                                 ("an.nguyen", "operator", "Technician")):  # fmt: skip
        added = daq_with("the admin's password\na password of hers", "users", "add", name,
                         "--role", role, "--full-name", name.upper(), "--function", function,
                         *admin, "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
        assert added.returncode == 0, added.stderr
    refused = daq_with("x", "users", "add", "bo", "--role", "boss", "--password-stdin", *where,
                       cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "no role 'boss'" in refused.stderr
    # anyone at the lab PC's shell: no administrator named, or a wrong password, changes nothing
    authoriser = ("--admin", "ha.tran")
    for who, passwords in (((), "a password of mine"),
                           (admin, "guessed\na password of mine"),
                           (authoriser, "a password of hers\na password of mine")):  # fmt: skip
        forged = daq_with(passwords, "users", "add", "mallory", "--role", "authoriser",
                          *who, "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
        assert forged.returncode == 2, forged.stdout
    assert "--admin" in daq_with("", "users", "disable", "ha.tran", *where, cwd=tmp_path).stderr
    same_name = daq_with("the admin's password\nanother password", "users", "add", "forger",
                         "--role", "authoriser", "--full-name", "HA.TRAN", *admin,
                         "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert same_name.returncode == 2 and "already" in same_name.stderr
    assert "mallory" not in run("users", "list", *where, cwd=tmp_path).stdout

    anonymous = run("report", run_id, "--by", "Jane Doe", "--function", "QM", *where, cwd=tmp_path)
    assert anonymous.returncode == 2 and "--user" in anonymous.stderr
    operator = daq_with("a password of hers", "report", run_id, "--user", "an.nguyen",
                        "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert operator.returncode == 2 and "only an authoriser" in operator.stderr
    wrong = daq_with("not it", "report", run_id, "--user", "ha.tran", "--password-stdin", *where,
                     cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2 and "wrong user name or password" in wrong.stderr
    added = daq_with("the admin's password\na password of his", "users", "add", "no.fn",
                     "--role", "authoriser", *admin, "--password-stdin", *where,
                     cwd=tmp_path)  # fmt: skip
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

    reset = daq_with("the admin's password\na new long password", "users", "reset-password",
                     "ha.tran", *admin, "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    disabled = daq_with("the admin's password", "users", "disable", "an.nguyen", *admin,
                        "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert disabled.returncode == 0, disabled.stderr
    listed = run("users", "list", *where, cwd=tmp_path)
    assert "disabled" in listed.stdout and "authoriser" in listed.stdout
    enabled = daq_with("the admin's password", "users", "enable", "an.nguyen", *admin,
                       "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert enabled.returncode == 0, enabled.stderr
    edited = daq_with("the admin's password", "users", "edit", "an.nguyen", "--role",
                      "authoriser", "--function", "Technical manager", *admin,
                      "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    listed = run("users", "list", *where, cwd=tmp_path)
    assert "disabled" not in listed.stdout and "Technical manager" in listed.stdout
    demoted = daq_with("the admin's password", "users", "edit", "it.admin", "--role",
                       "operator", *admin, "--password-stdin", *where, cwd=tmp_path)  # fmt: skip
    assert demoted.returncode == 2 and "only administrator" in demoted.stderr
