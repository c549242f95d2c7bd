"""The fleet view, offscreen with pytest-qt: landers with their release status, and the
selected lander's due list with what drives each item and why it may not be released."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from hil.fleet import Counters, Fleet, load_program
from hil.gui.fleet_view import FleetView, fleet_view_for
from hil.records import Kdf, SqliteStore
from hil.records.backends import open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with SqliteStore(tmp_path / "data", kdf=Kdf(n=2**10)) as store, Fleet(store) as opened:
        opened.load_program(load_program(ROOT / "hil" / "data" / "fleet" / "program.toml"))
        today = datetime.now(UTC).date()
        opened.add_lander("HR-M3-SN002", "HR-M3", "baseline", today - timedelta(days=3))
        opened.add_lander(
            "HR-M3-SN003", "HR-M3", "polar", today - timedelta(days=400), Counters(descents=4)
        )
        opened.report_defect("HR-M3-SN003", "LRF window scratched", "tech")
        yield opened


def test_the_fleet_view_shows_release_status_and_the_due_list(
    qtbot: QtBot, fleet: Fleet, tmp_path: Path
) -> None:
    view = FleetView(fleet)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    assert view.serials == ["HR-M3-SN002", "HR-M3-SN003"]
    release = [view.landers.item(row, 8).text() for row in range(2)]
    assert release[0] == "READY TO RELEASE"
    assert release[1].startswith("BLOCKED (")
    view.select_lander("HR-M3-SN003")
    statuses = {
        view.due.item(row, 0).text(): view.due.item(row, 2).text()
        for row in range(view.due.rowCount())
    }
    assert statuses["LL-22-10-00-730-802"] == "OVERDUE"  # polar configuration only
    assert "LRF window scratched" in view.blockers.text()
    view.select_lander("HR-M3-SN002")
    assert "LL-22-10-00-730-802" not in {
        view.due.item(row, 0).text() for row in range(view.due.rowCount())
    }
    assert "may be released" in view.blockers.text()
    assert view.grab().save(str(tmp_path / "fleet.png"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_view_works_on_whatever_store_the_gui_opened(
    qtbot: QtBot, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(tmp_path / "data") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with open_store(url, kdf=Kdf(n=2**10)) as store:
        view = fleet_view_for(store)
        assert view is not None
        qtbot.addWidget(view)
        view.refresh()
        assert "No landers registered" in view.blockers.text()
        with Fleet(store) as bench:  # another bench registers a lander meanwhile
            bench.add_lander("HR-M3-SN007", "HR-M3", "baseline", datetime.now(UTC).date())
        view.refresh()
        assert view.serials == ["HR-M3-SN007"]
        assert view.landers.item(0, 8).text() == "READY TO RELEASE"
