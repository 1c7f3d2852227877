"""Checking a plan against its procedure, the lab and the standards before anything runs.

Each procedure names its test points (``checkpoints``): the nominal value, its unit and the
standards used there. At each, the plan's tolerance must give a non-empty interval in the
result's unit (a pure % of reading at 0 bar has none; an IEC 60751 class has none outside
its range), the CMC must be in a unit of the same quantity, and every standard must exist
and be calibrated in a unit of that quantity. `daq config check` and `daq run` both use this,
so a plan a lab can write is refused with the file and field before a run measures anything.
"""

from __future__ import annotations

import contextlib
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

    points = procedure.checkpoints(settings, plan)
    used = {*plan.standards.values(), *(s for p in points for s in p.standards.values())}
    for refused in self_referenced(plan, register, used):
        problem("uuts", refused)

    for point in points:
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


def standards_of(plan: Plan, lab: LabConfig) -> set[str]:
    """Every standard a run of ``plan`` uses: the plan's, and those its procedure uses at
    its test points (the weights a weighing plan names in its settings)."""
    procedure = load_procedure(plan.procedure, lab)
    settings = procedure.settings(plan.settings, f"plan {plan.id}")
    points = procedure.checkpoints(settings, plan)
    return {*plan.standards.values(), *(s for p in points for s in p.standards.values())}


def reference_instruments(
    plan: Plan, register: StandardsRegister, used: set[str]
) -> dict[str, str]:
    """Instrument id -> a standard of the run read through it: the register's instrument of
    each standard ``used``, and the instrument the plan gives a standard's own role
    (``instruments.reference`` beside ``standards.reference``)."""
    found: dict[str, str] = {}
    for role, standard_id in plan.standards.items():
        if role in plan.instruments:
            found[plan.instruments[role]] = standard_id
    for standard_id in sorted(used):
        with contextlib.suppress(KeyError):  # an unknown standard is check_plan's to say
            if (instrument := register.standard(standard_id).instrument) is not None:
                found[instrument] = standard_id
    return found


def self_referenced(plan: Plan, register: StandardsRegister, used: set[str]) -> list[str]:
    """Why a UUT of ``plan`` is one of the run's own references (empty: none is): a UUT read
    as the instrument a standard is read through would be compared with itself and pass."""
    references = reference_instruments(plan, register, used)
    return [
        f"UUT {u.id}: {u.instrument} is how standard {references[u.instrument]} is read; a "
        "reference calibrated against itself proves nothing: choose another instrument"
        for u in plan.uuts
        if u.channel is None and u.instrument in references
    ]
