"""Signed checkpoints of the whole store, kept in witness folders outside the database.

A chain shows an edit inside it, but not a run deleted whole, nor its last events cut off with
its head pointer fixed. So at every run end, every signature and every registry change the
bench writes a checkpoint (the head of every run and of the people registry, a sequence number
and the time), signs it, and writes it to every witness folder the trust file names
(``hil.records.trust``), under ``<witness>/<store id>/``, keeping the newest ``KEEP``::

    {"format": "hil.records.checkpoint/1", "store_id": "...", "seq": 12, "utc": "...",
     "reason": "run ... finished PASS", "runs": {"<run id>": [<events>, "<head hash>"], ...},
     "registry": [<events>, "<head hash>"],
     "signer": {"kind": "bench" | "person", "id": "...", "public_key": "..."},
     "signature": "<Ed25519 over everything else>"}

Who signs: at a signature or a registry change, the person at hand (their key has just been
opened with both factors); at a run end, nobody has given a secret (the operator only names
themselves), so the bench's own key does, a file outside the database the trust file names
(``bench_key``) whose public key it lists under ``[[bench]]``. Someone with write access to the
database holds neither, so cannot forge a checkpoint; verify trusts one signed by a bench key or
an administrator of the trust file, or by a person the verified registry holds.

``verify`` then checks the store against the newest checkpoint it can trust: every run in it
still has at least that many events and the same event at that head (deleted, truncated and
changed runs are named), and so has the registry.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.core.timestamps import utc_now
from hil.errors import ConfigError
from hil.records.canonical import canonical_bytes, canonical_json
from hil.records.identity import public_key_of, verify_signature
from hil.records.registry import RegistryState
from hil.records.sqlobjects import write_object
from hil.records.store import Event, RecordStore
from hil.records.trust import Trust, load_bench_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("hil.records")

FORMAT = "hil.records.checkpoint/1"
SIGNING_DOMAIN = b"hil.records.checkpoint/1\n"
KEEP = 64
"""Checkpoints kept per store in each witness folder (older ones are removed)."""

Signer = tuple[str, "Ed25519PrivateKey"]
"""``(person id, opened signing key)``; None signs with the bench key."""


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint as read from a witness (``body`` is everything but the signature)."""

    body: dict[str, Any]
    signature: str
    path: Path | None = None

    @property
    def seq(self) -> int:
        return int(self.body.get("seq", 0))

    @property
    def name(self) -> str:
        return f"checkpoint {self.seq} ({self.body.get('utc', '?')})"

    @property
    def runs(self) -> dict[str, list[Any]]:
        runs = self.body.get("runs")
        return runs if isinstance(runs, dict) else {}

    @property
    def registry(self) -> tuple[int, str]:
        count, head = self.body.get("registry") or (0, "")
        return int(count), str(head)

    def to_json(self) -> str:
        return canonical_json({**self.body, "signature": self.signature})


def message(body: dict[str, Any]) -> bytes:
    return SIGNING_DOMAIN + canonical_bytes(body)


# -- writing ---------------------------------------------------------------------------------


def write_checkpoint(store: RecordStore, reason: str, signer: Signer | None = None) -> list[Path]:
    """Sign a checkpoint of ``store`` now and write it to every witness; returns the files
    written. Writes nothing (and says why in the log) when the trust file names no witness, the
    registry has no administrator yet, or a run end finds no bench key. A witness that cannot
    be written is logged as an error; the others are still written."""
    trust = store.trust
    if not trust.witnesses:
        return []
    people = store.people
    state = people.registry()
    if state.store_id is None:
        log.info("no checkpoint (%s): the people registry has no administrator yet", reason)
        return []
    try:
        key, who = _signing_key(trust, signer)
    except ConfigError as err:
        log.error("no checkpoint (%s): %s", reason, err)
        return []
    latest = newest_seq(trust, state.store_id)
    body = {
        "format": FORMAT,
        "store_id": state.store_id,
        "seq": latest + 1,
        "utc": utc_now(),
        "reason": reason,
        "runs": {run_id: [seq, head] for run_id, (seq, head) in sorted(store.heads().items())},
        "registry": list(people.stored_head()),
        "signer": who,
    }
    checkpoint = Checkpoint(body, key.sign(message(body)).hex())
    text = checkpoint.to_json().encode("utf-8")
    written = []
    for witness in trust.witnesses:
        folder = witness / state.store_id[:16]
        stamp = str(body["utc"]).replace(":", "").replace("-", "")[:15]
        target = folder / f"checkpoint-{stamp}-{checkpoint.seq:08d}-{checkpoint.signature[:8]}.json"
        try:
            write_object(target, lambda stream: stream.write(text))
            _prune(folder)
        except OSError as err:
            log.error("checkpoint %d not written to witness %s: %s", checkpoint.seq, witness, err)
            continue
        written.append(target)
    return written


