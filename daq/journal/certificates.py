"""Issued certificates, the chained register of their numbers, and the lab's signatures of
records."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import astuple

from daq.journal.records import (
    CERTIFICATE_COLUMNS,
    REGISTER_COLUMNS,
    AlreadyIssued,
    CertificateFile,
    CertificateRow,
    EventKind,
    JournalError,
    NumberTaken,
    RegisterEntry,
    certificate_file_subject,
    signature_file_subject,
)
from daq.journal.register import append_to_register, insert_signature
from daq.journal.writer import BatchedWriter
from daq.signing import Signature, Signer


class CertificateStore(BatchedWriter):
    """Certificates issued, their register and the signatures."""

    async def certificate_number(
        self, run: str, number_format: str, lab: str, bench: str = "", uut: str = ""
    ) -> tuple[str, str]:
        """The number of a new certificate of ``run`` (of its ``uut``, where it has one
        certificate per UUT) and the number it replaces: the year's next, or for a re-issue
        the first number with a revision (``N-R1`` replaces ``N``, ``N-R2`` replaces
        ``N-R1``), as ISO/IEC 17025 7.8.8.2 asks."""

        def number(db: sqlite3.Connection) -> tuple[str, str]:
            found = [
                str(n)
                for (n,) in db.execute(
                    "SELECT r.number FROM certificate_register r LEFT JOIN certificates c "
                    "ON c.number = r.number WHERE r.run = ? AND COALESCE(c.uut, ?) = ? "
                    "ORDER BY r.seq",
                    (run, uut, uut),
                )
            ]
            if found:
                return f"{found[0]}-R{len(found)}", found[-1]
            whole = [] if not uut else [
                str(n)
                for (n,) in db.execute(
                    "SELECT c.number FROM certificates c JOIN certificate_register r "
                    "ON r.number = c.number WHERE c.run = ? AND c.uut = '' ORDER BY r.seq",
                    (run,),
                )
            ]  # fmt: skip
            year = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year
            (issued,) = db.execute(  # new numbers: first issues, and a UUT's first
                "SELECT COUNT(*) FROM certificate_register r "
                "LEFT JOIN certificates c ON c.number = r.number "
                "LEFT JOIN certificates p ON p.number = r.replaces "
                "WHERE (r.replaces = '' OR (COALESCE(c.uut, '') != '' AND p.uut = '')) "
                "AND strftime('%Y', r.issued, 'unixepoch') = ?",
                (str(year),),
            ).fetchone()
            number = number_format.format(lab=lab, bench=bench, year=year, seq=int(issued) + 1)
            # the run certified as one before certificates were per UUT: each UUT's first
            # certificate replaces that one (ISO/IEC 17025 7.8.8)
            return number, whole[-1] if whole else ""

        return await self.read_with(number)

    async def certificate(self, number: str) -> CertificateRow | None:
        rows = await self._run(
            self._query_blocking,
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE number = ? ORDER BY rowid "
            "LIMIT 1",
            (number,),
        )
        return CertificateRow(*rows[0]) if rows else None

    async def certificates(self, run: str) -> list[CertificateRow]:
        """Every issue of ``run``'s certificates, oldest first."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE run = ? ORDER BY rowid",
            (run,),
        )
        return [CertificateRow(*row) for row in rows]

    async def record_issue(
        self,
        issue: CertificateRow,
        signature: Signature | None,
        signer: Signer | None = None,
        file: bytes | None = None,
        detached: bytes | None = None,
        request: str = "",
    ) -> None:
        """Issuing a certificate, who issued it and the lab's signature go on record, once
        per number, with the number's entry in the register (signed by ``signer``) and the
        certificate's ``file`` as issued and a DCC's ``detached`` signature (their hashes
        signed too), so both can be reprinted byte for byte: a number already issued raises
        ``NumberTaken``. A ``request`` (the issuing form's nonce) issues once per UUT: sent
        again, it raises ``AlreadyIssued`` with the number it issued."""
        await self.flush()

        def record(db: sqlite3.Connection) -> None:
            try:
                db.execute("BEGIN IMMEDIATE")
                done = db.execute(
                    "SELECT number FROM issue_requests WHERE request = ? AND uut = ?",
                    (request, issue.uut),
                ).fetchone()
                if request and done:
                    db.execute("ROLLBACK")
                    raise AlreadyIssued(str(done[0]))
                taken = db.execute(
                    "SELECT run, record_hash FROM certificates WHERE number = ? UNION ALL "
                    "SELECT run, '(its row is gone)' FROM certificate_register WHERE number = ? "
                    "LIMIT 1",
                    (issue.number, issue.number),
                ).fetchone()
                if taken:
                    db.execute("ROLLBACK")
                    other = "the same" if taken[1] == issue.record_hash else "another"
                    raise NumberTaken(
                        f"certificate number {issue.number} was already issued, for run "
                        f"{taken[0]} with record hash {taken[1]} ({other} record): a number "
                        "is issued once"
                    )
                db.execute(
                    f"INSERT INTO certificates ({CERTIFICATE_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    astuple(issue),
                )
                if request:
                    db.execute(
                        "INSERT INTO issue_requests (request, uut, run, number) "
                        "VALUES (?, ?, ?, ?)",
                        (request, issue.uut, issue.run, issue.number),
                    )
                if signature is not None:
                    insert_signature(db, signature)
                append_to_register(db, issue, signer, self.clock.now())
                if file is not None:
                    digest = hashlib.sha256(file).hexdigest()
                    db.execute(
                        "INSERT INTO certificate_files (number, format, hash, content) "
                        "VALUES (?, ?, ?, ?)",
                        (issue.number, issue.format, digest, file),
                    )
                    if signer is not None:
                        subject = certificate_file_subject(issue.number)
                        insert_signature(db, signer.sign(subject, digest, self.clock.now()))
                if detached is not None:
                    digest = hashlib.sha256(detached).hexdigest()
                    db.execute(
                        "INSERT INTO certificate_signature_files (number, hash, content) "
                        "VALUES (?, ?, ?)",
                        (issue.number, digest, detached),
                    )
                    if signer is not None:
                        subject = signature_file_subject(issue.number)
                        insert_signature(db, signer.sign(subject, digest, self.clock.now()))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

        await self.read_with(record)
        self._signal_commit()
        replacing = f", replacing {issue.replaces}" if issue.replaces else ""
        self.event(
            EventKind.CERTIFICATE_ISSUED,
            f"{issue.number} ({issue.format}, {issue.language}) for {issue.run} by "
            f"{issue.issued_by}, {issue.function}{replacing}",
        )

    async def issued_for(self, request: str) -> list[tuple[str, str]]:
        """(run, number) of each certificate the request (an issuing form's nonce) issued."""
        rows: list[tuple[str, str]] = await self._run(
            self._query_blocking,
            "SELECT run, number FROM issue_requests WHERE request = ? ORDER BY rowid",
            (request,),
        )
        return rows

    async def certificate_file(self, number: str) -> CertificateFile | None:
        """The file of certificate ``number`` as it was issued (None: issued before the
        journal kept them)."""
        rows = await self._run(
            self._query_blocking,
            "SELECT number, format, hash, content FROM certificate_files WHERE number = ?",
            (number,),
        )
        return CertificateFile(*rows[0]) if rows else None

    async def signature_file(self, number: str) -> CertificateFile | None:
        """The detached signature (``.sig``) a signed DCC ``number`` was issued with, as
        issued (None: issued unsigned, or before the journal kept them)."""
        rows = await self._run(
            self._query_blocking,
            "SELECT number, 'sig', hash, content FROM certificate_signature_files WHERE number = ?",
            (number,),
        )
        return CertificateFile(*rows[0]) if rows else None

    async def files_kept_from(self) -> float | None:
        """Since when the journal keeps issued certificates' files (None: it never has)."""
        rows = await self._run(
            self._query_blocking,
            "SELECT value FROM journal_facts WHERE name = 'files_kept_from'",
            (),
        )
        return float(rows[0][0]) if rows else None

    async def register(self) -> list[RegisterEntry]:
        """The register of issued certificates, in order."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {REGISTER_COLUMNS} FROM certificate_register ORDER BY seq",
            (),
        )
        return [RegisterEntry(*row) for row in rows]

    async def all_certificates(self) -> list[CertificateRow]:
        """Every issued certificate's row, oldest first."""
        rows = await self._run(
            self._query_blocking,
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates ORDER BY rowid",
            (),
        )
        return [CertificateRow(*row) for row in rows]

    async def record_signature(self, signature: Signature) -> None:
        """Keep the lab's signature of a record (after the record itself is written)."""
        await self.flush()

        def insert(db: sqlite3.Connection) -> None:
            try:
                insert_signature(db, signature)
            except sqlite3.Error as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

        await self.read_with(insert)
        self._signal_commit()

    async def record_first_signatures(self, signatures: list[Signature]) -> bool:
        """Keep ``signatures`` all at once, only if the journal holds none yet (checked in the
        same transaction, so two writers cannot both begin); whether they were kept."""
        await self.flush()

        def insert(db: sqlite3.Connection) -> bool:
            try:
                db.execute("BEGIN IMMEDIATE")
                if db.execute("SELECT 1 FROM signatures LIMIT 1").fetchone():
                    db.execute("ROLLBACK")
                    return False
                for signature in signatures:
                    insert_signature(db, signature)
                db.execute("COMMIT")
                return True
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

        kept = await self.read_with(insert)
        self._signal_commit()
        return kept

    async def signature_count(self) -> int:
        """How many signatures the journal holds."""
        rows = await self._run(self._query_blocking, "SELECT COUNT(*) FROM signatures", ())
        return int(rows[0][0])

    async def signatures_under(self, prefix: str) -> list[tuple[str, str, str, float, str]]:
        """(subject, hash, key, signed, signature) of every signature whose subject starts
        with ``prefix``."""
        rows: list[tuple[str, str, str, float, str]] = await self._run(
            self._query_blocking,
            "SELECT subject, hash, key, signed, signature FROM signatures "
            "WHERE substr(subject, 1, ?) = ? ORDER BY subject",
            (len(prefix), prefix),
        )
        return rows

    async def signatures(self, subject: str) -> list[tuple[str, str, float, str]]:
        """(hash, key, signed, signature) of every signature of ``subject``."""
        rows: list[tuple[str, str, float, str]] = await self._run(
            self._query_blocking,
            "SELECT hash, key, signed, signature FROM signatures WHERE subject = ? ORDER BY signed",
            (subject,),
        )
        return rows
