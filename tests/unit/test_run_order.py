"""What the person starting a run adds to its plan, by the same rules from the CLI, MQTT and
the console: another instrument as the UUT (never the run's own reference), the customer,
receipt date and serial, and overrides only of a standard the register refuses today for a
reason an override may waive, with a name and a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from daq.config import load_lab
from daq.engine.checks import check_plan
from daq.engine.order import OrderRefused, RunOrder
from daq.engine.plan import Plan, find_plan
from daq.standards import load_standards

LAB = load_lab(Path(__file__).parents[2] / "config" / "lab.yaml")
assert LAB.standards is not None
REGISTER = load_standards(LAB.standards)
TODAY = dt.date(2026, 12, 4)
"""Every standard of the example register is in date."""
WEIGHTS_OVERDUE = dt.date(2028, 3, 1)
"""The example weights were due 2028-02-02."""


def plan(name: str = "balance") -> Plan:
    found, _ = find_plan(name, LAB, files=False)
    return found


def applied(order: RunOrder, to: Plan | None = None, today: dt.date = TODAY) -> Plan:
    return order.applied(to or plan(), LAB, REGISTER, today)


def test_customer_receipt_date_and_another_instrument() -> None:
    moved = applied(RunOrder(uut="readout-1", customer="Nhà máy A", received=dt.date(2026, 12, 1)))
    assert moved.customer == "Nhà máy A" and moved.received == dt.date(2026, 12, 1)
    [uut] = moved.uuts
    assert uut.instrument == "readout-1" and uut.serial == ""  # it reports its own


def test_a_serial_is_added_where_the_plan_has_none_and_never_contradicts_it() -> None:
    with pytest.raises(OrderRefused, match="names serial B207696838, not X1"):
        applied(RunOrder(serial="X1"))
    assert applied(RunOrder(uut="readout-1", serial="X1")).uuts[0].serial == "X1"


def test_overrides_need_a_name_and_a_reason() -> None:
    with pytest.raises(OrderRefused, match="name of the person taking responsibility"):
        applied(RunOrder(override=["weight-100g-e2"], by="An Nguyen"), today=WEIGHTS_OVERDUE)
    with pytest.raises(OrderRefused, match="no such UUT in plan balance"):
        applied(RunOrder(accept_serial=["nope"], by="A", reason="B"))
    with pytest.raises(OrderRefused, match="no such instrument"):
        applied(RunOrder(uut="nope"))


def test_a_passed_due_date_may_be_overridden_by_a_named_person() -> None:
    order = RunOrder(override=["weight-100g-e2"], by="An Nguyen", reason="recalibrated, "
                     "certificate in the post")  # fmt: skip
    overridden = applied(order, today=WEIGHTS_OVERDUE)
    assert overridden.overrides["weight-100g-e2"].by == "An Nguyen"


def test_an_override_names_a_standard_this_run_uses_and_the_register_refuses() -> None:
    def override(standard: str, to: Plan | None = None, today: dt.date = TODAY) -> None:
        applied(RunOrder(override=[standard], by="A", reason="B"), to, today)

    with pytest.raises(OrderRefused, match="does not refuse it today; nothing to override"):
        override("weight-100g-e2")  # in date
    with pytest.raises(OrderRefused, match="plan balance uses no such standard"):
        override("prt-ref-1", today=dt.date(2027, 4, 1))  # overdue, but not this plan's
    with pytest.raises(OrderRefused, match="plan balance uses no such standard"):
        override("no-such-weight")
    ghost = plan("pressure-gauge").model_copy(update={"standards": {"reference": "ghost"}})
    with pytest.raises(OrderRefused, match="no standard 'ghost' in the register"):
        override("ghost", ghost)  # absent from the register: nothing to waive


def test_a_certificate_dated_after_today_is_never_waived() -> None:
    with pytest.raises(OrderRefused, match=r"no override waives .*dated 2026-05-20, after today"):
        applied(RunOrder(override=["pressure-ref-1"], by="A", reason="B"), plan("pressure-gauge"),
                dt.date(2026, 5, 1))  # fmt: skip


def test_the_runs_own_reference_is_never_its_uut() -> None:
    pressure = plan("pressure-gauge")
    assert pressure.instruments["reference"] == "transmitter-1"
    with pytest.raises(OrderRefused, match="transmitter-1 is how standard pressure-ref-1 is read"):
        applied(RunOrder(uut="transmitter-1"), pressure)
    assert applied(RunOrder(uut="transmitter-2"), pressure).uuts[0].instrument == "transmitter-2"
    thermometers = plan("thermometers")  # probes on the reference's readout, other channels
    assert applied(RunOrder(uut="readout-1"), thermometers).uuts[0].channel == 2
    # a plan written that way is refused before it runs, whichever way it is started
    written = pressure.model_copy(
        update={"uuts": [pressure.uuts[0].model_copy(update={"instrument": "transmitter-1"})]}
    )
    [problem] = check_plan(written, "pressure-gauge.yaml", LAB, REGISTER)
    assert problem.path == "uuts" and "calibrated against itself" in problem.message
    assert check_plan(pressure, "pressure-gauge.yaml", LAB, REGISTER) == []


def test_each_uut_of_a_run_of_several_gets_its_own_serial() -> None:
    stated = plan("thermometers")
    unnamed = stated.model_copy(update={"uuts": [u.model_copy(update={"serial": ""})
                                                 for u in stated.uuts]})  # fmt: skip
    given = applied(RunOrder(serials={"probe-2": "C-17", "probe-3": " C-18 "}), unnamed)
    assert [(u.id, u.serial) for u in given.uuts] == [("probe-2", "C-17"), ("probe-3", "C-18")]
    one = applied(RunOrder(serials={"probe-3": "C-18", "probe-2": ""}), unnamed)
    assert [u.serial for u in one.uuts] == ["", "C-18"]
    with pytest.raises(OrderRefused, match="UUT probe-3: the plan names serial T-2002, not C-18"):
        applied(RunOrder(serials={"probe-3": "C-18"}), stated)
    assert applied(RunOrder(serials={"probe-3": "T-2002"}), stated).uuts == stated.uuts
    with pytest.raises(OrderRefused, match="serial of probe-9: no such UUT in plan thermometers"):
        applied(RunOrder(serials={"probe-9": "C-19"}), unnamed)


def test_another_customer_never_takes_the_plans_customers_address() -> None:
    shipped = plan()
    assert shipped.customer_address and shipped.customer_email  # Example Customer Ltd's
    other = applied(RunOrder(customer="Công ty TNHH Thử", customer_address="12 Lý Thường Kiệt"))
    assert (other.customer, other.customer_address, other.customer_email) == (
        "Công ty TNHH Thử", "12 Lý Thường Kiệt", "")  # fmt: skip
    unaddressed = applied(RunOrder(customer="Công ty TNHH Thử"))
    assert (unaddressed.customer_address, unaddressed.customer_email) == ("", "")
    same = applied(RunOrder(customer=shipped.customer))
    assert (same.customer_address, same.customer_email) == (
        shipped.customer_address, shipped.customer_email)  # fmt: skip
    with pytest.raises(OrderRefused, match="address goes with the customer's name"):
        applied(RunOrder(customer_address="12 Lý Thường Kiệt"))
