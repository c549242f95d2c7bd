"""What keeps ordinary SQL from rewriting the records: the guards schema version 4 adds, and the
grants of the least-privilege bench role on PostgreSQL.

Versions 1 to 3 refuse UPDATE and DELETE on the append-only tables. On SQLite that is not
enough: ``INSERT OR REPLACE`` (and ``REPLACE``) deletes the row in its way *without firing
delete triggers* (they fire for REPLACE only with ``PRAGMA recursive_triggers``), so an event
could be replaced in place. Version 4 adds, per dialect:

- SQLite: a ``BEFORE INSERT`` trigger on every append-only table refusing a row whose key is
  already there (REPLACE, ``INSERT OR IGNORE`` over a row, delete-and-reinsert stay refused:
  the delete is refused already), and the same guards on ``attachments`` (version 1 left its
  SQLite index unguarded). ``ON CONFLICT DO UPDATE`` is an UPDATE and refused by version 1.
- both: guards on ``runs``, the one table the bench must update (its head and end): no run is
  deleted (or replaced, or truncated), the columns ``run_started`` sets never change, the head
  may only move to the run's last event, and status, outcome and end time may only change to
  what the run's first ``run_finished``/``run_interrupted`` says.

On PostgreSQL the guards hold against the bench role, which does not own the tables and so
cannot drop or disable triggers; ``bench_role_sql`` are its grants: SELECT and INSERT on the
records tables, UPDATE only on the head and end columns of ``runs`` (guarded above), nothing
else (no DELETE, TRUNCATE or TRIGGER anywhere). Against the tables' owner, or someone with the
SQLite file, nothing in the database holds: ``verify`` finds what they change.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

APPEND_ONLY_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "events": (("run_id", "seq"), "events are append-only"),
    "auth_log": (("id",), "the authentication log is append-only"),
    "attachments": (("sha256",), "attachments are append-only"),
    "registry": (("seq",), "the people registry is append-only"),
}
"""Append-only tables: their key and the message their triggers refuse a change with."""

RUN_IDENTITY = (
    "run_id",
    "created_utc",
    "card_number",
    "revision",
    "title",
    "lander",
    "operator_id",
    "owner_host",
    "owner_pid",
)
"""Columns of ``runs`` set once, from ``run_started`` and the creating process."""

RUN_FOLLOWS = ("status", "outcome", "finished_utc", "head_seq", "head_hash")
"""Columns of ``runs`` that follow the events (the bench role may update only these)."""

END_KINDS_SQL = "('run_finished', 'run_interrupted')"

RUNS_NEVER_DELETED = "runs are never deleted"
RUNS_IDENTITY = "the card, lander, operator and start of a run never change"
RUNS_HEAD = "the head of a run is its last event"
RUNS_END = "the status, outcome and end of a run are what its run_finished or run_interrupted says"
# (messages go into SQL string literals: no quotes)


def _sqlite_refuse_existing(table: str, key: tuple[str, ...], message: str) -> str:
    match = " AND ".join(f"{column} = NEW.{column}" for column in key)
    return (
        f"CREATE TRIGGER {table}_append_only_insert BEFORE INSERT ON {table}\n"
        f"    WHEN EXISTS (SELECT 1 FROM {table} WHERE {match})\n"
        f"    BEGIN SELECT RAISE(ABORT, '{message}'); END;\n"
    )


def _sqlite_refuse(table: str, action: str, message: str, suffix: str) -> str:
    return (
        f"CREATE TRIGGER {table}_{suffix} BEFORE {action} ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{message}'); END;\n"
    )


def _changed(columns: tuple[str, ...], op: str) -> str:
    return " OR ".join(f"NEW.{c} {op} OLD.{c}" for c in columns)


def _sqlite_runs() -> str:
    follows_end = (
        "(NEW.status = 'open' AND NEW.outcome IS NULL AND NEW.finished_utc IS NULL "
        f"AND NOT EXISTS (SELECT 1 FROM events WHERE run_id = NEW.run_id AND kind IN "
        f"{END_KINDS_SQL}))\n"
        "        OR EXISTS (SELECT 1 FROM (SELECT kind, utc, payload FROM events "
        f"WHERE run_id = NEW.run_id AND kind IN {END_KINDS_SQL} ORDER BY seq LIMIT 1) AS e\n"
        "            WHERE (e.kind = 'run_finished' AND NEW.status = 'finished' "
        "AND NEW.outcome IS json_extract(e.payload, '$.outcome') AND NEW.finished_utc IS e.utc)\n"
        "            OR (e.kind = 'run_interrupted' AND NEW.status = 'interrupted' "
        "AND NEW.outcome IS NULL AND NEW.finished_utc IS e.utc))"
    )
    return (
        _sqlite_refuse("runs", "DELETE", RUNS_NEVER_DELETED, "never_deleted")
        + _sqlite_refuse_existing("runs", ("run_id",), RUNS_NEVER_DELETED)
        + "CREATE TRIGGER runs_identity BEFORE UPDATE ON runs\n"
        f"    WHEN {_changed(RUN_IDENTITY, 'IS NOT')}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{RUNS_IDENTITY}'); END;\n"
        "CREATE TRIGGER runs_head_follows_events BEFORE UPDATE ON runs\n"
        "    WHEN NOT EXISTS (SELECT 1 FROM events WHERE run_id = NEW.run_id "
        "AND seq = NEW.head_seq AND hash = NEW.head_hash)\n"
        "        OR EXISTS (SELECT 1 FROM events WHERE run_id = NEW.run_id "
        "AND seq > NEW.head_seq)\n"
        f"    BEGIN SELECT RAISE(ABORT, '{RUNS_HEAD}'); END;\n"
        "CREATE TRIGGER runs_end_follows_events BEFORE UPDATE ON runs\n"
        f"    WHEN ({_changed(('status', 'outcome', 'finished_utc'), 'IS NOT')})\n"
        f"        AND NOT ({follows_end})\n"
        f"    BEGIN SELECT RAISE(ABORT, '{RUNS_END}'); END;\n"
    )


_PG_RUNS_FUNCTION = f"""
CREATE FUNCTION hil_runs_follow_events() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
    last_seq INTEGER;
    last_hash TEXT;
    end_kind TEXT;
    end_utc TEXT;
    end_payload TEXT;
    want_status TEXT := 'open';
    want_outcome TEXT;
