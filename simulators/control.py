"""The simulators' control interface: faults and operator actions from another process.

One JSON object per line over a loopback TCP port, one JSON reply per line. ``daq simulate``
serves it and ``daq fault`` uses it, so a fault can be switched on and off while an agent runs
against the simulators, and a simulated operator can place weights or set pressures.

    {"command": "inject", "instrument": "balance-1", "fault": "no_reply"}
    {"command": "clear", "instrument": "balance-1"}                 (every fault)
    {"command": "act", "instrument": "balance-1", "action": "place", "args": [100.0]}
    {"command": "status"}

Replies are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from simulators.base import SimulatedInstrument
from simulators.faults import Fault


class Simulation(Protocol):
    """What the interface controls: the running simulators by instrument id."""

    @property
    def simulators(self) -> Mapping[str, SimulatedInstrument]: ...

    def simulator(self, instrument_id: str) -> SimulatedInstrument: ...

    def inject(self, instrument_id: str, fault: Fault) -> None: ...

    def clear(self, instrument_id: str, fault: Fault | None = None) -> None: ...


MAX_REQUEST = 65536


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Inject(_Request):
    command: Literal["inject"]
    instrument: str
    fault: Fault


class Clear(_Request):
    command: Literal["clear"]
    instrument: str
    fault: Fault | None = None


class Act(_Request):
    command: Literal["act"]
    instrument: str
    action: str
    args: list[float | str | bool | None] = []


class Status(_Request):
    command: Literal["status"]


Request = Annotated[Inject | Clear | Act | Status, Field(discriminator="command")]
_requests: TypeAdapter[Inject | Clear | Act | Status] = TypeAdapter(Request)


class ControlError(Exception):
    """The control interface refused a request, or cannot be reached."""


def _status(simulation: Simulation) -> dict[str, Any]:
    return {
        ident: {
            "family": sim.family,
            "faults": sorted(sim.faults),
            "actions": list(sim.actions),
        }
        for ident, sim in simulation.simulators.items()
    }


def execute(simulation: Simulation, request: Inject | Clear | Act | Status) -> Any:
    """Carry out one request on the running simulation; raises ``ControlError`` if refused."""
    try:
        match request:
            case Inject(instrument=ident, fault=fault):
                simulation.inject(ident, fault)
                return sorted(simulation.simulator(ident).faults)
            case Clear(instrument=ident, fault=fault):
                simulation.clear(ident, fault)
                return sorted(simulation.simulator(ident).faults)
            case Act(instrument=ident, action=action, args=args):
                sim = simulation.simulator(ident)
                if action not in sim.actions:
                    offered = ", ".join(sim.actions) or "none"
                    raise ControlError(f"{ident} has no action {action!r}; actions: {offered}")
                return getattr(sim, action)(*args)
            case Status():
                return _status(simulation)
    except KeyError as exc:
        raise ControlError(str(exc.args[0])) from None
    except (TypeError, ValueError) as exc:
        raise ControlError(f"{request.command} refused: {exc}") from None
    raise AssertionError(request)


def _answer(simulation: Simulation, line: bytes) -> dict[str, Any]:
    try:
        request = _requests.validate_json(line)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        return {"ok": False, "error": f"bad request: {problems}"}
    try:
        return {"ok": True, "result": execute(simulation, request)}
    except ControlError as exc:
        return {"ok": False, "error": str(exc)}


class ControlServer:
    """Serves the control interface of one ``Simulation`` on a loopback port."""

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int, host: str = "127.0.0.1") -> ControlServer:
        self._server = await asyncio.start_server(
            self._client, host, port, reuse_address=True, limit=MAX_REQUEST
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ValueError, asyncio.IncompleteReadError):
            while line := await reader.readline():
                reply = _answer(self._simulation, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


async def send(request: dict[str, Any], port: int, host: str = "127.0.0.1") -> Any:
    """Send one request to a running ``daq simulate``; returns its result."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        raise ControlError(
            f"no simulator control interface at {host}:{port} ({exc.strerror or exc}); "
            "start one with 'daq simulate'"
        ) from None
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(5):
            line = await reader.readline()
    finally:
        writer.close()
    if not line:
        raise ControlError(f"the control interface at {host}:{port} closed without answering")
    reply = json.loads(line)
    if not reply["ok"]:
        raise ControlError(reply["error"])
    return reply["result"]
