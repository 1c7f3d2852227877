"""Journal rows as InfluxDB line protocol: the schema of what the agent writes.

Measurements ``reading``, ``event``, ``calibration_point`` and ``calibration_result``,
with the tags and fields documented in docs/STREAMING.md.

Timestamps are the journal's, in nanoseconds. A point's identity (measurement, tags,
timestamp) is fixed by its journal row, so a replay overwrites instead of doubling.

Every tag value and string field is capped (``daq.text``) and escaped, whatever the journal
holds, so no line is too long or malformed for a server (docs/STREAMING.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Mapping
from typing import Any

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
    row: tuple[Any, ...],
    lab: str,
    benches: Mapping[str, str],
    prefixes: dict[tuple[str, str, str], str] | None = None,
) -> str:
    """``prefixes`` caches the measurement and tags of each series (most of the work). The
    status is one of the ``Status`` words (nothing to escape); the raw reply stays in the
    journal."""
    _, instrument, quantity, value, unit, timestamp, status, _ = row
    key = (instrument, quantity, unit)
    prefix = prefixes.get(key) if prefixes is not None else None
    if prefix is None:
        prefix = _reading_prefix(instrument, quantity, unit, lab, benches)
        if prefixes is not None:
            prefixes[key] = prefix
    if value is not None and math.isfinite(value):
        return f'{prefix} value={value!r},status="{status}" {round(timestamp * 1e9)}'
    return f'{prefix} status="{status}" {round(timestamp * 1e9)}'


_BATCH = """
SELECT max(id), count(*), count(line), group_concat(line, char(10)) FROM (
    SELECT r.id AS id, p.prefix
        || CASE WHEN r.value IS NULL OR r.value != r.value
                  OR abs(r.value) > 1.7976931348623157e308 THEN ' status="'
                ELSE ' value=' || printf('%!.17g', r.value) || ',status="' END
        || r.status || '" ' || CAST(round(r.timestamp * 1e9) AS INTEGER) AS line
    FROM readings r LEFT JOIN temp.{table} p
        ON p.instrument = r.instrument AND p.quantity = r.quantity AND p.unit = r.unit
    WHERE r.id > ? ORDER BY r.id LIMIT ?)
"""
_NEW_SERIES = """
SELECT DISTINCT r.instrument, r.quantity, r.unit
FROM (SELECT instrument, quantity, unit FROM readings WHERE id > ? ORDER BY id LIMIT ?) r
LEFT JOIN temp.{table} p
    ON p.instrument = r.instrument AND p.quantity = r.quantity AND p.unit = r.unit
WHERE p.prefix IS NULL
"""


def reading_batch(
    db: sqlite3.Connection, after: int, limit: int, lab: str, benches: Mapping[str, str]
) -> tuple[int, int, str] | None:
    """The next ``limit`` readings after row id ``after`` as one line-protocol text, made by
    SQLite on the journal's thread: (last row id, count, text). Each series' measurement and
    tags are escaped once, here in Python, into a temporary table; the text is the same as
    ``reading_line`` gives (float digits aside: the same double, in 17 digits)."""
    mapping = json.dumps([lab, sorted(benches.items())])
    table = "series_" + hashlib.sha256(mapping.encode()).hexdigest()[:12]
    db.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {table} (instrument TEXT, quantity TEXT, unit TEXT, "
        "prefix TEXT NOT NULL, PRIMARY KEY (instrument, quantity, unit))"
    )
    new = db.execute(_NEW_SERIES.format(table=table), (after, limit)).fetchall()
    if new:
        db.executemany(
            f"INSERT INTO temp.{table} VALUES (?, ?, ?, ?)",
            [(i, q, u, _reading_prefix(i, q, u, lab, benches)) for i, q, u in new],
        )
    last, count, formed, text = db.execute(_BATCH.format(table=table), (after, limit)).fetchone()
    if not count:
        return None
    if formed != count:  # never: every series has its prefix by now
        raise RuntimeError(f"{count - formed} readings after row {after} could not be formatted")
    return int(last), int(count), str(text)


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
