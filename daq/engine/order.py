"""What the person starting a run adds to its plan: the instrument calibrated instead of
the plan's UUT, the customer and the date the item was received, the item's serial, and
overrides (a standard the register refuses, a UUT reporting another serial) with the name
of the person taking responsibility and the reason. `daq run`, the MQTT command and the
console apply them here, so each front end is held to the same rules: an override names a
standard of the plan the register refuses today for a reason an override may waive
(``daq.standards.WAIVABLE``), and the UUT is never an instrument the plan's standards are
read through (a reference calibrated against itself always passes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from daq.config import LabConfig
from daq.engine.checks import self_referenced, standards_of
from daq.engine.plan import Plan
from daq.standards import Override, StandardsRegister, dated_problems

QUOTES = "'\""
"""Around a KeyError's message."""


class OrderRefused(Exception):
    """The plan cannot be changed as asked; the message says why."""


@dataclass(frozen=True)
class RunOrder:
    uut: str | None = None
    """A lab-file instrument calibrated instead of the plan's UUT's."""
    customer: str = ""
    customer_address: str = ""
    """The customer's address, printed with their name: another customer than the plan's
    never takes the plan's customer's address or e-mail."""
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

    def applied(
        self, plan: Plan, lab: LabConfig, register: StandardsRegister, today: dt.date
    ) -> Plan:
        """The plan as this run is to be made of it, or ``OrderRefused`` saying why not."""
        plan = with_overrides(plan, self.override, self.by, self.reason, lab, register, today)
        plan = with_uut(plan, self.uut, lab, register)
        plan = with_serial_overrides(plan, self.accept_serial, self.by, self.reason)
        serials = {plan.uuts[0].id: self.serial} if self.serial.strip() else {}
        plan = with_customer(plan, self.customer, self.customer_address)
        return with_item(plan, self.received, serials | self.serials)


def with_overrides(
    plan: Plan,
    standards: list[str],
    by: str | None,
    reason: str | None,
    lab: LabConfig,
    register: StandardsRegister,
    today: dt.date,
) -> Plan:
    """The plan with a person's override of each standard in ``standards``: each must be a
    standard of the plan that the register refuses today, for reasons an override may
    waive (a passed due date); a refusal no name can waive is refused here already."""
    if not standards:
        return plan
    if not by or not reason:
        raise OrderRefused(
            "an override needs the name of the person taking responsibility and a reason"
        )
    used = standards_of(plan, lab)
    for standard_id in standards:
        if standard_id not in used:
            raise OrderRefused(
                f"--override {standard_id}: plan {plan.id} uses no such standard; its standards: "
                f"{', '.join(sorted(used)) or 'none'}"
            )
        try:
            found = dated_problems(register.standard(standard_id), today)
        except KeyError as exc:
            raise OrderRefused(f"--override {standard_id}: {str(exc).strip(QUOTES)}") from None
        if not found:
            raise OrderRefused(
                f"--override {standard_id}: the register does not refuse it today; nothing "
                "to override"
            )
        standing = [p.text for p in found if not p.waivable]
        if standing:
            raise OrderRefused(
                f"--override {standard_id}: no override waives {'; '.join(standing)}"
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


def with_uut(plan: Plan, uut: str | None, lab: LabConfig, register: StandardsRegister) -> Plan:
    if uut is None:
        return plan
    if uut not in {i.id for _, i in lab.instruments()}:
        raise OrderRefused(f"--uut {uut}: no such instrument in the lab file")
    # the plan's serial names the plan's item: another instrument reports its own, recorded
    # instead (a probe on a channel keeps its serial: the readout is not the item)
    moved = {"serial": "", "serial_override": None}
    plan = plan.model_copy(
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
    if refused := self_referenced(plan, register, standards_of(plan, lab)):
        raise OrderRefused(f"--uut {uut}: " + "; ".join(refused))
    return plan


def with_customer(plan: Plan, customer: str, address: str) -> Plan:
    """Another customer than the plan's, with their own address (the plan's address and
    e-mail are its customer's, never printed under another name)."""
    name, address = customer.strip(), address.strip()
    if not name:
        if address:
            raise OrderRefused("a customer's address goes with the customer's name")
        return plan
    if name == plan.customer and not address:
        return plan
    update = {"customer": name, "customer_address": address, "customer_email": ""}
    return plan.model_copy(update=update)


def with_item(plan: Plan, received: dt.date | None, serials: dict[str, str]) -> Plan:
    """The receipt date of this item, and each UUT's serial where the plan has none (a
    serial the plan states cannot be changed here)."""
    update: dict[str, object] = {}
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
