-- The records schema in postgresql as hil created it up to schema version 2, before the DDL was
-- generated from hil/records/schema.py: stores made then hold exactly this. Kept unchanged so
-- tests/test_records_schema.py can check that such a store still opens and matches a new one.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL);
-- version 1
CREATE FUNCTION hil_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END
$body$;
CREATE TABLE runs (
    run_id TEXT COLLATE "C" PRIMARY KEY,
    created_utc TEXT COLLATE "C" NOT NULL,
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
    run_id TEXT COLLATE "C" NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    utc TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE attachments (
    sha256 TEXT COLLATE "C" PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    stored_utc TEXT NOT NULL,
    content BYTEA NOT NULL
);
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION hil_refuse_change('events are append-only');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION hil_refuse_change('events are append-only');
CREATE TRIGGER attachments_append_only BEFORE UPDATE OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION hil_refuse_change('attachments are append-only');
CREATE TRIGGER attachments_no_truncate BEFORE TRUNCATE ON attachments
    FOR EACH STATEMENT EXECUTE FUNCTION hil_refuse_change('attachments are append-only');
-- version 2
CREATE TABLE people (
    person_id TEXT COLLATE "C" PRIMARY KEY,
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
    secret_salt BYTEA NOT NULL,
    secret_hash BYTEA NOT NULL,
    key_salt BYTEA NOT NULL,
    key_nonce BYTEA NOT NULL,
    key_ciphertext BYTEA NOT NULL
);
CREATE TABLE auth_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utc TEXT NOT NULL,
    person_id TEXT NOT NULL,
    ok INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER auth_log_append_only BEFORE UPDATE OR DELETE ON auth_log
    FOR EACH ROW EXECUTE FUNCTION hil_refuse_change('the authentication log is append-only');
CREATE TRIGGER auth_log_no_truncate BEFORE TRUNCATE ON auth_log
    FOR EACH STATEMENT EXECUTE FUNCTION hil_refuse_change('the authentication log is append-only');
INSERT INTO schema_version VALUES (1, '2025-06-05T10:00:00.000000+00:00');
INSERT INTO schema_version VALUES (2, '2025-06-05T10:00:00.000000+00:00');
