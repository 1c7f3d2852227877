"""Certificate text from a translation table per language (daq/reports/i18n/<lang>.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent / "i18n"


def languages() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


@cache
def table(language: str) -> dict[str, str]:
    path = FOLDER / f"{language}.yaml"
    if not path.is_file():
        raise ValueError(f"no translation {language!r}; available: {', '.join(languages())}")
    loaded: dict[str, str] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


class Translator:
    def __init__(self, language: str) -> None:
        self.language = language
        self._table = table(language)

    def __call__(self, key: str, **values: object) -> str:
        return self._table[key].format(**values) if values else self._table[key]
