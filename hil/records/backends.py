"""Choosing a record store by URL: ``open_store`` and the ``--store`` / ``$HIL_STORE`` rules.

============================================  ==============================================
``/path/to/data-dir`` or ``sqlite:///path``   ``SqliteStore`` (``records.sqlite3`` and
                                              ``objects/`` in that folder)
``postgresql://user@host:port/db``            ``PostgresStore``; attachments live in the
(or ``postgres://``)                          database, fetched into ``$HIL_DATA/postgres-objects``
============================================  ==============================================

Where the commands look: ``--store URL``, else ``--data DIR``, else ``$HIL_STORE``, else
``$HIL_DATA``, else ``~/.local/share/hil``. A malformed URL is a ``ConfigError``, a server that
cannot be reached a ``StorageError``; both are one line naming the URL (password masked).
"""

from __future__ import annotations

import os
from pathlib import Path

from hil.errors import ConfigError
from hil.records.datadir import DATA_ENV, default_data_dir
from hil.records.people import Kdf
from hil.records.store import RecordStore
from hil.records.trust import Trust

STORE_ENV = "HIL_STORE"
"""Environment variable naming the record store (a URL or a data directory)."""

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def store_location(store: str | None = None, data: str | os.PathLike[str] | None = None) -> str:
    """The store the commands use: ``store`` (``--store``), else ``data`` (``--data``), else
    ``$HIL_STORE``, else ``$HIL_DATA``, else the default data directory."""
    if store:
        return store
    if data:
        return str(Path(data).expanduser())
    env = os.environ.get(STORE_ENV)
    if env:
        return env
    return str(default_data_dir())


def store_configured(store: str | None = None, data: str | os.PathLike[str] | None = None) -> bool:
    """True when a store was named (option or environment), not just the default folder."""
    return bool(store or data or os.environ.get(STORE_ENV) or os.environ.get(DATA_ENV))


def is_postgres(url_or_path: str) -> bool:
    return url_or_path.startswith(POSTGRES_SCHEMES)


def make_store(
    url_or_path: str | os.PathLike[str],
    readonly: bool = False,
    kdf: Kdf | None = None,
    trust: Trust | None = None,
) -> RecordStore:
    """The store ``url_or_path`` names, not yet opened. Raises ``ConfigError`` for a bad URL."""
    from hil.records.postgres import PostgresStore, mask_url

    text = os.fspath(url_or_path).strip()
    if not text:
        raise ConfigError("records store: empty location (give a data directory or a URL)")
    if is_postgres(text):
        try:
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise ConfigError(
                f"records store {mask_url(text)}: PostgreSQL needs psycopg "
                "(pip install 'psycopg[binary]')"
            ) from None
        try:
            conninfo_to_dict(text)
        except Exception as err:  # psycopg.ProgrammingError: libpq's parser refused it
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"records store {mask_url(text)}: bad URL ({first})") from None
        return PostgresStore(text, readonly=readonly, kdf=kdf, trust=trust)
    if text.startswith("sqlite://"):
        path = text.removeprefix("sqlite://")
        if not path:
            raise ConfigError(f"records store {text}: no folder (use sqlite:///path/to/data)")
        text = path
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"records store {mask_url(text)}: unknown scheme {scheme!r} "
            "(use a folder, sqlite:///folder or postgresql://user@host:port/db)"
        )
    from hil.records.sqlite import SqliteStore

    return SqliteStore(Path(text).expanduser(), readonly=readonly, kdf=kdf, trust=trust)


def open_store(
    url_or_path: str | os.PathLike[str],
    readonly: bool = False,
    kdf: Kdf | None = None,
    trust: Trust | None = None,
) -> RecordStore:
    """Open the store ``url_or_path`` names (a data directory, ``sqlite:///dir`` or
    ``postgresql://...``) and return it, open (use it as a context manager to close it).

    ``trust`` is the trust file verify and signing rely on (default: ``$HIL_TRUST``'s).
    Raises ``ConfigError`` for a malformed URL and ``StorageError`` when the store cannot be
    opened (server unreachable, folder not writable); both name the location, password masked.
    """
    return make_store(url_or_path, readonly=readonly, kdf=kdf, trust=trust).open()
