"""Line protocol as InfluxDB documents it: escaping of tags and strings, integer and float
fields, nanosecond timestamps; a reading that is not a number has no value field."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from daq.core.reading import Reading, Status
from daq.journal import Journal
from daq.journal.records import EventRow, PointRow, ReadingRow, ResultRow
from daq.sinks.lineprotocol import (
    event_line,
    point_line,
    reading_line,
    result_line,
    series_key,
    series_prefix,
    tag,
)
from daq.text import ID_MAX, MESSAGE_MAX


def test_reading_with_escapes() -> None:
    row = ReadingRow(
        7, "probe 2,a", "temperature_ch1", 23.5, "°C", 1700000000.123456, "ok", 'x "q"'
    )
    line = reading_line(row, "lab=1", {"probe 2,a": "t bench"})
    assert line == (
        r"reading,bench=t\ bench,instrument=probe\ 2\,a,lab=lab\=1,quantity=temperature_ch1,"
        r'unit=°C value=23.5,status="ok" 1700000000123456000'
    )


def test_reading_not_a_number_keeps_its_status() -> None:
    row = ReadingRow(8, "b", "mass", None, "g", 1.0, "overload", "S +")
    assert (
        reading_line(row, "l", {})
        == 'reading,instrument=b,lab=l,quantity=mass,unit=g status="overload" 1000000000'
    )


def test_event_point_and_result() -> None:
    assert event_line(EventRow(3, 2.0, "alarm", "warning", None, "a\nb", "r1"), "l") == (
        'event,kind=alarm,lab=l,run=r1,severity=warning message="a\\nb",id=3i 2000000000'
    )
    data = json.dumps(
        {
            "kind": "comparison",
            "uut": "p2",
            "unit": "°C",
            "nominal": 30.0,
            "decision": {"value": -0.01, "outcome": "pass", "conforms": True},
            "budget": {"expanded_uncertainty": 0.033, "coverage_factor": 2.0},
        }
    )
    line = point_line(PointRow(1, "run-1", "thermometers", "30 °C p2", 5.0, data), "l")
    assert line == (
        r"calibration_point,lab=l,plan=thermometers,point=30\ °C\ p2,run=run-1,unit=°C,uut=p2 "
        'kind="comparison",nominal=30.0,value=-0.01,outcome="pass",conforms=true,'
        "expanded_uncertainty=0.033,coverage_factor=2.0 5000000000"
    )
    assert result_line(ResultRow(1, "run-1", "balance", 6.0, "completed", 0, 2), "l") == (
        "calibration_result,lab=l,plan=balance,run=run-1,status=completed "
        "conforms=false,failures=2i 6000000000"
    )


async def test_sqlite_formats_readings_as_python_does(tmp_path: Path) -> None:
    """The journal's SQL and ``reading_line`` give the same points (floats compared as
    numbers: SQLite writes 17 digits where Python writes the shortest)."""
    rows = [
        Reading("probe 2,a", "temperature_ch1", 23.0315, "°C", 1796286048.8623, Status.OK, "x"),
        Reading("b=1", "mass", math.nan, "g", 1796286049.5, Status.OVERLOAD),
        Reading("t", "pressure", math.inf, "bar", 1796286050.25, Status.OVERLOAD),
        Reading("t", "pressure", -0.1, "", 1796286051.0, Status.UNSTABLE),
        Reading("x\ny", "q", 1e-7, "m s", 1796286052.0),
    ]
    benches = {"probe 2,a": "temperature bench", "t": "p"}
    prefix, key = series_prefix("demo lab", benches), series_key("demo lab", benches)
    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.record_many(rows)
        await journal.flush()
        plain = await journal.outbox("readings", 0, 100)
        shaped = await journal.reading_lines(0, 100, prefix, key)
        later = await journal.reading_lines(2, 2, prefix, key)
        empty = await journal.reading_lines(5, 100, prefix, key)
    assert shaped is not None and shaped[:2] == (5, 5)
    for sql_line, row in zip(shaped[2].split("\n"), plain, strict=True):
        python_line = reading_line(row, "demo lab", benches)
        assert split(sql_line) == split(python_line), (sql_line, python_line)
    assert later is not None and later[:2] == (4, 2) and empty is None


def split(line: str) -> tuple[str, dict[str, str | float], str]:
    """(measurement and tags, fields with numbers parsed, timestamp) of one line."""
    series, fields, timestamp = re.split(r"(?<!\\) ", line)
    parsed: dict[str, str | float] = {}
    for field in fields.split(","):
        key, value = field.split("=", 1)
        parsed[key] = value if value.startswith('"') else float(value)
    return series, parsed, timestamp


def test_tags_and_strings_are_capped_and_escaped() -> None:
    """However long or strange what the journal holds, the line is bounded and parses: a
    1 MB message (as an earlier version stored it), control characters, a trailing
    backslash (InfluxDB 1.6 refuses one in a tag, escaped or not)."""
    row = EventRow(9, 2.0, "k\\", "error", "i\n\x00" + "j" * 500, "m" * 1_000_000 + '"', "run\\")
    line = event_line(row, "l")
    assert len(line) < MESSAGE_MAX + 4 * ID_MAX
    series, rest = re.split(r"(?<!\\) ", line, maxsplit=1)
    assert series.startswith(r"event,instrument=i\x0a\x00jjj")
    assert series.endswith(r"j…\ (503\ characters),kind=k/,lab=l,run=run/,severity=error")
    assert rest == 'message="' + "m" * 978 + '… (1000001 characters)",id=9i 2000000000'
    assert tag("a b,c=d") == r"a\ b\,c\=d" and tag("") == "-"
    assert tag("x" * 200).endswith(r"…\ (200\ characters)")


def test_a_point_value_that_is_not_a_number_is_left_out() -> None:
    """InfluxDB 1.6 refuses ``nan`` and ``inf`` (HTTP 400); a reading's value is left out the
    same way."""
    data = json.dumps({"kind": "c", "nominal": math.nan, "decision": None, "budget": None})
    line = point_line(PointRow(1, "run-1", "p", "k", 5.0, data), "l")
    assert line == 'calibration_point,lab=l,plan=p,point=k,run=run-1 kind="c" 5000000000'
    budget = {"expanded_uncertainty": math.inf, "coverage_factor": 2.0}
    data = json.dumps({"kind": "c", "nominal": 1.0, "budget": budget})
    line = point_line(PointRow(1, "run-1", "p", "k", 5.0, data), "l")
    assert line.endswith(' kind="c",nominal=1.0,coverage_factor=2.0 5000000000')
