"""Caps on text from outside (issue 11, item 4): what an event keeps, and what an MQTT
payload or topic carries, is bounded and printable whatever the agent was sent."""

from __future__ import annotations

import json
from pathlib import Path

from daq.core.clock import Clock
from daq.journal import Journal
from daq.journal.records import EventRow
from daq.sinks.mqtt import MqttLink, MqttSink, _json
from daq.sinks.settings import MqttSettings
from daq.text import ID_MAX, MESSAGE_MAX, cap_id, cap_message, capped


def test_short_text_is_kept_as_it_is() -> None:
    assert capped("x" * 10, 10) == "x" * 10
    assert cap_message("line 1\nline 2\tend") == "line 1\nline 2\tend"


def test_long_text_is_cut_with_an_ellipsis_and_its_length() -> None:
    text = capped("x" * 1_000_000, 40)
    assert text == "x" * 18 + "… (1000000 characters)" and len(text) == 40
    assert len(cap_message("y" * 5000)) == MESSAGE_MAX
    assert len(cap_id("z" * 500)) == ID_MAX and cap_id("z" * 500).endswith("(500 characters)")


def test_control_characters_and_lone_surrogates_are_escaped() -> None:
    """A lone surrogate comes from JSON ("\\ud800") and no UTF-8 encoder takes it."""
    assert cap_message("a\x1b[2Jb\x00c\ud800") == "a\\x1b[2Jb\\x00c\\ud800"
    assert cap_id("a\nb\tc\x7f") == "a\\x0ab\\x09c\\x7f"  # an id is one line
    assert len(capped("\x00" * 30, 40)) == 40  # escaping that lengthens is capped as well


async def test_an_event_keeps_capped_texts(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.event("k" * 300, "m" * 1_000_000, instrument="i\n" * 100, run="r" * 200)
        await journal.flush()
        (event,) = await journal.events()
    assert len(event.kind) == ID_MAX and len(event.message) == MESSAGE_MAX
    assert event.message.endswith("… (1000000 characters)")
    assert event.instrument is not None and len(event.instrument) == ID_MAX
    assert "\n" not in event.instrument
    assert event.run is not None and len(event.run) == ID_MAX


async def test_a_lone_surrogate_no_longer_loses_the_batch(tmp_path: Path) -> None:
    """Before: the commit raised UnicodeEncodeError (not a database error), the batch with
    its readings was dropped and the journal's flusher died."""
    ident = json.loads('{"id": "\\ud800"}')["id"]  # what a command's id can be
    async with Journal(tmp_path / "j.sqlite") as journal:
        journal.event("command_rejected", f"command {ident}: unauthorised")
        await journal.flush()
        (event,) = await journal.events()
    assert event.message == "command \\ud800: unauthorised"


def sink() -> MqttSink:
    link = MqttLink(MqttSettings(host="127.0.0.1", prefix="daq"), "lab", Clock())
    return MqttSink(link, {"balance-1": "bench"})


def test_an_event_payload_is_capped_even_if_stored_in_full() -> None:
    """A row an earlier version kept in full is sent capped."""
    row = EventRow(7, 1.0, "alarm", "warning", "x" * 5000, "m" * 1_000_000, None)
    ((topic, payload, _), alarm) = sink().messages(row)
    assert len(payload["message"]) == MESSAGE_MAX and len(payload["instrument"]) == ID_MAX
    assert topic == "daq/lab/events/alarm"
    assert len(_json(payload)) < 2 * MESSAGE_MAX and len(alarm[0]) < 2 * ID_MAX


def test_a_topic_level_holds_no_separator_or_wildcard() -> None:
    row = EventRow(8, 1.0, "a/b+c#", "info", None, "m", "run/#")
    ((topic, payload, _),) = sink().messages(row)
    assert topic == "daq/lab/events/a_b_c_"
    assert payload["kind"] == "a/b+c#"  # the payload keeps the text


def test_a_lone_surrogate_in_a_payload_is_its_json_escape() -> None:
    data = _json({"id": "\ud800", "unit": "°C"})
    assert data == '{"id":"\\ud800","unit":"°C"}'.encode()
    assert json.loads(data) == {"id": "\ud800", "unit": "°C"}
