"""What the person starting a run adds to its plan: the instrument calibrated instead of
the plan's UUT, the customer and the date the item was received, the item's serial, and
overrides (a standard the register refuses, a UUT reporting another serial) with the name
of the person taking responsibility and the reason. `daq run`, the MQTT command and the
console apply them here, so each front end is held to the same rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from daq.config import LabConfig
from daq.engine.plan import Plan
from daq.standards import Override


class OrderRefused(Exception):
    """The plan cannot be changed as asked; the message says why."""


@dataclass(frozen=True)
class RunOrder:
    uut: str | None = None
    """A lab-file instrument calibrated instead of the plan's UUT's."""
    customer: str = ""
    received: dt.date | None = None
    serial: str = ""
    """The item's serial (of the plan's first UUT), when the plan does not state it."""
    serials: dict[str, str] = field(default_factory=dict)
    """Each UUT's serial by its id, where the plan does not state it (a run of several)."""
    override: list[str] = field(default_factory=list)
    """Standards used despite a refusal."""
    accept_serial: list[str] = field(default_factory=list)
    """UUTs calibrated although their instrument reports another serial (or none)."""
    by: str = ""
    reason: str = ""

    def applied(self, plan: Plan, lab: LabConfig) -> Plan:
        plan = with_overrides(plan, self.override, self.by, self.reason)
        plan = with_uut(plan, self.uut, lab)
        plan = with_serial_overrides(plan, self.accept_serial, self.by, self.reason)
        serials = {plan.uuts[0].id: self.serial} if self.serial.strip() else {}
        return with_item(plan, self.customer, self.received, serials | self.serials)


def with_overrides(plan: Plan, standards: list[str], by: str | None, reason: str | None) -> Plan:
    if not standards:
        return plan
    if not by or not reason:
        raise OrderRefused(
            "an override needs the name of the person taking responsibility and a reason"
        )
    overrides = dict(plan.overrides)
    overrides.update({s: Override(by=by, reason=reason) for s in standards})
    return plan.model_copy(update={"overrides": overrides})


def with_serial_overrides(plan: Plan, uuts: list[str], by: str | None, reason: str | None) -> Plan:
    if not uuts:
        return plan
    unknown = sorted(set(uuts) - {u.id for u in plan.uuts})
    if unknown:
        raise OrderRefused(
            f"--accept-serial {', '.join(unknown)}: no such UUT in plan {plan.id}; UUTs: "
            f"{', '.join(u.id for u in plan.uuts)}"
        )
    if not by or not reason:
        raise OrderRefused(
            "accepting a UUT's serial needs the name of the person taking responsibility and "
            "a reason"
        )
    accepted = Override(by=by, reason=reason)
    return plan.model_copy(
        update={
            "uuts": [
                u.model_copy(update={"serial_override": accepted}) if u.id in uuts else u
                for u in plan.uuts
            ]
        }
    )


def with_uut(plan: Plan, uut: str | None, lab: LabConfig) -> Plan:
    if uut is None:
        return plan
    if uut not in {i.id for _, i in lab.instruments()}:
        raise OrderRefused(f"--uut {uut}: no such instrument in the lab file")
    # the plan's serial names the plan's item: another instrument reports its own, recorded
    # instead (a probe on a channel keeps its serial: the readout is not the item)
    moved = {"serial": "", "serial_override": None}
    return plan.model_copy(
        update={
            "uuts": [
                u.model_copy(
                    update={"instrument": uut}
                    | (moved if u.channel is None and u.instrument != uut else {})
                )
                for u in plan.uuts
            ]
        }
    )


def with_item(plan: Plan, customer: str, received: dt.date | None, serials: dict[str, str]) -> Plan:
    """The customer and receipt date of this item, and each UUT's serial where the plan
    has none (a serial the plan states cannot be changed here)."""
    update: dict[str, object] = {}
    if customer.strip():
        update["customer"] = customer.strip()
    if received is not None:
        update["received"] = received
    given = {uut: serial.strip() for uut, serial in serials.items() if serial.strip()}
    unknown = sorted(set(given) - {u.id for u in plan.uuts})
    if unknown:
        raise OrderRefused(
            f"serial of {', '.join(unknown)}: no such UUT in plan {plan.id}; UUTs: "
            f"{', '.join(u.id for u in plan.uuts)}"
        )
    for uut in plan.uuts:
        if uut.serial and given.get(uut.id, uut.serial) != uut.serial:
            raise OrderRefused(
                f"UUT {uut.id}: the plan names serial {uut.serial}, not {given[uut.id]}"
            )
    if given:
        update["uuts"] = [
            u.model_copy(update={"serial": given[u.id]}) if u.id in given else u for u in plan.uuts
        ]
    return plan.model_copy(update=update) if update else plan
