"""Where this machine keeps its records data: ``$HIL_DATA``, else ``~/.local/share/hil``.

The SQLite store lives in that folder; the PostgreSQL store caches attachment bytes under it.
Which store a command opens (``--store``, ``$HIL_STORE``) is ``hil.records.backends``' business.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "HIL_DATA"
"""Environment variable naming the data directory when ``--data`` is not given."""


def default_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit`` if given, else ``$HIL_DATA``, else ``~/.local/share/hil``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "hil"
