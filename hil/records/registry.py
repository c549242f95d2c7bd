"""The people registry as a hash-chained log, and its replay against the trust file.

Who may sign, with which key, role and authorization, is not read from the ``people`` table
(anyone with write access to the database can edit that) but replayed from the registry chain:
events hash-chained exactly like a run's (``hil.records.canonical.event_hash`` with the run id
``"registry"``), where every change to a person is signed by an administrator:

=====================  ==========================================================  ==========
kind                   payload                                                     signed by
=====================  ==========================================================  ==========
``person_added``       person_id, printed_name, roles, authorizations, public_key  an admin
``person_authorized``  person_id, authorization (scope, certificate, expires)      an admin
``person_revoked``     person_id, reason                                           an admin
``person_unlocked``    person_id                                                   an admin
``auth``               person_id, ok, purpose, detail, wrong_secret                nobody
=====================  ==========================================================  ==========

An admin signature (``admin_id``, ``admin_public_key``, ``signature``) is over the event's
place in the chain (seq, previous hash), its kind and its payload (``admin_message``), so it
also fixes every event before it. It counts when the key is an administrator's in the trust file
(``hil.records.trust``) or the registered key of a person an administrator gave the ``admin``
role, and that person is not revoked. The first event adds an administrator, signed by their own
key, which the trust file names: the store's id is that event's hash.

Authentication attempts are ``auth`` events, so the authentication log and lock-outs are in the
chain too: ``MAX_FAILED_ATTEMPTS`` wrong secrets in a row lock a person, and only a
``person_unlocked`` event (an administrator's signature) clears it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from hil.records.canonical import GENESIS_HASH, canonical_bytes, event_hash
from hil.records.identity import (
    MAX_FAILED_ATTEMPTS,
    Authorization,
    Person,
    Role,
    key_id_of,
    verify_signature,
)
from hil.records.trust import Trust

REGISTRY_CHAIN = "registry"
"""The run id the registry's event hashes are computed with."""

SIGNING_DOMAIN = b"hil.records.registry/1\n"

ADMIN_KINDS = frozenset({"person_added", "person_authorized", "person_revoked", "person_unlocked"})
AUTH = "auth"


@dataclass(frozen=True)
class RegistryEvent:
    """One event of the registry chain (``payload_json`` is the canonical text hashed)."""

    seq: int
    kind: str
    utc: str
    payload_json: str
    prev_hash: str
    hash: str

    @property
    def payload(self) -> dict[str, Any]:
        value = json.loads(self.payload_json)
        return value if isinstance(value, dict) else {}


def admin_message(seq: int, prev_hash: str, kind: str, payload: dict[str, Any]) -> bytes:
    """The bytes an administrator signs for a registry event (its payload without
    ``signature``, its kind and its place in the chain)."""
    body = {key: value for key, value in payload.items() if key != "signature"}
    return SIGNING_DOMAIN + canonical_bytes(
        {"kind": kind, "prev_hash": prev_hash, "seq": seq, "signed": body}
    )


