"""What the person starting a run adds to its plan, by the same rules from the CLI, MQTT and
the console: another instrument as the UUT, the customer, receipt date and serial, and
overrides only with a name and a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from daq.config import load_lab
from daq.engine.order import OrderRefused, RunOrder
from daq.engine.plan import Plan, find_plan

LAB = load_lab(Path(__file__).parents[2] / "config" / "lab.yaml")


def balance() -> Plan:
    plan, _ = find_plan("balance", LAB, files=False)
    return plan


def test_customer_receipt_date_and_another_instrument() -> None:
    plan = RunOrder(uut="readout-1", customer="Nhà máy A", received=dt.date(2026, 12, 1)).applied(
        balance(), LAB
    )
    assert plan.customer == "Nhà máy A" and plan.received == dt.date(2026, 12, 1)
    [uut] = plan.uuts
    assert uut.instrument == "readout-1" and uut.serial == ""  # it reports its own


def test_a_serial_is_added_where_the_plan_has_none_and_never_contradicts_it() -> None:
    with pytest.raises(OrderRefused, match="names serial B207696838, not X1"):
        RunOrder(serial="X1").applied(balance(), LAB)
    plan = RunOrder(uut="readout-1", serial="X1").applied(balance(), LAB)
    assert plan.uuts[0].serial == "X1"


def test_overrides_need_a_name_and_a_reason() -> None:
    with pytest.raises(OrderRefused, match="name of the person taking responsibility"):
        RunOrder(override=["weight-100g-e2"], by="An Nguyen").applied(balance(), LAB)
    plan = RunOrder(override=["weight-100g-e2"], by="An Nguyen", reason="recalibrated, "
                    "certificate in the post").applied(balance(), LAB)  # fmt: skip
    assert plan.overrides["weight-100g-e2"].by == "An Nguyen"
    with pytest.raises(OrderRefused, match="no such UUT in plan balance"):
        RunOrder(accept_serial=["nope"], by="A", reason="B").applied(balance(), LAB)
    with pytest.raises(OrderRefused, match="no such instrument"):
        RunOrder(uut="nope").applied(balance(), LAB)


def test_each_uut_of_a_run_of_several_gets_its_own_serial() -> None:
    plan, _ = find_plan("thermometers", LAB, files=False)
    unnamed = plan.model_copy(update={"uuts": [u.model_copy(update={"serial": ""})
                                               for u in plan.uuts]})  # fmt: skip
    given = RunOrder(serials={"probe-2": "C-17", "probe-3": " C-18 "}).applied(unnamed, LAB)
    assert [(u.id, u.serial) for u in given.uuts] == [("probe-2", "C-17"), ("probe-3", "C-18")]
    one = RunOrder(serials={"probe-3": "C-18", "probe-2": ""}).applied(unnamed, LAB)
    assert [u.serial for u in one.uuts] == ["", "C-18"]
    with pytest.raises(OrderRefused, match="UUT probe-3: the plan names serial T-2002, not C-18"):
        RunOrder(serials={"probe-3": "C-18"}).applied(plan, LAB)
    assert RunOrder(serials={"probe-3": "T-2002"}).applied(plan, LAB).uuts == plan.uuts
    with pytest.raises(OrderRefused, match="serial of probe-9: no such UUT in plan thermometers"):
        RunOrder(serials={"probe-9": "C-19"}).applied(unnamed, LAB)
