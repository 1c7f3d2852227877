"""Who was measured, and with what: the identity (maker, model, serial, firmware) of every
instrument a run uses, read when the run starts and again at each resume, before any point.

The identities are chained in the run's record (kind ``identities``: ``{"read": "start" or
"resume N", "instruments": [InstrumentIdentity, ...]}``) and listed in the result document
(``instruments``). What is checked, and why:

- **A UUT that is its instrument** (no ``channel``), whose driver reports serial numbers, is
  held against the plan's ``serial`` (letter case and blanks around do not count): another
  serial refuses the run before any point is measured (status ``refused``; the message names
  both serials and how to override), unless the UUT has a ``serial_override`` (``daq run
  --accept-serial UUT --by NAME --reason TEXT``), which is kept in the result and recorded as
  a ``serial_override`` event. When the plan gives no serial, the reported one is recorded
  (and stands in the result's ``uuts``).
- **A UUT that fails to identify** is refused when the plan gives its serial: it cannot be
  shown to be the item the plan names (the same override accepts it). Without a serial in the
  plan nothing was asked to be verified: it is recorded as unknown, with an
  ``identity_unknown`` warning.
- **On resume** a UUT must report the serial it reported when the run started, override or
  not: the points already committed are of that item, and another item needs a run of its
  own.
- **A probe on a readout's channel** is not its instrument: the readout reports its own
  identity, not the probe's, so the readout is recorded (``readout_of``) and nothing is
  checked; the probe's identity is what the plan states for it.
- **Instruments read by hand** (the ``operator`` link: driver ``manual``) cannot report one:
  a UUT read by hand is recorded as stated in the plan, one in any other role as stated in the
  lab file (what the manual driver's ``identify()`` returns); neither is checked.
- **A driver whose serial is not one** (``serial_reported = False``: the int16 transmitter
  map gives its device address) is recorded without a serial and never checked.
- **Any other instrument** (references, sources, controllers, readouts) that fails to
  identify is recorded as unknown with an ``identity_unknown`` warning and the run goes on:
  a reference's traceability is its certificate in the standards register, checked before
  every point, not what the instrument says about itself; and an instrument that really does
  not answer fails the run at its first reading anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from daq.core.errors import InstrumentError
from daq.engine.context import Context
from daq.engine.document import InstrumentIdentity
from daq.engine.plan import Plan, Uut
from daq.journal import EventKind, Severity
from drivers.base import Driver

RECORD_KIND = "identities"
"""Kind of the chained record that holds them."""
REPORTED = "reported by the instrument"


class IdentityRefused(Exception):
    """A UUT is not shown to be the item the plan names, and no one accepted it."""

    def __init__(self, message: str, instruments: list[InstrumentIdentity]) -> None:
        super().__init__(message)
        self.instruments = instruments
        """Every identity read, the refused ones included."""


@dataclass
class _Use:
    """What one lab-file instrument is in the plan."""

    roles: list[str] = field(default_factory=list)
    uuts: list[Uut] = field(default_factory=list)
    readout_of: list[str] = field(default_factory=list)


def _uses(plan: Plan) -> dict[str, _Use]:
    """Every instrument of the plan, UUTs' first, in the order the plan names them."""
    uses: dict[str, _Use] = {}
    for uut in plan.uuts:
        use = uses.setdefault(uut.instrument, _Use())
        if uut.channel is None:
            use.uuts.append(uut)
        else:
            use.readout_of.append(uut.id)
    for name, instrument in plan.instruments.items():
        uses.setdefault(instrument, _Use()).roles.append(name)
    return uses


async def identify_instruments(context: Context, resumed: int = 0) -> list[InstrumentIdentity]:
    """Read, check and record the identity of every instrument of the plan (drivers from
    ``context``, so the run uses and closes the same ones); IdentityRefused once all are
    recorded when a UUT is not shown to be the plan's item."""
    journal, run_id = context.journal, context.run_id
    at_start = await _serials_at_start(context) if resumed else {}
    found: list[InstrumentIdentity] = []
    refusals: list[str] = []
    for instrument_id, use in _uses(context.plan).items():
        driver = context.driver(instrument_id)
        if driver.link == "operator":
            found.extend(await _stated(driver, use))
            continue
        entry = await _reported(driver, use)
        if entry.source == "unknown":
            journal.event(
                EventKind.IDENTITY_UNKNOWN,
                f"{instrument_id}: {entry.problem}; its identity is recorded as unknown",
                Severity.WARNING,
                instrument=instrument_id,
                run=run_id,
            )
        for uut in use.uuts:
            problem, may_override = _check(entry, uut, at_start.get(uut.id))
            if not problem:
                continue
            if may_override and uut.serial_override is not None:
                override = uut.serial_override
                entry = entry.model_copy(update={"problem": problem, "serial_override": override})
                journal.event(
                    EventKind.SERIAL_OVERRIDE,
                    f"{problem}; accepted by {override.by} ({override.reason})",
                    Severity.WARNING,
                    instrument=uut.id,
                    run=run_id,
                )
            elif may_override:
                refusals.append(
                    f"{problem}: put the plan's item on the bench or correct the plan's serial; "
                    f"if this is the right item, run with --accept-serial {uut.id} "
                    '--by "Full Name" --reason "why" (or give the UUT '
                    "serial_override: {by: ..., reason: ...} in the plan)"
                )
            else:
                refusals.append(problem)
        found.append(entry)
    journal.chain(
        run_id,
        RECORD_KIND,
        {
            "read": f"resume {resumed}" if resumed else "start",
            "instruments": [e.model_dump(mode="json") for e in found],
        },
    )
    if refusals:
        raise IdentityRefused("; ".join(refusals), found)
    return found


