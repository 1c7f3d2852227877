"""Spill files are taken back only when they can be trusted: in a lab that signs, a spill
must carry the lab's signature over its records (a file laid beside the journal by anyone
else is refused, set aside and reported); a spill that cannot be committed never stops the
journal from opening."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from daq import spill
from daq.chain import make_link
from daq.core.reading import Reading
from daq.journal import Journal
from daq.signing import RegisteredKey, SigningSettings, generate, load_signer

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()


def signing(tmp: Path) -> SigningSettings:
    pem, public = generate()
    key_file = tmp / "lab.key"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    key = RegisteredKey.model_validate(
        {"id": "lab-k1", "public_key": public, "valid_from": "2026-01-01"}
    )
    return SigningSettings(key_file=key_file, keys=[key])


def forged() -> list[Reading]:
    return [Reading("balance-1", "mass", 99.0, "g", NOW - 30 * 86400, raw="forged")]


async def taken_back(path: Path, lab: SigningSettings | None) -> tuple[int, set[str]]:
    async with Journal(path, signing=lab) as journal:
        await journal.flush()
        readings = len(await journal.readings(limit=100))
        kinds = {e.kind for e in await journal.events()}
    return readings, kinds


async def test_an_unsigned_spill_is_refused_where_the_lab_signs(tmp_path: Path) -> None:
    lab = signing(tmp_path)
    path = tmp_path / "j.sqlite"
    laid = spill.spill_path(tmp_path, path, NOW)
    spill.write(laid, forged(), [], [])
    assert await taken_back(path, lab) == (0, {"spill_refused"})
    assert not laid.exists() and laid.with_suffix(".refused").exists()


async def test_a_spill_signed_by_the_lab_is_taken_back_and_an_altered_one_is_not(
    tmp_path: Path,
) -> None:
    lab = signing(tmp_path)
    path = tmp_path / "j.sqlite"
    signer = load_signer(lab, NOW)
    good = spill.spill_path(tmp_path, path, NOW)
    spill.write(good, forged(), [], [], signer, NOW)
    altered = spill.spill_path(tmp_path, path, NOW + 1)
    spill.write(altered, forged(), [], [], signer, NOW)
    altered.write_text(altered.read_text().replace("99.0", "98.0"))
    readings, kinds = await taken_back(path, lab)
    assert readings == 1 and {"spill_imported", "spill_refused"} <= kinds
    assert altered.with_suffix(".refused").exists() and good.with_suffix(".imported").exists()


async def test_a_spill_that_cannot_be_committed_does_not_stop_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    link = make_link("r1", 1, "x" * 64, "setup", {"plan": "p"})
    async with Journal(path) as journal:
        journal._links.append(link)
        await journal.flush()
    laid = spill.spill_path(tmp_path, path, NOW)
    spill.write(laid, forged(), [], [link])  # the same run record again: a conflict
    readings, kinds = await taken_back(path, None)
    assert readings == 0 and "spill_refused" in kinds
    assert laid.with_suffix(".refused").exists()
