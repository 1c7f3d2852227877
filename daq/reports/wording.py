"""The certificate's generated wording in the certificate's language: the specification,
the decision rule, the names of the checks, the procedure's title and the remark on a low
test uncertainty ratio. The run's document keeps these in English (``describe()`` of the
metrology models); a certificate words them again from the plan's own settings, phrase by
phrase from the translation table, with the language's decimal sign. A test holds the
English wording equal to ``describe()``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from daq.metrology.decision import DecisionRule
from daq.metrology.tolerance import (
    Absolute,
    En837,
    Iec60751,
    Limits,
    OimlR76,
    OimlR111,
    PercentOfReading,
    PercentOfSpan,
    Specification,
    Tolerance,
)
from daq.reports.i18n import Translator


def specification(raw: dict[str, Any], t: Translator) -> str:
    """The plan's tolerance, worded (a ValidationError when it is not one of ours)."""
    spec = TypeAdapter(Tolerance).validate_python(raw)
    n = t.number
    match spec:
        case Absolute():
            return t("spec_absolute", value=n(spec.value), unit=spec.unit)
        case PercentOfReading():
            return t("spec_percent_of_reading", percent=n(spec.percent))
        case PercentOfSpan():
            return t("spec_percent_of_span", percent=n(spec.percent), span=n(spec.span),
                     unit=spec.unit)  # fmt: skip
        case OimlR76():
            stage = t("r76_in_service" if spec.in_service else "r76_initial")
            return t("spec_oiml_r76", accuracy_class=spec.accuracy_class, e=n(spec.e),
                     unit=spec.unit, stage=stage)  # fmt: skip
        case OimlR111():
            return t("spec_oiml_r111", weight_class=spec.weight_class)
        case Iec60751():
            (a, b), (low, high) = spec.coefficients, spec.valid_range
            return t("spec_iec_60751", tolerance_class=spec.tolerance_class,
                     element=t(f"element_{spec.element}"), a=n(a), b=n(b), low=n(low),
                     high=n(high))  # fmt: skip
        case En837():
            return t("spec_en_837_1", accuracy_class=n(spec.accuracy_class), span=n(spec.span),
                     unit=spec.unit)  # fmt: skip
        case Specification():
            terms = []
            if spec.percent_of_reading:
                terms.append(t("term_percent_of_reading", percent=n(spec.percent_of_reading)))
            if spec.percent_of_span:
                terms.append(t("term_percent_of_span", percent=n(spec.percent_of_span),
                               span=n(spec.span or 0.0), unit=spec.unit))  # fmt: skip
            if spec.fixed:
                terms.append(t("term_fixed", value=n(spec.fixed), unit=spec.unit))
            if spec.digits:
                terms.append(t("term_digits", digits=spec.digits,
                               resolution=n(spec.resolution or 0.0), unit=spec.unit))  # fmt: skip
            return t("spec_specification", terms=" + ".join(terms))
        case Limits():
            return t("spec_limits", lower=n(f"{spec.lower:+g}"), upper=n(f"{spec.upper:+g}"),
                     unit=spec.unit)  # fmt: skip
    raise ValueError(f"no wording for a tolerance of kind {raw.get('kind')!r}")


def rule(raw: dict[str, Any] | None) -> DecisionRule:
    """The plan's decision rule (the default rule when the plan states none)."""
    return DecisionRule.model_validate(raw or {})


def decision_rule(raw: dict[str, Any] | None, t: Translator) -> str:
    """The rule agreed with the customer, as ``DecisionRule.describe`` words it."""
    agreed = rule(raw)
    if agreed.acceptance == "simple":
        text = t("rule_simple")
    elif agreed.guard_band == "U":
        text = t("rule_guarded_u")
    else:
        text = t("rule_guarded_pfa", pfa=t.number(f"{agreed.max_false_accept:.1%}"))
    if agreed.statements == "non-binary":
        text += t("rule_non_binary")
    return text


def risk(raw: dict[str, Any] | None, t: Translator) -> str:
    """What the rule risks, for the statement of conformity (ILAC-G8:09/2019 4.2)."""
    agreed = rule(raw)
    if agreed.acceptance == "simple" and agreed.statements == "binary":
        return t("risk_simple")
    if agreed.guard_band == "U":
        text = t("risk_guarded_u")
    else:
        text = t("risk_guarded_pfa", pfa=t.number(f"{agreed.max_false_accept * 100:g}"))
    if agreed.statements == "non-binary":
        text += "; " + t("risk_conditional")
    return text


def worded(plan: dict[str, Any], english: str, t: Translator) -> str:
    """The plan's specification in ``t``'s language, or the run document's ``english``
    when the plan's tolerance is not one this version words (a plugin's own)."""
    try:
        return specification(plan["tolerance"], t)
    except (KeyError, ValidationError, ValueError):
        return english


_SERIES = re.compile(r"^M(\d+) (rising|falling)$")


def check(name: str, t: Translator) -> str:
    """A check's name as the certificate prints it: "M1 rising" (a pressure series),
    "hysteresis"; a check this table does not know keeps its own name."""
    series = _SERIES.match(name)
    if series:
        return f"M{series[1]} {t(series[2])}"
    return t(name) if name in CHECKS else name


CHECKS = ("error", "hysteresis", "zero_deviation")
"""The checks the shipped procedures judge besides each series' indications."""


_TESTS = {"indication": "indication", "repeatability": "repeatability",
          "eccentricity": "eccentricity", "in use": "in_use"}  # fmt: skip
"""The words the shipped procedures begin a point's key with, and their translation keys."""
_NUMBER = re.compile(r"(?<!\S)-?\d+\.\d+(?!\S)")


def point(key: str, t: Translator) -> str:
    """A point's key as the certificate prints it: "indication 0.5 g" is "Số chỉ 0,5 g" in
    Vietnamese; the rest of a key (a UUT's id, a unit) is printed as it is."""
    for words, name in _TESTS.items():
        if key == words or key.startswith(words + " "):
            key = t(name) + key[len(words) :]
            break
    return _NUMBER.sub(lambda number: t.number(number[0]), key)


def procedure_title(name: str, title: str, t: Translator) -> str:
    """The procedure's title in the certificate's language where the table has it (the
    shipped procedures), else the procedure's own (a plugin's or a lab's)."""
    key = f"procedure_{name}"
    return t(key) if t.has(key) else title


def low_tur(where: str, decision: dict[str, Any], minimum: float, t: Translator) -> str:
    """The remark for a point whose test uncertainty ratio is below the agreed minimum."""
    tur = decision.get("tur")
    ratio = t.number(f"{tur:.2g}") if isinstance(tur, int | float) else "?"
    return t("low_tur", point=where, tur=ratio, minimum=t.number(minimum))
