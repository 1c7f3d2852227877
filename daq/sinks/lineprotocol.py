"""Journal rows as InfluxDB line protocol: the schema of what the agent writes.

Measurements ``reading``, ``event``, ``calibration_point`` and ``calibration_result``,
with the tags and fields documented in docs/STREAMING.md.

Timestamps are the journal's, in nanoseconds. A point's identity (measurement, tags,
timestamp) is fixed by its journal row, so a replay overwrites instead of doubling.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " "})
_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})


def tag(value: str) -> str:
    return value.translate(_TAG) or "-"


def string_field(value: str) -> str:
    if '"' not in value and "\\" not in value and "\n" not in value:
        return f'"{value}"'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ns(timestamp: float) -> int:
    return round(timestamp * 1e9)


def _tags(pairs: Mapping[str, str | None]) -> str:
    return "".join(f",{k}={tag(v)}" for k, v in sorted(pairs.items()) if v)


def _float(value: float) -> str:
    return repr(float(value))


def reading_line(
    row: tuple[Any, ...],
    lab: str,
    benches: Mapping[str, str],
    prefixes: dict[tuple[str, str, str], str] | None = None,
) -> str:
    """``prefixes`` caches the measurement and tags of each series (most of the work)."""
    _, instrument, quantity, value, unit, timestamp, status, raw = row
    key = (instrument, quantity, unit)
    prefix = prefixes.get(key) if prefixes is not None else None
    if prefix is None:
        prefix = "reading" + _tags(
            {
                "lab": lab,
                "bench": benches.get(instrument, ""),
                "instrument": instrument,
                "quantity": quantity,
                "unit": unit,
            }
        )
        if prefixes is not None:
            prefixes[key] = prefix
    fields = f"status={string_field(status)},raw={string_field(raw[:256])}"
    if value is not None and math.isfinite(value):
        fields = f"value={value!r},{fields}"
    return f"{prefix} {fields} {round(timestamp * 1e9)}"


def event_line(row: tuple[Any, ...], lab: str) -> str:
    ident, timestamp, kind, severity, instrument, message, run = row
    tags = _tags(
        {"lab": lab, "kind": kind, "severity": severity, "instrument": instrument, "run": run}
    )
    return f"event{tags} message={string_field(message)},id={ident}i {_ns(timestamp)}"


def point_line(row: tuple[Any, ...], lab: str) -> str:
    _, run, plan, key, timestamp, data = row
    point = json.loads(data)
    tags = _tags(
        {
            "lab": lab,
            "run": run,
            "plan": plan,
            "point": key,
            "uut": point.get("uut"),
            "unit": point.get("unit"),
        }
    )
    fields = {"kind": string_field(point.get("kind", ""))}
    if point.get("nominal") is not None:
        fields["nominal"] = _float(point["nominal"])
    decision, budget = point.get("decision"), point.get("budget")
    if decision:
        fields["value"] = _float(decision["value"])
        fields["outcome"] = string_field(decision["outcome"])
        fields["conforms"] = "true" if decision["conforms"] else "false"
    if budget:
        fields["expanded_uncertainty"] = _float(budget["expanded_uncertainty"])
        fields["coverage_factor"] = _float(budget["coverage_factor"])
    body = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"calibration_point{tags} {body} {_ns(timestamp)}"


def result_line(row: tuple[Any, ...], lab: str) -> str:
    _, run, plan, timestamp, status, conforms, failures = row
    tags = _tags({"lab": lab, "run": run, "plan": plan, "status": status})
    verdict = "" if conforms is None else f"conforms={'true' if conforms else 'false'},"
    return f"calibration_result{tags} {verdict}failures={failures}i {_ns(timestamp)}"


def lines(
    stream: str,
    rows: list[tuple[Any, ...]],
    lab: str,
    benches: Mapping[str, str],
    prefixes: dict[tuple[str, str, str], str] | None = None,
) -> list[str]:
    """One line per row of a journal stream."""
    if stream == "readings":
        cache = {} if prefixes is None else prefixes
        return [reading_line(r, lab, benches, cache) for r in rows]
    if stream == "events":
        return [event_line(r, lab) for r in rows]
    if stream == "points":
        return [point_line(r, lab) for r in rows]
    if stream == "results":
        return [result_line(r, lab) for r in rows]
    raise ValueError(f"no stream {stream!r}")
