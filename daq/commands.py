"""Commands from afar (MQTT): start a run from a configured plan, abort a run, answer an
operator prompt, acknowledge an alarm.

Each command is validated by its pydantic schema and must carry the command token (from the
environment variable the lab file names). Anything malformed or unauthorised is rejected
with the reason, recorded as an event, and never executed; every command gets a reply.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from daq.journal import Journal, Severity


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    """Chosen by the sender; the reply carries it back."""
    token: str = Field(repr=False)
    by: str = Field("", max_length=100)
    """Who sends it (recorded)."""


class StartRun(_Command):
    command: Literal["start_run"]
    plan: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """A plan name of the lab's plan folders (never a path)."""
    uut: str | None = None


class AbortRun(_Command):
    command: Literal["abort_run"]
    run: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=500)


class AnswerPrompt(_Command):
    command: Literal["answer_prompt"]
    prompt: str = Field(min_length=1)
    answer: str = Field(max_length=200)


class AckAlarm(_Command):
    command: Literal["ack_alarm"]
    alarm: str = Field(min_length=1)


Command = Annotated[StartRun | AbortRun | AnswerPrompt | AckAlarm, Field(discriminator="command")]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


class Rejected(Exception):
    """The command is valid but cannot be carried out now (no such run, a run is going)."""


class Executor(Protocol):
    async def execute(self, command: Command) -> dict[str, Any]:
        """Carry the command out; extra reply fields, or ``Rejected``."""
        ...


def reply(
    ident: str | None, command: str | None, accepted: bool, reason: str = "", **extra: Any
) -> dict[str, Any]:
    return {"id": ident, "command": command, "accepted": accepted, "reason": reason, **extra}


async def handle(
    payload: bytes, token: str | None, executor: Executor, journal: Journal
) -> dict[str, Any]:
    """Validate, authorise and execute one command; the reply to publish."""
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _refuse(journal, None, None, f"not JSON: {exc}")
    ident = raw.get("id") if isinstance(raw, dict) else None
    name = raw.get("command") if isinstance(raw, dict) else None
    ident = ident if isinstance(ident, str) else None
    name = name if isinstance(name, str) else None
    try:
        command = _COMMAND.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'command'}: {e['msg']}" for e in exc.errors()
        )
        return _refuse(journal, ident, name, f"malformed: {problems}")
    if not token or not hmac.compare_digest(command.token.encode(), token.encode()):
        why = "no command token is configured" if not token else "wrong token"
        return _refuse(journal, ident, name, f"unauthorised: {why}")
    try:
        extra = await executor.execute(command)
    except Rejected as exc:
        return _refuse(journal, ident, name, str(exc))
    who = f" from {command.by}" if command.by else ""
    journal.event("command_accepted", f"{command.command} {command.id}{who}")
    return reply(command.id, command.command, True, **extra)


def _refuse(journal: Journal, ident: str | None, name: str | None, why: str) -> dict[str, Any]:
    journal.event(
        "command_rejected", f"{name or 'command'} {ident or '(no id)'}: {why}", Severity.WARNING
    )
    return reply(ident, name, False, why)
