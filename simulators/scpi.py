"""The SCPI parts simulated instruments share (reference §4.1): the standard error codes, the
error queue, long/short header matching, parameter checks, and ``ScpiSimulator``, an
instrument driven by its command table."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from daq.core.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings
from simulators.faults import Fault

QUEUE_DEPTH = 10

Error = tuple[int, str]
NO_ERROR: Error = (0, "No error")
INVALID_CHARACTER: Error = (-101, "Invalid character")
SYNTAX_ERROR: Error = (-102, "Syntax error")
DATA_TYPE_ERROR: Error = (-104, "Data type error")
PARAMETER_NOT_ALLOWED: Error = (-108, "Parameter not allowed")
MISSING_PARAMETER: Error = (-109, "Missing parameter")
UNDEFINED_HEADER: Error = (-113, "Undefined header")
DATA_OUT_OF_RANGE: Error = (-222, "Data out of range")
ILLEGAL_VALUE: Error = (-224, "Illegal parameter value")
STALE_DATA: Error = (-230, "Data corrupt or stale")
DEVICE_ERROR: Error = (-300, "Device-specific error")
QUEUE_OVERFLOW: Error = (-350, "Queue overflow")


class Refused(Exception):
    """The instrument will not answer this line; it queues ``error`` instead."""

    def __init__(self, error: Error) -> None:
        super().__init__(f'{error[0]},"{error[1]}"')
        self.error = error


def queue_error(queue: list[Error], error: Error) -> None:
    """Oldest first; when full, the newest entry becomes "Queue overflow"."""
    if len(queue) < QUEUE_DEPTH:
        queue.append(error)
    else:
        queue[-1] = QUEUE_OVERFLOW


def header_matches(spec: str, header: str) -> bool:
    """Whether an upper-cased ``header`` is ``spec`` with each node short or long.

    In ``spec`` the short form of a node is its upper-case part: ``SYSTem:ERRor?`` accepts
    ``SYST:ERR?``, ``SYSTEM:ERROR?``, ``SYST:ERROR?``...
    """
    specs, nodes = spec.split(":"), header.split(":")
    return len(specs) == len(nodes) and all(
        node in ("".join(c for c in part if not c.islower()), part.upper())
        for part, node in zip(specs, nodes, strict=True)
    )


def no_parameters(parameters: list[str]) -> None:
    if parameters:
        raise Refused(PARAMETER_NOT_ALLOWED)


def one_parameter(parameters: list[str]) -> str:
    if not parameters:
        raise Refused(MISSING_PARAMETER)
    if len(parameters) > 1:
        raise Refused(PARAMETER_NOT_ALLOWED)
    return parameters[0].upper()


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Refused(DATA_TYPE_ERROR) from None
    if not math.isfinite(value):
        raise Refused(DATA_TYPE_ERROR)
    return value


def split_command(command: bytes) -> tuple[str, list[str]] | None:
    """Header (upper case, no leading colon) and parameters of one command line; None for
    an empty line. Compound commands (``;``) are refused: these instruments take none."""
    try:
        text = command.decode("ascii").strip()
    except UnicodeDecodeError:
        raise Refused(INVALID_CHARACTER) from None
    if not text:
        return None
    if ";" in text:
        raise Refused(SYNTAX_ERROR)
    header, _, rest = text.partition(" ")
    parameters = [part.strip() for part in rest.split(",")] if rest.strip() else []
    return header.upper().removeprefix(":"), parameters


@dataclass(frozen=True)
class Command:
    """One row of a simulated instrument's command table: the headers it answers to (long
    and short forms, ``header_matches``) and what its query replies or its setting does."""

    headers: tuple[str, ...]
    query: Callable[[Any], str] | None = None
    """The instrument's method making the query's reply (without the line end)."""
    setting: Callable[[Any, list[str]], None] | None = None
    """The instrument's method carrying out the setting with its parameters."""
    always: bool = False
    """Answered even under the ``error_reply`` fault (reading or clearing the queue)."""


class ScpiSimulator(LineSimulator):
    """A SCPI instrument driven by its command table: a header with ``?`` runs the row's
    query, without it the row's setting; what no row has is refused with -113. A refusal
    (``Refused``) queues its error and answers nothing, as the instruments do. Under the
    ``error_reply`` fault only the ``always`` rows answer; everything else queues -300."""

    commands: ClassVar[tuple[Command, ...]]

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self.errors: list[Error] = []

    def before(self) -> None:
        """Called before each command (an instrument's own state changes, such as a trip)."""

    async def handle(self, command: bytes) -> bytes:
        text = command.decode("ascii", "replace").strip()
        header, _, rest = text.partition(" ")
        name = header.upper().lstrip(":")
        query, node = name.endswith("?"), name.removesuffix("?")
        row = next(
            (c for c in self.commands if any(header_matches(h, node) for h in c.headers)), None
        )
        if self.has(Fault.ERROR_REPLY) and not (row is not None and row.always):
            queue_error(self.errors, DEVICE_ERROR)
            return b""
        try:
            self.before()
            reply = ""
            if row is not None and query and row.query is not None:
                reply = row.query(self)
            elif row is not None and not query and row.setting is not None:
                row.setting(self, [p for p in rest.split(",") if p.strip()])
            else:
                raise Refused(UNDEFINED_HEADER)
        except Refused as refused:
            queue_error(self.errors, refused.error)
            return b""
        return f"{reply}\r\n".encode("ascii") if reply else b""
