"""Finding a procedure: only in the lab's own procedure folder or among the installed ones
(the ``benchdaq.procedures`` entry points: benchdaq's and the plugins' the lab allows), never
from an arbitrary path, so a plan cannot run code from elsewhere."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from daq.config import ConfigError, LabConfig, Problem, field_path
from daq.core.plugins import Plugin, PluginError, find, registered

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Procedure:
    """A loaded procedure module: ``VERSION``, ``Settings``, ``points`` and ``run``."""

    name: str
    version: str
    title: str
    source: str
    """Where it was loaded from: the installed package, a plugin or the lab's folder."""
    digest: str
    """SHA-256 of the script, so a result names exactly the code that made it."""
    module: ModuleType
    plugin: Plugin | None = None
    """The plugin distribution that brought it (None: benchdaq's own or the lab's)."""

    @property
    def settings_model(self) -> type[BaseModel]:
        model: type[BaseModel] = self.module.Settings
        return model

    def settings(self, raw: dict[str, Any], plan_file: str) -> BaseModel:
        """The plan's ``settings`` section, validated by the procedure's own model."""
        try:
            return self.settings_model.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(
                [
                    Problem(
                        plan_file,
                        ".".join(filter(None, ("settings", field_path(raw, e["loc"])))),
                        str(e["msg"]).removeprefix("Value error, ")
                        + (f" (plugin {self.plugin})" if self.plugin else ""),
                    )
                    for e in exc.errors()
                ]
            ) from None

    def point_keys(self, settings: BaseModel, uuts: list[str]) -> list[str]:
        keys: list[str] = self.module.points(settings, uuts)
        return keys

    @property
    def most_uuts(self) -> int | None:
        """How many UUTs one run calibrates (``UUTS`` in the module); None: any number."""
        most: int | None = getattr(self.module, "UUTS", None)
        return most

    def checkpoints(self, settings: BaseModel, plan: Any) -> list[Any]:
        """The test points the procedure will judge (``daq.engine.checks.Checkpoint``), for
        checking a plan before it runs; none when the procedure does not say."""
        checkpoints = getattr(self.module, "checkpoints", None)
        if checkpoints is None:
            return []
        found: list[Any] = checkpoints(settings, plan)
        return found

    @property
    def run(self) -> Callable[..., Awaitable[None]]:
        run: Callable[..., Awaitable[None]] = self.module.run
        return run


def _check(module: ModuleType, name: str, source: str) -> None:
    missing = [a for a in ("VERSION", "Settings", "points", "run") if not hasattr(module, a)]
    if missing:
        raise ConfigError([Problem(source, "", f"procedure {name!r} lacks {', '.join(missing)}")])


def load_procedure(name: str, lab: LabConfig) -> Procedure:
    """The lab's own procedure of that name if it has one, else the installed one."""
    if not _NAME.match(name):
        raise ConfigError([Problem(name, "", "a procedure name is a Python module name")])
    plugin: Plugin | None = None
    if lab.procedures is not None and (file := lab.procedures / f"{name}.py").is_file():
        spec = importlib.util.spec_from_file_location(f"daq_lab_procedures.{name}", file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        source = str(file)
    elif name in registered("procedures"):
        try:
            plugin = find("procedures", name, lab.plugins.allow)
            module = plugin.load()
        except PluginError as exc:
            raise ConfigError([Problem(name, "", str(exc))]) from None
        if not isinstance(module, ModuleType) or module.__file__ is None:
            raise ConfigError(
                [Problem(name, "", f"plugin {plugin}: procedure entry {name!r} is not a module")]
            )
        source = f"{module.__name__} (installed)"
        if not plugin.builtin:
            source = f"{module.__name__} (plugin {plugin})"
        file = Path(module.__file__)
    else:
        folder = f" or {lab.procedures}" if lab.procedures else ""
        raise ConfigError(
            [Problem(name, "", f"no procedure {name!r} in the installed procedures{folder}")]
        )
    _check(module, name, source)
    doc = " ".join((module.__doc__ or name).strip().split("\n\n")[0].split())
    return Procedure(
        name,
        str(module.VERSION),
        doc,
        source,
        hashlib.sha256(file.read_bytes()).hexdigest(),
        module,
        None if plugin is None or plugin.builtin else plugin,
    )
