"""Identities: people, their roles and authorizations, secrets and Ed25519 signing keys.

A person has a printed name, roles (technician, inspector, engineer, admin) and authorizations
(scope, certificate number, expiry). The secret is never stored: only a scrypt hash of it, and
the person's Ed25519 private key encrypted (AES-256-GCM) under a second scrypt key derived from
the same secret. Signing needs both factors: the person id and the secret. Wrong secrets are
logged and counted; ``MAX_FAILED_ATTEMPTS`` in a row lock the person until an admin unlocks them.

``PeopleStore`` holds the rules; a backend (``SqlitePeople``) implements the small storage hooks.
The ``cryptography`` package is imported only when keys are made or used.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import logging
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hil.core.timestamps import utc_now
from hil.records.errors import AuthenticationError, RecordError, SignoffRefused

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("hil.records")

MAX_FAILED_ATTEMPTS = 5
"""Wrong secrets in a row after which a person is locked out."""

MIN_SECRET_CHARS = 8

PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Role(StrEnum):
    TECHNICIAN = "technician"
    INSPECTOR = "inspector"
    ENGINEER = "engineer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Kdf:
    """scrypt cost parameters (stored with each person, so they can be raised later)."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def derive(self, secret: str, salt: bytes) -> bytes:
        """32 bytes from ``secret``; about 0.1 s and 32 MiB at the default cost."""
        return hashlib.scrypt(
            secret.encode("utf-8"),
            salt=salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=256 * self.n * self.r + (1 << 20),
            dklen=32,
        )


@dataclass(frozen=True)
class Authorization:
    """What a person is certified for: card numbers matching ``scope`` (a glob such as
    ``LL-34-*``; ``*`` for all) until the end of ``expires`` (UTC)."""

    scope: str
    certificate: str
    expires: date

    def valid_for(self, card_number: str, when: datetime) -> bool:
        return fnmatch.fnmatchcase(card_number, self.scope) and when.date() <= self.expires

    def to_dict(self) -> dict[str, str]:
        return {
            "scope": self.scope,
            "certificate": self.certificate,
            "expires": self.expires.isoformat(),
        }

    @classmethod
    def parse(cls, text: str) -> Authorization:
        """``SCOPE:CERTIFICATE:YYYY-MM-DD``. Raises ``RecordError`` naming the text."""
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise RecordError(f"authorization {text!r}: expected SCOPE:CERTIFICATE:YYYY-MM-DD")
        try:
            expires = date.fromisoformat(parts[2])
        except ValueError:
            raise RecordError(f"authorization {text!r}: expiry is not a YYYY-MM-DD date") from None
        return cls(parts[0], parts[1], expires)


@dataclass(frozen=True)
class Person:
    """A person as the registry shows them (no secret material)."""

    person_id: str
    printed_name: str
    roles: tuple[Role, ...]
    authorizations: tuple[Authorization, ...]
    public_key: str
    """Ed25519 public key, raw 32 bytes as hex."""
    key_id: str
    """First 16 hex digits of SHA-256 of the public key."""
    status: str = "active"
    """``active``, ``locked`` (too many wrong secrets) or ``revoked``."""
    created_utc: str = ""
    revoked_utc: str | None = None
    revoke_reason: str | None = None
    failed_attempts: int = 0

    def authorization_for(self, card_number: str, when: datetime) -> Authorization | None:
        """The first authorization valid for ``card_number`` at ``when``, or None."""
        for item in self.authorizations:
            if item.valid_for(card_number, when):
                return item
        return None


@dataclass(frozen=True)
class SecretRecord:
    """What is stored instead of the secret: its hash and the encrypted private key."""

    kdf: Kdf
    secret_salt: bytes
    secret_hash: bytes
    key_salt: bytes
    key_nonce: bytes
    key_ciphertext: bytes
    extra: dict[str, Any] = field(default_factory=dict)


