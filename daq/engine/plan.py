"""Calibration plans: which procedure, which UUT, which standards, test points, tolerance and
decision rule. A plan is YAML in the lab's plans folder (or one shipped with the package),
validated here; the procedure validates its own ``settings`` section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daq.config import ConfigError, Identifier, LabConfig, Problem, default_lab_folder, field_path
from daq.metrology.budget import Cmc
from daq.metrology.decision import DecisionRule
from daq.metrology.tolerance import Tolerance
from daq.stability import StabilityCriteria
from daq.standards import Override


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Uut(_Strict):
    """The item under test: what the certificate names, and where it is read."""

    id: Identifier
    instrument: Identifier
    """The lab-file instrument the UUT is read through (itself, or the readout it is on)."""
    channel: int | None = Field(None, ge=1)
    """The readout channel, for a probe read through a multi-channel readout."""
    description: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""


class Environment(_Strict):
    """Laboratory conditions during the calibration, as stated for the run."""

    temperature: float = Field(20.0, description="°C")
    temperature_uncertainty: float = Field(1.0, ge=0, description="°C, half-width")
    humidity: float = Field(50.0, ge=0, le=100, description="% relative humidity")
    pressure: float = Field(1013.25, gt=0, description="hPa")


class Plan(_Strict):
    id: Identifier
    title: str
    procedure: Identifier
    """Module name of the procedure: in the installed package or the lab's procedure folder."""
    customer: str = ""
    customer_address: str = ""
    received: dt.date | None = None
    """When the laboratory received the item (printed on the certificate)."""
    uuts: list[Uut] = Field(min_length=1)
    instruments: dict[str, Identifier] = Field(default_factory=dict)
    """The procedure's names for the instruments it uses -> lab-file instrument ids."""
    standards: dict[str, Identifier] = Field(default_factory=dict)
    """The procedure's names for the reference standards -> ids in the standards register."""
    tolerance: Tolerance
    decision_rule: DecisionRule = Field(default_factory=DecisionRule)
    cmc: Cmc | None = None
    """The laboratory's CMC for this calibration: the floor under every reported U."""
    stability: StabilityCriteria | None = None
    """When a point counts as stable (procedures fall back to their own default)."""
    environment: Environment = Field(default_factory=Environment)
    overrides: dict[Identifier, Override] = Field(default_factory=dict)
    """Standard id -> a person's override of its refusal (named in the result)."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """The procedure's own parameters: test points, number of readings, series..."""


def parse_plan(text: str, file: str) -> Plan:
    """Validate a plan; ConfigError lists every problem as file: path: message."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, "", f"not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([Problem(file, "", "expected a mapping (id, title, procedure, ...)")])
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(
                    file, field_path(raw, e["loc"]), str(e["msg"]).removeprefix("Value error, ")
                )
                for e in exc.errors()
            ]
        ) from None


def plan_folders(lab: LabConfig) -> list[Path]:
    """Where plans are looked for: the lab's folder first, then those shipped with daq."""
    return [lab.plans, default_lab_folder() / "plans"]


def available_plans(lab: LabConfig) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in reversed(plan_folders(lab)):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.yaml"))})
    return dict(sorted(found.items()))


def find_plan(name: str, lab: LabConfig, *, files: bool = True) -> tuple[Plan, Path]:
    """A plan by name in the plan folders, or (``files``) by the path of its file."""
    path = Path(name)
    if not (files and path.is_file()):
        known = available_plans(lab)
        if name not in known:
            raise ConfigError(
                [
                    Problem(
                        name,
                        "",
                        "no such plan file, and no plan of that name in "
                        + ", ".join(str(f) for f in plan_folders(lab))
                        + f"; plans: {', '.join(known) or 'none'}",
                    )
                ]
            )
        path = known[name]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    return parse_plan(text, str(path)), path
