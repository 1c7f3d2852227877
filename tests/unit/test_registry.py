"""Every family named in the registries can be loaded, with a simulator for each driver."""

from __future__ import annotations

import pytest

from drivers.registry import DRIVERS, driver_class
from simulators.registry import SIMULATORS, simulator_class


@pytest.mark.parametrize("family", sorted(DRIVERS))
def test_each_driver_loads_and_has_a_simulator(family: str) -> None:
    assert driver_class(family).family == family
    assert simulator_class(family).family == family


def test_no_simulator_without_a_driver() -> None:
    assert set(SIMULATORS) == set(DRIVERS)
