"""Checking a plan against its procedure, the lab and the standards before anything runs.

Each procedure names its test points (``checkpoints``): the nominal value, its unit and the
standards used there. At each, the plan's tolerance must give a non-empty interval in the
result's unit (a pure % of reading at 0 bar has none; an IEC 60751 class has none outside
its range), the CMC must be in a unit of the same quantity, and every standard must exist
and be calibrated in a unit of that quantity. `daq config check` and `daq run` both use this,
so a plan a lab can write is refused with the file and field before a run measures anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daq.config import ConfigError, LabConfig, Problem
from daq.core.units import same_dimension
from daq.engine.loader import load_procedure
from daq.engine.plan import Plan
from daq.metrology.errors import MetrologyError
from daq.standards import StandardsRegister


@dataclass(frozen=True)
class Checkpoint:
    """A test point of a plan as its procedure will judge it."""

    label: str
    nominal: float
    unit: str
    standards: dict[str, str] = field(default_factory=dict)
    """Plan field path -> standard id used at this point (e.g. standards.reference)."""


def check_plan(
    plan: Plan, plan_file: str, lab: LabConfig, register: StandardsRegister
) -> list[Problem]:
    """Every problem of ``plan`` as file: field: message (empty when it may run)."""
    try:
        procedure = load_procedure(plan.procedure, lab)
        settings = procedure.settings(plan.settings, plan_file)
    except ConfigError as exc:
        return exc.problems
    problems: list[Problem] = []

    def problem(path: str, message: str) -> None:
        found = Problem(plan_file, path, message)
        if found not in problems:
            problems.append(found)

    most = procedure.most_uuts
    if most is not None and len(plan.uuts) > most:
        problem(
            "uuts",
            f"procedure {procedure.name} calibrates {most} UUT per run, the plan lists "
            f"{len(plan.uuts)}: write one plan per UUT (or run it with --uut ID)",
        )

    for point in procedure.checkpoints(settings, plan):
        where = f"at {point.label}"
        try:
            plan.tolerance.limits(point.nominal, point.unit)
        except MetrologyError as exc:
            problem("tolerance", f"{where}: {exc}")
        if plan.cmc is not None and not same_dimension(plan.cmc.unit, point.unit):
            problem(
                "cmc.unit",
                f"{plan.cmc.unit} cannot express an uncertainty of a result in {point.unit}",
            )
        for path, standard_id in point.standards.items():
            try:
                standard = register.standard(standard_id)
            except KeyError as exc:
                problem(path, str(exc).strip("'\""))
                continue
            for what, unit in (
                ("calibrated range", standard.range.unit),
                ("uncertainty", standard.uncertainty.unit),
            ):
                if not same_dimension(unit, point.unit):
                    problem(
                        path,
                        f"{standard_id}: its {what} is in {unit}, which cannot measure "
                        f"{point.unit}",
                    )
    return problems
