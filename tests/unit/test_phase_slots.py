"""How many phase slots the monitor takes when the lab file leaves it to it: at most 25
instruments a slot (a burst under 4 ms of one core), and never fewer than 10 slots."""

from __future__ import annotations

import pytest

from daq.monitor import slots_for


@pytest.mark.parametrize(
    ("instruments", "slots"),
    [(0, 10), (1, 10), (250, 10), (251, 11), (500, 20), (1000, 40), (1001, 41), (3000, 120)],
)
def test_slots_for(instruments: int, slots: int) -> None:
    assert slots_for(instruments) == slots
