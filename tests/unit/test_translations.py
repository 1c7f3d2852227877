"""Every language translates every certificate text, with the same placeholders."""

from __future__ import annotations

import re

import pytest

from daq.reports.i18n import Translator, languages, table


def test_english_and_vietnamese_ship() -> None:
    assert {"en", "vi"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_same_keys_and_placeholders_as_english(language: str) -> None:
    english, other = table("en"), table(language)
    assert set(other) == set(english)
    for key, text in english.items():
        assert set(re.findall(r"{(\w+)}", other[key])) == set(re.findall(r"{(\w+)}", text)), key


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="available: en, vi"):
        Translator("xx")
    assert Translator("vi")("does_not_conform", count=2).startswith("Phương tiện không phù hợp")
