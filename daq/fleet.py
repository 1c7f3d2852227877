"""The fleet view: each agent keeps its status current in a JetStream key-value bucket (key
``<lab>.<agent>``), and ``daq fleet status`` (or a program, through ``fleet_status``) reads
the whole fleet from it: benches, last contact, the sinks' backlog, standards coming due and
open alarms. A bucket entry is the agent's last word: an agent that stopped reporting shows
its age."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daq import __version__
from daq.core.clock import Clock
from daq.journal import Journal
from daq.sinks.base import SinkError
from daq.sinks.nats import connect, token
from daq.sinks.settings import NatsSettings
from daq.standards import StandardsRegister, days_until_due

log = logging.getLogger("daq.fleet")

MAX_ENTRY = 256 * 1024
"""Bytes: a status entry larger than this is not the fleet's (refused when read)."""


def key(settings: NatsSettings, lab: str) -> str:
    return f"{token(lab)}.{token(settings.agent_id)}"


async def agent_status(
    *,
    settings: NatsSettings,
    lab: str,
    benches: dict[str, str],
    journal: Journal,
    clock: Clock,
    register: StandardsRegister | None,
    alarms: list[str],
    due_days: int,
    sink_streams: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """What one agent tells the fleet about itself now."""
    by_bench: dict[str, list[str]] = {}
    for instrument, bench in sorted(benches.items()):
        by_bench.setdefault(bench, []).append(instrument)
    states = {name: (state, detail) for name, state, detail, _ in await journal.sink_states()}
    sinks = {}
    for name in sink_streams if sink_streams is not None else states:  # the lab's sinks
        state, detail = states.get(name, ("starting", ""))
        backlog = await journal.backlog(name, (sink_streams or {}).get(name))
        sinks[name] = {"state": state, "detail": detail, "backlog": sum(backlog.values())}
    now = clock.now()
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    due = [
        {"id": s.id, "due": s.certificate.due.isoformat(), "days_left": left}
        for s in (register.standards if register is not None else [])
        if (left := days_until_due(s, today)) <= due_days
    ]
    return {
        "agent": settings.agent_id,
        "lab": lab,
        "version": __version__,
        "timestamp": now,
        "benches": by_bench,
        "sinks": sinks,
        "standards_due": sorted(due, key=lambda d: d["days_left"]),
        "alarms": sorted(alarms),
    }


class FleetReporter:
    """Puts the agent's status into the fleet's bucket every ``status_interval`` seconds,
    and once more, marked stopped, when the agent stops."""

    def __init__(
        self,
        settings: NatsSettings,
        lab: str,
        status: Callable[[], Awaitable[dict[str, Any]]],
    ) -> None:
        self.settings = settings
        self.lab = lab
        self.status = status
        self.reported = 0

    async def run(self, stop: asyncio.Event) -> None:
        client = None
        try:
            while not stop.is_set():
                try:
                    if client is None or client.is_closed:
                        name = f"{self.lab}.{self.settings.agent_id}"  # its user's inbox
                        client = await connect(self.settings, name, attempts=1)
                    await self._put(client, await self.status())
                except (SinkError, OSError, TimeoutError) as exc:
                    log.warning("fleet status not reported: %s", exc)
                except Exception as exc:  # a bucket refused or missing: the fleet view waits
                    log.warning("fleet status not reported: %s", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.status_interval):
                        await stop.wait()
            if client is not None and not client.is_closed:
                with contextlib.suppress(Exception):
                    await self._put(client, {**await self.status(), "stopped": True})
        finally:
            if client is not None and not client.is_closed:
                await client.close()

    async def _put(self, client: Any, status: dict[str, Any]) -> None:
        js = client.jetstream(timeout=self.settings.timeout)
        bucket = await js.key_value(self.settings.status_bucket)
        await bucket.put(key(self.settings, self.lab), json.dumps(status).encode())
        self.reported += 1


class SinkReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: str = Field(max_length=32)
    detail: str = Field("", max_length=1000)
    backlog: int = Field(ge=0)


class DueReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=128)
    due: str = Field(max_length=32)
    days_left: int


class AgentReport(BaseModel):
    """An agent's status as the fleet view trusts it: each field checked, the rest dropped."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    agent: str = Field(max_length=128)
    lab: str = Field(max_length=128)
    version: str = Field("", max_length=64)
    timestamp: float
    benches: dict[str, list[str]] = Field(default_factory=dict)
    sinks: dict[str, SinkReport] = Field(default_factory=dict)
    standards_due: list[DueReport] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)
    stopped: bool = False


async def fleet_status(settings: NatsSettings) -> list[dict[str, Any]]:
    """Every agent's last status in the fleet's bucket, by lab and agent. An entry is
    trusted only as far as it checks: too large, not JSON, not a status, or naming another
    lab or agent than its key (which the server ties to its sender), it is listed as
    unreadable with the reason."""
    from nats.errors import Error as NatsError
    from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError

    client = await connect(settings, settings.user or "observer", attempts=1)
    try:
        js = client.jetstream(timeout=settings.timeout)
        try:
            bucket = await js.key_value(settings.status_bucket)
        except NotFoundError:
            raise SinkError(
                f"no fleet status bucket {settings.status_bucket!r} on {settings.servers[0]}: "
                "start `daq archive` (it makes it) or create it (deploy/fleet)"
            ) from None
        try:
            keys = await bucket.keys()
        except NoKeysError:
            return []
        found = []
        for name in sorted(keys):
            try:
                entry = await bucket.get(name)
            except KeyNotFoundError:  # deleted since the listing
                continue
            found.append(_checked(name, entry.value or b""))
        return found
    except NatsError as exc:
        raise SinkError(f"NATS {', '.join(settings.servers)}: {exc or type(exc).__name__}") from exc
    finally:
        await client.close()


def _checked(key: str, data: bytes) -> dict[str, Any]:
    try:
        if len(data) > MAX_ENTRY:
            raise ValueError(f"{len(data)} bytes, too large")
        report = AgentReport.model_validate_json(data)
    except ValueError as exc:  # ValidationError too
        reason = str(exc).splitlines()[0][:200]
        return {"key": key, "unreadable": reason}
    if key != f"{report.lab}.{report.agent}":
        return {"key": key, "unreadable": f"says it is {report.lab}.{report.agent}"}
    return report.model_dump()
