"""Calibration plans: which procedure, which UUT, which standards, test points, tolerance and
decision rule. A plan is YAML in the lab's plans folder (the embedded default's are shipped),
validated here; the procedure validates its own ``settings`` section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from daq.config import ConfigError, Identifier, LabConfig, Problem, default_lab_folder, field_path
from daq.metrology.budget import COVERAGE_PROBABILITY, Cmc, CoverageProbability
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
    """Checked against the serial the UUT's own instrument reports at the start of the run."""
    serial_override: Override | None = None
    """A person's acceptance of the UUT although its instrument reports another serial, or
    cannot be identified (``daq run --accept-serial``; named in the result)."""


class Environment(_Strict):
    """Laboratory conditions during the calibration, as stated for the run.

    Each must be plausible for a calibration laboratory, in the unit it is stated in, so that
    a value in the wrong unit (101325 for the pressure in hPa, 293.15 for °C) is refused
    rather than carried into an air density or onto a certificate."""

    temperature: float = Field(20.0, description="°C, 10 to 35")
    temperature_uncertainty: float = Field(1.0, description="°C, half-width, 0 to 10")
    humidity: float = Field(50.0, description="% relative humidity, 0 to 100")
    pressure: float = Field(1013.25, description="hPa, 500 to 1100")
    monitors: list[Identifier] = Field(default_factory=list)
    """Lab-file instruments that measure the conditions (a thermohygrometer, a barometer):
    their temperature, humidity and pressure readings replace the stated values during the
    run, and are recorded with it."""

    @staticmethod
    def _plausible(value: float, low: float, high: float, what: str, unit: str, eg: str) -> float:
        if not low <= value <= high:  # also refuses NaN
            raise ValueError(
                f"{value:g} {unit} is not a plausible {what}: give it in {unit} (e.g. {eg}), "
                f"{low:g} {unit} to {high:g} {unit}"
            )
        return value

    @field_validator("temperature")
    @classmethod
    def _plausible_temperature(cls, value: float) -> float:
        return cls._plausible(value, 10.0, 35.0, "laboratory temperature", "°C", "20.0")

    @field_validator("temperature_uncertainty")
    @classmethod
    def _plausible_temperature_uncertainty(cls, value: float) -> float:
        return cls._plausible(value, 0.0, 10.0, "temperature half-width", "°C", "0.5")

    @field_validator("humidity")
    @classmethod
    def _plausible_humidity(cls, value: float) -> float:
        return cls._plausible(value, 0.0, 100.0, "relative humidity", "%", "45")

    @field_validator("pressure")
    @classmethod
    def _plausible_pressure(cls, value: float) -> float:
        return cls._plausible(value, 500.0, 1100.0, "air pressure", "hPa", "1013.25")


class Plan(_Strict):
    id: Identifier
    title: str
    procedure: Identifier
    """Module name of the procedure: in the installed package or the lab's procedure folder."""
    customer: str = ""
    customer_address: str = ""
    customer_email: str = ""
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
    """The laboratory's CMC for this calibration, with its unit: the floor under every
    reported U, evaluated at the measured value."""
    coverage_probability: CoverageProbability = COVERAGE_PROBABILITY
    """Of the reported U, in percent: 95.45 (k = 2 for a normal distribution), 95 or 99."""
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


def available_plans(lab: LabConfig) -> dict[str, Path]:
    """The plans in the lab's plans folder, by name: only those (a lab's own folder never
    falls back to the example plans shipped with daq; the embedded default lab's folder is
    where they are)."""
    if not lab.plans.is_dir():
        return {}
    return {p.stem: p for p in sorted(lab.plans.glob("*.yaml"))}


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
                        f"no such plan file, and no plan of that name in {lab.plans}; "
                        f"plans: {', '.join(known) or 'none'} (the examples shipped with "
                        f"daq are in {default_lab_folder() / 'plans'}: copy one to start)",
                    )
                ]
            )
        path = known[name]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    return parse_plan(text, str(path)), path
