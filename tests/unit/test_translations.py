"""Every language translates every certificate text, with the same placeholders."""

from __future__ import annotations

import re

import pytest

from daq.reports.i18n import Translator, languages, table

PLACEHOLDER = re.compile(r"{(\w+)(?::[^}]*)?}")


def test_english_and_vietnamese_ship() -> None:
    assert {"en", "vi"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_same_keys_and_placeholders_as_english(language: str) -> None:
    english, other = table("en"), table(language)
    assert set(other) == set(english)
    for key, text in english.items():
        assert set(re.findall(r"{(\w+)(?::[^}]*)?}", other[key])) == set(
            re.findall(r"{(\w+)(?::[^}]*)?}", text)
        ), key


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="available: en, vi"):
        Translator("xx")
    assert Translator("vi")("does_not_conform", count=2).startswith("Phương tiện không phù hợp")


WORD = re.compile(r"[A-Za-z]{3,}")
ASCII_ONLY = {"spec_absolute", "spec_specification", "term_fixed", "coverage_factor", "of",
              "decimal_sign", "date_format"}  # fmt: skip
"""Texts with no words to translate: symbols, placeholders and formats."""


NAMES = {"daq", "verify", "dkd", "euramet", "gum", "iec", "ilac", "jcgm", "oiml", "sha"}
"""Words both languages write as they are: names of standards and bodies, and the command
`daq verify`."""


def words(text: str) -> set[str]:
    """The words of a text, its placeholders ({count}, {value:g}) left out."""
    return {w.lower() for w in WORD.findall(PLACEHOLDER.sub(" ", text))}


def english_words() -> set[str]:
    """Every word of the English table but the names both languages share."""
    return {w for text in table("en").values() for w in words(text)} - NAMES


def test_the_vietnamese_table_leaves_no_english() -> None:
    english, vietnamese = table("en"), table("vi")
    left = {key: sorted(words(text) & english_words()) for key, text in vietnamese.items()}
    assert not {key: words for key, words in left.items() if words}
    untranslated = [k for k in english if english[k] == vietnamese[k] and k not in ASCII_ONLY]
    assert not untranslated
    # the words it checks for are the ones a forgotten translation would show
    assert {"certificate", "uncertainty", "reading", "acceptance", "rising"} <= english_words()


def test_the_console_has_every_word_in_every_language_with_the_same_placeholders() -> None:
    from daq.web.console import WORDS

    english = table("en", WORDS)
    assert set(languages(WORDS)) == {"en", "vi"}
    for language in languages(WORDS):
        other = table(language, WORDS)
        assert set(other) == set(english), language
        for key, text in english.items():
            assert set(PLACEHOLDER.findall(other[key])) == set(PLACEHOLDER.findall(text)), key
    assert Translator("vi", WORDS)("overdue_since", due="2027-03-10", days=3).startswith("hết hạn")
