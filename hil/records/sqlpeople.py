"""People and the authentication log in the SQL record stores: the ``people`` and
``auth_log`` tables, in the same database as the records they sign.

``SqlPeople`` is the storage half of ``hil.records.people.PeopleStore`` (which owns the rules:
secrets, roles, authorizations, lock-out), the same on both back ends. A status change or an
authentication attempt and its line in the authentication log are one transaction: a wrong
secret counts towards the lock-out and is logged together, or neither. The log is append-only
(the schema's triggers refuse UPDATE and DELETE on it); rows come back in the order written.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hil.core.timestamps import utc_now
from hil.records.people import Authorization, Kdf, PeopleStore, Person, Role, SecretRecord
from hil.records.sqldb import SqlDatabase, SqlTransaction


class SqlPeople(PeopleStore):
    """People in the same database as the records they sign."""

    def __init__(self, store: SqlDatabase, kdf: Kdf | None) -> None:
        super().__init__(kdf)
        self._store = store

    _COLUMNS = (
        "person_id, printed_name, roles, authorizations, public_key, key_id, status, "
        "created_utc, revoked_utc, revoke_reason, failed_attempts, kdf, secret_salt, "
        "secret_hash, key_salt, key_nonce, key_ciphertext"
    )

    @staticmethod
    def _person(row: tuple[Any, ...]) -> tuple[Person, SecretRecord]:
        (
            pid,
            name,
            roles,
            auths,
            public,
            key_id,
            status,
            created,
            revoked,
            reason,
            failed,
            kdf,
            s_salt,
            s_hash,
            k_salt,
            k_nonce,
            k_ct,
        ) = row
        person = Person(
            person_id=pid,
            printed_name=name,
            roles=tuple(Role(role) for role in json.loads(roles)),
            authorizations=tuple(
                Authorization(a["scope"], a["certificate"], date.fromisoformat(a["expires"]))
                for a in json.loads(auths)
            ),
            public_key=public,
            key_id=key_id,
            status=status,
            created_utc=created,
            revoked_utc=revoked,
            revoke_reason=reason,
            failed_attempts=failed,
        )
        record = SecretRecord(
            Kdf(**json.loads(kdf)),
            bytes(s_salt),
            bytes(s_hash),
            bytes(k_salt),
            bytes(k_nonce),
            bytes(k_ct),
        )
        return person, record

    def _insert(self, person: Person, record: SecretRecord) -> None:
        with self._store._write(f"add person {person.person_id}") as tx:
            tx.execute(
                f"INSERT INTO people ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    person.person_id,
                    person.printed_name,
                    json.dumps([role.value for role in person.roles]),
                    json.dumps([a.to_dict() for a in person.authorizations]),
                    person.public_key,
                    person.key_id,
                    person.status,
                    person.created_utc,
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

    def _get(self, person_id: str) -> tuple[Person, SecretRecord] | None:
        rows = self._store._query(
            f"SELECT {self._COLUMNS} FROM people WHERE person_id = ?", (person_id,)
        )
        return self._person(rows[0]) if rows else None

    def _all(self) -> list[Person]:
        rows = self._store._query(f"SELECT {self._COLUMNS} FROM people ORDER BY person_id")
        return [self._person(row)[0] for row in rows]

    def _set_status(self, person_id: str, status: str, reason: str | None, utc: str | None) -> None:
        with self._store._write(f"set person {person_id} {status}") as tx:
            if status == "revoked":
                tx.execute(
                    "UPDATE people SET status=?, revoke_reason=?, revoked_utc=? WHERE person_id=?",
                    (status, reason, utc, person_id),
                )
            else:
                tx.execute(
                    "UPDATE people SET status=?, failed_attempts=0 WHERE person_id=?",
                    (status, person_id),
                )
            self._log(tx, person_id, True, "admin", f"status set to {status}")

    def _failed(self, person_id: str, purpose: str, limit: int) -> int:
        with self._store._write(f"log wrong secret for {person_id}") as tx:
            tx.execute(
                "UPDATE people SET failed_attempts = failed_attempts + 1 WHERE person_id = ?",
                (person_id,),
            )
            ((count,),) = tx.query(
                "SELECT failed_attempts FROM people WHERE person_id = ?", (person_id,)
            )
            if count >= limit:
                tx.execute(
                    "UPDATE people SET status = 'locked' WHERE person_id = ? AND status='active'",
                    (person_id,),
                )
            self._log(tx, person_id, False, purpose, f"wrong secret ({count} in a row)")
        return int(count)

    def _log_attempt(self, person_id: str, ok: bool, purpose: str, detail: str) -> None:
        with self._store._write(f"log authentication of {person_id}") as tx:
            if ok:
                tx.execute(
                    "UPDATE people SET failed_attempts = 0 WHERE person_id = ?", (person_id,)
                )
            self._log(tx, person_id, ok, purpose, detail)

    @staticmethod
    def _log(tx: SqlTransaction, person_id: str, ok: bool, purpose: str, detail: str) -> None:
        tx.execute(
            "INSERT INTO auth_log (utc, person_id, ok, purpose, detail) VALUES (?,?,?,?,?)",
            (utc_now(), person_id, int(ok), purpose, detail),
        )

    def _auth_log(self, person_id: str | None) -> list[dict[str, Any]]:
        sql = "SELECT utc, person_id, ok, purpose, detail FROM auth_log"
        args: tuple[Any, ...] = ()
        if person_id is not None:
            sql += " WHERE person_id = ?"
            args = (person_id,)
        rows = self._store._query(sql + " ORDER BY id", args)
        keys = ("utc", "person_id", "ok", "purpose", "detail")
        return [{**dict(zip(keys, row, strict=True)), "ok": bool(row[2])} for row in rows]