def _signing_key(trust: Trust, signer: Signer | None) -> tuple[Ed25519PrivateKey, dict[str, str]]:
    if signer is not None:
        person_id, key = signer
        return key, {"kind": "person", "id": person_id, "public_key": public_key_of(key)}
    if trust.bench_key is None:
        raise ConfigError(f"trust file {trust.path} names no bench_key to sign run ends with")
    key = load_bench_key(trust.bench_key)
    public = public_key_of(key)
    name = next((b.name for b in trust.benches if b.public_key == public), "bench")
    return key, {"kind": "bench", "id": name, "public_key": public}


def _files(trust: Trust, store_id: str) -> list[Path]:
    found: list[Path] = []
    for witness in trust.witnesses:
        with contextlib.suppress(OSError):
            found.extend((witness / store_id[:16]).glob("checkpoint-*.json"))
    return sorted(found, key=lambda p: p.name, reverse=True)


def _prune(folder: Path) -> None:
    for old in sorted(folder.glob("checkpoint-*.json"), key=lambda p: p.name)[:-KEEP]:
        with contextlib.suppress(OSError):
            old.unlink()


def newest_seq(trust: Trust, store_id: str) -> int:
    """The highest checkpoint sequence number in the witnesses (0: none)."""
    seqs = [int(p.name.split("-")[2]) for p in _files(trust, store_id)[:8]]
    return max(seqs, default=0)


# -- reading and checking --------------------------------------------------------------------


@dataclass
class Completeness:
    """The newest trusted checkpoint (or None) and what the checks said about it."""

    checkpoint: Checkpoint | None
    notes: list[str] = field(default_factory=list)
    """Checkpoint files ignored and why, or why there is none."""

    def run_problem(self, run_id: str, events: list[Event]) -> tuple[int, str]:
        """The first event of ``events`` (a run as stored) that is not what the checkpoint saw,
        and why; ``(0, "")`` when it holds everything the checkpoint saw."""
        if self.checkpoint is None or run_id not in self.checkpoint.runs:
            return 0, ""
        count, head = self.checkpoint.runs[run_id]
        problem = _compare(self.checkpoint, "the record", len(events), count, head, events)
        return (min(int(count), len(events) + 1), problem) if problem else (0, "")


def _compare(
    checkpoint: Checkpoint, what: str, have: int, count: int, head: str, events: list[Any]
) -> str:
    if have == 0:
        return f"{what}: deleted ({checkpoint.name} saw {count} events)"
    if have < int(count):
        return f"{what}: truncated to {have} events ({checkpoint.name} saw {count})"
    if events[int(count) - 1].hash != head:
        return (
            f"{what}: changed: event {count} is not the one {checkpoint.name} saw "
            "(edited and re-chained, or replaced)"
        )
    return ""


def registry_problem(completeness: Completeness, events: list[Any]) -> str:
    """Why the stored registry chain is not what the newest trusted checkpoint saw, or ""."""
    checkpoint = completeness.checkpoint
    if checkpoint is None:
        return ""
    count, head = checkpoint.registry
    if count == 0:
        return ""
    return _compare(checkpoint, "people registry", len(events), count, head, events)


def completeness(trust: Trust, state: RegistryState) -> Completeness:
    """The newest checkpoint in the witnesses that is signed by a key verify trusts: a bench
    or administrator key of the trust file, or a person's key in the verified registry."""
    if not trust.witnesses:
        return Completeness(None, ["the trust file names no witness: completeness not checked"])
    if state.store_id is None:
        return Completeness(None, ["the people registry has no administrator: no checkpoints"])
    result = Completeness(None)
    for path in _files(trust, state.store_id):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            signature = str(data.pop("signature"))
        except (OSError, ValueError, KeyError, AttributeError) as err:
            result.notes.append(f"{path.name}: unreadable ({err}); ignored")
            continue
        checkpoint = Checkpoint(data, signature, path)
        why = _untrusted(checkpoint, trust, state)
        if why:
            result.notes.append(f"{path.name}: {why}; ignored")
            continue
        result.checkpoint = checkpoint
        return result
    result.notes.append(f"no trusted checkpoint in {', '.join(map(str, trust.witnesses))}")
    return result


def _untrusted(checkpoint: Checkpoint, trust: Trust, state: RegistryState) -> str:
    body = checkpoint.body
    if body.get("format") != FORMAT or body.get("store_id") != state.store_id:
        return "not a checkpoint of this store"
    signer = body.get("signer") or {}
    public = str(signer.get("public_key", ""))
    kind, who = signer.get("kind"), signer.get("id")
    if kind == "bench":
        trusted = trust.trusts_bench(public)
    else:
        person = state.people.get(str(who))
        trusted = trust.trusts_admin(public) or (person is not None and person.public_key == public)
    if not trusted:
        return f"signed by {kind} {who} with a key verify does not trust"
    if not verify_signature(public, checkpoint.signature, message(body)):
        return f"signature by {kind} {who} does not verify"
    return ""
