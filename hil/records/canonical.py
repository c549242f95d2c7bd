"""Canonical JSON and the event hash chain: the bytes every hash and signature is computed over.

Canonical JSON is ``json.dumps`` with sorted keys, no whitespace and UTF-8 (non-ASCII characters
kept as they are). Floats use Python's shortest round-trip form; NaN and infinities are written as
``NaN``/``Infinity`` (the card record allows them) and read back identically.

An event's hash is SHA-256 over the canonical JSON of
``{"kind", "payload", "prev_hash", "run_id", "seq", "utc"}``: changing any field, the order of
events, or moving an event to another run changes it. The first event of a run chains to
``GENESIS_HASH``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any

_string: Callable[[str], str] = encode_basestring
"""A JSON string literal exactly as ``json.dumps(..., ensure_ascii=False)`` writes it."""

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event of every run."""


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text. Raises ``TypeError`` for values JSON cannot hold."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(value: Any) -> bytes:
    """``canonical_json(value)`` encoded as UTF-8."""
    return canonical_json(value).encode("utf-8")


def event_hash(
    run_id: str, seq: int, kind: str, utc: str, prev_hash: str, payload_json: str
) -> str:
    """Hex SHA-256 of one event, given its payload already as canonical JSON text.

    Equal to hashing ``canonical_json`` of the event body with the payload parsed, as long as
    ``payload_json`` is canonical (``SqliteStore`` only ever stores canonical text; an edited,
    non-canonical payload therefore fails verification too).
    """
    # The canonical text, assembled directly (keys already in sorted order) for speed.
    text = (
        f'{{"kind":{_string(kind)},"payload":{payload_json},"prev_hash":{_string(prev_hash)},'
        f'"run_id":{_string(run_id)},"seq":{int(seq)},"utc":{_string(utc)}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash_of(body: Mapping[str, Any]) -> str:
    """The reference definition: SHA-256 over canonical JSON of the whole event body."""
    keys = ("kind", "payload", "prev_hash", "run_id", "seq", "utc")
    return hashlib.sha256(canonical_bytes({key: body[key] for key in keys})).hexdigest()


def file_sha256(path: str, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content. Raises ``OSError`` when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()
