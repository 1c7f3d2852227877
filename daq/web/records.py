"""What the console shows, read from the journal, the register of standards and the agent
into plain data (the pages render it, the JSON API returns it)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from fastapi import HTTPException

from daq.config import ConfigError, InstrumentConfig, LabConfig
from daq.core.reading import Reading
from daq.journal import Journal, RunRow
from daq.monitor import InstrumentState
from daq.web.console import Console, checked_id, stamp

MAX_RUNS = 1000
"""Runs a list shows at most: the newest of those its filters find."""


def run_summary(row: RunRow) -> dict[str, Any]:
    setup = _json(row.setup)
    requested = setup.get("requested_by") if isinstance(setup, dict) else None
    return {
        "id": row.id,
        "plan": row.plan,
        "procedure": row.procedure,
        "started": stamp(row.started),
        "finished": stamp(row.finished),
        "status": row.status,
        "reason": row.reason,
        "requested_by": requested if isinstance(requested, dict) else None,
    }


async def runs(journal: Journal, plan: str = "", status: str = "", text: str = "") -> list[Any]:
    return [
        run_summary(r) for r in await journal.runs(MAX_RUNS, plan=plan, status=status, text=text)
    ]


def point_summary(data: dict[str, Any]) -> dict[str, Any]:
    budget = data.get("budget") or {}
    decision = data.get("decision") or {}
    values = data.get("values") or {}
    rounded = budget.get("rounded") or {}
    return {
        "key": data.get("key", ""),
        "kind": data.get("kind", ""),
        "uut": data.get("uut"),
        "nominal": data.get("nominal"),
        "unit": data.get("unit", ""),
        "error": values.get("error"),
        "expanded": budget.get("expanded_uncertainty"),
        "k": budget.get("coverage_factor"),
        "rounded": rounded,
        "decision": decision.get("outcome", ""),
        "contributions": budget.get("contributions", []),
        "budget_unit": budget.get("unit", ""),
    }


async def found_run(console: Console, run_id: str) -> dict[str, Any]:
    """The run a page or the API names, in detail; 404 when the id names none."""
    detail = await run_detail(console, checked_id(run_id))
    if detail is None:
        raise HTTPException(404, "no such run")
    return detail


async def run_detail(console: Console, run_id: str) -> dict[str, Any] | None:
    from daq.integrity import audit_apart

    journal = console.journal
    row = await journal.run(run_id)
    if row is None:
        return None
    points = [point_summary(_json(data)) for _, data in await journal.points(run_id)]
    checked = await audit_apart(journal, run_id, console.lab.signing)
    events = await journal.events(run=run_id, limit=500)
    return {
        **run_summary(row),
        "points": points,
        "verify": {
            "verifies": not checked.problems,
            "problems": checked.problems[:20],
            "notes": checked.notes[:20],
            "signature": checked.signature.text if checked.signature else "unsigned",
            "finished": checked.finished,
        },
        "events": [
            {
                "time": stamp(e.timestamp),
                "kind": e.kind,
                "severity": e.severity.value,
                "instrument": e.instrument,
                "message": e.message,
            }
            for e in events
        ],
        "certificates": [
            {
                "number": c.number,
                "format": c.format,
                "language": c.language,
                "issued": stamp(c.issued),
                "by": c.issued_by,
                "function": c.function,
                "uut": c.uut,
                "replaces": c.replaces,
            }
            for c in await journal.certificates(run_id)
        ],
    }


async def certificates(journal: Journal) -> list[dict[str, Any]]:
    return [
        {"number": c.number, "run": c.run, "format": c.format, "language": c.language,
         "issued": stamp(c.issued), "by": c.issued_by, "function": c.function, "uut": c.uut,
         "replaces": c.replaces}
        for c in reversed(await journal.all_certificates())
    ]  # fmt: skip


def standards_today(console: Console) -> tuple[list[dict[str, Any]], str]:
    """The register as of today by the journal's clock (``standards``)."""
    today = dt.datetime.fromtimestamp(console.journal.clock.now(), dt.UTC).date()
    return standards(console.lab, today, console.lab.agent.due_warning_days)


