"""``daq agent``: the long-running service of a bench PC.

It polls the monitored instruments (reference standards, environment sensors) into the
journal, applies the alarm rules, warns of standards coming due, forwards the journal to
InfluxDB and MQTT, and carries out MQTT commands: start a run from a configured plan, abort
it, answer an operator prompt, acknowledge an alarm. SIGTERM stops it cleanly: a running
calibration is aborted safely, the sinks keep their cursors, the broker hears "offline".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from daq.alarms import Alarms
from daq.commands import (
    AbortRun,
    AckAlarm,
    AnswerPrompt,
    Client,
    Command,
    CommandDesk,
    Rejected,
    StartRun,
    load_keys,
)
from daq.commands import reply as command_reply
from daq.config import ConfigError, LabConfig, SinkConfig
from daq.core.clock import Clock
from daq.core.plugins import find
from daq.core.prompts import Question
from daq.core.reading import Reading
from daq.engine.document import RunDocument
from daq.engine.loader import load_procedure
from daq.engine.order import OrderRefused, RunOrder
from daq.engine.plan import available_plans, find_plan
from daq.engine.record import Point
from daq.engine.runner import Runner
from daq.fleet import FleetReporter, agent_status
from daq.forwarder import Forwarder
from daq.journal import EventKind, Journal, JournalError, Severity, SinkState
from daq.monitor import InstrumentState, Monitor
from daq.operations import LiveRun, Progresses, PromptDesk, Refused, Terminal, printable
from daq.session import LabSession, lab_session
from daq.signing import Signer, SigningError, load_signer
from daq.sinks.base import SinkClass
from daq.sinks.influx import InfluxSink
from daq.sinks.mqtt import MqttLink, MqttSink
from daq.sinks.nats import NatsSink
from daq.sinks.settings import CommandSettings
from daq.stability import Verdict
from daq.standards import StandardsRegister, days_until_due, load_standards
from daq.streams import anchor

log = logging.getLogger("daq.agent")

REJECTION_CHECK = 5.0
"""Real seconds between looks at the command desk's rate period (for its summary)."""
DRAIN_ON_STOP = 2.0
"""Real seconds the sinks get to send what is committed when the agent stops; the rest
stays in the journal for the next start."""


def _listing(names: Iterable[str], most: int = 30) -> str:
    """Names for a reply, capped: a lab may configure many."""
    found = sorted(names)
    return ", ".join(found[:most]) + (", ..." if len(found) > most else "") or "none"


def _without_files(exc: ConfigError) -> str:
    """A configuration problem for a remote sender: field and message, never a file path."""
    return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems)


