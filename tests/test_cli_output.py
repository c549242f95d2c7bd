"""What the ``hil`` commands print, as a pipeline and a person read it: ``--json`` is one JSON
document on stdout; tables fit ``$COLUMNS`` and keep whole rows in a log; progress goes to
stderr only on a terminal or when asked; ``--help`` lists the scenarios and its examples name
files that exist."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, SIM_BENCH

from hil.cli.defaults import DEFAULT_CARDS, DEFAULT_PROGRAM
from hil.cli.main import _parser, main
from hil.cli.output import table
from hil.core.paths import WORKSPACE_FILE
from hil.flight.scenario import load_scenario, scenario_names
from hil.records import open_store

LANDER = "HR-M3-SN002"
SHORT_SCENARIO = (
    '[scenario]\nname = "short"\ndescription = "ignition, then 5 s of braking"\n'
    "[timeline]\nmax_duration_s = 15.0\n"
)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(argv: list[str], capsys: pytest.CaptureFixture[str], status: int = 0) -> object:
    code, out, err = _run(argv, capsys)
    assert code == status, err
    return json.loads(out)  # the whole of stdout is one document


# -- --json -----------------------------------------------------------------------------------


def test_cards_list_json_lists_the_library_and_the_cards_that_do_not_load(
    capsys: pytest.CaptureFixture[str],
) -> None:
    library = _json(["cards", "list", "--dir", str(ROOT / DEFAULT_CARDS), "--json"], capsys)
    assert isinstance(library, dict) and library["errors"] == []
    numbers = [card["number"] for card in library["cards"]]
    assert numbers == sorted(numbers) and len(numbers) >= 10
    first = library["cards"][0]
    assert set(first) >= {"number", "title", "revision", "sha256", "interval", "file"}
    assert Path(first["file"]).is_file() and len(first["sha256"]) == 64
    tests = _json(["cards", "list", "--dir", "tests/cards", "--json"], capsys, status=2)
    assert isinstance(tests, dict) and len(tests["errors"]) == 6
    assert "LL-99-00-00-710-001" in [card["number"] for card in tests["cards"]]


def test_records_list_and_show_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with open_store(str(data)) as store:
        run_id = store.create_run(
            {"card": {"number": "LL-34-1", "revision": "A", "title": "IMU"}, "operator_id": "jo"}
        )
        attempt = {"step": 1, "kind": "measurement", "text": "rate", "attempt": 1,
                   "outcome": "PASS", "name": "rate", "value": 10.0, "unit": "Hz",
                   "low": 9.5, "high": 10.5, "rii": True}  # fmt: skip
        store.append(run_id, "attempt", attempt)
        store.finish(run_id, "PASS")
    listing = _json(["records", "list", "--data", str(data), "--json"], capsys)
    assert isinstance(listing, dict)
    (run,) = listing["runs"]
    assert (run["run_id"], run["card_number"], run["outcome"]) == (run_id, "LL-34-1", "PASS")
    shown = _json(["records", "show", run_id, "--data", str(data), "--json"], capsys)
    assert isinstance(shown, dict)
    assert shown["run"]["run_id"] == run_id and shown["verification"]["ok"] is True
    assert shown["attempts"][0]["value"] == 10.0 and shown["outstanding_rii"] == [1]
    assert shown["signatures"] == []


def test_fleet_landers_and_due_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data", str(tmp_path / "data")]
    assert main(["fleet", "load-program", str(ROOT / DEFAULT_PROGRAM), *data]) == 0
    add = ["fleet", "add-lander", LANDER, "--model", "HR-M3", "--in-service", "2026-01-01"]
    assert main([*add, "--counter", "descents=2", *data]) == 0
    capsys.readouterr()
    landers = _json(["fleet", "landers", "--json", *data], capsys)
    assert isinstance(landers, dict)
    (lander,) = landers["landers"]
    assert lander["serial"] == LANDER and lander["counters"]["descents"] == 2
    assert lander["release"].startswith(("BLOCKED", "READY", "RELEASED"))
    due = _json(["fleet", "due", "--lander", LANDER, "--json", *data], capsys)
    assert isinstance(due, dict) and due["lander"] == LANDER and due["due"]
    item = due["due"][0]
    assert item["status"] in ("OK", "DUE SOON", "OVERDUE") and item["card"].startswith("LL-")


def test_bench_check_json(tmp_path: Path, channel: str, capsys: pytest.CaptureFixture[str]) -> None:
    bench = tmp_path / "sim.toml"
    text = SIM_BENCH.read_text().replace('"hil-sim"', f'"{channel}"')
    dbc = SIM_BENCH.parent.parent / "can" / "lander.dbc"
    bench.write_text(text.replace('"../can/lander.dbc"', f'"{dbc}"'))
    report = _json(["bench", "check", "--bench", str(bench), "--json"], capsys)
    assert isinstance(report, dict) and report["ok"] is True and report["problems"] == []
    assert {d["role"] for d in report["devices"]} >= {"flight_computer", "imu"}
    assert report["bit"]["passed"] is True
    assert "FC_Heartbeat" in {row["message"] for row in report["can"]}


def test_campaign_json_is_clean_and_progress_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT_SCENARIO)
    argv = ["campaign", "--scenario", str(scenario), "--runs", "2", "--workers", "1", "--json"]
    code, out, err = _run([*argv, "--out", str(tmp_path / "quiet")], capsys)
    assert code == 0 and err == ""  # stderr is not a terminal: no progress
    summary = json.loads(out)
    assert summary["runs"] == 2 and summary["scenario"] == "short"
    assert "summary.json" in summary["files"]
    code, out, err = _run([*argv, "--out", str(tmp_path / "loud"), "--progress"], capsys)
    assert code == 0 and json.loads(out)["runs"] == 2
    assert "2/2" in err and "ETA" in err


# -- tables -----------------------------------------------------------------------------------


def test_tables_fit_80_columns_and_keep_whole_rows_in_a_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cards", "list", "--dir", str(ROOT / DEFAULT_CARDS)]
    monkeypatch.delenv("COLUMNS", raising=False)
    code, log, _ = _run(argv, capsys)  # stdout is not a terminal: natural width
    assert code == 0
    rows = [line for line in log.splitlines() if line.startswith("LL-")]
    assert rows and max(len(line) for line in log.splitlines()) > 80
    assert all(line.rstrip().endswith(".py") for line in rows)  # one row, one line
    monkeypatch.setenv("COLUMNS", "80")
    code, narrow, _ = _run(argv, capsys)
    assert code == 0 and max(len(line) for line in narrow.splitlines()) <= 80
    hashes = re.compile(r"\b[0-9a-f]{12}\b")  # identifiers that fit are never broken
    assert sorted(hashes.findall(narrow)) == sorted(hashes.findall(log)) and len(rows) >= 10
    assert re.search(r"\bFlight\b", narrow) and "power-on" in narrow  # titles wrap by words


def test_a_table_wraps_long_cells_inside_their_column() -> None:
    text = table(
        ["id", "description", "n"],
        [("SN1", "a long description " * 8, 3), ("SN2", "[record 4f2] short", 12.5)],
        width=50,
    )
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 50
    assert lines[0].split() == ["id", "description", "n"] and set(lines[1]) <= {"-", " "}
    assert "[record 4f2] short" in text  # not read as markup
    assert re.search(r"^SN2 .* 12\.5$", text, re.M)  # numbers right-aligned


# -- help -------------------------------------------------------------------------------------


def _helps() -> dict[str, str]:
    def walk(parser: argparse.ArgumentParser, name: str) -> dict[str, str]:
        found = {name: parser.format_help()}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, child in action.choices.items():
                    found.update(walk(child, f"{name} {sub}"))
        return found

    return walk(_parser(), "hil")


def test_descent_and_campaign_help_list_every_scenario() -> None:
    helps = _helps()
    for command in ("hil descent", "hil campaign"):
        listed = helps[command].split("scenarios (--scenario NAME")[1]
        for name in scenario_names():
            assert re.search(rf"^  {re.escape(name)}\s", listed, re.M), (command, name)
        assert load_scenario("nominal").description.split()[0] in listed


def test_every_file_a_help_text_names_exists() -> None:
    named = set()
    for command, text in _helps().items():
        for token in re.findall(r"[\w./~-]+\.(?:py|toml|dbc|npz)\b", text):
            named.add((command, token))
    assert any(token.endswith(".py") for _, token in named)  # the examples name a card
    missing = [
        (command, token)
        for command, token in named
        if not (ROOT / token).exists()
        and not Path(token).exists()
        and token != WORKSPACE_FILE  # what `hil init` writes
    ]
    assert missing == []


def test_the_descent_bar_runs_to_the_expected_flight_time_not_the_cap() -> None:
    nominal = load_scenario("nominal")
    expected_s = nominal.nominal_flight_s()
    assert 400.0 < expected_s < nominal.model.max_duration_s
