"""Driver families by the name used in the lab file: the ``benchdaq.drivers`` entry points
(benchdaq's own and any plugin's); a family's module loads only when it is used."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from daq.core.plugins import PluginError, find, registered
from drivers.base import Driver


def families() -> list[str]:
    """Every driver family installed."""
    return sorted(registered("drivers"))


def driver_class(family: str, allow: Iterable[str] | None = None) -> type[Driver[Any, Any]]:
    """The driver class of ``family``; raises ``PluginError`` naming the plugin at fault."""
    plugin = find("drivers", family, allow)
    cls = plugin.load()
    if not (isinstance(cls, type) and issubclass(cls, Driver)) or cls.family != family:
        raise PluginError(
            f"plugin {plugin}: driver entry {family!r} ({plugin.target}) is not a Driver "
            f"subclass with family = {family!r}"
        )
    return cls