BEGIN
    IF {_changed(RUN_IDENTITY, "IS DISTINCT FROM")} THEN
        RAISE EXCEPTION USING MESSAGE = '{RUNS_IDENTITY}', ERRCODE = 'restrict_violation';
    END IF;
    SELECT seq, hash INTO last_seq, last_hash FROM events
        WHERE run_id = NEW.run_id ORDER BY seq DESC LIMIT 1;
    IF NEW.head_seq IS DISTINCT FROM last_seq OR NEW.head_hash IS DISTINCT FROM last_hash THEN
        RAISE EXCEPTION USING MESSAGE = '{RUNS_HEAD}', ERRCODE = 'restrict_violation';
    END IF;
    IF {_changed(("status", "outcome", "finished_utc"), "IS DISTINCT FROM")} THEN
        SELECT kind, utc, payload INTO end_kind, end_utc, end_payload FROM events
            WHERE run_id = NEW.run_id AND kind IN {END_KINDS_SQL} ORDER BY seq LIMIT 1;
        IF end_kind = 'run_finished' THEN
            want_status := 'finished';
            want_outcome := end_payload::jsonb ->> 'outcome';
        ELSIF end_kind = 'run_interrupted' THEN
            want_status := 'interrupted';
        END IF;
        IF NEW.status IS DISTINCT FROM want_status OR NEW.outcome IS DISTINCT FROM want_outcome
            OR NEW.finished_utc IS DISTINCT FROM end_utc THEN
            RAISE EXCEPTION USING MESSAGE = '{RUNS_END}', ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$body$;
"""


def _pg_runs() -> str:
    return (
        _PG_RUNS_FUNCTION + "CREATE TRIGGER runs_follow_events BEFORE UPDATE ON runs\n"
        "    FOR EACH ROW EXECUTE FUNCTION hil_runs_follow_events();\n"
        "CREATE TRIGGER runs_never_deleted BEFORE DELETE ON runs\n"
        f"    FOR EACH ROW EXECUTE FUNCTION hil_refuse_change('{RUNS_NEVER_DELETED}');\n"
        "CREATE TRIGGER runs_no_truncate BEFORE TRUNCATE ON runs\n"
        f"    FOR EACH STATEMENT EXECUTE FUNCTION hil_refuse_change('{RUNS_NEVER_DELETED}');\n"
    )


def version4(dialect: Dialect) -> str:
    """The DDL of schema version 4 (module docstring)."""
    if dialect == "postgresql":
        return _pg_runs()
    parts = [
        _sqlite_refuse_existing(table, key, message)
        for table, (key, message) in APPEND_ONLY_KEYS.items()
    ]
    message = APPEND_ONLY_KEYS["attachments"][1]
    parts.append(_sqlite_refuse("attachments", "UPDATE", message, "append_only_update"))
    parts.append(_sqlite_refuse("attachments", "DELETE", message, "append_only_delete"))
    parts.append(_sqlite_runs())
    return "".join(parts)


BENCH_TABLES_APPEND = ("events", "attachments", "auth_log", "registry")
"""Records tables the bench role may only read and append to."""


def bench_role_sql(role: str, schema: str = "public") -> str:
    """The grants of the least-privilege bench role ``role`` on a records store in ``schema``,
    to be run by the tables' owner once the schema (and any component tables, e.g. the
    fleet's) exists. The role may read everything, append to the records, update only the
    guarded head and end columns of ``runs`` and the rows of ``people`` (until people are an
    event chain of their own), and read, insert and update the components' own tables. It
    never gets DELETE, TRUNCATE, TRIGGER or ownership, so it cannot disable a guard."""
    for name in (role, schema):
        if not name.replace("_", "").isalnum():
            raise ValueError(f"{name!r}: use letters, digits and '_' only")
    records = ", ".join((*BENCH_TABLES_APPEND, "runs", "schema_version"))
    return (
        f"GRANT USAGE ON SCHEMA {schema} TO {role};\n"
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role};\n"
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {role};\n"
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role};\n"
        f"REVOKE UPDATE ON {records} FROM {role};\n"
        f"REVOKE INSERT ON schema_version FROM {role};\n"
        f"GRANT UPDATE ({', '.join(RUN_FOLLOWS)}) ON runs TO {role};\n"
    )
