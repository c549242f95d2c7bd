"""What the ``hil`` commands print on stdout: tables a technician reads, and the one JSON
document ``--json`` asks for instead.

Tables are drawn by rich in plain ASCII (no colour, no box drawing characters) so they read the
same in a terminal and in a CI log. They fit the terminal: ``$COLUMNS`` when set, else the width
of the terminal stdout is on; when stdout is a file or a pipe (and ``$COLUMNS`` is unset) a
table keeps its natural width, so a log line holds a whole row. Long cells wrap inside their
column rather than past the right edge.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from rich.box import Box
from rich.console import Console
from rich.table import Table
from rich.text import Text

_RULE_UNDER_HEADER = Box(
    "    \n"  # top
    "    \n"  # header row: left, divider, right
    " -  \n"  # under the header: dashes, a blank between columns
    "    \n"  # between rows
    "    \n"
    "    \n"
    "    \n"
    "    \n",
    ascii=True,
)
"""No borders; columns set apart by blanks; a line of dashes under the header."""

_UNBOUNDED = 100_000
"""Console width when nothing limits it (a file or a pipe): the table's natural width."""


def terminal_width() -> int | None:
    """Columns a table may take: ``$COLUMNS``, else stdout's terminal; ``None`` for a file."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    title: str = "",
    width: int | None = None,
) -> str:
    """A table as text, ``width`` columns at most (default ``terminal_width()``); numbers
    right-aligned, text left-aligned; an optional title line above it."""
    numeric = [
        bool(rows) and all(_is_number(row[column]) for row in rows)
        for column in range(len(headers))
    ]
    grid = Table(
        box=_RULE_UNDER_HEADER,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        highlight=False,
        header_style="",
    )
    for header, right in zip(headers, numeric, strict=True):
        grid.add_column(Text(header), justify="right" if right else "left", overflow="fold")
    for row in rows:
        grid.add_row(*(Text(_cell(value)) for value in row))
    limit = width or terminal_width()
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=limit or _UNBOUNDED,
        color_system=None,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    console.print(grid)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(([title] if title else []) + lines)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return str(value)


# -- JSON -------------------------------------------------------------------------------------


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """``--json``: one JSON document on stdout instead of the tables."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout instead of tables (errors stay on stderr)",
    )


def print_json(data: Any) -> None:
    """``data`` as one strict JSON document on stdout (a non-finite number becomes a string,
    a path or a date its text)."""
    sys.stdout.write(json.dumps(_strict(data), indent=2, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


def _strict(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return repr(data)
    if isinstance(data, dict):
        return {str(key): _strict(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_strict(value) for value in data]
    return data
