"""The identity registry's rules: who is registered (replayed from the registry chain),
authentication with two factors, lock-out, and the administrator-signed changes.

``PeopleStore`` holds the rules; a backend (``SqlPeople``) implements the small storage hooks:
the registry chain (``hil.records.registry``) and, per person, the stored secret record (the
scrypt hash and the encrypted signing key). Nothing about who a person is, which key they sign
with, their roles, authorizations or lock-out is read from anywhere but the chain, replayed
against the trust file (``hil.records.trust``). Changes to people are made through
``hil.records.admin.Administrator`` (an administrator's two factors); every authentication
attempt is an ``auth`` event of the chain.

The data types (``Person``, ``Role``, ``Authorization``, ``Kdf``...) live in
``hil.records.identity`` and are re-exported here.
"""

from __future__ import annotations

import hmac
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hil.records.errors import AuthenticationError, RecordError, UnknownRecord
from hil.records.identity import (
    MAX_FAILED_ATTEMPTS,
    MIN_SECRET_CHARS,
    PERSON_ID,
    Authorization,
    Kdf,
    Person,
    Role,
    SecretRecord,
    key_id_of,
    new_key_material,
    public_key_of,
    unlock_key,
    verify_signature,
)
from hil.records.registry import RegistryEvent, RegistryState, admin_message
from hil.records.trust import Trust

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "MAX_FAILED_ATTEMPTS",
    "MIN_SECRET_CHARS",
    "Authorization",
    "Kdf",
    "PeopleStore",
    "Person",
    "Role",
    "SecretRecord",
    "key_id_of",
    "verify_signature",
]

log = logging.getLogger("hil.records")

Build = Callable[[int, str], tuple[str, dict[str, Any]]]
"""Makes a registry event's kind and payload, given its seq and the previous event's hash."""


