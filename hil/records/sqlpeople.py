"""People in the SQL record stores: the ``registry`` chain, the ``people`` table of stored
secrets, and the plain ``auth_log`` table, in the same database as the records they sign.

``SqlPeople`` is the storage half of ``hil.records.people.PeopleStore`` (which owns the rules),
the same on both back ends. A registry append reads the chain's head with the registry locked
against other writers (``SqlDatabase._lock_registry``), inserts the next event and, in the same
transaction, the new person's secret record or a line of the authentication log table. The
``people`` table holds what a person needs to sign (the scrypt hash and encrypted key) and a
copy of what the registry said when they were added; nothing reads who a person is from it.
The ``auth_log`` table is kept for people reading the database; the chain is the log.
"""

from __future__ import annotations

import json
from typing import Any

from hil.core.timestamps import utc_now
from hil.records.canonical import GENESIS_HASH, canonical_json, event_hash
from hil.records.errors import RecordError
from hil.records.identity import Kdf, SecretRecord, key_id_of
from hil.records.people import Build, PeopleStore
from hil.records.registry import REGISTRY_CHAIN, RegistryEvent
from hil.records.sqldb import SqlDatabase, SqlTransaction
from hil.records.trust import Trust


class SqlPeople(PeopleStore):
    """People in the same database as the records they sign."""

    def __init__(self, store: SqlDatabase, kdf: Kdf | None, trust: Trust) -> None:
        super().__init__(kdf)
        self._store = store
        self._trust = trust

    @property
    def trust(self) -> Trust:
        return self._trust

    @trust.setter
    def trust(self, trust: Trust) -> None:
        self._trust = trust

    _SECRET_COLUMNS = "kdf, secret_salt, secret_hash, key_salt, key_nonce, key_ciphertext"
    _EVENT_COLUMNS = "seq, kind, utc, payload, prev_hash, hash"

    def _secret(self, person_id: str) -> SecretRecord | None:
        rows = self._store._query(
            f"SELECT {self._SECRET_COLUMNS} FROM people WHERE person_id = ?", (person_id,)
        )
        if not rows:
            return None
        kdf, s_salt, s_hash, k_salt, k_nonce, k_ct = rows[0]
        return SecretRecord(
            Kdf(**json.loads(kdf)),
            bytes(s_salt),
            bytes(s_hash),
            bytes(k_salt),
            bytes(k_nonce),
            bytes(k_ct),
        )

    def _registry_head(self) -> tuple[int, str]:
        rows = self._store._query("SELECT seq, hash FROM registry ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)

    def _registry_events(self) -> list[RegistryEvent]:
        rows = self._store._query(f"SELECT {self._EVENT_COLUMNS} FROM registry ORDER BY seq")
        return [RegistryEvent(*row) for row in rows]

    def _append_registry(
        self,
        build: Build,
        *,
        secret: tuple[str, SecretRecord] | None = None,
        log: tuple[str, bool, str] | None = None,
    ) -> RegistryEvent:
        with self._store._write("append to the people registry") as tx:
            self._store._lock_registry(tx)
            rows = tx.query("SELECT seq, hash FROM registry ORDER BY seq DESC LIMIT 1")
            seq, prev = (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)
            seq += 1
            kind, payload = build(seq, prev)
            try:
                payload_json = canonical_json(payload)
            except (TypeError, ValueError) as err:
                raise RecordError(f"registry '{kind}' payload is not JSON: {err}") from None
            utc = utc_now()
            digest = event_hash(REGISTRY_CHAIN, seq, kind, utc, prev, payload_json)
            tx.execute(
                f"INSERT INTO registry ({self._EVENT_COLUMNS}) VALUES (?,?,?,?,?,?)",
                (seq, kind, utc, payload_json, prev, digest),
            )
            if secret is not None:
                self._insert_secret(tx, payload, utc, secret[1])
            if log is not None:
                person_id, ok, purpose = log
                tx.execute(
                    "INSERT INTO auth_log (utc, person_id, ok, purpose, detail) VALUES (?,?,?,?,?)",
                    (utc, person_id, int(ok), purpose, str(payload.get("detail", ""))),
                )
        return RegistryEvent(seq, kind, utc, payload_json, prev, digest)

    @staticmethod
    def _insert_secret(
        tx: SqlTransaction, payload: dict[str, Any], utc: str, record: SecretRecord
    ) -> None:
        tx.execute(
            "INSERT INTO people (person_id, printed_name, roles, authorizations, public_key, "
            "key_id, status, created_utc, revoked_utc, revoke_reason, failed_attempts, "
            f"{SqlPeople._SECRET_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                payload["person_id"],
                payload["printed_name"],
                json.dumps(payload["roles"]),
                json.dumps(payload["authorizations"]),
                payload["public_key"],
                key_id_of(str(payload["public_key"])),
                "active",
                utc,
                None,
                None,
                0,
                json.dumps(vars(record.kdf)),
                record.secret_salt,
                record.secret_hash,
                record.key_salt,
                record.key_nonce,
                record.key_ciphertext,
            ),
        )
