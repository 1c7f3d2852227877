"""The errors of a weighing cell, shared by the simulated balances.

For a load ``L`` (grams) placed at ``position`` on a balance of capacity ``Max``::

    indication = L + span_error·L + nonlinearity·4x(1 - x) + eccentricity[position]·L

with ``x = L / Max``: a span (sensitivity) error growing with the load, a non-linearity that
is zero at no load and at Max and largest (``nonlinearity`` grams) at Max/2, and an
eccentricity error proportional to the load off the centre of the pan. All zero by default;
any of them can be made larger than the balance's tolerance to simulate a failing balance
for the tests of EURAMET cg-18 (errors of indication, eccentricity).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Position = Literal["centre", "front", "back", "left", "right"]


class WeighingErrors(BaseModel):
    span_error: float = 0.0
    """Relative error of the sensitivity (indication - load) / load."""
    nonlinearity: float = 0.0
    """Deviation at half capacity from the straight line through zero and Max, grams."""
    eccentricity: dict[Position, float] = Field(default_factory=dict)
    """Relative error of a load placed off centre, by position (e.g. ``front: 2.0e-5``)."""


def indication(load: float, capacity: float, position: Position, errors: WeighingErrors) -> float:
    """What the cell indicates for ``load`` grams at ``position`` (see the module formula)."""
    x = load / capacity
    return (
        load
        + errors.span_error * load
        + errors.nonlinearity * 4 * x * (1 - x)
        + errors.eccentricity.get(position, 0.0) * load
    )
