"""Tamper-evident as-run records: a durable hash-chained event store, identities and sign-off.

::

    with SqliteStore(default_data_dir()) as store:
        run_id = store.create_run({"card": {...}, "lander": "HR-2", "operator_id": "jdoe"})
        store.append(run_id, "attempt", attempt.to_dict())
        store.finish(run_id, "PASS")
        sign(store, run_id, "jdoe", secret, "performed")
        sign(store, run_id, "asmith", secret2, "inspected", covers=[4])
        print(verify(store, run_id).describe())

``RecordStore`` is the storage interface (``SqliteStore`` the embedded one, ``PostgresStore``
the shared one, ``open_store(url_or_path)`` picks by URL), ``PeopleStore`` the identity
registry it carries (changed only by an ``Administrator``; ``bootstrap_admin`` makes the first
one and writes the ``Trust`` file), ``StoreRecorder`` the adapter the card runner writes through,
``verify_store`` the whole-store check against the newest trusted checkpoint.
"""

from __future__ import annotations

from hil.records.admin import Administrator, bootstrap_admin
from hil.records.audit import StoreReport, verify_store
from hil.records.backends import open_store
from hil.records.canonical import GENESIS_HASH, canonical_json, event_hash
from hil.records.datadir import default_data_dir
from hil.records.errors import (
    AuthenticationError,
    RecordError,
    SignoffRefused,
    StorageError,
    UnknownRecord,
)
from hil.records.export import export_html, export_json
from hil.records.people import Authorization, Kdf, PeopleStore, Person, Role
from hil.records.postgres import PostgresStore
from hil.records.recorder import StoreRecorder
from hil.records.signoff import correct, redline, sign
from hil.records.sqlite import SqliteStore
from hil.records.sqlstore import SqlAccess, SqlTransaction
from hil.records.state import Meaning, RunState
from hil.records.store import Event, RecordStore, RunInfo
from hil.records.trust import TRUST_ENV, Trust
from hil.records.verify import VerifyReport, verify

__all__ = [
    "GENESIS_HASH",
    "TRUST_ENV",
    "Administrator",
    "AuthenticationError",
    "Authorization",
    "Event",
    "Kdf",
    "Meaning",
    "PeopleStore",
    "Person",
    "PostgresStore",
    "RecordError",
    "RecordStore",
    "Role",
    "RunInfo",
    "RunState",
    "SignoffRefused",
    "SqlAccess",
    "SqlTransaction",
    "SqliteStore",
    "StorageError",
    "StoreRecorder",
    "StoreReport",
    "Trust",
    "UnknownRecord",
    "VerifyReport",
    "bootstrap_admin",
    "canonical_json",
    "correct",
    "default_data_dir",
    "event_hash",
    "export_html",
    "export_json",
    "open_store",
    "redline",
    "sign",
    "verify",
    "verify_store",
]
