"""Simulators by the driver family they answer for: the ``benchdaq.simulators`` entry points
(benchdaq's own and any plugin's); a simulator's module loads only when it is used."""

from __future__ import annotations

from daq.core.plugins import PluginError, find
from simulators.base import SimulatedInstrument


def simulator_class(family: str) -> type[SimulatedInstrument]:
    """The simulator of driver ``family``; raises ``PluginError`` when it has none."""
    try:
        plugin = find("simulators", family)
    except PluginError as exc:
        raise PluginError(f"driver {family!r} has no simulator to run it: {exc}") from None
    cls = plugin.load()
    if not (isinstance(cls, type) and issubclass(cls, SimulatedInstrument)):
        raise PluginError(
            f"plugin {plugin}: simulator entry {family!r} ({plugin.target}) is not a "
            "SimulatedInstrument subclass"
        )
    return cls
