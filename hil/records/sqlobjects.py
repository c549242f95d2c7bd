"""Attachment content in the SQL record stores: what both back ends share about storing a file
by its SHA-256.

An attachment is read and hashed *before* its transaction (``StagedObject``), so the lock on
the run is held only to index it and append its ``attachment`` event. SQLite writes the bytes
to its ``objects/`` folder at that point, PostgreSQL carries them into the ``attachments``
table; both write content-addressed files (SQLite's objects, PostgreSQL's local cache) with
``write_object``, atomically, so a file of that name is always complete.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StagedObject:
    """An attachment read and hashed, before its transaction."""

    sha256: str
    size_bytes: int
    content: bytes | None
    """The bytes, for a backend that keeps them in the database; None when written to disk."""


def write_object(target: Path, write: Callable[[Any], None]) -> None:
    """Write a content-addressed file atomically (temp file, fsync, rename, fsync folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        with open(partial, "wb") as dst:
            write(dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
