"""Regenerate the README screenshots from the GUI, offscreen, on the simulated bench.

``python -m hil.gui.screenshots [OUT_DIR]`` (``scripts/screenshots`` calls it) drives the real
window through a bench check, a card run with scripted answers, sign-off (when the
``cryptography`` package that ``hil.records`` signs with is installed), the records browser and
a descent, and writes one PNG per view into ``OUT_DIR`` (default ``docs/screenshots``). It uses
a temporary records store with two demonstration people, so nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from hil.core.paths import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUT = ROOT / "docs" / "screenshots"
DEMO_SECRET = "demo-secret-1"
"""Secret of the demonstration people (a throwaway store, never a real one)."""


def pump(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Process Qt events until ``condition()`` holds. Raises ``TimeoutError`` naming ``what``."""
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance()
    assert app is not None
    deadline_s = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline_s:
            raise TimeoutError(f"screenshots: {what} did not happen within {timeout_s:g} s")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        QtCore.QThread.msleep(5)


def save(widget: object, path: Path) -> Path:
    from PySide6 import QtWidgets

    assert isinstance(widget, QtWidgets.QWidget)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path)):
        raise OSError(f"screenshots: cannot write {path}")
    return path


def crypto_available() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def take(
    out_dir: Path, scenario_name: str = "f1-crater-rim", descent_s: float | None = None
) -> list[Path]:
    """Write the screenshots; returns their paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from hil.cards.operators import ScriptedOperator
    from hil.core.config import load_bench
    from hil.flight.scenario import load_scenario
    from hil.gui.window import MainWindow
    from hil.records import Administrator, Authorization, Kdf, SqliteStore, bootstrap_admin
    from hil.services.operator import GuiOperator
    from hil.services.session import BenchSession

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    config = load_bench(DATA_DIR / "benches" / "sim.toml")
    script = ScriptedOperator(DATA_DIR / "answers" / "ci.toml")
    written: list[Path] = []
    with contextlib.ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hil-shots-")))
        store = stack.enter_context(SqliteStore(data / "records", kdf=Kdf(n=2**12)))
        signing = crypto_available()
        if signing:
            until = date.today() + timedelta(days=365)
            bootstrap_admin(store, "admin.demo", "Admin", DEMO_SECRET, data / "trust.toml")
            admin = Administrator.login(store, "admin.demo", DEMO_SECRET)
            admin.add(
                "tech.demo",
                "A. Technician",
                ["technician"],
                DEMO_SECRET,
                [Authorization("LL-*", "TC-0042", until)],
            )
            admin.add(
                "insp.demo",
                "B. Inspector",
                ["inspector"],
                DEMO_SECRET,
                [Authorization("LL-*", "IA-0007", until)],
            )
        session = stack.enter_context(
            BenchSession(config, operator=GuiOperator(script), store=store, out_dir=data / "runs")
        )
        window = MainWindow(session, cards_dir=DATA_DIR / "procedures", store=store)
        stack.callback(window.close)
        window.resize(1400, 900)
        window.show()

        # 1. bench check
        window.bench_check()
        pump(lambda: not session.busy and window.job_label.text().startswith("idle"), 30, "check")

        # 2. a card with an RII inspection, answered by the script through the dialogs; the
        #    bench status panel while it runs
        cards = window.cards
        window.tabs.setCurrentWidget(cards)
        cards.auto_answer_ms = 400
        cards.select("LL-34-21-00-720-801")
        cards.operator_id.setText("tech.demo")
        cards.run_button.click()
        pump(lambda: cards.dialog is not None and cards.dialog.isVisible(), 30, "inspection")
        dialog = cards.dialog
        assert dialog is not None
        written.append(save(dialog, out_dir / "inspection-dialog.png"))
        pump(lambda: not dialog.isVisible(), 10, "inspection answer")
        window.tabs.setCurrentWidget(window.status)
        pump(
            lambda: window.status.can.rowCount() > 0 and "running" in window.job_label.text(),
            10,
            "status during the card",
        )
        start = time.monotonic()
        pump(lambda: time.monotonic() - start > 1.2, 5, "status refresh")
        written.append(save(window, out_dir / "bench-status.png"))
        window.tabs.setCurrentWidget(cards)
        pump(lambda: not session.busy and cards.run_button.isEnabled(), 60, "card run")
        window.tick()
        written.append(save(window, out_dir / "card-runner.png"))

        # 3. sign-off: performer, then an inspector refused for the wrong secret, then accepted
        if signing:
            window.sign_off()
            sequence = window.signoff
            assert sequence is not None and sequence.dialog is not None
            sequence.dialog.person.setText("tech.demo")
            sequence.dialog.secret.setText(DEMO_SECRET)
            sequence.dialog.try_sign()
            inspector = sequence.dialog
            inspector.person.setText("insp.demo")
            inspector.secret.setText("not-the-secret")
            inspector.try_sign()
            written.append(save(inspector, out_dir / "signoff-refused.png"))
            inspector.secret.setText(DEMO_SECRET)
            inspector.try_sign()
            written.append(save(inspector, out_dir / "signoff-inspector.png"))

        # 4. records browser with the as-run card open
        if window.records is not None:
            window.records.refresh()
            window.records.open_selected()
            window.tabs.setCurrentWidget(window.records)
            window.tick()
            written.append(save(window, out_dir / "records.png"))

        # 5. a descent: trajectory over the terrain, then the live plots
        scenario = load_scenario(scenario_name)
        window.tabs.setCurrentWidget(window.descent)
        window.fly(scenario, 0, False, descent_s)
        pump(lambda: not session.busy, 600, "descent")
        pump(lambda: not window.descent.stop_button.isEnabled(), 10, "descent result")
        window.tick()
        written.append(save(window, out_dir / "descent.png"))
        window.tabs.setCurrentWidget(window.plots)
        window.plots.window_box.setValue(600.0)
        window.plots.redraw(force=True)
        window.tick()
        written.append(save(window, out_dir / "plots.png"))
    del app
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--scenario", default="f1-crater-rim")
    args = parser.parse_args(argv)
    for path in take(args.out, args.scenario):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
