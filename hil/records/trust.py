"""The trust file: what ``verify`` trusts, kept outside the records database.

Anyone with write access to the database can change every row in it, so the roots of trust live
in a file the site controls (named by ``$HIL_TRUST``, the bench file's ``[records] trust`` or a
``--trust`` option)::

    # hil trust file: the roots `hil records verify` trusts.
    [checkpoints]
    witnesses = ["witness"]             # folders that keep signed checkpoints of the store
    bench_key = "bench-checkpoint.key"  # the bench's private key for run-end checkpoints

    [[admin]]                           # administrators: they sign the people registry
    person_id = "root"
    public_key = "9f1c..."              # Ed25519, raw 32 bytes as hex
    fingerprint = "5b0e..."             # SHA-256 of the public key (for people to compare)

    [[bench]]                           # keys whose checkpoints are trusted
    name = "bench"
    public_key = "07aa..."

Relative paths are relative to the trust file. ``hil people bootstrap-admin`` writes the first
version (admin, bench key, witness folder); a site may add admins, benches and witnesses by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TRUST_ENV = "HIL_TRUST"
"""Environment variable naming the trust file."""

DEFAULT_WITNESS = "witness"
DEFAULT_BENCH_KEY = "bench-checkpoint.key"


def fingerprint(public_key_hex: str) -> str:
    """Hex SHA-256 of the raw public key: what people compare when they check a key."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()


@dataclass(frozen=True)
class TrustedKey:
    """One trusted public key: an administrator (``name`` is the person id) or a bench."""

    name: str
    public_key: str


@dataclass(frozen=True)
class Trust:
    """The parsed trust file. ``path`` is None when no trust file is configured (nothing is
    trusted: signatures cannot be checked and no checkpoint is written)."""

    path: Path | None = None
    admins: tuple[TrustedKey, ...] = ()
    benches: tuple[TrustedKey, ...] = ()
    witnesses: tuple[Path, ...] = ()
    bench_key: Path | None = None

    @property
    def configured(self) -> bool:
        return self.path is not None

    def trusts_admin(self, public_key: str) -> bool:
        return any(key.public_key == public_key for key in self.admins)

    def trusts_bench(self, public_key: str) -> bool:
        return any(key.public_key == public_key for key in self.benches)

    # -- reading -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trust:
        """The trust file at ``path``; a file that does not exist yet is an empty trust (with
        its path, so bootstrapping can write it). Raises ``ConfigError`` naming the file."""
        path = Path(path).expanduser()
        if not path.exists():
            return cls(path=path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"trust file {path}: cannot read ({err.strerror})") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"trust file {path}: {err}") from None
        unknown = set(data) - {"checkpoints", "admin", "bench"}
        if unknown:
            raise ConfigError(f"trust file {path}: unknown key {sorted(unknown)[0]!r}")
        checkpoints = data.get("checkpoints", {})
        if not isinstance(checkpoints, dict):
            raise ConfigError(f"trust file {path}: [checkpoints] must be a table")
        unknown = set(checkpoints) - {"witnesses", "bench_key"}
        if unknown:
            raise ConfigError(
                f"trust file {path}: [checkpoints] unknown key {sorted(unknown)[0]!r}"
            )
        witnesses = checkpoints.get("witnesses", [])
        if not isinstance(witnesses, list) or not all(isinstance(w, str) for w in witnesses):
            raise ConfigError(f"trust file {path}: [checkpoints] witnesses: a list of folders")
        bench_key = checkpoints.get("bench_key")
        if bench_key is not None and not isinstance(bench_key, str):
            raise ConfigError(f"trust file {path}: [checkpoints] bench_key: a file name")
        base = path.parent
        return cls(
            path=path,
            admins=_keys(path, data.get("admin", []), "admin", "person_id"),
            benches=_keys(path, data.get("bench", []), "bench", "name"),
            witnesses=tuple(base / Path(w).expanduser() for w in witnesses),
            bench_key=base / Path(bench_key).expanduser() if bench_key else None,
        )

    @classmethod
    def from_env(cls) -> Trust:
        """The trust file ``$HIL_TRUST`` names, or no trust when it is not set."""
        named = os.environ.get(TRUST_ENV)
        return cls.load(named) if named else cls()

    # -- writing -----------------------------------------------------------------------------

    def with_admin(self, person_id: str, public_key: str) -> Trust:
        return replace(self, admins=(*self.admins, TrustedKey(person_id, public_key)))

    def with_bench(self, name: str, public_key: str, key_path: Path) -> Trust:
        return replace(
            self, benches=(*self.benches, TrustedKey(name, public_key)), bench_key=key_path
        )

    def save(self) -> None:
        """Write the file (atomically). Raises ``ConfigError`` when it cannot be written."""
        if self.path is None:
            raise ConfigError("no trust file named (set $HIL_TRUST or pass --trust)")
        base = self.path.parent
        lines = [
            "# hil trust file: the roots `hil records verify` trusts. Keep it outside the records",
            "# database, writable only by the site's administrators (docs/architecture.md).",
            "",
            "[checkpoints]",
            "witnesses = [" + ", ".join(_quote(_rel(w, base)) for w in self.witnesses) + "]",
        ]
        if self.bench_key is not None:
            lines.append(f"bench_key = {_quote(_rel(self.bench_key, base))}")
        for key in self.admins:
            lines += [
                "",
                "[[admin]]",
                f"person_id = {_quote(key.name)}",
                f"public_key = {_quote(key.public_key)}",
                f"fingerprint = {_quote(fingerprint(key.public_key))}",
            ]
        for key in self.benches:
            lines += ["", "[[bench]]", f"name = {_quote(key.name)}"]
            lines.append(f"public_key = {_quote(key.public_key)}")
        text = "\n".join(lines) + "\n"
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        try:
            base.mkdir(parents=True, exist_ok=True)
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as err:
            raise ConfigError(f"trust file {self.path}: cannot write ({err.strerror})") from err
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()


def new_bench_key(path: Path) -> str:
    """Create a bench checkpoint key at ``path`` (mode 0600, never overwritten); returns its
    public key. Raises ``ConfigError`` when the file exists or cannot be written."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        raise ConfigError(f"bench key {path}: cannot create ({err.strerror})") from err
    with os.fdopen(fd, "w", encoding="ascii") as stream:
        stream.write(raw.hex() + "\n")
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def load_bench_key(path: Path) -> Ed25519PrivateKey:
    """The bench checkpoint key at ``path``. Raises ``ConfigError`` naming the file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        text = path.read_text(encoding="ascii").strip()
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except OSError as err:
        raise ConfigError(f"bench key {path}: cannot read ({err.strerror})") from err
    except ValueError:
        raise ConfigError(f"bench key {path}: not a 32-byte Ed25519 key in hex") from None


def _keys(path: Path, items: Any, table: str, name_key: str) -> tuple[TrustedKey, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"trust file {path}: use [[{table}]] tables")
    keys = []
    for item in items:
        name, public = item.get(name_key), item.get("public_key")
        if not isinstance(name, str) or not isinstance(public, str):
            raise ConfigError(f"trust file {path}: [[{table}]] needs {name_key} and public_key")
        try:
            if len(bytes.fromhex(public)) != 32:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"trust file {path}: [[{table}]] {name}: public_key is not 32 bytes of hex"
            ) from None
        stated = item.get("fingerprint")
        if stated is not None and stated != fingerprint(public):
            raise ConfigError(
                f"trust file {path}: [[{table}]] {name}: fingerprint does not match public_key"
            )
        keys.append(TrustedKey(name, public))
    return tuple(keys)


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