@dataclass
class RegistryState:
    """The registry replayed: people as the chain says, the chain head, the store's id, and
    the first event that does not verify (``problem``; replay stops there)."""

    trust: Trust
    people: dict[str, Person] = field(default_factory=dict)
    count: int = 0
    head: str = GENESIS_HASH
    store_id: str | None = None
    problem: tuple[int, str] | None = None
    auth_log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def replay(cls, trust: Trust, events: list[RegistryEvent]) -> RegistryState:
        state = cls(trust)
        for event in events:
            reason = state._apply(event)
            if reason:
                state.problem = (event.seq, reason)
                break
        return state

    def describe_problem(self) -> str:
        if self.problem is None:
            return ""
        return f"people registry event {self.problem[0]}: {self.problem[1]}"

    def _apply(self, event: RegistryEvent) -> str:
        expected = self.count + 1
        if event.seq != expected:
            if event.seq > expected:
                return f"missing (event {event.seq} follows event {expected - 1}: deleted?)"
            return f"out of order (after event {expected - 1})"
        digest = event_hash(
            REGISTRY_CHAIN, event.seq, event.kind, event.utc, event.prev_hash, event.payload_json
        )
        if digest != event.hash:
            return f"'{event.kind}' content does not match its hash (edited?)"
        if event.prev_hash != self.head:
            return f"'{event.kind}' does not chain to event {event.seq - 1} (reordered or replaced)"
        try:
            payload = event.payload
        except ValueError:
            return f"'{event.kind}' payload is not JSON"
        if event.seq == 1 and event.kind != "person_added":
            return f"first event is '{event.kind}', not an administrator's 'person_added'"
        if event.kind in ADMIN_KINDS:
            problem = self._check_admin(event, payload) or self._change(event, payload)
        elif event.kind == AUTH:
            problem = self._auth(event, payload)
        else:
            problem = f"unknown kind '{event.kind}'"
        if problem:
            return problem
        if event.seq == 1:
            self.store_id = event.hash
        self.count, self.head = event.seq, event.hash
        return ""

    def _check_admin(self, event: RegistryEvent, payload: dict[str, Any]) -> str:
        admin_id = str(payload.get("admin_id", ""))
        public = str(payload.get("admin_public_key", ""))
        known = self.people.get(admin_id)
        if known is not None and known.status == "revoked":
            return f"'{event.kind}' signed by {admin_id}, revoked at {known.revoked_utc}"
        registered = known is not None and Role.ADMIN in known.roles and known.public_key == public
        if not (registered or self.trust.trusts_admin(public)):
            where = self.trust.path or "no trust file"
            return (
                f"'{event.kind}' signed by {admin_id!r} with a key that is no administrator's "
                f"(trust file: {where})"
            )
        if event.seq == 1 and payload.get("person_id") != admin_id:
            return "the first administrator must sign their own registration"
        message = admin_message(event.seq, event.prev_hash, event.kind, payload)
        if not verify_signature(public, str(payload.get("signature", "")), message):
            return f"'{event.kind}' by {admin_id}: administrator signature does not verify"
        return ""

    def _change(self, event: RegistryEvent, payload: dict[str, Any]) -> str:
        person_id = str(payload.get("person_id", ""))
        person = self.people.get(person_id)
        if event.kind == "person_added":
            if person is not None:
                return f"person {person_id} added twice"
            try:
                public = str(payload["public_key"])
                added = Person(
                    person_id=person_id,
                    printed_name=str(payload["printed_name"]),
                    roles=tuple(Role(role) for role in payload["roles"]),
                    authorizations=tuple(_authorization(a) for a in payload["authorizations"]),
                    public_key=public,
                    key_id=key_id_of(public),
                    created_utc=event.utc,
                )
            except (KeyError, ValueError, TypeError) as err:
                return f"'person_added' for {person_id}: malformed ({err})"
            if event.seq == 1 and Role.ADMIN not in added.roles:
                return "the first person added must be an administrator"
            self.people[person_id] = added
            return ""
        if person is None:
            return f"'{event.kind}' for {person_id}, who was never added"
        if event.kind == "person_authorized":
            try:
                item = _authorization(payload["authorization"])
            except (KeyError, ValueError, TypeError) as err:
                return f"'person_authorized' for {person_id}: malformed ({err})"
            person = replace(person, authorizations=(*person.authorizations, item))
        elif event.kind == "person_revoked":
            person = replace(
                person,
                status="revoked",
                revoked_utc=event.utc,
                revoke_reason=str(payload.get("reason", "")),
            )
        elif person.status != "revoked":  # person_unlocked
            person = replace(person, status="active", failed_attempts=0)
        self.people[person_id] = person
        return ""

    def _auth(self, event: RegistryEvent, payload: dict[str, Any]) -> str:
        person_id = str(payload.get("person_id", ""))
        ok = payload.get("ok") is True
        self.auth_log.append(
            {
                "utc": event.utc,
                "person_id": person_id,
                "ok": ok,
                "purpose": str(payload.get("purpose", "")),
                "detail": str(payload.get("detail", "")),
            }
        )
        person = self.people.get(person_id)
        if person is None or person.status != "active":
            return ""  # a locked person stays locked until an administrator unlocks them
        if ok:
            person = replace(person, failed_attempts=0)
        elif payload.get("wrong_secret") is True:
            failures = person.failed_attempts + 1
            status = "locked" if failures >= MAX_FAILED_ATTEMPTS else "active"
            person = replace(person, failed_attempts=failures, status=status)
        self.people[person_id] = person
        return ""


def _authorization(item: Any) -> Authorization:
    return Authorization(
        str(item["scope"]), str(item["certificate"]), date.fromisoformat(str(item["expires"]))
    )
