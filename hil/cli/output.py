"""What the ``hil`` commands print on stdout: tables a technician reads, and the one JSON
document ``--json`` asks for instead.

Tables are drawn by rich in plain ASCII (no colour, no box drawing characters) so they read the
same in a terminal and in a CI log. They fit the terminal: ``$COLUMNS`` when set, else the width
of the terminal stdout is on; when stdout is a file or a pipe (and ``$COLUMNS`` is unset) a
table keeps its natural width, so a log line holds a whole row. Long cells wrap inside their
column rather than past the right edge; identifiers (a serial, a hash, a file name) are
never broken.
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
    cells = [[_cell(value) for value in row] for row in rows]
    limit = width or terminal_width()
    widths = _fit_widths(list(headers), cells, limit)
    lines = _render(list(headers), cells, numeric, widths)
    return "\n".join(([title] if title else []) + lines)


def _render(
    headers: list[str],
    cells: list[list[str]],
    numeric: list[bool],
    widths: list[int | None],
) -> list[str]:
    grid = Table(
        box=_RULE_UNDER_HEADER,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        highlight=False,
        header_style="",
    )
    for column, (header, right) in enumerate(zip(headers, numeric, strict=True)):
        grid.add_column(
            Text(header),
            justify="right" if right else "left",
            overflow="fold",
            width=widths[column],
        )
    for row in cells:
        grid.add_row(*(Text(text) for text in row))
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=_UNBOUNDED,  # the column widths are set: nothing is cropped
        color_system=None,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    console.print(grid)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


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


def _fit_widths(
    headers: list[str], cells: list[list[str]], limit: int | None, words_floor: int = 12
) -> list[int | None]:
    """Each column's text width so the table fits ``limit`` (``None``: its natural width).

    Identifiers (a column with no blank in any cell: serials, hashes, file names) keep their
    whole width, and columns of words share the rest in proportion, each at least
    ``words_floor`` (they wrap); if that is still too wide the widest identifier columns
    share too, one at a time (they fold).
    """
    count = len(headers)
    natural = [
        max([len(header), *(len(row[column]) for row in cells)])
        for column, header in enumerate(headers)
    ]
    room = None if limit is None else limit - (2 * count - 1)  # padding and a blank per column
    if room is None or sum(natural) <= room:
        return [None] * count
    shared = {c for c in range(count) if any(" " in row[c] for row in cells)}
    fixed = sorted((c for c in range(count) if c not in shared), key=lambda c: -natural[c])
    while True:
        left = room - sum(natural[c] for c in fixed)
        floors = {c: min(words_floor, natural[c]) for c in shared}
        if left >= sum(floors.values()) or not fixed:
            break
        shared.add(fixed.pop(0))
    widths: list[int | None] = [natural[c] for c in range(count)]
    spare = max(left - sum(floors.values()), 0)
    wanted = sum(natural[c] - floors[c] for c in shared) or 1
    for c in shared:  # each its floor, and the spare room in proportion to what it lacks
        widths[c] = max(floors[c] + spare * (natural[c] - floors[c]) // wanted, 1)
    return widths
