"""Plugins: drivers, simulators, procedures and sinks found through entry points.

A package brings its own in its ``pyproject.toml``, and benchdaq registers its built-ins the
same way::

    [project.entry-points."benchdaq.drivers"]
    keysight_34465a = "benchdaq_dmm.driver:Keysight34465A"

Only the entry points' names are read at start; a plugin's code is imported when it is used.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any, Literal

Group = Literal["drivers", "simulators", "procedures", "sinks"]
OWN = "benchdaq"
"""The distribution whose entry points are built in (always allowed)."""


class PluginError(Exception):
    """A plugin cannot be found, is not allowed, or cannot be loaded; the message names it."""


def normalise(distribution: str) -> str:
    """A distribution's name as packaging compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


@dataclass(frozen=True)
class Plugin:
    """One entry point: what it is called and which installed distribution brings it."""

    group: Group
    name: str
    target: str
    """``module`` or ``module:attribute``."""
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return normalise(self.distribution) == OWN

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"

    def load(self) -> Any:
        """The module or attribute the entry point names."""
        module_name, _, attribute = self.target.partition(":")
        try:
            found: Any = importlib.import_module(module_name.strip())
            for part in filter(None, attribute.strip().split(".")):
                found = getattr(found, part)
        except Exception as exc:  # a plugin's import may fail in any way; name the plugin
            raise PluginError(
                f"plugin {self}: {self.group} entry {self.name!r} ({self.target}) cannot be "
                f"loaded: {type(exc).__name__}: {exc}"
            ) from exc
        return found


@cache
def _scan() -> dict[Group, dict[str, list[Plugin]]]:
    found: dict[Group, dict[str, list[Plugin]]] = {}
    groups: tuple[Group, ...] = ("drivers", "simulators", "procedures", "sinks")
    every = metadata.entry_points()  # one pass over the installed distributions
    names: dict[metadata.Distribution | None, tuple[str, str]] = {}
    for group in groups:
        named = found.setdefault(group, {})
        for entry in every.select(group=f"benchdaq.{group}"):
            if entry.dist not in names:  # reading a distribution's metadata is the cost
                dist = entry.dist
                names[dist] = (dist.name, dist.version) if dist else ("unknown", "unknown")
            plugin = Plugin(group, entry.name, entry.value, *names[entry.dist])
            same = named.setdefault(entry.name, [])
            if all(normalise(p.distribution) != normalise(plugin.distribution) for p in same):
                same.append(plugin)
    return found


def registered(group: Group) -> Mapping[str, list[Plugin]]:
    """Entry-point name -> the plugins registering it (more than one is a conflict)."""
    return _scan()[group]


def allowed(plugin: Plugin, allow: Iterable[str] | None) -> bool:
    """Built-ins always; another distribution's plugin when there is no allow-list or the
    list names it."""
    return (
        allow is None
        or plugin.builtin
        or normalise(plugin.distribution) in {normalise(name) for name in allow}
    )


def find(group: Group, name: str, allow: Iterable[str] | None = None) -> Plugin:
    """The one plugin called ``name`` in ``group``; raises ``PluginError`` saying why not."""
    kind = group.removesuffix("s")
    candidates = registered(group).get(name, [])
    if not candidates:
        known = ", ".join(sorted(registered(group))) or "none"
        raise PluginError(f"unknown {kind} {name!r}; installed: {known}")
    if len(candidates) > 1:
        who = " and ".join(str(p) for p in candidates)
        raise PluginError(f"{kind} {name!r} is registered by both {who}: uninstall one")
    plugin = candidates[0]
    if not allowed(plugin, allow):
        raise PluginError(
            f"{kind} {name!r} comes from plugin {plugin}, which the lab file's plugins.allow "
            "does not list"
        )
    return plugin
