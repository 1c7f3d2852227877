"""What a journal that cannot write keeps when the agent must stop: the readings, events and
chained run records still in memory, as JSON lines in a spill file (by default beside the
journal, so on the same disk; the lab file may name another folder). The journal takes a
spill file back in the next time it opens for writing, so nothing already taken is lost."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from daq.chain import Link
from daq.core.reading import Reading, Status
from daq.signing import RegisteredKey, Signature, Signer, check

SUFFIX = ".jsonl"


def spill_path(folder: Path, journal: Path, stamp: float) -> Path:
    return folder / f"{journal.name}.spill-{int(stamp * 1000)}{SUFFIX}"


def spill_files(folder: Path, journal: Path) -> list[Path]:
    """Spill files of ``journal`` waiting in ``folder``, oldest first."""
    return sorted(folder.glob(f"{journal.name}.spill-*{SUFFIX}"))


def digest(lines: list[str]) -> str:
    """SHA-256 of a spill file's records: what its signature covers."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def subject(path: Path) -> str:
    return f"spill:{path.name}"


def write(
    path: Path,
    readings: list[Reading],
    events: list[Any],
    links: list[Link],
    signer: Signer | None = None,
    now: float = 0.0,
) -> None:
    """Write everything to ``path`` (through a temporary name, so a half-written file is
    never taken back), signed with the lab's key when it has one, so a file laid beside the
    journal by anyone else is not taken back; OSError when the disk refuses."""
    lines = [
        json.dumps(
            {
                "reading": {
                    **dataclasses.asdict(r),
                    "value": None if math.isnan(r.value) else r.value,
                    "status": r.status.value,
                }
            }
        )
        for r in readings
    ]
    lines += [
        json.dumps({"event": {**dataclasses.asdict(e), "severity": e.severity.value}})
        for e in events
    ]
    lines += [json.dumps({"link": dataclasses.asdict(k)}) for k in links]
    if signer is not None:
        signature = signer.sign(subject(path), digest(lines), now)
        lines.append(json.dumps({"signature": dataclasses.asdict(signature)}))
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    partial.rename(path)


def read(
    path: Path, keys: list[RegisteredKey]
) -> tuple[list[Reading], list[dict[str, Any]], list[Link]]:
    """Readings, events (as field dicts) and links of a spill file; ValueError when the lab
    signs (``keys``) and the file carries no valid signature of the lab's over its records."""
    readings: list[Reading] = []
    events: list[dict[str, Any]] = []
    links: list[Link] = []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    signature = None
    if lines and '"signature"' in lines[-1] and "signature" in json.loads(lines[-1]):
        signature = Signature(**json.loads(lines.pop())["signature"])
    if keys:
        if signature is None:
            raise ValueError("it is not signed, and the lab signs its records")
        if (signature.subject, signature.hash) != (subject(path), digest(lines)):
            raise ValueError("its signature is not of these records (altered or renamed)")
        judged = check(keys, signature)
        if not judged.ok:
            raise ValueError(judged.text)
    for line in lines:
        record = json.loads(line)
        if "reading" in record:
            data = record["reading"]
            value = math.nan if data["value"] is None else float(data["value"])
            readings.append(Reading(**{**data, "value": value, "status": Status(data["status"])}))
        elif "event" in record:
            events.append(record["event"])
        elif "link" in record:
            links.append(Link(**record["link"]))
    return readings, events, links
