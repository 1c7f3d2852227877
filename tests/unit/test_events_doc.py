"""docs/EVENTS.md lists every kind of event the agent records, once, and nothing else, so an
MQTT subscriber or a Grafana dashboard can rely on it."""

from __future__ import annotations

import re
from pathlib import Path

from daq.journal import EventKind

DOC = Path(__file__).parents[2] / "docs" / "EVENTS.md"


def test_every_event_kind_is_listed_once_and_nothing_else() -> None:
    listed = re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    fields = {"id", "timestamp", "kind", "severity", "instrument", "message", "run"}
    kinds = [name for name in listed if name not in fields]
    assert sorted(kinds) == sorted(kind.value for kind in EventKind)
    assert len(kinds) == len(set(kinds))
