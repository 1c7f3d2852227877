"""Running a plan: start or resume a run, execute its procedure, stop safely, record it all.

Every completed point is in the journal before the next begins, so after a crash
``resume`` continues at the first incomplete point. Whatever ends a run (done, Ctrl-C,
SIGTERM, an abort request from another process, an instrument failure) the sources it used
are put in their safe state (heater off, vented) and the run's status says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from daq import __version__
from daq.config import ConfigError, LabConfig
from daq.core.errors import InstrumentError
from daq.core.plugins import Group, registered
from daq.core.prompts import PromptUnavailable
from daq.engine.checks import check_plan
from daq.engine.context import Context, PlanError, Progress
from daq.engine.document import (
    InstrumentIdentity,
    ProcedureInfo,
    RunDocument,
    RunInfo,
    event_records,
    standards_used,
    verdict,
)
from daq.engine.identity import IdentityRefused, identify_instruments, with_reported_serials
from daq.engine.loader import Procedure, load_procedure
from daq.engine.plan import Plan
from daq.engine.record import Point
from daq.integrity import RECORD_FORMAT, run_subject
from daq.journal import EventKind, RunRow, RunStatus, Severity
from daq.journal.records import RESUMABLE
from daq.presence import Presence, PresenceHeld
from daq.session import LabSession
from daq.signing import Signer, SigningError, load_signer
from daq.stability import NotStable
from daq.standards import StandardRefused, StandardsRegister
from daq.takeover import begin_signing

log = logging.getLogger("daq.engine")

ABORT_POLL = 0.5
"""Real seconds between looks at the journal for an abort request."""
SAFE_STATE_TIMEOUT = 30.0


class RunRefused(Exception):
    """A run cannot start or resume (unknown run, already completed, procedure changed)."""


def _run_id(plan: Plan, started: float) -> str:
    stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{plan.id}-{stamp}"


class Runner:
    def __init__(
        self,
        session: LabSession,
        register: StandardsRegister,
        progress: Progress,
    ) -> None:
        self.session = session
        self.register = register
        self.progress = progress
        self._abort_reason: str | None = None
        self._work: asyncio.Future[None] | None = None
        self._signer: Signer | None = None

    def _load_signer(self) -> None:
        """The lab's key, before anything is recorded: a lab that signs its records never
        records a run it cannot sign."""
        signing = self.session.lab.signing
        if signing is None:
            return
        try:
            self._signer = load_signer(signing, self.session.clock.now())
        except SigningError as exc:
            raise RunRefused(f"cannot sign the run's record: {exc}") from None

    async def _begin_signing(self) -> None:
        """The lab's first signed run takes over the journal's earlier records."""
        signing = self.session.lab.signing
        if self._signer is None or signing is None:
            return
        await begin_signing(self.session.journal, signing, self._signer)

    async def start(
        self,
        plan: Plan,
        plan_file: str,
        on_started: Callable[[str], None] | None = None,
        requested_by: dict[str, str] | None = None,
    ) -> RunDocument:
        """Run ``plan``; ``on_started`` hears the new run's id as soon as it is recorded;
        ``requested_by`` (a remote command's sender) is kept in the run's chained setup."""
        problems = check_plan(plan, plan_file, self.session.lab, self.register)
        if problems:
            raise ConfigError(problems)
        procedure = load_procedure(plan.procedure, self.session.lab)
        settings = procedure.settings(plan.settings, plan_file)
        self._load_signer()
        journal = self.session.journal
        await self._begin_signing()
        started = self.session.clock.now()
        setup = {
            "plan": plan.model_dump(mode="json"),
            "plan_file": plan_file,
            "procedure": _procedure_info(procedure).model_dump(),
            "simulated": self.session.simulation is not None,
            "resumed": 0,
            "record_format": RECORD_FORMAT,
        }
        if requested_by is not None:
            setup["requested_by"] = requested_by
        run_id = await journal.start_run(
            RunRow(
                _run_id(plan, started),
                plan.id,
                procedure.name,
                started,
                None,
                RunStatus.RUNNING,
                "",
                None,
                json.dumps(setup),
            )
        )
        await journal.open_chain(run_id)
        journal.chain(run_id, "setup", setup)
        journal.event(EventKind.RUN_STARTED, f"{plan.title} ({plan.id})", run=run_id)
        if on_started is not None:
            on_started(run_id)
        with self._presence(run_id):
            return await self._execute(run_id, plan, procedure, settings, setup, {})

    async def resume(self, run_id: str) -> RunDocument:
        journal = self.session.journal
        row = await journal.run(run_id)
        if row is None:
            raise RunRefused(f"no run {run_id!r} in {journal.path}; `daq runs` lists them")
        if row.status not in RESUMABLE:
            raise RunRefused(f"run {run_id} is {row.status}: only an unfinished run resumes")
        setup = json.loads(row.setup)
        plan = Plan.model_validate(setup["plan"])
        procedure = load_procedure(row.procedure, self.session.lab)
        recorded = setup["procedure"]
        if (procedure.version, procedure.digest) != (recorded["version"], recorded["digest"]):
            raise RunRefused(
                f"procedure {procedure.name} changed since run {run_id} started (version "
                f"{recorded['version']} -> {procedure.version}); its points would not be "
                "comparable: start a new run"
            )
        settings = procedure.settings(plan.settings, setup["plan_file"])
        self._load_signer()
        await self._begin_signing()
        done = {key: Point.model_validate_json(data) for key, data in await journal.points(run_id)}
        setup["resumed"] = setup.get("resumed", 0) + 1
        await journal.set_run_status(run_id, RunStatus.RUNNING)
        await journal.open_chain(run_id)
        journal.event(
            EventKind.RUN_RESUMED, f"resumed after {len(done)} committed point(s)", run=run_id
        )
        with self._presence(run_id):
            return await self._execute(run_id, plan, procedure, settings, setup, done)

    async def _execute(
        self,
        run_id: str,
        plan: Plan,
        procedure: Procedure,
        settings: Any,
        setup: dict[str, Any],
        done: dict[str, Point],
    ) -> RunDocument:
        journal = self.session.journal
        context = Context(
            run_id=run_id,
            plan=plan,
            session=self.session,
            register=self.register,
            done=done,
            progress=self.progress,
        )
        keys = procedure.point_keys(settings, [u.id for u in plan.uuts])
        self.progress.begin(run_id, plan.title, len(keys), len(done))
        status, reason = RunStatus.COMPLETED, ""
        identities: list[InstrumentIdentity] = []
        work = asyncio.ensure_future(
            self._identify_and_run(
                context, procedure, settings, int(setup.get("resumed", 0)), identities
            )
        )
        self._work = work
        watcher = asyncio.ensure_future(self._watch_for_abort(run_id, work))
        interrupted: asyncio.CancelledError | None = None
        try:
            await work
        except asyncio.CancelledError as exc:
            if self._abort_reason is None:  # Ctrl-C cancels the whole program
                self._abort_reason = "interrupted by the operator (Ctrl-C)"
                interrupted = exc
            status, reason = RunStatus.ABORTED, self._abort_reason
        except (StandardRefused, IdentityRefused) as exc:
            status, reason = RunStatus.REFUSED, str(exc)
        except (InstrumentError, NotStable, PromptUnavailable, PlanError, KeyError) as exc:
            status, reason = RunStatus.ERROR, _describe(exc)
        except Exception as exc:  # a fault in the procedure: still stop safely and record it
            log.exception("procedure %s failed", procedure.name)
            status, reason = RunStatus.ERROR, f"procedure {procedure.name} failed: {_describe(exc)}"
        finally:
            watcher.cancel()
            self._work = None
            await self._make_safe(context, run_id)
        if status != RunStatus.COMPLETED:
            severity = Severity.WARNING if status == RunStatus.ABORTED else Severity.ERROR
            journal.event(EventKind(f"run_{status}"), reason, severity, run=run_id)
        else:
            journal.event(EventKind.RUN_COMPLETED, f"{len(context.points)} point(s)", run=run_id)
        await journal.flush()
        finished = self.session.clock.now()
        document = await self._document(
            run_id, plan, procedure, setup, context.points, status, reason, finished, identities
        )
        if context.conditions:
            document.environment["measured"] = context.conditions
        await self._seal(run_id, document)
        await journal.finish_run(
            run_id,
            status,
            reason,
            finished,
            document.model_dump_json(),
            (document.result.conforms, len(document.result.failures)),
        )
        if interrupted is not None:
            raise interrupted
        return document

    async def _seal(self, run_id: str, document: RunDocument) -> None:
        """The result document becomes the last record of the run, its hash the run's final
        hash (stated in the document), signed with the lab's key."""
        journal = self.session.journal
        link = journal.chain(run_id, "document", json.loads(document.model_dump_json()))
        journal.close_chain(run_id)
        document.run.record_hash = link.hash
        if self._signer is not None:
            signed = self._signer.sign(run_subject(run_id), link.hash, self.session.clock.now())
            await journal.record_signature(signed)

    async def _identify_and_run(
        self,
        context: Context,
        procedure: Procedure,
        settings: Any,
        resumed: int,
        identities: list[InstrumentIdentity],
    ) -> None:
        """Every instrument identified (and the UUTs checked) before the first point."""
        self.progress.status("identifying the instruments")
        try:
            identities.extend(await identify_instruments(context, resumed))
        except IdentityRefused as exc:
            identities.extend(exc.instruments)  # the result shows what was on the bench
            raise
        await procedure.run(context, settings)

    @contextlib.contextmanager
    def _presence(self, run_id: str) -> Iterator[None]:
        """Hold the run's lock while it runs: `daq status` tells it from a run whose process
        died, and a second process cannot resume it at the same time."""
        try:
            with Presence(self.session.journal.path, f"run-{run_id}"):
                yield
        except PresenceHeld:
            raise RunRefused(f"run {run_id} is running in another process") from None

    def abort(self, reason: str) -> None:
        """Stop the running procedure safely (a signal handler may call this)."""
        if self._work is not None:
            self._abort(self._work, reason)

    def _abort(self, work: asyncio.Future[None], reason: str) -> None:
        if self._abort_reason is None:
            self._abort_reason = reason
        work.cancel()

    async def _watch_for_abort(self, run_id: str, work: asyncio.Future[None]) -> None:
        while not work.done():
            await asyncio.sleep(ABORT_POLL)
            row = await self.session.journal.run(run_id)
            if row is not None and row.abort_request:
                self._abort(work, f"aborted: {row.abort_request}")

    async def _make_safe(self, context: Context, run_id: str) -> None:
        """Sources to their safe state, then every link closed; failures are recorded."""
        for driver in context.drivers:
            safe_state = getattr(driver, "safe_state", None)
            if safe_state is None:
                continue
            try:
                await asyncio.wait_for(safe_state(), SAFE_STATE_TIMEOUT)
            except (TimeoutError, InstrumentError) as exc:
                self.session.journal.event(
                    EventKind.SAFE_STATE_FAILED,
                    f"{driver.id} could not be put in its safe state ({_describe(exc)}): "
                    "switch it off or vent it by hand",
                    Severity.ERROR,
                    instrument=driver.id,
                    run=run_id,
                )
            else:
                self.session.journal.event(
                    EventKind.SAFE_STATE,
                    f"{driver.id} in its safe state",
                    instrument=driver.id,
                    run=run_id,
                )
        for driver in context.drivers:
            with contextlib.suppress(Exception):
                await driver.close()

    async def _document(
        self,
        run_id: str,
        plan: Plan,
        procedure: Procedure,
        setup: dict[str, Any],
        points: list[Point],
        status: RunStatus,
        reason: str,
        finished: float,
        instruments: list[InstrumentIdentity],
    ) -> RunDocument:
        journal = self.session.journal
        row = await journal.run(run_id)
        assert row is not None
        lab = self.session.lab.lab
        return RunDocument(
            run=RunInfo(
                id=run_id,
                status=status,
                reason=reason,
                started=row.started,
                finished=finished,
                simulated=bool(setup.get("simulated")),
                resumed=int(setup.get("resumed", 0)),
            ),
            laboratory={"id": lab.id, "name": lab.name, "address": lab.address},
            software=software(procedure, plan, self.session.lab, simulated=setup.get("simulated")),
            plan=plan.model_dump(mode="json"),
            procedure=_procedure_info(procedure),
            customer=plan.customer,
            uuts=with_reported_serials([u.model_dump(mode="json") for u in plan.uuts], instruments),
            instruments=instruments,
            tolerance=plan.tolerance.describe(),
            decision_rule=plan.decision_rule.describe(),
            decision_risk=plan.decision_rule.risk(),
            coverage_probability=plan.coverage_probability,
            environment=plan.environment.model_dump(),
            standards=standards_used(points),
            points=points,
            result=verdict(points),
            events=event_records(await journal.events(run=run_id)),
        )


def software(
    procedure: Procedure, plan: Plan, lab: LabConfig, *, simulated: object
) -> dict[str, str]:
    """benchdaq's version and every plugin the run used, by distribution (ISO/IEC 17025
    7.11): the procedure's, the drivers' of its instruments and, simulated, their simulators'."""
    used = [procedure.plugin] if procedure.plugin is not None else []
    instruments = {*plan.instruments.values(), *(uut.instrument for uut in plan.uuts)}
    for instrument_id in sorted(instruments):
        family = lab.instrument(instrument_id).driver
        groups: list[Group] = ["drivers", "simulators"] if simulated else ["drivers"]
        used += [found for group in groups for found in registered(group).get(family, [])[:1]]
    plugins = {f"plugin {p.distribution}": p.version for p in used if not p.builtin}
    return {"name": "benchdaq", "version": __version__, **dict(sorted(plugins.items()))}


def _procedure_info(procedure: Procedure) -> ProcedureInfo:
    return ProcedureInfo(
        name=procedure.name,
        title=procedure.title,
        version=procedure.version,
        source=procedure.source,
        digest=procedure.digest,
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.strip("'\"") if isinstance(exc, KeyError) else text
