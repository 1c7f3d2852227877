"""What a calibration point leaves behind: readings, values, budget, decision and evidence.

A point is committed to the journal the moment it is complete, as JSON; on resume the
procedure gets it back instead of measuring again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daq.metrology.decision import Outcome
from daq.metrology.judgement import Judgement
from daq.metrology.rounding import rounded_forms


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    """Unique within the run, stable across a resume (e.g. "indication 100 g")."""
    kind: str
    """What was measured: repeatability, eccentricity, indication, comparison, pressure..."""
    uut: str | None = None
    nominal: float | None = None
    unit: str = ""
    readings: dict[str, list[float]] = Field(default_factory=dict)
    """Every reading used, by what it is (reference, uut, rising series 1...)."""
    values: dict[str, float] = Field(default_factory=dict)
    """Derived values: means, reference value, error, correction, hysteresis..."""
    budget: dict[str, Any] | None = None
    """The evaluated model at full precision, and its ``rounded`` forms as printed."""
    decision: dict[str, Any] | None = None
    """The governing decision: the worst of ``checks``, named by its ``check``."""
    checks: list[dict[str, Any]] = Field(default_factory=list)
    """Every decision taken for the point (the error, each series' error, hysteresis...)."""
    standards: list[dict[str, Any]] = Field(default_factory=list)
    """Snapshot of each standard as used for this point, with any override."""
    stability: list[dict[str, Any]] = Field(default_factory=list)
    """The stability trace(s) that released the point."""
    timestamp: float = 0.0
    note: str = ""

    @classmethod
    def judged(cls, judgement: Judgement, **fields: Any) -> Point:
        """A point with its budget and every decision attached as JSON."""
        name, governing = judgement.governing
        evaluation = judgement.evaluation
        return cls(
            budget={
                **evaluation.as_dict(),
                "rounded": rounded_forms(evaluation.value, evaluation.expanded),
            },
            decision={"check": name, **governing.as_dict()},
            checks=[{"check": n, **d.as_dict()} for n, d in judgement.checks],
            **fields,
        )

    @property
    def outcome(self) -> Outcome | None:
        return Outcome(self.decision["outcome"]) if self.decision else None
