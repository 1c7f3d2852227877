"""Line protocol as InfluxDB documents it: escaping of tags and strings, integer and float
fields, nanosecond timestamps; a reading that is not a number has no value field."""

from __future__ import annotations

import json

from daq.sinks.lineprotocol import event_line, point_line, reading_line, result_line


def test_reading_with_escapes() -> None:
    row = (7, "probe 2,a", "temperature_ch1", 23.5, "°C", 1700000000.123456, "ok", 'x "q"')
    line = reading_line(row, "lab=1", {"probe 2,a": "t bench"})
    assert line == (
        r"reading,bench=t\ bench,instrument=probe\ 2\,a,lab=lab\=1,quantity=temperature_ch1,"
        r'unit=°C value=23.5,status="ok",raw="x \"q\"" 1700000000123456000'
    )


def test_reading_not_a_number_keeps_its_status() -> None:
    row = (8, "b", "mass", None, "g", 1.0, "overload", "S +")
    assert (
        reading_line(row, "l", {})
        == 'reading,instrument=b,lab=l,quantity=mass,unit=g status="overload",raw="S +" 1000000000'
    )


def test_event_point_and_result() -> None:
    assert event_line((3, 2.0, "alarm", "warning", None, "a\nb", "r1"), "l") == (
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
    line = point_line((1, "run-1", "thermometers", "30 °C p2", 5.0, data), "l")
    assert line == (
        r"calibration_point,lab=l,plan=thermometers,point=30\ °C\ p2,run=run-1,unit=°C,uut=p2 "
        'kind="comparison",nominal=30.0,value=-0.01,outcome="pass",conforms=true,'
        "expanded_uncertainty=0.033,coverage_factor=2.0 5000000000"
    )
    assert result_line((1, "run-1", "balance", 6.0, "completed", 0, 2), "l") == (
        "calibration_result,lab=l,plan=balance,run=run-1,status=completed "
        "conforms=false,failures=2i 6000000000"
    )
