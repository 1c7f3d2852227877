"""The journal's tables and how an older journal is brought up to them."""

from __future__ import annotations

SCHEMA_VERSION = 12
REGISTER_SCHEMA = 7
"""The schema that added the register of issued certificates (filled from the rows)."""
INDEX_SCHEMA = 12
"""The schema that replaced the index of readings by instrument with ``reading_index``
(filled from the rows, ``daq.journal.reading_index``)."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    instrument TEXT NOT NULL,
    quantity TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    timestamp REAL NOT NULL,
    status TEXT NOT NULL,
    raw TEXT NOT NULL DEFAULT '',
    run TEXT,
    chain TEXT
);
CREATE TABLE IF NOT EXISTS reading_index (
    instrument TEXT NOT NULL,
    timestamp REAL NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (instrument, timestamp, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_run ON readings (run) WHERE run IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    instrument TEXT,
    message TEXT NOT NULL,
    run TEXT
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    procedure TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    abort_request TEXT,
    setup TEXT NOT NULL,
    document TEXT
);
CREATE TABLE IF NOT EXISTS points (
    run TEXT NOT NULL REFERENCES runs (id),
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    timestamp REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    run TEXT NOT NULL,
    plan TEXT NOT NULL,
    timestamp REAL NOT NULL,
    status TEXT NOT NULL,
    conforms INTEGER,
    failures INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_records (
    run TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    previous TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);
CREATE TABLE IF NOT EXISTS certificates (
    number TEXT NOT NULL,
    run TEXT NOT NULL,
    format TEXT NOT NULL,
    language TEXT NOT NULL,
    issued REAL NOT NULL,
    issued_by TEXT NOT NULL,
    function TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    replaces TEXT NOT NULL DEFAULT '',
    uut TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS certificate_register (
    seq INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    run TEXT NOT NULL,
    replaces TEXT NOT NULL,
    issued REAL NOT NULL,
    hash TEXT NOT NULL,
    previous TEXT NOT NULL,
    link TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificate_files (
    number TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    hash TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS certificate_signature_files (
    number TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS issue_requests (
    request TEXT NOT NULL,
    uut TEXT NOT NULL,
    run TEXT NOT NULL,
    number TEXT NOT NULL,
    PRIMARY KEY (request, uut)
);
CREATE TABLE IF NOT EXISTS signatures (
    subject TEXT NOT NULL,
    hash TEXT NOT NULL,
    key TEXT NOT NULL,
    signed REAL NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (subject, hash)
);
CREATE TABLE IF NOT EXISTS sink_cursors (
    sink TEXT NOT NULL,
    stream TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (sink, stream)
);
CREATE TABLE IF NOT EXISTS journal_facts (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_anchors (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    heads TEXT NOT NULL,
    previous TEXT NOT NULL,
    digest TEXT NOT NULL,
    key TEXT,
    signed REAL,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS sink_states (
    sink TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS command_nonces (
    key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (key, nonce)
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    full_name TEXT NOT NULL DEFAULT '',
    function TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'en',
    disabled INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    sink TEXT NOT NULL,
    stream TEXT NOT NULL,
    row INTEGER NOT NULL,
    error TEXT NOT NULL,
    timestamp REAL NOT NULL,
    PRIMARY KEY (sink, stream, row)
);
"""
MIGRATIONS = {
    1: ("ALTER TABLE events ADD COLUMN run TEXT",),
    4: (
        "ALTER TABLE readings ADD COLUMN run TEXT",
        "ALTER TABLE certificates ADD COLUMN replaces TEXT NOT NULL DEFAULT ''",
    ),
    5: ("ALTER TABLE readings ADD COLUMN chain TEXT",),
}
"""Statements that bring a journal of schema version N to N + 1 (before ``SCHEMA`` runs);
a version that only adds tables needs none (8: the archive of issued certificates' files).
9 adds the UUT of a certificate (``UUT_COLUMN``), whatever version it comes from, and
the archive of signed DCCs' detached signatures. 10 adds the console's users (a table: no
statement), 11 the requests certificates were issued for (``issue_requests``: a form sent
twice issues once), 12 ``reading_index`` (``INDEX_SCHEMA``)."""
UUT_COLUMN = "ALTER TABLE certificates ADD COLUMN uut TEXT NOT NULL DEFAULT ''"
"""Schema 9: certificates per UUT."""
