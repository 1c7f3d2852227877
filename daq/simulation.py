"""Start a simulator for every instrument marked ``simulate: true`` in a lab file.

The glue between the lab file and the simulators: the one module of the agent that imports
them, loaded only when a command is asked to simulate.

Simulation is only a different address: drivers and procedures never know. In fixed mode
(``daq simulate``) each simulator listens where the lab file says, so a separate agent can
connect; in ephemeral mode (``--simulate``) it takes a free port or a new pty and the lab is
rewritten to point there.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from daq.config import ConfigError, InstrumentConfig, LabConfig, Problem, message_of
from daq.core.clock import Clock
from daq.core.errors import SimulationError
from daq.core.plugins import PluginError, find
from daq.core.prompts import Prompter, Question
from drivers.transports.settings import (
    VISA_SOCKET,
    ModbusRtuConnection,
    ModbusTcpConnection,
    SerialConnection,
    TcpConnection,
    VisaConnection,
)
from simulators.base import (
    LineSimulator,
    ModbusSimulator,
    OperatorSimulator,
    SimulatedInstrument,
)
from simulators.faults import Fault
from simulators.registry import simulator_class
from simulators.servers import ModbusServer, PtyLineServer, Server, TcpLineServer

_VISA_SERIAL = re.compile(r"^ASRL(.+)::INSTR$", re.IGNORECASE)
_SOCKET_URL = re.compile(r"^socket://([^:/]+):(\d+)")


class SimulatedOperator:
    """The person at a simulated bench: reads simulated instruments, and does to them what a
    question asks (places weights, connects probes), then confirms."""

    def __init__(self, simulation: Simulation, fallback: Prompter) -> None:
        self._simulation = simulation
        self._fallback = fallback

    async def ask(self, question: Question) -> str:
        simulators = self._simulation.simulators
        action = question.action
        if action is not None:
            target = simulators.get(action.instrument)
            if target is None:
                return await self._fallback.ask(question)
            if action.name not in target.actions:
                raise SimulationError(
                    f"{action.instrument}: its simulator has no action {action.name!r} "
                    f"(it has: {', '.join(target.actions) or 'none'})"
                )
            getattr(target, action.name)(**action.arguments)
            return ""
        sim = simulators.get(question.instrument)
        if isinstance(sim, OperatorSimulator):
            return await sim.respond(question)
        if question.is_confirmation and (
            sim is not None or not self._simulation.knows(question.instrument)
        ):
            return ""  # a check of a simulated bench: all is as asked
        return await self._fallback.ask(question)


@dataclass
class _Served:
    """One server and the instruments behind it; restartable at the same address."""

    instruments: list[str]
    starter: Callable[[], Awaitable[Server]]
    server: Server | None = None


def simulator_problems(lab: LabConfig) -> list[Problem]:
    """Each simulated instrument's ``simulator:`` section checked by its simulator's model."""
    problems: list[Problem] = []
    for bench, instrument in lab.instruments():
        where = f"benches[{bench.id}].instruments[{instrument.id}]"
        if not instrument.simulate and not instrument.simulator:
            continue
        try:
            plugin = find("simulators", instrument.driver)
            model = simulator_class(instrument.driver).Settings
        except PluginError as exc:
            problems.append(Problem(lab.file, f"{where}.driver", str(exc)))
            continue
        try:
            model.model_validate(instrument.simulator)
        except ValidationError as exc:
            for error in exc.errors():
                path = ".".join(str(part) for part in ("simulator", *error["loc"]))
                message = message_of(error)
                if not plugin.builtin:
                    message += f" (plugin {plugin})"
                problems.append(Problem(lab.file, f"{where}.{path}", message))
    return problems


@dataclass
class Simulation:
    lab: LabConfig
    clock: Clock
    ephemeral: bool = True
    simulators: dict[str, SimulatedInstrument] = field(default_factory=dict)
    _served: list[_Served] = field(default_factory=list)
    _rewritten: dict[str, InstrumentConfig] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def knows(self, instrument_id: str) -> bool:
        """Whether ``instrument_id`` is an instrument of the lab file (simulated or not)."""
        return any(i.id == instrument_id for _, i in self.lab.instruments())

    def _connect_followers(self) -> None:
        """Give each follower (``simulator.follows``) the source it measures."""
        for ident, sim in self.simulators.items():
            leader_id = sim.settings.follows
            if leader_id is None:
                continue
            leader = self.simulators.get(leader_id)
            if leader is None or leader.generates is None:
                raise SimulationError(
                    f"{ident}: simulator.follows names {leader_id!r}, which is not a simulated "
                    "heat source or pressure controller"
                )
            if sim.measures not in (leader.generates, "any"):
                raise SimulationError(
                    f"{ident}: it cannot follow {leader_id}: it measures "
                    f"{sim.measures or 'nothing a source makes'}, {leader_id} makes "
                    f"{leader.generates}"
                )
            sim.follow(leader.generated)

    def where(self) -> dict[str, str]:
        """Instrument id -> where its simulator listens."""
        return {
            ident: served.server.where
            for served in self._served
            if served.server is not None
            for ident in served.instruments
        }

    async def start(self) -> LabConfig:
        """Start every simulator; returns the lab with connections pointing at them. Raises
        ``ConfigError`` naming each ``simulator:`` setting at fault before any starts."""
        problems = simulator_problems(self.lab)
        if problems:
            raise ConfigError(problems)
        if self.ephemeral:
            self._tmp = tempfile.TemporaryDirectory(prefix="daq-sim-")
        modbus_buses: dict[str, list[InstrumentConfig]] = {}
        try:
            for _, instrument in self.lab.instruments():
                if not instrument.simulate:
                    continue
                sim_cls = simulator_class(instrument.driver)
                sim = sim_cls(sim_cls.Settings.model_validate(instrument.simulator), self.clock)
                self.simulators[instrument.id] = sim
                if isinstance(sim, LineSimulator):
                    await self._serve_line(instrument, sim)
                elif isinstance(sim, ModbusSimulator):
                    connection = instrument.connection
                    assert isinstance(connection, ModbusTcpConnection | ModbusRtuConnection)
                    key = (
                        f"{connection.host}:{connection.port}"
                        if isinstance(connection, ModbusTcpConnection)
                        else connection.port
                    )
                    modbus_buses.setdefault(key, []).append(instrument)
            self._connect_followers()
            for instruments in modbus_buses.values():
                await self._serve_modbus(instruments)
        except OSError as exc:
            await self.stop()
            raise SimulationError(f"cannot start the simulators: {exc}") from exc
        except BaseException:
            await self.stop()
            raise
        return self._lab_with_rewrites()

    def _lab_with_rewrites(self) -> LabConfig:
        benches = [
            bench.model_copy(
                update={"instruments": [self._rewritten.get(i.id, i) for i in bench.instruments]}
            )
            for bench in self.lab.benches
        ]
        return self.lab.model_copy(update={"benches": benches})

    def _link_path(self, instrument: InstrumentConfig, configured: str) -> str:
        if self._tmp is not None:
            return str(Path(self._tmp.name) / instrument.id)
        return configured

    async def _serve(
        self, instruments: list[str], starter: Callable[[], Awaitable[Server]]
    ) -> Server:
        served = _Served(instruments, starter)
        served.server = await starter()
        self._served.append(served)
        return served.server

    async def _serve_line(self, instrument: InstrumentConfig, sim: LineSimulator) -> None:
        connection = instrument.connection
        tcp: tuple[str, int] | None = None
        serial_path: str | None = None
        if isinstance(connection, TcpConnection):
            tcp = (connection.host, connection.port)
        elif isinstance(connection, SerialConnection):
            if match := _SOCKET_URL.match(connection.port):
                tcp = (match[1], int(match[2]))
            elif "://" in connection.port:
                raise SimulationError(
                    f"{instrument.id}: cannot simulate on {connection.port}; use a device "
                    "path (a pty is made there) or socket://host:port"
                )
            else:
                serial_path = connection.port
        elif isinstance(connection, VisaConnection):
            if match := VISA_SOCKET.match(connection.resource):
                tcp = (match[1], int(match[2]))
            elif (match := _VISA_SERIAL.match(connection.resource)) and (
                socket_url := _SOCKET_URL.match(match[1])
            ):
                tcp = (socket_url[1], int(socket_url[2]))
            elif match:
                serial_path = match[1]
        if tcp is not None:
            host, port = tcp
            first = await TcpLineServer(sim).start(host, 0 if self.ephemeral else port)
            bound = first.port

            async def restart_tcp() -> Server:
                return await TcpLineServer(sim).start(host, bound)

            self._served.append(_Served([instrument.id], restart_tcp, first))
            self._rewrite_address(instrument, host=host, port=bound)
        elif serial_path is not None:
            link = self._link_path(instrument, serial_path)

            async def start_pty() -> Server:
                return await PtyLineServer(sim).start(link)

            await self._serve([instrument.id], start_pty)
            self._rewrite_address(instrument, path=link)
        else:
            raise SimulationError(f"{instrument.id}: no simulator can serve {connection!r}")

    def _rewrite_address(
        self, instrument: InstrumentConfig, *, host: str = "", port: int = 0, path: str = ""
    ) -> None:
        connection = instrument.connection
        update: dict[str, object]
        match connection:
            case TcpConnection() | ModbusTcpConnection():
                update = {"port": port}
            case SerialConnection():
                update = {"port": path or f"socket://{host}:{port}"}
            case VisaConnection():
                resource = f"ASRL{path}::INSTR" if path else f"TCPIP::{host}::{port}::SOCKET"
                update = {"resource": resource}
            case ModbusRtuConnection():
                update = {"port": path}
        self._rewritten[instrument.id] = instrument.model_copy(
            update={"connection": connection.model_copy(update=update)}
        )

    async def _serve_modbus(self, instruments: list[InstrumentConfig]) -> None:
        devices: dict[int, ModbusSimulator] = {}
        for instrument in instruments:
            sim = self.simulators[instrument.id]
            assert isinstance(sim, ModbusSimulator)
            connection = instrument.connection
            assert isinstance(connection, ModbusTcpConnection | ModbusRtuConnection)
            devices[connection.device_id] = sim
        ids = [i.id for i in instruments]
        first = instruments[0].connection
        if isinstance(first, ModbusTcpConnection):
            host = first.host
            server = await ModbusServer.serving(devices).start_tcp(
                host, 0 if self.ephemeral else first.port
            )
            bound = server.port

            async def restart_tcp() -> Server:
                return await ModbusServer.serving(devices).start_tcp(host, bound)

            self._served.append(_Served(ids, restart_tcp, server))
            for instrument in instruments:
                self._rewrite_address(instrument, port=bound)
        else:
            assert isinstance(first, ModbusRtuConnection)
            link = self._link_path(instruments[0], first.port)
            baudrate, parity = first.baudrate, first.parity

            async def start_rtu() -> Server:
                return await ModbusServer.serving(devices).start_rtu(
                    link, baudrate=baudrate, parity=parity
                )

            await self._serve(ids, start_rtu)
            for instrument in instruments:
                self._rewrite_address(instrument, path=link)

    def _served_for(self, instrument_id: str) -> _Served:
        for served in self._served:
            if instrument_id in served.instruments:
                return served
        raise KeyError(f"{instrument_id} is not simulated")

    def operator(self, fallback: Prompter) -> SimulatedOperator:
        """A prompter whose questions about simulated instruments the simulated operator
        answers; other questions go to ``fallback``."""
        return SimulatedOperator(self, fallback)

    def simulator(self, instrument_id: str) -> SimulatedInstrument:
        try:
            return self.simulators[instrument_id]
        except KeyError:
            known = ", ".join(sorted(self.simulators)) or "none"
            raise KeyError(f"{instrument_id} is not simulated; simulated: {known}") from None

    def inject(self, instrument_id: str, fault: Fault) -> None:
        self.simulator(instrument_id).inject(fault)

    def clear(self, instrument_id: str, fault: Fault | None = None) -> None:
        """Heal ``fault`` of the instrument, or all its faults."""
        self.simulator(instrument_id).clear(fault)

    async def stop_instrument(self, instrument_id: str) -> None:
        """Cut the simulator serving ``instrument_id`` (and any sharing its port) off."""
        served = self._served_for(instrument_id)
        if served.server is not None:
            await served.server.stop()
            served.server = None

    async def restart_instrument(self, instrument_id: str) -> None:
        """Bring a stopped simulator back at the same address."""
        served = self._served_for(instrument_id)
        if served.server is None:
            served.server = await served.starter()

    async def stop(self) -> None:
        for served in self._served:
            if served.server is not None:
                await served.server.stop()
                served.server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
