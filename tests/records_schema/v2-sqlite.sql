-- The records schema in sqlite as hil created it up to schema version 2, before the DDL was
-- generated from hil/records/schema.py: stores made then hold exactly this. Kept unchanged so
-- tests/test_records_schema.py can check that such a store still opens and matches a new one.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL);
-- version 1
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    created_utc TEXT NOT NULL,
    card_number TEXT NOT NULL,
    revision TEXT NOT NULL,
    title TEXT NOT NULL,
    lander TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT,
    finished_utc TEXT,
    owner_host TEXT NOT NULL,
    owner_pid INTEGER NOT NULL,
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL
);
CREATE TABLE events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    utc TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE attachments (
    sha256 TEXT PRIMARY KEY,
    size_bytes INTEGER NOT NULL,
    stored_utc TEXT NOT NULL
);
-- version 2
CREATE TABLE people (
    person_id TEXT PRIMARY KEY,
    printed_name TEXT NOT NULL,
    roles TEXT NOT NULL,
    authorizations TEXT NOT NULL,
    public_key TEXT NOT NULL,
    key_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    revoked_utc TEXT,
    revoke_reason TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    kdf TEXT NOT NULL,
    secret_salt BLOB NOT NULL,
    secret_hash BLOB NOT NULL,
    key_salt BLOB NOT NULL,
    key_nonce BLOB NOT NULL,
    key_ciphertext BLOB NOT NULL
);
CREATE TABLE auth_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    utc TEXT NOT NULL,
    person_id TEXT NOT NULL,
    ok INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER auth_log_append_only_update BEFORE UPDATE ON auth_log
    BEGIN SELECT RAISE(ABORT, 'the authentication log is append-only'); END;
CREATE TRIGGER auth_log_append_only_delete BEFORE DELETE ON auth_log
    BEGIN SELECT RAISE(ABORT, 'the authentication log is append-only'); END;
INSERT INTO schema_version VALUES (1, '2025-06-05T10:00:00.000000+00:00');
INSERT INTO schema_version VALUES (2, '2025-06-05T10:00:00.000000+00:00');
