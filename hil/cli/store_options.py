"""The ``--data DIR`` and ``--store URL`` options of every command that opens the records store.

``hil.records.backends.store_location(args.store, args.data)`` turns them into the store to open
(``--store``, else ``--data``, else ``$HIL_STORE``, else ``$HIL_DATA``, else the default folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

STORE_HELP = (
    "records store: a data directory, sqlite:///DIR or postgresql://USER@HOST/DB "
    "(default: $HIL_STORE, else the data directory)"
)

DATA_HELP = "data directory (default: $HIL_DATA or ~/.local/share/hil)"


def add_store_arguments(parser: argparse.ArgumentParser, data_help: str = DATA_HELP) -> None:
    """Add ``--data`` and ``--store`` to ``parser`` (``data_help`` words ``--data`` for it)."""
    parser.add_argument("--data", type=Path, default=None, help=data_help)
    parser.add_argument("--store", default=None, metavar="URL", help=STORE_HELP)
