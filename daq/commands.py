"""Commands from afar (MQTT): start a run from a configured plan, abort a run, answer an
operator prompt, acknowledge an alarm.

Every command is signed: it names the key id of its sender (a person or a system the lab
file lists), carries a timestamp and a nonce, and an HMAC-SHA256 of its canonical form made
with that sender's secret, which never travels. So a command from the wire is carried out
only if someone holding a key made it, at most once, and while it is fresh. The checks run
in this order: never a retained message; the size; the MAC (nothing about the content is
revealed before it passes); the time window; the nonce, committed to the journal before
anything is done; then the schema and the ids against the lab. Rejections are recorded and
answered one by one up to a rate per sender, the rest counted in a summary event, so a flood
cannot fill the journal or the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from daq.core.clock import Clock
from daq.journal import EventKind, Journal, JournalError, Severity
from daq.sinks.settings import CommandClient, CommandSettings

MAX_COMMAND_BYTES = 8192
"""A larger payload is dropped unread."""
MIN_SECRET_LENGTH = 32
NONCE_RETENTION = 86400.0
"""Seconds a used nonce is kept (at least twice the window): a step back of the agent's
clock shorter than this cannot make a replay fresh again."""
RATE_PERIOD = 60.0
"""Real seconds over which rejections are counted against each sender's budget."""
MAX_REASON = 500

_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_ID = f"^{_IDENT.pattern}$"
_RUN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_TEXT = r"^[^\x00-\x1f\x7f]*$"
"""Free text: no control characters."""
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAC = re.compile(r"[0-9a-f]{64}")
NAMES = ("start_run", "abort_run", "answer_prompt", "ack_alarm")


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID)
    """Chosen by the sender; the reply carries it back."""
    key: str
    ts: StrictInt
    nonce: str
    mac: str
    """The envelope, checked before the schema (see ``CommandDesk.handle``)."""
    to: str = Field(pattern=_ID)
    """The lab (agent) the command is for, under the MAC: a command captured on one agent
    cannot be replayed on another that shares the sender's key."""
    by: str = Field("", max_length=100, pattern=_TEXT)
    """The person acting, when the key is a system's (recorded with the key id)."""


class StartRun(_Command):
    command: Literal["start_run"]
    plan: str = Field(pattern=_ID)
    """A plan name of the lab's plan folders (never a path)."""
    uut: str | None = Field(None, pattern=_ID)
    """A configured instrument calibrated instead of the plan's UUT."""


class AbortRun(_Command):
    command: Literal["abort_run"]
    run: str = Field(pattern=_RUN)
    reason: str = Field(min_length=1, max_length=MAX_REASON, pattern=_TEXT)


class AnswerPrompt(_Command):
    command: Literal["answer_prompt"]
    prompt: str = Field(pattern=_ID)
    answer: str = Field(max_length=200, pattern=_TEXT)


class AckAlarm(_Command):
    command: Literal["ack_alarm"]
    alarm: str = Field(pattern=_ID)


Command = Annotated[StartRun | AbortRun | AnswerPrompt | AckAlarm, Field(discriminator="command")]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


@dataclass(frozen=True)
class Client:
    """Who a command came from: the key id it was signed with, and its holder."""

    id: str
    name: str = ""

    def describe(self, by: str = "") -> str:
        """``J. Doe, key lims (LIMS)``: what events and records say of the sender."""
        holder = f"key {self.id}" + (f" ({self.name})" if self.name else "")
        return f"{by}, {holder}" if by else holder


@dataclass(frozen=True)
class Key:
    client: Client
    secret: bytes = field(repr=False)


class KeyUnavailable(Exception):
    """A client's secret cannot be had (variable unset, file unreadable, too short)."""


def _shown(value: Any) -> str:
    """A field as a reply may quote it: a short id, or what kind of thing it is."""
    return repr(value) if isinstance(value, str) and _IDENT.fullmatch(value) else "no lab"


