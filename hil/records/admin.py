"""Administrators: the only way people, roles, authorizations, revocations and unlocks change.

::

    # once per site: the first administrator, written into the trust file
    bootstrap_admin(store, "root", "R. Admin", secret, Path("/etc/hil/trust.toml"))
    admin = Administrator.login(store, "root", secret)   # two factors, an `auth` event
    admin.add("tech.a", "A. Technician", ["technician"], tech_secret, [authorization])
    admin.unlock("tech.a")

Every change is a registry event signed with the administrator's key (``hil.records.registry``)
followed by a checkpoint of the whole store signed by the same key (``hil.records.checkpoint``).
Bootstrapping writes the administrator's public key into the trust file, and with it (unless the
file names them already) a bench checkpoint key and a witness folder beside the file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.errors import ConfigError
from hil.records.errors import AuthenticationError, RecordError, SignoffRefused
from hil.records.identity import Authorization, Person, Role, public_key_of, unlock_key
from hil.records.store import RecordStore
from hil.records.trust import (
    DEFAULT_BENCH_KEY,
    DEFAULT_WITNESS,
    Trust,
    load_bench_key,
    new_bench_key,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class Administrator:
    """An administrator who has given both factors; signs changes to the people registry."""

    def __init__(self, store: RecordStore, admin_id: str, key: Ed25519PrivateKey) -> None:
        self.store = store
        self.admin_id = admin_id
        self._key = key

    @classmethod
    def login(cls, store: RecordStore, admin_id: str, secret: str) -> Administrator:
        """Authenticate ``admin_id`` (id and secret). Raises ``AuthenticationError`` for a wrong
        secret, a locked or revoked person, or someone without the ``admin`` role."""
        people = store.people
        key = people.authenticate(admin_id, secret, "administer people")
        person = people.get(admin_id)
        if Role.ADMIN not in person.roles:
            raise AuthenticationError(f"{person.printed_name} ({admin_id}) is not an administrator")
        return cls(store, admin_id, key)

    def add(
        self,
        person_id: str,
        printed_name: str,
        roles: list[Role] | tuple[Role, ...] | list[str],
        secret: str,
        authorizations: tuple[Authorization, ...] | list[Authorization] = (),
    ) -> Person:
        """Register a person with a new signing key. Raises ``RecordError`` for a bad or taken
        id, an empty name, an unknown role or a short secret."""
        body, record = self.store.people.new_person(
            person_id, printed_name, roles, secret, authorizations
        )
        return self._change("person_added", body, record)

    def authorize(self, person_id: str, authorization: Authorization) -> Person:
        """Give ``person_id`` one more authorization."""
        self.store.people.get(person_id)
        return self._change(
            "person_authorized", {"person_id": person_id, "authorization": authorization.to_dict()}
        )

    def revoke(self, person_id: str, reason: str) -> Person:
        """The person can sign no more; their earlier signatures stay valid."""
        if not reason.strip():
            raise SignoffRefused(f"person {person_id!r}: revoking needs a reason")
        self.store.people.get(person_id)
        return self._change("person_revoked", {"person_id": person_id, "reason": reason.strip()})

    def unlock(self, person_id: str) -> Person:
        """Clear a lock-out (and the wrong-secret count). A revoked person stays revoked."""
        if self.store.people.get(person_id).status == "revoked":
            raise SignoffRefused(f"person {person_id!r} is revoked, not locked")
        return self._change("person_unlocked", {"person_id": person_id})

    def _change(self, kind: str, body: dict[str, Any], secret: Any = None) -> Person:
        people = self.store.people
        state = people.registry(fresh=True)
        if state.problem is not None:
            raise RecordError(f"{state.describe_problem()}; no changes until that is looked into")
        me = state.people.get(self.admin_id)
        if (
            me is None
            or me.status == "revoked"
            or Role.ADMIN not in me.roles
            or me.public_key != public_key_of(self._key)
        ):
            raise AuthenticationError(f"{self.admin_id} is no longer an administrator")
        people.append_admin_event(kind, body, self.admin_id, self._key, secret)
        person_id = str(body["person_id"])
        self.store.checkpoint(f"{kind} {person_id}", signer=(self.admin_id, self._key))
        return people.get(person_id)


def bootstrap_admin(
    store: RecordStore,
    person_id: str,
    printed_name: str,
    secret: str,
    trust_path: str | Path | None = None,
) -> Person:
    """Register the first administrator of an empty registry and write their public key into
    the trust file (``trust_path``, else the one the store was opened with); a bench checkpoint
    key and a witness folder are made beside it when the file names none.

    Raises ``RecordError`` when the registry already has people (an administrator adds
    administrators) and ``ConfigError`` when no trust file is named or it cannot be written.
    """
    people = store.people
    if people.stored_head()[0] != 0:
        raise RecordError(
            f"records {store.location}: the people registry is not empty; an administrator "
            "adds administrators (hil people add --role admin)"
        )
    path = Path(trust_path) if trust_path is not None else store.trust.path
    if path is None:
        raise ConfigError("bootstrapping an administrator needs a trust file (--trust FILE)")
    trust = Trust.load(path)
    body, record = people.new_person(person_id, printed_name, [Role.ADMIN], secret)
    key = unlock_key(person_id, secret, record)
    trust = _with_checkpoints(trust.with_admin(person_id, str(body["public_key"])))
    trust.save()
    store.trust = trust
    people.append_admin_event("person_added", body, person_id, key, record)
    store.checkpoint(f"person_added {person_id} (bootstrap)", signer=(person_id, key))
    return people.get(person_id)


def _with_checkpoints(trust: Trust) -> Trust:
    """``trust`` with a witness folder and a bench key, made beside the file if it has none."""
    assert trust.path is not None
    base = trust.path.parent
    if not trust.witnesses:
        trust = replace(trust, witnesses=(base / DEFAULT_WITNESS,))
    if trust.bench_key is None:
        key_path = base / DEFAULT_BENCH_KEY
        if key_path.exists():
            public = public_key_of(load_bench_key(key_path))
        else:
            public = new_bench_key(key_path)
        if not trust.trusts_bench(public):
            trust = trust.with_bench("bench", public, key_path)
        else:
            trust = replace(trust, bench_key=key_path)
    return trust
