"""Journal rows as InfluxDB line protocol: the schema of what the agent writes.

Measurements ``reading``, ``event``, ``calibration_point`` and ``calibration_result``,
with the tags and fields documented in docs/STREAMING.md.

Timestamps are the journal's, in nanoseconds. A point's identity (measurement, tags,
timestamp) is fixed by its journal row, so a replay overwrites instead of doubling.

Every tag value and string field is capped (``daq.text``) and escaped, whatever the journal
holds, so no line is too long or malformed for a server (docs/STREAMING.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daq.journal.records import EventRow, PointRow, ReadingRow, ResultRow, StreamRow
from daq.text import cap_id, cap_message

_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


def tag(value: str) -> str:
    """A tag value, capped, control characters escaped. A backslash becomes ``/``: InfluxDB
    1.x refuses a tag value ending in one (escaped or not) and VictoriaMetrics unescapes
    ``\\\\`` where InfluxDB keeps it, so no escape means the same to both."""
    return cap_id(value.replace("\\", "/")).translate(_TAG) or "-"


def string_field(value: str) -> str:
    """A string field value, capped like an event message."""
    value = cap_message(value)
    if '"' not in value and "\\" not in value and "\n" not in value:
        return f'"{value}"'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ns(timestamp: float) -> int:
    return round(timestamp * 1e9)


def _tags(pairs: Mapping[str, str | None]) -> str:
    return "".join(f",{k}={tag(v)}" for k, v in sorted(pairs.items()) if v)


def _number(fields: dict[str, str], key: str, value: Any) -> None:
    """Add a float field; a value that is not a finite number is left out, as a reading's
    is (InfluxDB refuses ``nan`` and ``inf``)."""
    if value is not None and math.isfinite(number := float(value)):
        fields[key] = repr(number)


def _reading_prefix(
    instrument: str, quantity: str, unit: str, lab: str, benches: Mapping[str, str]
) -> str:
    tags = {
        "lab": lab,
        "bench": benches.get(instrument, ""),
        "instrument": instrument,
        "quantity": quantity,
        "unit": unit,
    }
    return "reading" + _tags(tags)


def reading_line(
    row: ReadingRow,
    lab: str,
    benches: Mapping[str, str],
    prefixes: dict[tuple[str, str, str], str] | None = None,
) -> str:
    """``prefixes`` caches the measurement and tags of each series (most of the work). The
    status is one of the ``Status`` words (nothing to escape); the raw reply stays in the
    journal."""
    instrument, quantity, value, unit = row.instrument, row.quantity, row.value, row.unit
    timestamp, status = row.timestamp, row.status
    key = (instrument, quantity, unit)
    prefix = prefixes.get(key) if prefixes is not None else None
    if prefix is None:
        prefix = _reading_prefix(instrument, quantity, unit, lab, benches)
        if prefixes is not None:
            prefixes[key] = prefix
    if value is not None and math.isfinite(value):
        return f'{prefix} value={value!r},status="{status}" {round(timestamp * 1e9)}'
    return f'{prefix} status="{status}" {round(timestamp * 1e9)}'


def series_prefix(lab: str, benches: Mapping[str, str]) -> Callable[[str, str, str], str]:
    """The measurement and tags of a reading series (instrument, quantity, unit) of this lab,
    for the journal to build the lines of many readings at once (``Outbox.reading_lines``)."""

    def prefix(instrument: str, quantity: str, unit: str) -> str:
        return _reading_prefix(instrument, quantity, unit, lab, benches)

    return prefix


def series_key(lab: str, benches: Mapping[str, str]) -> str:
    """What the prefixes depend on: the journal keeps one table of them per key."""
    return json.dumps([lab, sorted(benches.items())])


def event_line(row: EventRow, lab: str) -> str:
    tags = _tags(
        {
            "lab": lab,
            "kind": row.kind,
            "severity": row.severity,
            "instrument": row.instrument,
            "run": row.run,
        }
    )
    return f"event{tags} message={string_field(row.message)},id={row.id}i {_ns(row.timestamp)}"


def point_line(row: PointRow, lab: str) -> str:
    point = json.loads(row.data)
    tags = _tags(
        {
            "lab": lab,
            "run": row.run,
            "plan": row.plan,
            "point": row.key,
            "uut": point.get("uut"),
            "unit": point.get("unit"),
        }
    )
    fields = {"kind": string_field(point.get("kind", ""))}
    _number(fields, "nominal", point.get("nominal"))
    decision, budget = point.get("decision"), point.get("budget")
    if decision:
        _number(fields, "value", decision["value"])
        fields["outcome"] = string_field(decision["outcome"])
        fields["conforms"] = "true" if decision["conforms"] else "false"
    if budget:
        _number(fields, "expanded_uncertainty", budget["expanded_uncertainty"])
        _number(fields, "coverage_factor", budget["coverage_factor"])
    body = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"calibration_point{tags} {body} {_ns(row.timestamp)}"


def result_line(row: ResultRow, lab: str) -> str:
    tags = _tags({"lab": lab, "run": row.run, "plan": row.plan, "status": row.status})
    conforms = row.conforms
    verdict = "" if conforms is None else f"conforms={'true' if conforms else 'false'},"
    return f"calibration_result{tags} {verdict}failures={row.failures}i {_ns(row.timestamp)}"


def lines(
    rows: Sequence[StreamRow],
    lab: str,
    benches: Mapping[str, str],
    prefixes: dict[tuple[str, str, str], str] | None = None,
) -> list[str]:
    """One line per row of a journal stream."""
    cache = {} if prefixes is None else prefixes
    made = []
    for row in rows:
        match row:
            case ReadingRow():
                made.append(reading_line(row, lab, benches, cache))
            case EventRow():
                made.append(event_line(row, lab))
            case PointRow():
                made.append(point_line(row, lab))
            case ResultRow():
                made.append(result_line(row, lab))
    return made