class MqttPromptChannel:
    """Operator questions over MQTT: the open question is retained on ``prompts`` (cleared
    when answered); an ``answer_prompt`` command answers it through the prompt desk."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link

    @property
    def reachable(self) -> bool:
        return self.link.connected

    async def show(self, ident: str, question: Question | None) -> None:
        if question is None:
            await self.link.publish_soon(self.link.topic("prompts"), {}, retain=True)
            return
        payload = {
            "id": ident,
            "instrument": question.instrument,
            "text": question.text,
            "quantity": question.quantity,
            "unit": question.unit,
            "minimum": question.minimum,
            "maximum": question.maximum,
            "problem": question.problem,
            "hint": question.hint(),
        }
        await self.link.publish_soon(self.link.topic("prompts"), payload, retain=True)


class MqttProgress:
    """A run's progress as a retained message, at most twice a second."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link
        self.run = ""
        self.total = 0
        self.done = 0
        self.label = ""
        self.state = ""
        self.last: dict[str, Any] = {}
        self._sent = 0.0
        self._sending: set[asyncio.Future[None]] = set()

    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.run or (not force and now - self._sent < 0.5):
            return
        self._sent = now
        payload = {
            "run": self.run,
            "point": self.label,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            **self.last,
        }
        task = asyncio.ensure_future(
            self.link.publish_soon(self.link.topic("runs", self.run, "progress"), payload, True)
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def begin(self, run: str, title: str, total: int, done: int) -> None:
        self.run, self.total, self.done = run, total, done
        self._publish(force=True)

    def point(self, label: str) -> None:
        self.label = label
        self._publish(force=True)

    def status(self, text: str) -> None:
        self.state = text
        self._publish()

    def sample(self, reading: Reading, verdict: Verdict | None) -> None:
        self.last = {"reading": reading.value, "unit": reading.unit}
        if verdict is not None:
            self.last.update(stable=verdict.stable, slope_per_min=verdict.slope, std=verdict.std)
        self._publish()

    def completed(self, point: Point) -> None:
        self.done += 1
        self._publish(force=True)


class BenchView:
    """Each instrument's newest reading of the quantity it shows (its first: a transmitter's
    pressure, not its sensor temperature; a readout's first channel) and a short trend per
    quantity, for the console. Fed by the monitor's polls and, since the monitor does not
    poll what a run holds, by the run's own readings (it is one of the run's progress views)."""

    TREND = 60

    def __init__(self) -> None:
        self.last: dict[str, Reading] = {}
        self.shown: dict[str, str] = {}
        """The quantity each instrument's row shows: the first it was seen with."""
        self.trend: dict[tuple[str, str], collections.deque[float]] = {}

    def update(self, readings: list[Reading]) -> None:
        for reading in readings:
            if self.shown.setdefault(reading.instrument, reading.quantity) == reading.quantity:
                self.last[reading.instrument] = reading
            if math.isfinite(reading.value):
                key = (reading.instrument, reading.quantity)
                kept = self.trend.setdefault(key, collections.deque(maxlen=self.TREND))
                kept.append(reading.value)

    def sample(self, reading: Reading, verdict: Verdict | None) -> None:
        self.update([reading])

    def begin(self, run: str, title: str, total: int, done: int) -> None:
        """Only a run's readings concern the bench page."""

    def point(self, label: str) -> None:
        """Only a run's readings concern the bench page."""

    def status(self, text: str) -> None:
        """Only a run's readings concern the bench page."""

    def completed(self, point: Point) -> None:
        """Only a run's readings concern the bench page."""


class Agent:
    def __init__(
        self,
        lab: LabConfig,
        clock: Clock,
        *,
        simulate: bool,
        web: str | None = None,
        terminal: Terminal | None = None,
    ) -> None:
        self.lab = lab
        self.clock = clock
        self.simulate = simulate
        self.web = web or (lab.web.listen if lab.web is not None else None)
        """HOST:PORT of the console (``--web``, else the lab file's ``web:``); None: none."""
        self.link = MqttLink(lab.mqtt, lab.lab.id, clock) if lab.mqtt else None
        self.prompter = PromptDesk(
            [MqttPromptChannel(self.link)] if self.link else [],
            console=self.web is not None,
            terminal=terminal,
        )
        """Operator questions, open to the console, MQTT and the terminal at once (the first
        answer wins)."""
        self.prompter.run_of = lambda: self._run_id if self.running else None
        self.live = LiveRun()
        self.bench = BenchView()
        self.forwarders: list[Forwarder] = []
        self._session: LabSession | None = None
        self._monitor: Monitor | None = None
        self._alarms: Alarms | None = None
        self._run: asyncio.Task[RunDocument] | None = None
        self._run_id = ""
        self._runner: Runner | None = None
        self._desk: CommandDesk | None = None
        self._stopping = False
        self._alarm_tasks: set[asyncio.Task[None]] = set()
        self._anchor_signer: Signer | None = None
        self._anchored: dict[str, str] | None = None

    def _fleet_reporter(
        self, sink: NatsSink, journal: Journal, benches: Mapping[str, str]
    ) -> FleetReporter:
        """Keeps this agent's status in its fleet's bucket (``daq fleet status``)."""
        lab = self.lab

        async def status() -> dict[str, Any]:
            register = None
            if lab.standards is not None:  # a file read, off the event loop
                with contextlib.suppress(ConfigError):
                    register = await asyncio.to_thread(load_standards, lab.standards)
            return await agent_status(
                settings=sink.settings,
                lab=lab.lab.id,
                benches=dict(benches),
                journal=journal,
                clock=self.clock,
                register=register,
                alarms=self._alarms.active if self._alarms is not None else [],
                sink_streams=lab.sink_streams(),
                due_days=lab.agent.due_warning_days,
            )

        return FleetReporter(sink.settings, lab.lab.id, status)

    def _plugin_forwarder(
        self, entry: SinkConfig, journal: Journal, benches: Mapping[str, str]
    ) -> Forwarder:
        """A sink of the lab file's ``sinks:`` (a built-in or a plugin's) and its forwarder."""
        cls: SinkClass = find("sinks", entry.type, self.lab.plugins.allow).load()
        settings = cls.Settings.model_validate(entry.settings)
        sink = cls(settings, lab=self.lab.lab.id, benches=benches, name=entry.key)
        return Forwarder(journal, sink, getattr(settings, "batch_size", 5000))

    async def run(self, stop: asyncio.Event) -> None:
        lab = self.lab
        async with lab_session(
            lab, self.clock, simulate=self.simulate, prompter=self.prompter
        ) as session:
            self._session = session
            journal = session.journal
            journal.on_trouble = self._journal_alarm
            loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
            journal.event(EventKind.AGENT_STARTED, f"agent of {lab.lab.id} started ({loop} loop)")
            self.prompter.journal = journal
            self._alarms = Alarms(lab.alarms, journal)
            alarms = self._alarms

            def polled(readings: list[Reading]) -> None:
                alarms.check(readings)
                self.bench.update(readings)

            self._monitor = Monitor(
                session.drivers(),
                journal,
                self.clock,
                on_readings=polled,
                phase_slots=lab.agent.phase_slots,
            )
            benches = lab.bench_of()
            if lab.influxdb is not None:
                sink = InfluxSink(lab.influxdb, lab.lab.id, benches)
                self.forwarders.append(Forwarder(journal, sink, lab.influxdb.batch_size))
            for entry in lab.sinks:
                self.forwarders.append(self._plugin_forwarder(entry, journal, benches))
            reporters = [self._fleet_reporter(f.sink, journal, benches) for f in self.forwarders
                         if isinstance(f.sink, NatsSink)]  # fmt: skip
            if self.link is not None and lab.mqtt is not None:
                self._desk = self._command_desk(lab.mqtt.commands, journal)
                self.link.on_command = self._on_command
                self.link.on_connection = self._on_connection
                self.forwarders.append(
                    Forwarder(journal, MqttSink(self.link, benches), lab.mqtt.batch_size)
                )
            stop_monitor, stop_sinks, stop_link = asyncio.Event(), asyncio.Event(), asyncio.Event()
            monitoring = asyncio.create_task(self._monitor.run(stop_monitor))
            forwarding = [asyncio.create_task(f.run(stop_sinks)) for f in self.forwarders]
            self._load_anchor_signer(journal)
            anchoring = asyncio.create_task(self._anchor_streams(stop))
            tasks = [asyncio.create_task(self._watch_due_dates(stop))]
            tasks += [asyncio.create_task(r.run(stop_link)) for r in reporters]
            if self.link is not None:
                tasks.append(asyncio.create_task(self.link.run(stop_link)))
                tasks.append(asyncio.create_task(self._summarise_rejections(stop)))
            if self.web is not None:
                tasks.append(asyncio.create_task(self._serve_console(self.web, journal, stop)))
            try:
                await stop.wait()
            finally:
                self._stopping = True
                await self._stop_run("the agent is stopping")
                stop_monitor.set()
                await asyncio.gather(monitoring, anchoring, return_exceptions=True)
                await self._anchor()  # the streams as they end, before the sinks drain
                if self._desk is not None:
                    self._desk.roll(force=True)
                journal.event(EventKind.AGENT_STOPPED, f"agent of {lab.lab.id} stopped")
                await journal.flush()
                await self._drain()
                stop_sinks.set()  # the sinks finish the batch in hand before the link goes
                await asyncio.gather(*forwarding, return_exceptions=True)
                stop_link.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                for forwarder in self.forwarders:
                    await forwarder.sink.close()

    async def _drain(self) -> None:
        """Give the sinks a moment to send what is committed (the rest waits in the journal)."""
        assert self._session is not None
        journal = self._session.journal
        deadline = time.monotonic() + DRAIN_ON_STOP
        for forwarder in self.forwarders:
            while forwarder.state == SinkState.OK and time.monotonic() < deadline:
                sink = forwarder.sink
                if not sum((await journal.backlog(sink.name, sink.streams)).values()):
                    break
                await asyncio.sleep(0.05)

    def _journal_alarm(self, kind: str, message: str) -> None:
        """The journal cannot be written (disk full), or can again: said on MQTT at once and
        retained (``alarms/journal``), since the journal that would stream it is what
        failed."""
        if self.link is None:
            return
        payload = {
            "kind": kind,
            "severity": "error" if kind == "journal_write_failed" else "info",
            "state": "active" if kind == "journal_write_failed" else "cleared",
            "message": message,
            "timestamp": self.clock.now(),
        }
        task = asyncio.get_running_loop().create_task(
            self.link.publish_soon(self.link.topic("alarms", "journal"), payload, retain=True)
        )
        self._alarm_tasks.add(task)
        task.add_done_callback(self._alarm_tasks.discard)

    def _on_connection(self, up: bool, detail: str) -> None:
        if self._session is None or self.lab.mqtt is None:
            return
        where = f"{self.lab.mqtt.host}:{self.lab.mqtt.port}"
        if up:
            self._session.journal.event(EventKind.MQTT_CONNECTED, f"connected to {where}")
        else:
            self._session.journal.event(
                EventKind.MQTT_DISCONNECTED, f"{where}: {detail}; retrying", Severity.WARNING
            )

    async def _serve_console(self, listen: str, journal: Journal, stop: asyncio.Event) -> None:
        """The console; one that cannot be served is said, and the agent goes on without."""
        from daq.web.server import ConsoleUnavailable, serve_console

        try:
            await serve_console(listen, self.lab, journal, self, stop)
        except ConsoleUnavailable as exc:
            self.prompter.console = False
            log.error("%s; the agent runs without its console", exc)

    # -- commands ---------------------------------------------------------------------------

    def _command_desk(self, settings: CommandSettings, journal: Journal) -> CommandDesk:
        """The desk that checks commands, with the keys of the lab file's clients; a key
        that cannot be read is said in an event (its commands are refused)."""
        if not settings.enabled:  # not subscribed: no command ever reaches it
            return CommandDesk(settings, {}, self, journal, self.clock, self.lab.lab.id)
        keys, problems = load_keys(settings.clients)
        for problem in problems:
            journal.event(EventKind.COMMAND_KEY_UNAVAILABLE, problem, Severity.WARNING)
        if not settings.clients:
            journal.event(
                EventKind.COMMAND_KEY_UNAVAILABLE,
                "no command clients in the lab file (mqtt.commands.clients): every command "
                "is refused",
                Severity.WARNING,
            )
        return CommandDesk(settings, keys, self, journal, self.clock, self.lab.lab.id)

    async def _summarise_rejections(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REJECTION_CHECK):
                    await stop.wait()
            if self._desk is not None:
                self._desk.roll()

    async def _on_command(self, payload: bytes, retained: bool) -> None:
        assert self._desk is not None and self.link is not None
        try:
            answer = await self._desk.handle(payload, retained)
        except Exception:  # a fault here must not cut the connection, nor say anything
            log.exception("command failed")
            answer = command_reply(None, None, False, "internal error: see the agent's log")
        if answer is not None:
            await self.link.publish_soon(self.link.topic("agent", "replies"), answer)

    async def execute(self, command: Command, client: Client) -> dict[str, Any]:
        """An MQTT command, carried out by the same use cases as the console's."""
        who = client.describe(command.by)
        try:
            if isinstance(command, StartRun):
                sender = {"key": client.id, "name": client.name, "by": command.by,
                          "command": command.id}  # fmt: skip
                order = RunOrder(uut=command.uut)
                return {"run": await self.start_run(command.plan, order, sender)}
            if isinstance(command, AbortRun):
                await self.abort_run(command.run, command.reason, who)
                return {"run": command.run}
            if isinstance(command, AnswerPrompt):
                self.answer_prompt(command.prompt, command.answer, who, "MQTT")
                return {}
            assert isinstance(command, AckAlarm)
            self.acknowledge_alarm(command.alarm, who)
            return {}
        except Refused as exc:
            raise Rejected(str(exc)) from None

    # -- use cases: the console, MQTT commands and the terminal all come here ----------------

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.done()

    def plans(self) -> list[str]:
        """The plans a run may be started from (configured ones, by name)."""
        return sorted(available_plans(self.lab))

    async def start_run(self, plan_name: str, order: RunOrder, requested_by: dict[str, str]) -> str:
        """Start a run of a configured plan with what the person adds (``order``: another
        instrument as the UUT, customer, receipt date, overrides): its id once recorded;
        ``requested_by`` is kept in the run's chained setup."""
        printable(customer=order.customer, serial=order.serial, reason=order.reason, name=order.by)
        if self._stopping:
            raise Refused("the agent is stopping")
        session, monitor = self._session, self._monitor
        if session is None or monitor is None:
            raise Refused("the agent is still starting")
        plans = available_plans(self.lab)  # configured plans only, by name
        if plan_name not in plans:
            raise Refused(f"no plan {plan_name!r}; plans: {_listing(plans)}")
        instruments, uut = self.lab.bench_of(), order.uut
        if uut is not None and uut not in instruments:
            raise Refused(
                f"no instrument {uut!r} in the lab file; instruments: {_listing(instruments)}"
            )
        if self.running:
            raise Refused(f"run {self._run_id} is in progress; abort it first")
        try:
            plan, path = find_plan(plan_name, self.lab, files=False)
            register = (
                load_standards(self.lab.standards) if self.lab.standards else StandardsRegister()
            )
            today = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).date()
            plan = order.applied(plan, self.lab, register, today)
            load_procedure(plan.procedure, self.lab).settings(plan.settings, str(path))
        except ConfigError as exc:
            raise Refused(f"plan {plan_name}: {_without_files(exc)}") from None
        except OrderRefused as exc:
            raise Refused(f"plan {plan_name}: {exc}") from None
        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        used = {*plan.instruments.values(), *(u.instrument for u in plan.uuts)}
        await monitor.lend(used)  # the run's own links alone on those ports
        views = (MqttProgress(self.link),) if self.link else ()
        progress = Progresses(*views, self.live, self.bench)
        runner = Runner(session, register, progress)
        self._runner = runner
        self._run = asyncio.create_task(
            runner.start(plan, str(path), on_started=started.set_result, requested_by=requested_by)
        )
        self._run.add_done_callback(lambda _: monitor.paused.difference_update(used))
        self._run.add_done_callback(lambda _: self.live.changes.bump())
        waiting: set[asyncio.Future[Any]] = {self._run, started}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if started in done:
            self._run_id = started.result()
            return self._run_id
        failure = self._run.exception()
        why = _without_files(failure) if isinstance(failure, ConfigError) else str(failure)
        raise Refused(f"the run did not start: {why}")

    async def abort_run(self, run: str, reason: str, who: str) -> None:
        """Ask the run in progress to stop (safely, by the runner)."""
        printable(reason=reason)
        if self._stopping:
            raise Refused("the agent is stopping")
        if run != self._run_id or not self.running:
            raise Refused(f"run {run!r} is not running in this agent")
        assert self._session is not None
        await self._session.journal.request_abort(run, f"{reason}; requested by {who}")

    def answer_prompt(self, prompt: str, answer: str, who: str, via: str) -> None:
        """Answer an open operator prompt; the first answer from any channel wins."""
        if self._stopping:
            raise Refused("the agent is stopping")
        self.prompter.answer(prompt, answer, who, via)

    def acknowledge_alarm(self, alarm: str, who: str) -> None:
        if self._stopping:
            raise Refused("the agent is stopping")
        if self._alarms is None:
            raise Refused("the agent is still starting")
        try:
            self._alarms.acknowledge(alarm, who)
        except (KeyError, ValueError) as exc:
            raise Refused(str(exc).strip("'\"")) from None

    @property
    def active_alarms(self) -> list[str]:
        return self._alarms.active if self._alarms is not None else []

    @property
    def acknowledged_alarms(self) -> dict[str, str]:
        return self._alarms.acknowledged if self._alarms is not None else {}

    @property
    def instrument_states(self) -> list[InstrumentState]:
        return list(self._monitor.states.values()) if self._monitor is not None else []

    async def _stop_run(self, reason: str) -> None:
        if self._run is None or self._run.done() or self._session is None:
            return
        try:
            await self._session.journal.request_abort(self._run_id, reason)
        except JournalError:  # a full disk: abort it in this process, safely, all the same
            if self._runner is not None:
                self._runner.abort(reason)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(self._run), 60)

    # -- standards ----------------------------------------------------------------------------

    async def _anchor_streams(self, stop: asyncio.Event) -> None:
        """Anchor the reading streams every ``agent.anchor_interval`` until stop (the last
        anchor is made by ``run`` once the monitor has stopped, before the sinks drain)."""
        while not stop.is_set():
            await self._anchor()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.clock.to_real(self.lab.agent.anchor_interval)):
                    await stop.wait()

    async def _anchor(self) -> None:
        """Anchor the streams in the journal (signed where the lab signs) and retained on
        MQTT, outside the bench."""
        assert self._session is not None
        journal = self._session.journal
        try:
            await journal.flush()
            made = await anchor(journal, self._anchor_signer, self._anchored)
        except JournalError:  # the journal cannot write: anchored again once it can
            return
        if made is not None:
            self._anchored, payload = made
            if self.link is not None:
                await self.link.publish_soon(
                    self.link.topic("agent", "anchor"), payload, retain=True
                )

    def _load_anchor_signer(self, journal: Journal) -> None:
        if self.lab.signing is None:
            return
        try:
            self._anchor_signer = load_signer(self.lab.signing, self.clock.now())
        except SigningError as exc:
            journal.event(EventKind.STREAM_ANCHOR_UNSIGNED, f"anchors are not signed: {exc}")

    async def _watch_due_dates(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.check_due_dates()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.clock.to_real(self.lab.agent.due_check_interval)):
                    await stop.wait()

    def check_due_dates(self) -> None:
        assert self._session is not None
        journal: Journal = self._session.journal
        if self.lab.standards is None:
            return
        try:
            register = load_standards(self.lab.standards)
        except ConfigError as exc:
            journal.event(EventKind.STANDARDS_UNREADABLE, str(exc.problems[0]), Severity.ERROR)
            return
        today = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).date()
        warn = self.lab.agent.due_warning_days
        for standard in register.standards:
            left = days_until_due(standard, today)
            due = standard.certificate.due
            if left < 0:
                journal.event(
                    EventKind.STANDARD_OVERDUE,
                    f"{standard.id} was due {due} ({-left} days ago): do not use it",
                    Severity.ERROR,
                    standard.id,
                )
            elif left <= warn:
                journal.event(
                    EventKind.STANDARD_DUE_SOON,
                    f"{standard.id} is due in {left} days ({due}): book its calibration",
                    Severity.WARNING,
                    standard.id,
                )
