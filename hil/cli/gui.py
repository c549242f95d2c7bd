"""``hil gui``: the bench GUI on a bench configuration.

``hil.cli.main`` calls ``add_commands(subparsers)`` while building its parser. The handler opens the
record store when ``--store``/``--data`` (or ``$HIL_STORE``/``$HIL_DATA``) names one, builds
the ``BenchSession`` and the main window, and runs the Qt event loop; a ``HilError``
propagates to ``hil.cli.main.main`` as one line. ``--answers`` pre-answers every card question from
a scripted answers file (the dialogs still open and show the answer), for demonstrations and CI.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hil.cli.defaults import DEFAULT_BENCH, DEFAULT_CARDS, shown
from hil.cli.exit_codes import EXIT_OK

DEFAULT_OUT = Path("runs/gui")


def add_commands(subparsers: Any) -> None:
    """Add ``gui`` to the ``hil`` command's subparsers."""

    gui = subparsers.add_parser("gui", help="the bench GUI: status, live plots, cards, descents")
    gui.add_argument(
        "--bench",
        type=Path,
        default=DEFAULT_BENCH,
        help=f"bench file, or a bench by name, e.g. sim (default: {shown(DEFAULT_BENCH)})",
    )
    gui.add_argument(
        "--cards",
        type=Path,
        default=DEFAULT_CARDS,
        help=f"card folder (default: {shown(DEFAULT_CARDS)})",
    )
    gui.add_argument(
        "--data",
        default=None,
        help="records data directory for as-run records and sign-off (default: $HIL_DATA; "
        "without it, --store or $HIL_STORE, no records are kept)",
    )
    gui.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="records store instead of --data: a folder, sqlite:///DIR or "
        "postgresql://USER@HOST/DB (default: $HIL_STORE)",
    )
    gui.add_argument(
        "--answers", type=Path, default=None, help="scripted answers (TOML) for card questions"
    )
    gui.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    gui.set_defaults(handler=gui_command)


def gui_command(args: argparse.Namespace) -> int:
    """Run the GUI until its window closes; exit status 0."""
    import contextlib
    import sys

    from PySide6 import QtWidgets

    from hil.cards.operators import ScriptedOperator
    from hil.core.config import load_bench
    from hil.gui.window import MainWindow
    from hil.services.operator import GuiOperator
    from hil.services.session import BenchSession

    config = load_bench(args.bench)
    script = ScriptedOperator(args.answers) if args.answers is not None else None
    with contextlib.ExitStack() as stack:
        store = None
        from hil.records.backends import open_store, store_configured, store_location

        if store_configured(args.store, args.data):
            store = stack.enter_context(open_store(store_location(args.store, args.data)))
        app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
        session = stack.enter_context(
            BenchSession(config, operator=GuiOperator(script), store=store, out_dir=args.out)
        )
        window = MainWindow(session, cards_dir=args.cards, store=store)
        window.show()
        app.exec()
    return EXIT_OK
