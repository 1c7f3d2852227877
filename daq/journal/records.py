"""What the journal holds, as typed records: events, runs, certificates and the register,
the rows of the outbox's streams, and the words a row may hold (statuses, states, kinds)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from daq.chain import (
    canonical,
)
from daq.core.reading import Reading

RUN_COLUMNS = "id, plan, procedure, started, finished, status, reason, abort_request, setup"


class RunStatus(StrEnum):
    """Where a calibration run is (``runs.status``, the result document's ``run.status``)."""

    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"
    """Stopped on request (Ctrl-C, SIGTERM, ``daq runs abort``, a command); resumable."""
    ERROR = "error"
    """An instrument, the operator or the procedure failed; resumable."""
    REFUSED = "refused"
    """A standard (or the plan) was refused at a point; resumable after the cause is fixed."""


RESUMABLE = frozenset({RunStatus.RUNNING, RunStatus.ABORTED, RunStatus.ERROR, RunStatus.REFUSED})
"""A run in one of these may be resumed (a running run whose process died, too)."""


class SinkState(StrEnum):
    """A sink's state as its forwarder records it (``daq status``, ``sink_states``)."""

    STARTING = "starting"
    OK = "ok"
    DOWN = "down"


class EventKind(StrEnum):
    """Every kind of event the agent records; docs/EVENTS.md says what each means and which
    fields it fills (for MQTT subscribers and Grafana)."""

    AGENT_STARTED = "agent_started"
    AGENT_STOPPED = "agent_stopped"
    MONITOR_STARTED = "monitor_started"
    MONITOR_STOPPED = "monitor_stopped"
    INSTRUMENT_FAILED = "instrument_failed"
    INSTRUMENT_ERROR = "instrument_error"
    INSTRUMENT_RECOVERED = "instrument_recovered"
    READING_ERROR = "reading_error"
    READING_OVERLOAD = "reading_overload"
    READING_UNDERLOAD = "reading_underload"
    ALARM = "alarm"
    ALARM_CLEARED = "alarm_cleared"
    ALARM_ACKNOWLEDGED = "alarm_acknowledged"
    STANDARD_DUE_SOON = "standard_due_soon"
    STANDARD_OVERDUE = "standard_overdue"
    STANDARDS_UNREADABLE = "standards_unreadable"
    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_COMPLETED = "run_completed"
    RUN_ABORTED = "run_aborted"
    RUN_ERROR = "run_error"
    RUN_REFUSED = "run_refused"
    OPERATOR_PROMPT = "operator_prompt"
    OUT_OF_TOLERANCE = "out_of_tolerance"
    DECISION_WARNING = "decision_warning"
    LOW_TUR = "low_tur"
    IDENTITY_UNKNOWN = "identity_unknown"
    SERIAL_OVERRIDE = "serial_override"
    STANDARD_OVERRIDE = "standard_override"
    SAFE_STATE = "safe_state"
    SAFE_STATE_FAILED = "safe_state_failed"
    CERTIFICATE_ISSUED = "certificate_issued"
    UNSIGNED_RECORD_CERTIFIED = "unsigned_record_certified"
    CERTIFICATE_FILE_ALTERED = "certificate_file_altered"
    SIGNING_BEGAN = "signing_began"
    STREAM_ANCHOR = "stream_anchor"
    STREAM_ANCHOR_UNSIGNED = "stream_anchor_unsigned"
    MQTT_CONNECTED = "mqtt_connected"
    MQTT_DISCONNECTED = "mqtt_disconnected"
    COMMAND_ACCEPTED = "command_accepted"
    COMMAND_REJECTED = "command_rejected"
    COMMANDS_REJECTED = "commands_rejected"
    COMMAND_KEY_UNAVAILABLE = "command_key_unavailable"
    SINK_DOWN = "sink_down"
    SINK_RECOVERED = "sink_recovered"
    DEAD_LETTER = "dead_letter"
    JOURNAL_WRITE_FAILED = "journal_write_failed"
    JOURNAL_RECOVERED = "journal_recovered"
    READINGS_LOST = "readings_lost"
    SPILL_IMPORTED = "spill_imported"
    SPILL_REFUSED = "spill_refused"
    USER_ADDED = "user_added"
    USER_PASSWORD_RESET = "user_password_reset"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_CHANGED = "user_changed"
    USER_LANGUAGE_CHANGED = "user_language_changed"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    LOGIN_THROTTLED = "login_throttled"
    PROMPT_ANSWERED = "prompt_answered"
    OPEN_FILES_SHORT = "open_files_short"


USER_COLUMNS = "name, role, password, full_name, function, language, disabled, created, changed"


@dataclass(frozen=True)
class UserRow:
    """A person who may log in to the console (``users``); the password as its argon2 hash."""

    name: str
    role: str
    password: str
    full_name: str
    function: str
    language: str
    disabled: bool
    created: float
    changed: float


class ReadingRow(NamedTuple):
    """A row of the ``readings`` stream as the sinks read it."""

    id: int
    instrument: str
    quantity: str
    value: float | None
    """None for a reading without a value (overload, NaN)."""
    unit: str
    timestamp: float
    status: str
    raw: str


class EventRow(NamedTuple):
    """A row of the ``events`` stream."""

    id: int
    timestamp: float
    kind: str
    severity: str
    instrument: str | None
    message: str
    run: str | None


class PointRow(NamedTuple):
    """A row of the ``points`` stream: a committed calibration point (``data``: JSON)."""

    id: int
    run: str
    plan: str
    key: str
    timestamp: float
    data: str


class ResultRow(NamedTuple):
    """A row of the ``results`` stream: how a run ended."""

    id: int
    run: str
    plan: str
    timestamp: float
    status: str
    conforms: int | None
    failures: int


StreamRow = ReadingRow | EventRow | PointRow | ResultRow


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: an instrument failed or recovered, the agent started..."""

    timestamp: float
    kind: str
    """An ``EventKind`` (as read back, any text an older journal holds)."""
    severity: Severity
    message: str
    instrument: str | None = None
    run: str | None = None
    """The calibration run it belongs to, if any."""


@dataclass(frozen=True)
class CertificateRow:
    """An issued certificate as the journal records it."""

    number: str
    run: str
    format: str
    language: str
    issued: float
    issued_by: str
    function: str
    record_hash: str
    """The final hash of the run's record it was issued from."""
    replaces: str = ""
    """The number of the certificate this one replaces (a re-issue), else ""."""
    uut: str = ""
    """The UUT it certifies, where the run calibrated several (one certificate each)."""

    def digest(self) -> str:
        """The hash the lab signs for an issued certificate: everything its row records (a
        row without a UUT hashes as rows did before certificates were issued per UUT)."""
        content = asdict(self)
        if not self.uut:
            del content["uut"]
        return hashlib.sha256(canonical(content).encode()).hexdigest()


@dataclass(frozen=True)
class RegisterEntry:
    """One issued number in the chained register of certificates: once there, a number
    cannot be issued again, and its certificate's row cannot be removed unseen."""

    seq: int
    number: str
    run: str
    replaces: str
    issued: float
    hash: str
    """The certificate row's digest when it was issued."""
    previous: str
    link: str

    def content(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "number": self.number,
            "run": self.run,
            "replaces": self.replaces,
            "issued": self.issued,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class CertificateFile:
    """An issued certificate's file as it left the laboratory (PDF, HTML, JSON or DCC)."""

    number: str
    format: str
    hash: str
    """SHA-256 of ``content`` when it was issued (signed as ``certificate-file:NUMBER``)."""
    content: bytes


def certificate_file_subject(number: str) -> str:
    """What the lab's signature of an issued certificate's file names."""
    return f"certificate-file:{number}"


def signature_file_subject(number: str) -> str:
    """What the lab's signature of a DCC's archived detached signature (``.sig``) names."""
    return f"certificate-signature-file:{number}"


def register_subject(number: str) -> str:
    """What the lab's signature of a register entry names."""
    return f"certificate-register:{number}"


CERTIFICATE_COLUMNS = (
    "number, run, format, language, issued, issued_by, function, record_hash, replaces, uut"
)
REGISTER_COLUMNS = "seq, number, run, replaces, issued, hash, previous, link"


class NumberTaken(Exception):
    """A certificate number is issued once; this one already was."""


class AlreadyIssued(Exception):
    """The request was carried out already: ``number`` is the certificate it issued."""

    def __init__(self, number: str) -> None:
        super().__init__(f"this request issued certificate {number} already")
        self.number = number


@dataclass(frozen=True)
class RunRow:
    """A calibration run as the journal holds it (``setup`` and ``document`` are JSON)."""

    id: str
    plan: str
    procedure: str
    started: float
    finished: float | None
    status: str
    reason: str
    abort_request: str | None
    setup: str


@dataclass(frozen=True)
class DeadLetters:
    """The records one sink refused for good (``daq status`` shows them)."""

    count: int
    last: float
    """When the last was set aside."""
    error: str
    """What the sink said of the last."""


AnchorRow = tuple[int, float, str, str, str, str | None, float | None, str | None]


def stored_values(r: Reading) -> tuple[Any, ...]:
    """A reading's fields as the readings table stores them, in column order
    (``READING_FIELDS``): what a monitored reading's chain hash covers (so it can be
    recomputed from the row)."""
    return (
        r.instrument,
        r.quantity,
        # as SQLite gives it back: a float, and -0.0 read back as 0.0
        None if math.isnan(r.value) else float(r.value) + 0.0,
        r.unit,
        float(r.timestamp),  # as SQLite gives it back (REAL), so the hash can be recomputed
        r.status.value,
        r.raw,
    )


class JournalError(Exception):
    """The journal file cannot be opened or used."""
