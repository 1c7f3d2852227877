"""The context a procedure runs in: the small API every calibration script is written
against (get an instrument, set a point, wait for stability, take readings, ask the operator,
check a standard, record a point)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from daq.core.clock import Clock
from daq.core.prompts import Action, Prompter, Question
from daq.core.reading import Reading, Status
from daq.core.units import convert
from daq.engine.plan import Environment, Plan, Uut
from daq.engine.record import Point
from daq.instruments import build_driver
from daq.journal import EventKind, Journal, Severity
from daq.metrology.budget import Budget
from daq.metrology.errors import MetrologyError
from daq.metrology.judgement import Judgement, judge
from daq.session import LabSession
from daq.stability import StabilityCriteria, StabilityTrace, Verdict, wait_until_stable
from daq.standards import Standard, StandardsRegister, Use, check_use
from drivers.base import Driver

T = TypeVar("T")

_CONDITIONS = {"temperature": "°C", "humidity": "%", "pressure": "hPa"}
"""The quantities an environment monitor reports, in the units ``Environment`` states."""


class PlanError(Exception):
    """The plan does not fit the lab or the procedure (a missing instrument or standard)."""


class Progress(Protocol):
    """Where a run reports what it is doing (the terminal, MQTT)."""

    def begin(self, run: str, title: str, total: int, done: int) -> None:
        """The run starts or resumes: ``done`` of its ``total`` points are committed."""
        ...

    def point(self, label: str) -> None: ...

    def status(self, text: str) -> None: ...

    def sample(self, reading: Reading, verdict: Verdict | None) -> None: ...

    def completed(self, point: Point) -> None: ...


class Context:
    def __init__(
        self,
        *,
        run_id: str,
        plan: Plan,
        session: LabSession,
        register: StandardsRegister,
        done: dict[str, Point],
        progress: Progress,
    ) -> None:
        self.run_id = run_id
        self.plan = plan
        self.session = session
        self.register = register
        self.progress = progress
        self._done = done
        self._seq = len(done)
        self._drivers: dict[str, Driver[Any, Any]] = {}
        self.points: list[Point] = list(done.values())
        """Every point of the run so far, in order (resumed ones first)."""
        self.conditions: list[dict[str, Any]] = []
        """The laboratory conditions measured during the run by the plan's monitors."""

    @property
    def clock(self) -> Clock:
        return self.session.clock

    @property
    def journal(self) -> Journal:
        return self.session.journal

    @property
    def prompter(self) -> Prompter:
        return self.session.prompter

    @property
    def uuts(self) -> list[Uut]:
        return self.plan.uuts

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).date()

    # -- instruments and standards --------------------------------------------------------

    def driver(self, instrument_id: str) -> Driver[Any, Any]:
        """The driver of a lab-file instrument (one per run, opened on first use)."""
        if instrument_id not in self._drivers:
            found = [i for _, i in self.session.lab.instruments() if i.id == instrument_id]
            if not found:
                raise PlanError(f"the plan uses {instrument_id!r}, which the lab file lacks")
            self._drivers[instrument_id] = build_driver(found[0], self.clock, self.prompter)
        return self._drivers[instrument_id]

    def instrument(self, name: str, role: type[T]) -> T:
        """The instrument the plan assigns to ``name``, checked to play ``role``."""
        try:
            instrument_id = self.plan.instruments[name]
        except KeyError:
            raise PlanError(
                f"the plan names no instrument for {name!r} (add instruments: {{{name}: ID}})"
            ) from None
        return self.as_role(instrument_id, role)

    def as_role(self, instrument_id: str, role: type[T]) -> T:
        driver = self.driver(instrument_id)
        if not isinstance(driver, role):
            raise PlanError(f"{instrument_id} ({driver.family}) cannot act as a {role.__name__}")
        return driver

    @property
    def drivers(self) -> list[Driver[Any, Any]]:
        """Every driver the run has used (the runner makes sources safe and closes them)."""
        return list(self._drivers.values())

    def standard(self, name: str) -> Standard:
        try:
            standard_id = self.plan.standards[name]
        except KeyError:
            raise PlanError(
                f"the plan names no standard for {name!r} (add standards: {{{name}: ID}})"
            ) from None
        return self.register.standard(standard_id)

    def use_standard(self, standard: Standard, value: float, unit: str) -> Use:
        """Check the standard may be used for ``value`` today (refuses unless overridden)."""
        use = check_use(standard, value, unit, self.today(), self.plan.overrides.get(standard.id))
        if use.override is not None:
            self.journal.event(
                EventKind.STANDARD_OVERRIDE,
                f"{standard.id} used under override by {use.override.by} "
                f"({use.override.reason}): {'; '.join(use.problems)}",
                Severity.WARNING,
                run=self.run_id,
            )
        return use

    # -- measuring ------------------------------------------------------------------------

    async def environment(self) -> Environment:
        """The laboratory conditions now: the plan's statement, with each quantity the
        plan's monitors measure (temperature °C, humidity %, pressure hPa) replaced by its
        reading, journalled and kept for the result. An implausible measured value (a
        barometer in the wrong unit) is a PlanError naming the instrument."""
        stated = self.plan.environment
        if not stated.monitors:
            return stated
        measured: dict[str, float] = {}
        for instrument_id in stated.monitors:
            for reading in await self.driver(instrument_id).read():
                self.journal.record(reading, self.run_id)
                unit = _CONDITIONS.get(reading.quantity)
                if unit is None or reading.status is not Status.OK:
                    continue
                try:
                    measured[reading.quantity] = convert(reading.value, reading.unit, unit)
                except ValueError as exc:
                    raise PlanError(f"environment monitor {instrument_id}: {exc}") from None
        try:
            now = Environment.model_validate({**stated.model_dump(), **measured})
        except ValidationError as exc:
            problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise PlanError(
                f"environment monitors {', '.join(stated.monitors)}: {problems}"
            ) from None
        self.conditions.append({"timestamp": self.clock.now(), **measured})
        return now

    async def read(self, read: Callable[[], Awaitable[Reading]]) -> Reading:
        """One reading, journalled and shown."""
        reading = await read()
        self.journal.record(reading, self.run_id)
        self.progress.sample(reading, None)
        return reading

    async def readings(
        self, read: Callable[[], Awaitable[Reading]], count: int, interval: float = 1.0
    ) -> list[Reading]:
        """``count`` readings ``interval`` process seconds apart."""
        taken = []
        for index in range(count):
            if index:
                await self.clock.sleep(interval)
            taken.append(await self.read(read))
        return taken

    async def wait_stable(
        self,
        what: str,
        read: Callable[[], Awaitable[Reading]],
        criteria: StabilityCriteria | None = None,
    ) -> StabilityTrace:
        """Wait until ``read`` is stable by the plan's criteria (or ``criteria``)."""
        chosen = criteria or self.plan.stability
        if chosen is None:
            raise PlanError("the plan gives no stability criteria (add stability: ...)")
        self.progress.status(f"waiting for {what} to be stable")

        def seen(reading: Reading, verdict: Verdict) -> None:
            self.journal.record(reading, self.run_id)
            self.progress.sample(reading, verdict)

        return await wait_until_stable(read, chosen, self.clock, seen)

    async def hold(self, seconds: float, why: str) -> None:
        self.progress.status(f"{why}: holding {seconds:g} s")
        await self.clock.sleep(seconds)

    async def ask(self, text: str, instrument: str = "", action: Action | None = None) -> None:
        """Have the operator do something (or check it) and confirm."""
        self.progress.status(text)
        self.journal.event(
            EventKind.OPERATOR_PROMPT, text, instrument=instrument or None, run=self.run_id
        )
        await self.prompter.ask(Question(instrument or "procedure", text, action=action))

    # -- points ---------------------------------------------------------------------------

    def judge(
        self,
        budget: Budget,
        *,
        nominal: float,
        at: float,
        each: dict[str, float] | None = None,
        bounded: dict[str, float] | None = None,
    ) -> Judgement:
        """The error modelled by ``budget`` judged at the test point ``nominal`` against the
        plan's tolerance, rule, CMC (at ``at``, the measured value) and coverage probability;
        ``each`` and ``bounded`` as in ``daq.metrology.judgement.judge``. A tolerance that
        cannot be evaluated at the point is a PlanError naming it."""
        plan = self.plan
        try:
            return judge(
                budget,
                plan.tolerance,
                plan.decision_rule,
                nominal=nominal,
                at=at,
                cmc=plan.cmc,
                probability=plan.coverage_probability,
                each=each,
                bounded=bounded,
            )
        except MetrologyError as exc:
            raise PlanError(f"{nominal:g} {budget.unit}: {exc}") from None

    def done(self, key: str) -> Point | None:
        """The point already committed under ``key`` (when resuming), else None."""
        return self._done.get(key)

    def start_point(self, label: str) -> None:
        self.progress.point(label)

    async def record(self, point: Point) -> Point:
        """Commit a complete point; an out-of-tolerance one is an event at once."""
        if point.key in self._done:
            raise ValueError(f"point {point.key!r} is recorded twice")
        point = point.model_copy(update={"timestamp": self.clock.now()})
        self._seq += 1
        await self.journal.commit_point(self.run_id, self._seq, point.key, point.model_dump_json())
        self._done[point.key] = point
        self.points.append(point)
        for warning in (point.decision or {}).get("warnings", []):
            self.journal.event(
                EventKind.LOW_TUR if "uncertainty ratio" in warning else EventKind.DECISION_WARNING,
                f"{point.key}{f' ({point.uut})' if point.uut else ''}: {warning}",
                Severity.WARNING,
                instrument=point.uut,
                run=self.run_id,
            )
        outcome = point.outcome
        if outcome is not None and not outcome.conforms:
            decision = point.decision or {}
            check = decision.get("check", "error")
            self.journal.event(
                EventKind.OUT_OF_TOLERANCE,
                f"{point.key}{f' ({point.uut})' if point.uut else ''}"
                f"{'' if check == 'error' else f' {check}'}: {outcome.value}, "
                f"{decision.get('value'):.6g} {point.unit} against "
                f"[{decision.get('tolerance_lower'):.6g}, {decision.get('tolerance_upper'):.6g}] "
                f"by {decision.get('excess'):.3g} {point.unit} under {decision.get('rule')}",
                Severity.WARNING,
                instrument=point.uut,
                run=self.run_id,
            )
            await self.journal.flush()
        self.progress.completed(point)
        return point
