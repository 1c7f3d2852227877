"""Faults a simulated instrument can be given, at start or while it runs.

Three are faults of the link and are played the same way by every simulator: ``no_reply``
(the instrument stays silent, the driver times out), ``garbled`` (the reply arrives with
corrupted bytes) and ``drop`` (the connection is cut when the next command arrives). The
others are faults of the instrument and each family plays them in its own protocol:
``never_settle`` (the measured value keeps wandering, so nothing is ever stable),
``overload`` (the instrument reports its over-range condition) and ``error_reply`` (the
instrument reports an error the way it really does: an error reply, a queued SCPI error, a
Modbus exception).
"""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    NO_REPLY = "no_reply"
    GARBLED = "garbled"
    DROP = "drop"
    NEVER_SETTLE = "never_settle"
    OVERLOAD = "overload"
    ERROR_REPLY = "error_reply"


class ConnectionDropped(Exception):
    """Raised by a simulator to make its server cut the connection, as a pulled cable would."""


def garble(reply: bytes, terminators: bytes) -> bytes:
    """The reply as line noise leaves it: every byte but the terminators has its top bit set.

    The line still ends where the driver expects it, so the driver sees one wrong line (not a
    timeout) and must reject it.
    """
    end = len(reply.rstrip(terminators))
    return bytes(byte | 0x80 for byte in reply[:end]) + reply[end:]
