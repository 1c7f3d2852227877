"""Writes inside a caller's transaction: a number's entry in the chained register of issued
certificates, and a signature. The register's entries are made when a certificate is issued,
and once, for the certificates issued before the register existed, when a journal is
upgraded."""

from __future__ import annotations

import sqlite3
from dataclasses import astuple, replace

from daq.chain import REGISTER_GENESIS, register_link
from daq.journal.records import (
    REGISTER_COLUMNS,
    CertificateRow,
    RegisterEntry,
    register_subject,
)
from daq.signing import Signature, Signer


def insert_signature(db: sqlite3.Connection, signature: Signature) -> None:
    db.execute(
        "INSERT OR REPLACE INTO signatures (subject, hash, key, signed, signature) "
        "VALUES (?, ?, ?, ?, ?)",
        (signature.subject, signature.hash, signature.key, signature.signed, signature.value),
    )


def append_to_register(
    db: sqlite3.Connection, issue: CertificateRow, signer: Signer | None, now: float
) -> None:
    """Append ``issue``'s number to the register, signed by ``signer`` at ``now``."""
    last = db.execute("SELECT seq, link FROM certificate_register ORDER BY seq DESC LIMIT 1")
    seq, previous = last.fetchone() or (0, REGISTER_GENESIS)
    entry = RegisterEntry(
        seq + 1, issue.number, issue.run, issue.replaces, issue.issued, issue.digest(), "", ""
    )
    link = register_link(previous, entry.content())
    db.execute(
        f"INSERT INTO certificate_register ({REGISTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        astuple(replace(entry, previous=previous, link=link)),
    )
    if signer is not None:
        insert_signature(db, signer.sign(register_subject(issue.number), link, now))
