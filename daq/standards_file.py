"""The register file of reference standards, written by `daq standards import`: a new
standard's entry is appended, a newer certificate of a registered standard replaces its
entry's lines with the earlier certificate kept in the entry's history. Every other line of
the lab's file, comments included, stays as written."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import yaml

from daq.config import ConfigError
from daq.standards import Standard, as_past, parse_standards

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
    past = as_past(current, today)
    kept = {"description", "manufacturer", "model", "serial", "instrument"}
    identity = {k: v for k, v in current.model_dump().items() if k in kept and v}
    return newer.model_copy(update={**identity, "history": [past, *current.history]})


def write_entry(path: Path, standard: Standard, note: str) -> None:
    """Append ``standard``'s entry to the register at ``path``, or put it in place of the
    entry of the same id, under the comment ``note``. The new text is checked before it is
    written: it must load, hold ``standard`` as given and every other entry as it was;
    then it replaces the file at once (a reader never sees half of it), in the file's own
    line endings. Otherwise the file is left as it was."""
    raw = path.read_bytes()
    newline = "\r\n" if b"\r\n" in raw else "\n"
    before = raw.decode("utf-8").replace("\r\n", "\n")
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
    _check(before, text, standard, str(path))
    staged = path.with_name(f".{path.name}.new")
    staged.write_bytes(text.replace("\n", newline).encode("utf-8"))
    os.replace(staged, path)


def _check(before: str, after: str, standard: Standard, file: str) -> None:
    """``after`` loads, with ``standard`` and every other entry of ``before`` unchanged."""
    try:
        was = {s.id: s for s in parse_standards(before, file).standards}
        now = parse_standards(after, file)
    except ConfigError as exc:
        raise RegisterRefused(f"the entry could not be written ({exc}); left as it was") from None
    others = {s.id: s for s in now.standards if s.id != standard.id}
    if others != {k: v for k, v in was.items() if k != standard.id} or (
        now.standard(standard.id) != standard
    ):
        raise RegisterRefused(
            "the entry could not be put in the file without changing another (a layout this "
            "import does not know); left as it was: add it by hand"
        )


def _entry_lines(text: str, standard_id: str) -> tuple[int, int, str] | None:
    """The lines [first, last) of the entry with ``standard_id`` in the register's text, and
    the indentation of its "- "; None if it has no such entry. The entry ends after its last
    value, and never after the next entry begins (a block scalar's end lies on that line)."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value != "standards" or not isinstance(value, yaml.SequenceNode):
            continue
        for index, item in enumerate(value.value):
            if not isinstance(item, yaml.MappingNode):
                continue
            ids = [v.value for k, v in item.value if k.value == "id"]
            if ids == [standard_id]:
                first = item.start_mark.line
                end = _last_token(item).end_mark
                last = end.line + (1 if end.column > 0 else 0)
                if index + 1 < len(value.value):
                    last = min(last, value.value[index + 1].start_mark.line)
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
