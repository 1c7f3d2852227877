"""Plans and procedures: validation that names the file and field, loading only from the
installed package or the lab's folder, and a resume refused when the procedure changed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from daq.config import ConfigError, load_lab
from daq.engine.loader import load_procedure
from daq.engine.plan import available_plans, find_plan, parse_plan
from tests.conftest import CONFIG, lab_text

PLAN = (CONFIG / "plans" / "thermometers.yaml").read_text()


def test_shipped_plans_validate_with_their_procedures(tmp_path: Path) -> None:
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(lab_text(tmp_path))
    lab = load_lab(lab_file)
    plans = available_plans(lab)
    assert {"balance", "thermometers", "pressure-gauge"} <= set(plans)
    for name in plans:
        plan, path = find_plan(name, lab)
        procedure = load_procedure(plan.procedure, lab)
        settings = procedure.settings(plan.settings, str(path))
        keys = procedure.point_keys(settings, [u.id for u in plan.uuts])
        assert len(keys) == len(set(keys)) > 0, name


def test_bad_plan_names_file_and_field() -> None:
    raw = yaml.safe_load(PLAN)
    raw["tolerance"] = {"kind": "iec_60751", "tolerance_class": "Z"}
    raw["decision_rule"]["acceptance"] = "lenient"
    with pytest.raises(ConfigError) as caught:
        parse_plan(yaml.safe_dump(raw), "plans/x.yaml")
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "plans/x.yaml: tolerance.iec_60751.tolerance_class" in text
    assert "plans/x.yaml: decision_rule.acceptance" in text


def test_bad_procedure_settings_name_the_field(tmp_path: Path) -> None:
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(lab_text(tmp_path))
    lab = load_lab(lab_file)
    plan = parse_plan(PLAN, "t.yaml")
    procedure = load_procedure(plan.procedure, lab)
    with pytest.raises(ConfigError) as caught:
        procedure.settings({**plan.settings, "readings": 1}, "t.yaml")
    assert str(caught.value.problems[0]).startswith("t.yaml: settings.readings:")


@pytest.mark.parametrize("name", ["../evil", "os.path", "Thermometer", ""])
def test_procedure_names_are_module_names_only(name: str) -> None:
    with pytest.raises(ConfigError, match="module name"):
        load_procedure(name, load_lab(None))


def test_unknown_procedure_says_where_it_looked() -> None:
    with pytest.raises(ConfigError, match="no procedure 'nope' in the installed procedures"):
        load_procedure("nope", load_lab(None))


def test_lab_folder_procedure_is_loaded_and_checked(tmp_path: Path) -> None:
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "leak_test.py").write_text(
        textwrap.dedent(
            '''
            """Leak test of a pressure gauge."""
            from pydantic import BaseModel
            VERSION = "0.1"
            class Settings(BaseModel):
                pass
            def points(settings, uuts):
                return ["leak"]
            async def run(ctx, settings):
                pass
            '''
        )
    )
    (folder / "broken.py").write_text('VERSION = "1"\n')
    raw = yaml.safe_load(lab_text(tmp_path))
    raw["procedures"] = "procedures"  # beside the lab file
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(raw))
    lab = load_lab(lab_file)
    procedure = load_procedure("leak_test", lab)
    assert (procedure.version, procedure.title) == ("0.1", "Leak test of a pressure gauge.")
    assert procedure.source == str(folder / "leak_test.py")
    with pytest.raises(ConfigError, match="lacks Settings, points, run"):
        load_procedure("broken", lab)


STEPPING = '''
"""Two points; the second fails the first time (a script fault)."""
from pydantic import BaseModel
from daq.engine.record import Point
VERSION = "{version}"
class Settings(BaseModel):
    fail: bool = True
def points(settings, uuts):
    return ["one", "two"]
async def run(ctx, settings):
    if not ctx.done("one"):
        await ctx.record(Point(key="one", kind="check", values={{"x": 1.0}}))
    if settings.fail and "{version}" == "1":
        raise ZeroDivisionError("a script fault")
    await ctx.record(Point(key="two", kind="check", values={{"x": 2.0}}))
'''


async def test_failed_procedure_is_recorded_and_resume_refuses_changed_code(
    tmp_path: Path,
) -> None:
    from daq.core.clock import Clock
    from daq.engine.runner import Runner, RunRefused
    from daq.session import lab_session
    from daq.standards import StandardsRegister

    class Quiet:
        def begin(self, run: str, title: str, total: int, done: int) -> None: ...
        def point(self, label: str) -> None: ...
        def status(self, text: str) -> None: ...
        def sample(self, reading: object, verdict: object) -> None: ...
        def completed(self, point: object) -> None: ...

    folder = tmp_path / "procedures"
    folder.mkdir()
    script = folder / "stepping.py"
    script.write_text(STEPPING.format(version="1"))
    raw = yaml.safe_load(lab_text(tmp_path))
    raw["procedures"] = str(folder)
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(yaml.safe_dump(raw))
    lab = load_lab(lab_file)
    plan_raw = yaml.safe_load(PLAN)
    plan_raw.update(procedure="stepping", settings={})
    plan = parse_plan(yaml.safe_dump(plan_raw, allow_unicode=True), "stepping.yaml")
    async with lab_session(lab, Clock(), simulate=False) as session:
        runner = Runner(session, StandardsRegister(), Quiet())
        document = await runner.start(plan, "stepping.yaml")
        assert document.run.status == "error"
        assert "stepping failed: a script fault" in document.run.reason
        assert [p.key for p in document.points] == ["one"]
        script.write_text(STEPPING.format(version="2"))
        with pytest.raises(RunRefused, match="changed since run"):
            await Runner(session, StandardsRegister(), Quiet()).resume(document.run.id)
        script.write_text(STEPPING.format(version="1").replace("settings.fail and ", "False and "))
        with pytest.raises(RunRefused, match="changed since run"):  # same version, new code
            await Runner(session, StandardsRegister(), Quiet()).resume(document.run.id)
        script.write_text(STEPPING.format(version="1"))


def test_result_schema_in_docs_is_current() -> None:
    """docs/result-schema.json is what the code writes (regenerate it when this fails:
    python -c "from daq.engine.document import RunDocument; ...model_json_schema()")."""
    import json

    from daq.engine.document import RunDocument

    documented = json.loads((CONFIG.parent / "docs" / "result-schema.json").read_text())
    assert documented == RunDocument.model_json_schema()
