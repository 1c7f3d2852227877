"""The weighing cell shared by the simulated balances: its pan and its errors.

For a load ``L`` (grams) placed at ``position`` on a balance of capacity ``Max``::

    indication = L + span_error·L + nonlinearity·4x(1 - x) + eccentricity[position]·L

with ``x = L / Max``: a span (sensitivity) error growing with the load, a non-linearity that
is zero at no load and at Max and largest (``nonlinearity`` grams) at Max/2, and an
eccentricity error proportional to the load off the centre of the pan. All zero by default;
any of them can be made larger than the balance's tolerance to simulate a failing balance
for the tests of EURAMET cg-18 (errors of indication, eccentricity).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from daq.core.clock import Clock
from simulators.base import LineSimulator, SimulatorSettings

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


class BalanceSettings(SimulatorSettings, WeighingErrors):
    """What every simulated balance has; a family adds its own and its defaults."""

    capacity: float = Field(220.0, gt=0)
    """Maximum capacity, grams."""
    load: float = 0.0
    """Mass on the pan at power-on, grams (the empty pan is the power-on zero)."""
    noise: float = Field(5e-5, ge=0)
    """Standard deviation of an indication, grams (repeatability)."""
    drift_per_hour: float = 0.0
    """Zero drift of the weighing cell, grams per hour."""
    time_constant: float = Field(0.15, ge=0)
    """Settling time constant after a load change, process seconds."""
    stability_band: float = Field(2.0, gt=0)
    """The weight counts as stable once settled within this many d."""


class BalanceSimulator(LineSimulator):
    """A balance: a load settling on its pan, indicated with the cell's errors. Tests and the
    simulated operator act on it with ``place``, ``remove``, ``remove_pan`` and
    ``restore_pan``; the family's protocol reads ``_cell()`` and ``stable()``."""

    actions: ClassVar[tuple[str, ...]] = ("place", "remove", "remove_pan", "restore_pan")

    def __init__(self, settings: BalanceSettings, clock: Clock, d: float) -> None:
        super().__init__(settings, clock)
        self.pan_settings = settings
        self.d = d
        """Readability in grams."""
        self._load = self.process_value(
            settings.load,
            time_constant=settings.time_constant,
            noise=settings.noise,
            drift_per_hour=settings.drift_per_hour,
            wander=50 * settings.stability_band * d,
        )
        self._zero = 0.0
        self._tare = 0.0
        self.pan_in_place = True
        self.position: Position = "centre"
        """Where the load was last placed on the pan."""

    def place(self, mass_g: float, position: Position = "centre") -> None:
        """Put ``mass_g`` grams on the pan, in addition to what is there; it settles."""
        self.position = position
        self._load.set_target(self._load.target + mass_g)

    def remove(self, mass_g: float | None = None) -> None:
        """Take ``mass_g`` grams off the pan, or everything."""
        self._load.set_target(0.0 if mass_g is None else self._load.target - mass_g)

    def remove_pan(self) -> None:
        """Lift the weighing pan off: the balance reports underload until it is back."""
        self.pan_in_place = False

    def restore_pan(self) -> None:
        self.pan_in_place = True

    def stable(self) -> bool:
        """Whether the weighing cell has settled within the stability band."""
        return self._load.settled_within(self.pan_settings.stability_band * self.d)

    def _cell(self) -> float:
        """One observation of the load as the cell indicates it (weighing errors included)."""
        settings = self.pan_settings
        return indication(self._load.observe(), settings.capacity, self.position, settings)
