"""The bench GUI (PySide6 + pyqtgraph): bench status, live plots, card library and runner,
sign-off dialogs, records browser, descent launcher with a live trajectory.

``BenchSession`` runs the bench work in worker threads through the services the CLI uses;
``MainWindow`` only displays what the session posts and redraws from one timer. ``hil gui``
is in ``hil.cli.gui``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hil.services.operator import GuiOperator, OperatorCancelled, OperatorRequest
from hil.services.session import BenchSession, SessionBusy
from hil.services.traces import SignalBuffer, TraceStore

if TYPE_CHECKING:
    from hil.gui.window import MainWindow


def __getattr__(name: str) -> Any:
    """``MainWindow`` is imported on first use, so a descent process spawned by the session
    (which imports ``hil.services.session``) does not import Qt."""
    if name == "MainWindow":
        from hil.gui.window import MainWindow

        return MainWindow
    raise AttributeError(f"module 'hil.gui' has no attribute {name!r}")


__all__ = [
    "BenchSession",
    "GuiOperator",
    "MainWindow",
    "OperatorCancelled",
    "OperatorRequest",
    "SessionBusy",
    "SignalBuffer",
    "TraceStore",
]
