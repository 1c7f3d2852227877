"""The result document of a run: one JSON document with everything a certificate needs.

Its schema is ``RunDocument.model_json_schema()``, kept in docs/result-schema.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from daq.engine.record import Point
from daq.journal import Event
from daq.standards import Override

SCHEMA_VERSION = "1"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunInfo(_Doc):
    id: str
    status: str
    """running, completed, aborted, error or refused."""
    reason: str = ""
    """Why a run did not complete (the abort reason, the error message)."""
    started: float
    finished: float | None = None
    simulated: bool
    resumed: int = 0
    """How many times the run was resumed after a crash or an abort."""
    record_hash: str = ""
    """SHA-256 at the end of the run's chained record (``daq verify`` recomputes it)."""


class ProcedureInfo(_Doc):
    name: str
    title: str
    version: str
    source: str
    digest: str


class Failure(_Doc):
    """A point that did not conform, and by how much, under which rule."""

    point: str
    uut: str | None
    outcome: str
    value: float
    unit: str
    tolerance_lower: float
    tolerance_upper: float
    excess: float
    rule: str
    check: str = "error"
    """Which decision of the point failed: the error, a series ("M2 falling"), hysteresis."""


class Verdict(_Doc):
    conforms: bool | None
    """True when every decided point conforms; None when no point was decided (yet)."""
    points: int
    decided: int
    outcomes: dict[str, int]
    failures: list[Failure]
    warnings: list[str] = Field(default_factory=list)
    """Decisions to read with care, by point (a test uncertainty ratio below the minimum)."""


class EventRecord(_Doc):
    timestamp: float
    kind: str
    severity: str
    instrument: str | None
    message: str


IdentitySource = Literal[
    "reported by the instrument", "stated in the plan", "stated in the lab file", "unknown"
]


class InstrumentIdentity(_Doc):
    """Who an instrument of the run is, read when the run started or last resumed
    (``daq.engine.identity`` says how, and when a serial refuses the run)."""

    id: str
    """The lab-file instrument."""
    driver: str
    roles: list[str] = Field(default_factory=list)
    """The procedure's names for it in the plan's ``instruments`` (``reference``...)."""
    uuts: list[str] = Field(default_factory=list)
    """The UUTs this instrument is: its identity is theirs, its serial checked against the
    plan's."""
    readout_of: list[str] = Field(default_factory=list)
    """UUT probes read on its channels: their identity is the plan's, not this one."""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""
    source: IdentitySource
    problem: str = ""
    """Why the identity is unknown, or the serial difference an override accepted."""
    serial_override: Override | None = None
    """Who accepted the UUT despite ``problem``, and why."""


class RunDocument(_Doc):
    schema_version: str = SCHEMA_VERSION
    run: RunInfo
    laboratory: dict[str, str]
    software: dict[str, str]
    plan: dict[str, Any]
    """The plan exactly as run (tolerance, decision rule, test points, overrides)."""
    procedure: ProcedureInfo
    customer: str
    uuts: list[dict[str, Any]]
    """The UUTs as the plan states them; a serial the plan leaves empty is the one the UUT's
    own instrument reported."""
    instruments: list[InstrumentIdentity] = Field(default_factory=list)
    """The identity of every instrument the run used (UUTs, references, sources)."""
    tolerance: str
    decision_rule: str
    decision_risk: str = ""
    """What the decision rule risks, for the statement of conformity (ILAC-G8 4.2)."""
    coverage_probability: float = 95.45
    """Of every reported U, in percent."""
    environment: dict[str, Any]
    """As stated in the plan; ``measured``: what its monitors read during the run (in this
    session of the run: after a resume, the earlier ones are in the journal's readings)."""
    standards: list[dict[str, Any]]
    """Snapshot of each standard as used: certificate, range, U, corrections, any override."""
    points: list[Point]
    result: Verdict
    events: list[EventRecord] = Field(default_factory=list)


def verdict(points: list[Point]) -> Verdict:
    outcomes: dict[str, int] = {}
    failures = []
    for point in points:
        outcome = point.outcome
        if outcome is None or point.decision is None:
            continue
        outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
        if not outcome.conforms:
            d = point.decision
            failures.append(
                Failure(
                    point=point.key,
                    uut=point.uut,
                    outcome=outcome.value,
                    value=d["value"],
                    unit=point.unit,
                    tolerance_lower=d["tolerance_lower"],
                    tolerance_upper=d["tolerance_upper"],
                    excess=d["excess"],
                    rule=d["rule"],
                    check=d.get("check", "error"),
                )
            )
    decided = sum(outcomes.values())
    warnings = [
        f"{point.key}{f' ({point.uut})' if point.uut else ''}: {warning}"
        for point in points
        for warning in (point.decision or {}).get("warnings", [])
    ]
    return Verdict(
        conforms=None if not decided else not failures,
        points=len(points),
        decided=decided,
        outcomes=outcomes,
        failures=failures,
        warnings=warnings,
    )


def standards_used(points: list[Point]) -> list[dict[str, Any]]:
    """Each standard once, as last used; every override met on the way is kept."""
    seen: dict[str, dict[str, Any]] = {}
    for point in points:
        for snapshot in point.standards:
            ident = snapshot["standard"]["id"]
            entry = seen.setdefault(ident, {**snapshot, "overrides": []})
            entry.update({k: v for k, v in snapshot.items() if k != "override"})
            if snapshot.get("override") and snapshot["override"] not in entry["overrides"]:
                entry["overrides"].append(snapshot["override"])
    for entry in seen.values():
        entry.pop("override", None)
    return list(seen.values())


def event_records(events: list[Event]) -> list[EventRecord]:
    return [
        EventRecord(
            timestamp=e.timestamp,
            kind=e.kind,
            severity=e.severity.value,
            instrument=e.instrument,
            message=e.message,
        )
        for e in events
    ]


def certified_items(document: RunDocument) -> list[str]:
    """What gets a certificate of its own: each UUT of a run whose points are per UUT (a
    comparison of several probes: ISO/IEC 17025 7.8 reports per item), else the run as one
    (the empty name). A UUT without a point of its own (a probe that failed before its
    first point) gets none: nothing was measured of it."""
    ids = [str(uut.get("id", "")) for uut in document.uuts]
    with_points = {point.uut for point in document.points if point.uut}
    per_uut = len(ids) > 1 and bool(with_points)
    return [i for i in ids if i in with_points] if per_uut else [""]


def for_uut(document: RunDocument, uut: str) -> RunDocument:
    """The run's document as one UUT's certificate states it: that UUT, its points (and the
    points of no UUT), its verdict, and the standards those points used; the run, its record
    hash, plan and events unchanged."""
    if not uut:
        return document
    if uut not in {str(u.get("id", "")) for u in document.uuts}:
        raise ValueError(f"run {document.run.id} has no UUT {uut!r}")
    points = [p for p in document.points if p.uut in (uut, None)]
    used = standards_used(points)
    return document.model_copy(
        update={
            "uuts": [u for u in document.uuts if u.get("id") == uut],
            "instruments": [
                i
                for i in document.instruments
                if i.roles or uut in i.uuts or uut in i.readout_of or not (i.uuts or i.readout_of)
            ],
            "points": points,
            "result": verdict(points),
            "standards": used or document.standards,
        }
    )
