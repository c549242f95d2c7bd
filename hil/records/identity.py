"""Identities as data: roles, authorizations, people, what is stored instead of a secret, and
the Ed25519 and scrypt helpers behind signing keys.

A person has a printed name, roles (technician, inspector, engineer, admin) and authorizations
(scope, certificate number, expiry). The secret is never stored: only a scrypt hash of it, and
the person's Ed25519 private key encrypted (AES-256-GCM) under a second scrypt key derived from
the same secret. The rules (who may add whom, authentication, lock-out) are in
``hil.records.people``; the chain that says who is registered in ``hil.records.registry``. The
``cryptography`` package is imported only when keys are made or used.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hil.records.errors import AuthenticationError, RecordError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


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


def new_key_material(person_id: str, secret: str, kdf: Kdf) -> tuple[str, SecretRecord]:
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


def unlock_key(person_id: str, secret: str, record: SecretRecord) -> Ed25519PrivateKey:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kek = record.kdf.derive(secret, record.key_salt)
    try:
        raw = AESGCM(kek).decrypt(record.key_nonce, record.key_ciphertext, person_id.encode())
    except InvalidTag:
        raise AuthenticationError(f"person {person_id!r}: signing key does not open") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_of(key: Ed25519PrivateKey) -> str:
    """The raw public key of ``key``, as hex."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
