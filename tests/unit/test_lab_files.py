"""Where a lab's files resolve, and what read-only commands leave behind: the journal sits
beside the lab file, looking never creates one, and a lab's own plans folder is the only
place its plans come from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from daq.cli import app
from daq.config import ConfigError, default_lab_folder, load_lab
from daq.engine.plan import available_plans, find_plan
from tests.conftest import CONFIG, lab_text


def own_lab(folder: Path, **changes: object) -> Path:
    """The test lab in ``folder`` with relative journal and plans paths."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(lab_text(folder))
    raw["journal"] = {"path": "records/daq.sqlite", "spill": "spill"}
    raw.update(changes)
    path = folder / "lab.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_journal_resolves_beside_the_lab_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = load_lab(own_lab(tmp_path / "lab"))
    monkeypatch.chdir(tmp_path)  # wherever the command runs from
    assert lab.journal.path == tmp_path / "lab" / "records" / "daq.sqlite"
    assert lab.journal.spill == tmp_path / "lab" / "spill"
    monkeypatch.delenv("DAQ_LAB", raising=False)
    assert load_lab().journal.path == Path("data/daq.sqlite")  # the embedded default: ./data


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "show", "r1"],
        ["verify", "r1"],
        ["verify", "--certificates"],
        ["verify", "--streams"],
        ["status"],
    ],
)
def test_read_only_commands_never_create_a_journal(tmp_path: Path, command: list[str]) -> None:
    lab_file = own_lab(tmp_path)
    result = CliRunner().invoke(app, [*command, "--lab", str(lab_file)])
    assert result.exit_code == 1, result.output
    assert "no journal at" in " ".join(result.output.split())
    assert not (tmp_path / "records").exists()


def test_a_labs_own_plans_folder_never_falls_back_to_the_shipped_plans(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "my-balance.yaml").write_text((CONFIG / "plans" / "balance.yaml").read_text())
    lab = load_lab(own_lab(tmp_path, plans="plans"))
    assert list(available_plans(lab)) == ["my-balance"]
    with pytest.raises(ConfigError) as caught:
        find_plan("balance", lab)  # a shipped example's name
    said = str(caught.value)
    assert f"no plan of that name in {plans}" in said and "plans: my-balance" in said
    assert str(default_lab_folder() / "plans") in said  # where the examples are, to copy
    missing = load_lab(own_lab(tmp_path, plans="nowhere"))
    assert available_plans(missing) == {}


@pytest.mark.parametrize(
    ("number_format", "said"),
    [
        ("{lab}-{year}", "a certificate number needs {seq} and {year}"),
        ("{lab}-{bench}-{seq:04d}", "a certificate number needs {seq} and {year}"),
        ("{lab}-{month}-{seq}", "cannot make a number from '{lab}-{month}-{seq}' (KeyError"),
        ("{lab.x}-{year}-{seq}", "(AttributeError"),
        ("{lab}-{year}-{seq:04d}", "put {bench} in the number"),  # the lab has three benches
    ],
)
def test_certificate_numbers_unique_across_benches(
    tmp_path: Path, number_format: str, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_lab(own_lab(tmp_path, certificates={"number_format": number_format}))
    problems = [str(p) for p in caught.value.problems]
    assert any("certificates.number_format" in p and said in p for p in problems), problems
    one_bench = yaml.safe_load(lab_text(tmp_path))
    one_bench["benches"] = one_bench["benches"][:1]
    one_bench["certificates"] = {"number_format": "{lab}-{year}-{seq:04d}"}
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(one_bench))
    assert load_lab(tmp_path / "one.yaml").certificates.number_format == "{lab}-{year}-{seq:04d}"


def test_a_journal_left_in_the_working_directory_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab_file = own_lab(tmp_path / "lab")
    elsewhere = tmp_path / "where-it-ran"
    (elsewhere / "records").mkdir(parents=True)
    (elsewhere / "records" / "daq.sqlite").write_bytes(b"")  # where it used to resolve
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["runs", "--lab", str(lab_file)])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "no journal at" in said
    assert f"a journal from before, relative to the working directory, is at {elsewhere}" in said
    assert f"move it there (mv {elsewhere / 'records' / 'daq.sqlite'}*" in said


@pytest.mark.parametrize("kind", ["a folder", "under a file"])
def test_an_unwritable_json_is_refused_before_the_run(tmp_path: Path, kind: str) -> None:
    lab_file = own_lab(tmp_path)
    (tmp_path / "note.txt").write_text("not a folder")
    target = tmp_path if kind == "a folder" else tmp_path / "note.txt" / "result.json"
    result = CliRunner().invoke(
        app, ["run", "balance", "--simulate", "--json", str(target), "--lab", str(lab_file)]
    )
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"--json {target}" in said, said
    assert not (tmp_path / "records").exists()  # refused before anything was recorded


def test_a_damaged_journal_gets_a_hint_that_fits(tmp_path: Path) -> None:
    lab_file = own_lab(tmp_path)
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "daq.sqlite").write_bytes(b"this is not SQLite at all " * 100)
    result = CliRunner().invoke(app, ["runs", "--lab", str(lab_file)])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "The journal file is damaged" in said, said
    assert "free" not in said.lower()  # no disk-space advice for a damaged file