async def _reported(driver: Driver[Any, Any], use: _Use) -> InstrumentIdentity:
    where = {
        "id": driver.id,
        "driver": driver.family,
        "roles": use.roles,
        "uuts": [u.id for u in use.uuts],
        "readout_of": use.readout_of,
    }
    try:
        identity = await driver.identify()
    except InstrumentError as exc:
        return InstrumentIdentity(**where, source="unknown", problem=f"did not identify: {exc}")
    return InstrumentIdentity(
        **where,
        manufacturer=identity.manufacturer,
        model=identity.model,
        serial=identity.serial if driver.serial_reported else "",
        firmware=identity.firmware,
        source=REPORTED,
    )


async def _stated(driver: Driver[Any, Any], use: _Use) -> list[InstrumentIdentity]:
    """An instrument read by hand: the plan's statement for its UUTs, else the lab file's."""
    entries = [
        InstrumentIdentity(
            id=driver.id,
            driver=driver.family,
            uuts=[uut.id],
            manufacturer=uut.manufacturer,
            model=uut.model,
            serial=uut.serial,
            source="stated in the plan",
        )
        for uut in use.uuts
    ]
    if use.roles or use.readout_of:
        identity = await driver.identify()  # the lab file's settings: the operator is not asked
        entries.append(
            InstrumentIdentity(
                id=driver.id,
                driver=driver.family,
                roles=use.roles,
                readout_of=use.readout_of,
                manufacturer=identity.manufacturer,
                model=identity.model,
                serial="" if identity.serial == "-" else identity.serial,
                firmware=identity.firmware,
                source="stated in the lab file",
            )
        )
    return entries


def _check(entry: InstrumentIdentity, uut: Uut, at_start: str | None) -> tuple[str, bool]:
    """What keeps ``uut`` from being shown to be its item ("" if nothing), and whether a
    person's override may accept it."""
    if at_start and entry.serial and not _same(entry.serial, at_start):
        return (
            f"UUT {uut.id}: {entry.id} reports serial {entry.serial}, but the run started on "
            f"serial {at_start}: its committed points are of that item; put it back, or start "
            "a new run for this one",
            False,
        )
    if entry.source == "unknown":
        if not (uut.serial or at_start):
            return "", True
        expected = (
            f"serial {uut.serial} as the plan states"
            if uut.serial
            else f"serial {at_start}, the item the run started on"
        )
        return (
            f"UUT {uut.id}: {entry.id} {entry.problem}, so it is not shown to be {expected}",
            True,
        )
    if uut.serial and entry.serial and not _same(entry.serial, uut.serial):
        return (
            f"UUT {uut.id}: {entry.id} reports serial {entry.serial}, the plan states "
            f"serial {uut.serial}",
            True,
        )
    return "", True


def _same(reported: str, stated: str) -> bool:
    """Serials compared as a person would: blanks around and letter case do not count."""
    return reported.strip().casefold() == stated.strip().casefold()


async def _serials_at_start(context: Context) -> dict[str, str]:
    """UUT id -> the serial its instrument reported when the run started."""
    for link in await context.journal.chain_links(context.run_id):
        if link.kind == RECORD_KIND:
            serials: dict[str, str] = {}
            for entry in json.loads(link.content)["instruments"]:
                if entry["source"] == REPORTED and entry["serial"]:
                    serials.update({uut: entry["serial"] for uut in entry["uuts"]})
            return serials
    return {}


def with_reported_serials(
    uuts: list[dict[str, Any]], instruments: list[InstrumentIdentity]
) -> list[dict[str, Any]]:
    """The plan's UUTs, a serial the plan leaves empty filled in from the UUT's instrument."""
    reported = {
        uut: entry.serial
        for entry in instruments
        if entry.source == REPORTED and entry.serial
        for uut in entry.uuts
    }
    return [
        {**uut, "serial": reported[uut["id"]]}
        if not uut.get("serial") and uut["id"] in reported
        else uut
        for uut in uuts
    ]
