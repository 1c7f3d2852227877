"""The register file of reference standards, written by `daq standards import`: a new
standard's entry is appended, a newer certificate of a registered standard replaces its
entry's lines with the earlier certificate kept in the entry's history. Every other line of
the lab's file, comments included, stays as written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from daq.config import ConfigError
from daq.standards import PastCalibration, Standard, load_standards

IMPORTED = "# imported from"


class RegisterRefused(ValueError):
    """The certificate cannot go into the register; the message says why."""


def recalibrated(current: Standard, newer: Standard, today: dt.date) -> Standard:
    """``newer`` (a certificate of the standard registered as ``current``) as its entry, the
    current certificate moved into the history; refused unless it is the same item and a
    later calibration."""
    if current.serial and newer.serial and current.serial != newer.serial:
        raise RegisterRefused(
            f"{current.id} is serial {current.serial}; the certificate is of serial "
            f"{newer.serial}: import it under another --id"
        )
    numbers = {current.certificate.number, *(p.certificate.number for p in current.history)}
    if newer.certificate.number in numbers:
        raise RegisterRefused(
            f"certificate {newer.certificate.number} is already in {current.id}'s register entry"
        )
    if newer.certificate.calibrated <= current.certificate.calibrated:
        raise RegisterRefused(
            f"certificate {newer.certificate.number} ({newer.certificate.calibrated}) is not "
            f"later than {current.id}'s current one, {current.certificate.number} "
            f"({current.certificate.calibrated})"
        )
    past = PastCalibration(
        certificate=current.certificate,
        range=current.range,
        uncertainty=current.uncertainty,
        corrections=current.corrections,
        imported_from=current.imported_from,
        replaced=today,
    )
    kept = {"description", "manufacturer", "model", "serial", "instrument"}
    identity = {k: v for k, v in current.model_dump().items() if k in kept and v}
    return newer.model_copy(update={**identity, "history": [past, *current.history]})


def write_entry(path: Path, standard: Standard, note: str) -> None:
    """Append ``standard``'s entry to the register at ``path``, or put it in place of the
    entry of the same id, under the comment ``note``; the file is left as it was if the
    result does not load."""
    before = path.read_text(encoding="utf-8")
    entry = yaml.safe_dump(
        [standard.model_dump(mode="json", exclude_none=True)], sort_keys=False, allow_unicode=True
    )
    span = _entry_lines(before, standard.id)
    lines = before.splitlines(keepends=True)
    if span is None:
        text = before + ("" if before.endswith("\n") or not before else "\n")
        text += f"{IMPORTED} {note}\n" + "".join(f"  {line}\n" for line in entry.splitlines())
    else:
        first, last, indent = span
        if first > 0 and lines[first - 1].strip().startswith(IMPORTED):
            first -= 1  # the earlier import's note goes with its entry, into the history
        block = f"{indent}{IMPORTED} {note}\n"
        block += "".join(f"{indent}{line}\n" for line in entry.splitlines())
        text = "".join(lines[:first]) + block + "".join(lines[last:])
    path.write_text(text, encoding="utf-8")
    try:
        load_standards(path)
    except ConfigError as exc:
        path.write_text(before, encoding="utf-8")
        raise RegisterRefused(f"the entry could not be written ({exc}); left as it was") from None


def _entry_lines(text: str, standard_id: str) -> tuple[int, int, str] | None:
    """The lines [first, last) of the entry with ``standard_id`` in the register's text, and
    the indentation of its "- "; None if it has no such entry."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value != "standards" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            ids = [v.value for k, v in item.value if k.value == "id"]
            if ids == [standard_id]:
                first = item.start_mark.line
                last = _last_token(item).end_mark.line + 1
                line = text.splitlines()[first]
                dash = line.index("-") if line.lstrip().startswith("-") else 0
                return first, last, line[:dash]
    return None


def _last_token(node: yaml.Node) -> yaml.Node:
    """The node whose end is the entry's end: a block collection's own end mark lies at the
    next entry's "- ", so descend to its last scalar (or flow collection, which ends at its
    closing bracket)."""
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node
