"""Every driver family registered as an entry point loads, with a simulator for each, and a
plugin that is missing, doubled, refused or broken is named in the error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from daq.core.plugins import Plugin, PluginError, allowed, find, registered
from drivers.base import Driver
from drivers.registry import driver_class, families
from simulators.registry import simulator_class

BUILT_IN = {
    "mt_sics",
    "fluke_1529",
    "keller_s30",
    "modbus_int16",
    "fluke_heat_source",
    "hart_classic",
    "manual",
    "sartorius_sbi",
    "druck_pace",
    "mensor_cpc",
    "custom_line",
    "custom_modbus",
}


def test_the_built_in_families_are_registered_by_benchdaq() -> None:
    assert set(families()) >= BUILT_IN
    for family in BUILT_IN:
        [plugin] = registered("drivers")[family]
        assert plugin.builtin and plugin.distribution == "benchdaq"


@pytest.mark.parametrize("family", sorted(BUILT_IN))
def test_each_driver_loads_and_has_a_simulator(family: str) -> None:
    assert driver_class(family).family == family
    assert simulator_class(family).family == family


def test_each_built_in_procedure_is_registered() -> None:
    names = set(registered("procedures"))
    assert {"weighing", "thermometer_comparison", "pressure_gauge"} <= names


def test_an_unknown_family_lists_the_installed_ones() -> None:
    with pytest.raises(PluginError, match=r"unknown driver 'nope'; installed: .*mt_sics"):
        driver_class("nope")


def test_allow_lists_compare_names_as_pip_does_and_never_refuse_built_ins() -> None:
    plugin = Plugin("drivers", "dmm", "x:Y", "Acme_Lab.Drivers", "1.2")
    assert allowed(plugin, None)
    assert allowed(plugin, ["acme-lab-drivers"])
    assert not allowed(plugin, ["other"])
    assert allowed(registered("drivers")["mt_sics"][0], [])


def test_an_installed_plugin_is_found_refused_outside_the_allow_list_and_conflicts_named(
    installed_plugin: Callable[..., Path],
) -> None:
    installed_plugin("acme-dmm", "[benchdaq.drivers]\nacme_dmm = acme_dmm:Dmm\n")
    installed_plugin("other-dmm", "[benchdaq.drivers]\nmanual = other:Manual\n")
    found = find("drivers", "acme_dmm")
    assert (found.distribution, found.version, found.builtin) == ("acme-dmm", "1.0", False)
    assert find("drivers", "acme_dmm", allow=["ACME_dmm"]) == found
    with pytest.raises(PluginError, match=r"from plugin acme-dmm 1.0, which .*plugins.allow"):
        find("drivers", "acme_dmm", allow=["someone-else"])
    with pytest.raises(PluginError, match=r"registered by both other-dmm 1.0 and benchdaq "):
        find("drivers", "manual")
    with pytest.raises(PluginError, match=r"plugin acme-dmm 1.0: drivers entry 'acme_dmm'"):
        driver_class("acme_dmm")  # its module is not there


def test_a_plugin_that_cannot_be_imported_is_named() -> None:
    broken = Plugin("drivers", "dmm", "no_such_module_here:Dmm", "acme-dmm", "0.3")
    with pytest.raises(PluginError, match=r"plugin acme-dmm 0.3: drivers entry 'dmm'.*"):
        broken.load()


def test_a_loaded_driver_is_a_driver() -> None:
    assert issubclass(driver_class("manual"), Driver)