class PeopleStore(ABC):
    """The identity registry. Public methods hold the rules; backends implement the hooks."""

    def __init__(self, kdf: Kdf | None = None) -> None:
        self.kdf = kdf or Kdf()
        """scrypt cost for people added from now on."""
        self._cache: tuple[tuple[int, str, int], RegistryState] | None = None

    # -- reading -----------------------------------------------------------------------------

    def registry(self, *, fresh: bool = False) -> RegistryState:
        """The registry chain replayed against the trust file (``fresh``: from every event
        again, not from this process's copy of an unchanged head)."""
        count, head = self._registry_head()
        trust = self.trust
        key = (count, head, id(trust))
        if not fresh and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        state = RegistryState.replay(trust, self._registry_events())
        self._cache = (key, state)
        return state

    def stored_head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the registry's last stored event (``(0, GENESIS_HASH)``: empty)."""
        return self._registry_head()

    def registry_events(self) -> list[RegistryEvent]:
        """The registry chain as stored (unchecked; ``registry()`` replays and checks it)."""
        return self._registry_events()

    def get(self, person_id: str) -> Person:
        """The person as the registry chain says. Raises ``UnknownRecord``."""
        found = self.registry().people.get(person_id)
        if found is None:
            raise UnknownRecord(f"person {person_id!r}: not registered")
        return found

    def all(self) -> list[Person]:
        """Everyone registered, by id."""
        people = self.registry().people
        return [people[pid] for pid in sorted(people)]

    def auth_log(self, person_id: str | None = None) -> list[dict[str, Any]]:
        """Every authentication attempt (oldest first): utc, person_id, ok, purpose, detail."""
        entries = self.registry().auth_log
        return [dict(e) for e in entries if person_id is None or e["person_id"] == person_id]

    # -- authentication ----------------------------------------------------------------------

    def authenticate(self, person_id: str, secret: str, purpose: str) -> Ed25519PrivateKey:
        """Check both factors and return the person's signing key.

        Raises ``AuthenticationError`` for an unknown, revoked or locked person, a wrong secret
        or a key that is not the registered one; every attempt is an ``auth`` event of the
        registry chain, and wrong secrets count towards lock-out. Raises ``RecordError`` when
        the registry does not verify (nobody can sign until that is looked into).
        """
        state = self.registry(fresh=True)
        if state.problem is not None:
            raise RecordError(f"{state.describe_problem()}; refusing to authenticate anyone")
        if state.count == 0:
            raise AuthenticationError(
                f"person {person_id!r}: not registered (nobody is: an administrator must be "
                "bootstrapped first, hil people bootstrap-admin)"
            )
        person = state.people.get(person_id)
        if person is None:
            self._log(person_id, False, purpose, "unknown person")
            raise AuthenticationError(f"person {person_id!r}: not registered")
        if person.status == "revoked":
            self._log(person_id, False, purpose, "revoked")
            raise AuthenticationError(f"person {person_id!r}: revoked ({person.revoke_reason})")
        if person.status == "locked":
            self._log(person_id, False, purpose, "locked")
            raise AuthenticationError(
                f"person {person_id!r}: locked after {MAX_FAILED_ATTEMPTS} wrong secrets; "
                "an administrator must unlock"
            )
        record = self._secret(person_id)
        if record is None:
            self._log(person_id, False, purpose, "no stored secret")
            raise AuthenticationError(f"person {person_id!r}: no secret stored for them")
        candidate = record.kdf.derive(secret, record.secret_salt)
        if not hmac.compare_digest(candidate, record.secret_hash):
            failures = person.failed_attempts + 1
            self._log(
                person_id, False, purpose, f"wrong secret ({failures} in a row)", wrong_secret=True
            )
            log.warning("wrong secret for %s (%s), %d in a row", person_id, purpose, failures)
            left = MAX_FAILED_ATTEMPTS - failures
            tail = "now locked" if left <= 0 else f"{left} tries left before lockout"
            raise AuthenticationError(f"person {person_id!r}: wrong secret ({tail})")
        key = unlock_key(person_id, secret, record)
        if public_key_of(key) != person.public_key:
            self._log(person_id, False, purpose, "stored key is not the registered key")
            raise AuthenticationError(
                f"person {person_id!r}: the stored signing key is not the registered one "
                f"(registered key {person.key_id}; the people table was changed)"
            )
        self._log(person_id, True, purpose, "ok")
        return key

    def _log(
        self, person_id: str, ok: bool, purpose: str, detail: str, *, wrong_secret: bool = False
    ) -> None:
        payload = {
            "person_id": person_id,
            "ok": ok,
            "purpose": purpose,
            "detail": detail,
            "wrong_secret": wrong_secret,
        }
        self._append_registry(lambda seq, prev: ("auth", payload), log=(person_id, ok, purpose))

    # -- administrator-signed changes (hil.records.admin) ------------------------------------

    def new_person(
        self,
        person_id: str,
        printed_name: str,
        roles: list[Role] | tuple[Role, ...] | list[str],
        secret: str,
        authorizations: tuple[Authorization, ...] | list[Authorization] = (),
    ) -> tuple[dict[str, Any], SecretRecord]:
        """The ``person_added`` body and stored secret record for a new person, with a new
        signing key. Raises ``RecordError`` for a bad or taken id, an empty name, an unknown
        role or a secret shorter than ``MIN_SECRET_CHARS``."""
        role_set = self.check_new(person_id, printed_name, roles, secret)
        if person_id in self.registry(fresh=True).people:
            raise RecordError(f"person {person_id!r} already exists")
        public, record = new_key_material(person_id, secret, self.kdf)
        body = {
            "person_id": person_id,
            "printed_name": printed_name.strip(),
            "roles": [role.value for role in role_set],
            "authorizations": [a.to_dict() for a in authorizations],
            "public_key": public,
        }
        return body, record

    @staticmethod
    def check_new(
        person_id: str,
        printed_name: str,
        roles: list[Role] | tuple[Role, ...] | list[str],
        secret: str,
    ) -> tuple[Role, ...]:
        """The roles of a new person, checked with their id, name and secret (see
        ``new_person``); nothing is looked up."""
        if not PERSON_ID.match(person_id):
            raise RecordError(f"person id {person_id!r}: use 1-64 letters, digits, '.', '_' or '-'")
        if not printed_name.strip():
            raise RecordError(f"person {person_id!r}: printed name is empty")
        try:
            role_set = tuple(dict.fromkeys(Role(role) for role in roles))
        except ValueError as err:
            known = ", ".join(role.value for role in Role)
            raise RecordError(f"person {person_id!r}: {err} (roles: {known})") from None
        if not role_set:
            raise RecordError(f"person {person_id!r}: needs at least one role")
        if len(secret) < MIN_SECRET_CHARS:
            raise RecordError(
                f"person {person_id!r}: secret must have at least {MIN_SECRET_CHARS} characters"
            )
        return role_set

    def append_admin_event(
        self,
        kind: str,
        body: dict[str, Any],
        admin_id: str,
        admin_key: Ed25519PrivateKey,
        secret: SecretRecord | None = None,
    ) -> RegistryEvent:
        """Append ``kind`` with ``body``, signed by the administrator ``admin_id`` over its
        place in the chain; ``secret`` is the new person's stored secret (``person_added``)."""
        public = public_key_of(admin_key)

        def build(seq: int, prev: str) -> tuple[str, dict[str, Any]]:
            payload = {**body, "admin_id": admin_id, "admin_public_key": public}
            payload["signature"] = admin_key.sign(admin_message(seq, prev, kind, payload)).hex()
            return kind, payload

        stored = (str(body["person_id"]), secret) if secret is not None else None
        return self._append_registry(build, secret=stored)

    # -- backend hooks -----------------------------------------------------------------------

    @property
    @abstractmethod
    def trust(self) -> Trust:
        """The trust file the registry is replayed against."""

    @abstractmethod
    def _registry_head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the registry's last event (``(0, GENESIS_HASH)`` when empty)."""

    @abstractmethod
    def _registry_events(self) -> list[RegistryEvent]:
        """Every registry event in stored seq order (as stored: the replay checks them)."""

    @abstractmethod
    def _append_registry(
        self,
        build: Build,
        *,
        secret: tuple[str, SecretRecord] | None = None,
        log: tuple[str, bool, str] | None = None,
    ) -> RegistryEvent:
        """In one transaction: read the head (locked against other writers), append the event
        ``build`` makes, store ``secret`` for its person, and add ``log`` to the plain
        authentication log table."""

    @abstractmethod
    def _secret(self, person_id: str) -> SecretRecord | None:
        """The stored secret record of ``person_id`` (None when there is none)."""