def key_id_of(public_key_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def verify_signature(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    """True when ``signature_hex`` is a valid Ed25519 signature of ``message``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _new_key_material(person_id: str, secret: str, kdf: Kdf) -> tuple[str, SecretRecord]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    secret_salt, key_salt, nonce = os.urandom(16), os.urandom(16), os.urandom(12)
    kek = kdf.derive(secret, key_salt)
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ciphertext = AESGCM(kek).encrypt(nonce, raw, person_id.encode("utf-8"))
    record = SecretRecord(
        kdf=kdf,
        secret_salt=secret_salt,
        secret_hash=kdf.derive(secret, secret_salt),
        key_salt=key_salt,
        key_nonce=nonce,
        key_ciphertext=ciphertext,
    )
    return public, record


def _unlock_key(person_id: str, secret: str, record: SecretRecord) -> Ed25519PrivateKey:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kek = record.kdf.derive(secret, record.key_salt)
    try:
        raw = AESGCM(kek).decrypt(record.key_nonce, record.key_ciphertext, person_id.encode())
    except InvalidTag:
        raise AuthenticationError(f"person {person_id!r}: signing key does not open") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


class PeopleStore(ABC):
    """The identity registry. Public methods hold the rules; backends implement the hooks."""

    def __init__(self, kdf: Kdf | None = None) -> None:
        self.kdf = kdf or Kdf()
        """scrypt cost for people added from now on."""

    # -- public ------------------------------------------------------------------------------

    def add(
        self,
        person_id: str,
        printed_name: str,
        roles: list[Role] | tuple[Role, ...] | list[str],
        secret: str,
        authorizations: tuple[Authorization, ...] | list[Authorization] = (),
    ) -> Person:
        """Register a person with a new signing key. Raises ``RecordError`` for a bad or taken
        id, an empty name, an unknown role or a secret shorter than ``MIN_SECRET_CHARS``."""
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
        if self._get(person_id) is not None:
            raise RecordError(f"person {person_id!r} already exists")
        public, record = _new_key_material(person_id, secret, self.kdf)
        person = Person(
            person_id=person_id,
            printed_name=printed_name.strip(),
            roles=role_set,
            authorizations=tuple(authorizations),
            public_key=public,
            key_id=key_id_of(public),
            created_utc=utc_now(),
        )
        self._insert(person, record)
        return person

    def get(self, person_id: str) -> Person:
        """Raises ``UnknownRecord`` when nobody has that id."""
        from hil.records.errors import UnknownRecord

        found = self._get(person_id)
        if found is None:
            raise UnknownRecord(f"person {person_id!r}: not registered")
        return found[0]

    def all(self) -> list[Person]:
        """Everyone registered, by id."""
        return self._all()

    def revoke(self, person_id: str, reason: str) -> Person:
        """The person can sign no more; their earlier signatures stay valid."""
        if not reason.strip():
            raise SignoffRefused(f"person {person_id!r}: revoking needs a reason")
        self.get(person_id)
        self._set_status(person_id, "revoked", reason.strip(), utc_now())
        return self.get(person_id)

    def unlock(self, person_id: str) -> Person:
        """Clear a lockout (and the failed-attempt count). A revoked person stays revoked."""
        person = self.get(person_id)
        if person.status == "revoked":
            raise SignoffRefused(f"person {person_id!r} is revoked, not locked")
        self._set_status(person_id, "active", None, None)
        return self.get(person_id)

    def authenticate(self, person_id: str, secret: str, purpose: str) -> Ed25519PrivateKey:
        """Check both factors and return the person's signing key.

        Raises ``AuthenticationError`` for an unknown, revoked or locked person or a wrong
        secret; every attempt is logged with ``purpose`` and wrong ones count towards lockout.
        """
        found = self._get(person_id)
        if found is None:
            self._log_attempt(person_id, False, purpose, "unknown person")
            raise AuthenticationError(f"person {person_id!r}: not registered")
        person, record = found
        if person.status == "revoked":
            self._log_attempt(person_id, False, purpose, "revoked")
            raise AuthenticationError(f"person {person_id!r}: revoked ({person.revoke_reason})")
        if person.status == "locked":
            self._log_attempt(person_id, False, purpose, "locked")
            raise AuthenticationError(
                f"person {person_id!r}: locked after {MAX_FAILED_ATTEMPTS} wrong secrets; "
                "an admin must unlock"
            )
        candidate = record.kdf.derive(secret, record.secret_salt)
        if not hmac.compare_digest(candidate, record.secret_hash):
            failures = self._failed(person_id, purpose, MAX_FAILED_ATTEMPTS)
            log.warning("wrong secret for %s (%s), %d in a row", person_id, purpose, failures)
            left = MAX_FAILED_ATTEMPTS - failures
            tail = "now locked" if left <= 0 else f"{left} tries left before lockout"
            raise AuthenticationError(f"person {person_id!r}: wrong secret ({tail})")
        key = _unlock_key(person_id, secret, record)
        self._log_attempt(person_id, True, purpose, "ok")
        return key

    def auth_log(self, person_id: str | None = None) -> list[dict[str, Any]]:
        """Every authentication attempt (oldest first): utc, person_id, ok, purpose, detail."""
        return self._auth_log(person_id)

    # -- backend hooks -----------------------------------------------------------------------

    @abstractmethod
    def _insert(self, person: Person, record: SecretRecord) -> None: ...

    @abstractmethod
    def _get(self, person_id: str) -> tuple[Person, SecretRecord] | None: ...

    @abstractmethod
    def _all(self) -> list[Person]: ...

    @abstractmethod
    def _set_status(
        self, person_id: str, status: str, reason: str | None, utc: str | None
    ) -> None: ...

    @abstractmethod
    def _failed(self, person_id: str, purpose: str, limit: int) -> int:
        """Count one wrong secret (locking at ``limit``) and log it; return the count."""

    @abstractmethod
    def _log_attempt(self, person_id: str, ok: bool, purpose: str, detail: str) -> None:
        """Log an attempt; a successful one also resets the failed count."""

    @abstractmethod
    def _auth_log(self, person_id: str | None) -> list[dict[str, Any]]: ...