def standards(lab: LabConfig, today: dt.date, warn: int) -> tuple[list[dict[str, Any]], str]:
    """The register with days until due (and a state: ok, due soon, overdue) and each
    standard's certificates with the drift between them; or a problem reading it."""
    from daq.standards import calibrations, days_until_due, drift, load_standards

    if lab.standards is None:
        return [], "no register of standards in the lab file (standards:)"
    try:
        register = load_standards(lab.standards)
    except ConfigError as exc:
        return [], str(exc.problems[0])
    found = []
    for standard in register.standards:
        left = days_until_due(standard, today)
        history = calibrations(standard)
        found.append(
            {
                "id": standard.id,
                "description": standard.description,
                "serial": standard.serial,
                "instrument": standard.instrument,
                "certificate": standard.certificate.number,
                "laboratory": standard.certificate.laboratory,
                "calibrated": standard.certificate.calibrated.isoformat(),
                "due": standard.certificate.due.isoformat(),
                "days": left,
                "state": "overdue" if left < 0 else "due-soon" if left <= warn else "ok",
                "uncertainty": f"{standard.uncertainty.value:g} {standard.uncertainty.unit}",
                "history": [
                    {
                        "certificate": past.certificate.number,
                        "calibrated": past.certificate.calibrated.isoformat(),
                        "drift": drift(past, history[i + 1]) if i + 1 < len(history) else "",
                    }
                    for i, past in enumerate(history)
                ],
            }
        )
    return found, ""


async def events(
    journal: Journal, kind: str = "", severity: str = "", limit: int = 300
) -> list[dict[str, Any]]:
    found = await journal.events(kind or None, limit=limit, severity=severity or None)
    return [
        {"time": stamp(e.timestamp), "kind": e.kind, "severity": e.severity.value,
         "instrument": e.instrument or "", "run": e.run or "", "message": e.message}
        for e in reversed(found)
    ]  # fmt: skip


async def bench(console: Console) -> list[dict[str, Any]]:
    """Every instrument: its newest value, state and short trend, live from the agent's
    monitor (the quantity it shows); from the journal when the console is served alone,
    where the newest value of each quantity it recently gave is shown."""
    agent = console.agent
    states = {s.id: s for s in agent.instrument_states} if agent is not None else {}
    rows = []
    instruments = list(console.lab.instruments())
    kept = (
        {}
        if agent is not None
        else await console.journal.recent_readings_of([i.id for _, i in instruments], RECENT)
    )
    for bench_config, instrument in instruments:
        state = states.get(instrument.id)
        if agent is not None:
            last = agent.bench.last.get(instrument.id)
            shown: list[Reading | None] = [last]
        else:
            newest = {r.quantity: r for r in kept[instrument.id]}
            shown = list(newest.values()) or [None]
        for reading in shown:
            trend = (
                list(agent.bench.trend.get((instrument.id, reading.quantity), []))
                if agent is not None and reading is not None
                else []
            )
            rows.append(_bench_row(bench_config.id, instrument, reading, state, trend))
    return rows


RECENT = 32
"""Readings of an instrument looked at for its quantities when served alone (a readout's
channels, a transmitter's pressure and temperature)."""


def _bench_row(
    bench: str,
    instrument: InstrumentConfig,
    last: Reading | None,
    state: InstrumentState | None,
    trend: list[float],
) -> dict[str, Any]:
    return {
        "id": instrument.id,
        "bench": bench,
        "description": instrument.description,
        "quantity": last.quantity if last is not None else "",
        "value": None if last is None or math.isnan(last.value) else last.value,
        "unit": last.unit if last is not None else "",
        "status": last.status.value if last is not None else "",
        "time": stamp(last.timestamp) if last is not None else "",
        "health": state.health.value if state is not None else "",
        "error": state.last_error if state is not None else "",
        "trend": trend,
        "spark": spark(trend),
    }


def spark(values: list[float], width: int = 120, height: int = 24) -> str:
    """An SVG polyline's points for a short trend."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - (v - low) / span * height:.1f}" for i, v in enumerate(values)
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {}
