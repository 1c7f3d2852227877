"""Certificate text from a translation table per language (daq/reports/i18n/<lang>.yaml),
with the language's decimal sign and date format."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent / "i18n"


def languages(folder: Path = FOLDER) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


@cache
def table(language: str, folder: Path = FOLDER) -> dict[str, str]:
    """The words of ``language`` from ``folder`` (the certificates', or another part's such
    as the console's, daq/web/i18n)."""
    path = folder / f"{language}.yaml"
    if not path.is_file():
        known = ", ".join(languages(folder))
        raise ValueError(f"no translation {language!r}; available: {known}")
    loaded: dict[str, str] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


class Translator:
    def __init__(self, language: str, folder: Path = FOLDER) -> None:
        self.language = language
        self._table = table(language, folder)

    def __call__(self, key: str, **values: object) -> str:
        return self._table[key].format(**values) if values else self._table[key]

    def has(self, key: str) -> bool:
        """Whether the table words ``key`` (a plugin's procedure has no title in it)."""
        return key in self._table

    def number(self, value: str | float) -> str:
        """A number as this language writes it: a float as ``:g``, a number already printed
        (rounded by daq.metrology.rounding) with its decimal point replaced by the language's
        decimal sign (Vietnamese: a comma). Our numbers never carry a thousands separator."""
        text = f"{value:g}" if isinstance(value, int | float) else value
        return text.replace(".", self._table["decimal_sign"])

    def date(self, value: dt.date | str) -> str:
        """A date in this language's format; text that is not an ISO date is returned as
        written (a plan may state a receipt date in its own words)."""
        day = value
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                return value
        assert isinstance(day, dt.date)
        return self._table["date_format"].format(day=day.day, month=day.month, year=day.year)