def canonical(message: Mapping[str, Any]) -> bytes:
    """What a command's MAC is computed over: the command without ``mac`` as JSON with
    sorted keys, no whitespace, non-ASCII characters as they are, UTF-8."""
    return json.dumps(
        {k: v for k, v in message.items() if k != "mac"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def mac(message: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-SHA256 of the canonical form, lowercase hex; ValueError if it has none."""
    return hmac.new(secret, canonical(message), hashlib.sha256).hexdigest()


def sign(
    fields: Mapping[str, Any], key_id: str, secret: bytes, now: float, *, to: str
) -> dict[str, Any]:
    """``fields`` made a command for the lab ``to`` ready to publish: addressee, key id,
    timestamp, fresh nonce, MAC."""
    message = {
        **fields,
        "to": to,
        "key": key_id,
        "ts": int(now),
        "nonce": secrets.token_hex(16),
    }
    message["mac"] = mac(message, secret)
    return message


def read_secret(client: CommandClient) -> tuple[bytes, str]:
    """The client's secret and a warning ("" if none); ``KeyUnavailable`` says what to do."""
    warning = ""
    if client.secret_env is not None:
        text = os.environ.get(client.secret_env)
        if text is None:
            raise KeyUnavailable(
                f"key {client.id}: the environment variable {client.secret_env} is not set"
            )
    else:
        path = client.secret_file
        assert path is not None  # one of the two, by CommandClient
        try:
            text = path.read_text(encoding="utf-8")
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                warning = f"key {client.id}: {path} is open to other users; chmod 600 it"
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyUnavailable(f"key {client.id}: cannot read {path}: {exc}") from None
    secret = text.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise KeyUnavailable(
            f"key {client.id}: its secret is shorter than {MIN_SECRET_LENGTH} characters; make "
            "one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return secret.encode("utf-8"), warning


def load_keys(clients: Iterable[CommandClient]) -> tuple[dict[str, Key], list[str]]:
    """The usable keys by id, and a problem for each client left out (or warned about)."""
    keys: dict[str, Key] = {}
    problems: list[str] = []
    for client in clients:
        try:
            secret, warning = read_secret(client)
        except KeyUnavailable as exc:
            problems.append(f"{exc}: its commands are refused")
            continue
        keys[client.id] = Key(Client(client.id, client.name), secret)
        if warning:
            problems.append(warning)
    return keys, problems


class Rejected(Exception):
    """The command is valid but cannot be carried out now (no such run, a run is going)."""


class Executor(Protocol):
    async def execute(self, command: Command, client: Client) -> dict[str, Any]:
        """Carry the command out; extra reply fields, or ``Rejected``."""
        ...


def reply(
    ident: str | None, command: str | None, accepted: bool, reason: str = "", **extra: Any
) -> dict[str, Any]:
    return {"id": ident, "command": command, "accepted": accepted, "reason": reason, **extra}


UNAUTHENTICATED = "not authenticated: sign each command with your key (docs/STREAMING.md)"
"""The one reply to anything that does not authenticate: it reveals nothing about why."""


class CommandDesk:
    """Checks, carries out and answers the commands of one agent."""

    def __init__(
        self,
        settings: CommandSettings,
        keys: Mapping[str, Key],
        executor: Executor,
        journal: Journal,
        clock: Clock,
        lab: str,
    ) -> None:
        self.lab = lab
        """This agent's lab id: a command addressed to another is refused."""
        self.settings = settings
        self.keys = dict(keys)
        self.executor = executor
        self.journal = journal
        self.clock = clock
        self._since = time.monotonic()
        self._answered: Counter[str] = Counter()
        """Rejections recorded one by one this period, per sender ("": unauthenticated)."""
        self._withheld: Counter[str] = Counter()
        """Rejections only counted this period, per reason."""

    async def handle(self, payload: bytes, retained: bool = False) -> dict[str, Any] | None:
        """The reply to one message (None over the rejection rate: no reply at all)."""
        if retained:
            return self._reject(
                "",
                "retained",
                None,
                None,
                "a retained command is never carried out (it was cleared from the broker): "
                "publish commands without the retain flag",
            )
        if len(payload) > MAX_COMMAND_BYTES:
            return self._unauthenticated(None, f"{len(payload)} bytes, over {MAX_COMMAND_BYTES}")
        try:
            raw = json.loads(payload)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            return self._unauthenticated(None, "not JSON")
        if not isinstance(raw, dict):
            return self._unauthenticated(None, "not a JSON object")
        ident = raw.get("id")
        ident = ident if isinstance(ident, str) and _IDENT.fullmatch(ident) else None
        key, why = self._authenticate(raw)
        if key is None:
            return self._unauthenticated(ident, why)
        name = raw.get("command") if raw.get("command") in NAMES else None
        if raw.get("to") != self.lab:  # authenticated: saying so reveals nothing
            return self._reject(
                key.client.id,
                "wrong_addressee",
                ident,
                name,
                f"not for this agent: it is addressed to {_shown(raw.get('to'))}, this is "
                f"{self.lab}",
            )
        ts, nonce = raw.get("ts"), raw.get("nonce")
        if (
            not isinstance(ts, int)
            or isinstance(ts, bool)
            or not 0 <= ts < 2**40
            or not isinstance(nonce, str)
            or not _NONCE.fullmatch(nonce)
        ):
            return self._reject("", "malformed", ident, name, f"malformed: {_ENVELOPE}")
        window = self.settings.window
        skew = ts - self.clock.now()
        if abs(skew) > window:
            return self._reject(
                "",
                "outside_window",
                ident,
                name,
                f"outside the time window: its timestamp is {skew:+.0f} s off the agent's "
                f"clock, more than {window:g} s; send a fresh command, and keep both clocks "
                "set by NTP",
            )
        try:
            fresh = await self.journal.claim_nonce(
                key.client.id, nonce, ts, max(NONCE_RETENTION, 2 * window)
            )
        except JournalError as exc:
            return self._reject(
                "",
                "journal",
                ident,
                name,
                "not carried out: the journal cannot record its nonce, so a replay could not "
                f"be recognised ({exc}); send it again, with a new nonce, once the journal "
                "is writable",
            )
        if not fresh:
            return self._reject(
                "",
                "replayed",
                ident,
                name,
                "replayed: this nonce was used already; every command needs a new nonce",
            )
        client = key.client  # from here on, the key's holder sent it, once
        try:
            command = _COMMAND.validate_python(raw)
        except ValidationError as exc:
            return self._reject(client.id, "malformed", ident, name, f"malformed: {_problems(exc)}")
        try:
            extra = await self.executor.execute(command, client)
        except Rejected as exc:
            return self._reject(client.id, "refused", ident, name, str(exc))
        self.journal.event(
            EventKind.COMMAND_ACCEPTED,
            f"{command.command} {command.id} from {client.describe(command.by)}",
            run=extra.get("run"),
        )
        return reply(command.id, command.command, True, **extra)

    def _authenticate(self, raw: Mapping[str, Any]) -> tuple[Key | None, str]:
        """The key that signed ``raw``, or None and why (for the journal, never the reply)."""
        key_id, given = raw.get("key"), raw.get("mac")
        if not isinstance(key_id, str) or not isinstance(given, str):
            return None, "no key id or MAC"
        key = self.keys.get(key_id)
        if key is None:
            return None, "unknown key id" if self.keys else "no client keys are configured"
        try:
            expected = mac(raw, key.secret)
        except (ValueError, RecursionError):
            return None, f"no canonical form (key {key.client.id})"
        if not _MAC.fullmatch(given) or not hmac.compare_digest(expected, given):
            return None, f"wrong MAC for key {key.client.id}"
        return key, ""

    def _unauthenticated(self, ident: str | None, why: str) -> dict[str, Any] | None:
        return self._reject(
            "", "unauthenticated", ident, None, f"not authenticated: {why}", UNAUTHENTICATED
        )

    def _reject(
        self,
        sender: str,
        reason: str,
        ident: str | None,
        name: str | None,
        why: str,
        answer: str = "",
    ) -> dict[str, Any] | None:
        """Record and answer a rejection while the sender's budget lasts, then count it."""
        self.roll()
        if self._answered[sender] >= self.settings.rejections_per_minute:
            self._withheld[reason] += 1
            return None
        self._answered[sender] += 1
        self.journal.event(
            EventKind.COMMAND_REJECTED,
            f"{name or 'command'} {ident or '(no id)'}: {why}"[: 2 * MAX_REASON],
            Severity.WARNING,
        )
        return reply(ident, name, False, (answer or why)[:MAX_REASON])

    def roll(self, force: bool = False) -> None:
        """End the rate period once it is over (``force``: now); one ``commands_rejected``
        event counts the rejections not recorded one by one."""
        now = time.monotonic()
        if not force and now - self._since < RATE_PERIOD:
            return
        if self._withheld:
            counts = ", ".join(f"{reason} {n}" for reason, n in self._withheld.most_common())
            self.journal.event(
                EventKind.COMMANDS_REJECTED,
                f"{self._withheld.total()} more commands rejected in {now - self._since:.0f} s "
                f"beyond {self.settings.rejections_per_minute} recorded per sender: {counts}",
                Severity.WARNING,
            )
        self._since = now
        self._answered.clear()
        self._withheld.clear()


_ENVELOPE = "ts must be whole Unix seconds and nonce 16 to 64 letters, digits, '-' or '_'"


def _problems(exc: ValidationError) -> str:
    """What is wrong, field by field (names capped: they come from the sender)."""
    return "; ".join(
        f"{'.'.join(str(p)[:40] for p in e['loc']) or 'command'}: {e['msg']}"
        for e in exc.errors()[:5]
    )
