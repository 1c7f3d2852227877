"""Caps on text that reaches the journal's events, line protocol and MQTT payloads.

Anything sent to the agent (a command's id, an instrument's reply) may end up in an event
message, and from there in every sink. Capped and made printable on the way in, no such
text can make a record too long for a server or a character no UTF-8 encoder takes.
"""

from __future__ import annotations

import re

MESSAGE_MAX = 1000
"""Characters of an event message (and of a string field in line protocol)."""
ID_MAX = 128
"""Characters of an id or tag: an event's kind, instrument and run. Lab ids have at most
64 and run ids about 90, so a real one is never cut."""

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters, and lone surrogates (JSON can carry them, UTF-8 cannot)."""
_UNPRINTABLE_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def capped(text: str, limit: int, *, lines: bool = False) -> str:
    """``text`` in at most ``limit`` characters: control characters and lone surrogates
    written as ``\\xNN`` / ``\\uNNNN`` (newlines and tabs kept with ``lines``), and a longer
    text cut, ending in an ellipsis with its original length."""
    pattern = _UNPRINTABLE_BUT_LINES if lines else _UNPRINTABLE
    clean = pattern.sub(_escape, text[:limit])  # escaping at most ``limit`` characters
    if len(text) <= limit and len(clean) <= limit:
        return clean
    note = f"… ({len(text)} characters)"
    return clean[: limit - len(note)] + note


def cap_message(text: str) -> str:
    """An event message as it is kept and sent."""
    return capped(text, MESSAGE_MAX, lines=True)


def cap_id(text: str) -> str:
    """An id or tag value as it is kept and sent."""
    return capped(text, ID_MAX)
