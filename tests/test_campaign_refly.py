"""A campaign's failed runs: listed with the command that re-flies each, and re-flown exactly."""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path

import pytest
from conftest import SIM_BENCH

from hil.cli.main import main
from hil.flight.campaign import RESULT_FIELDS, refly_command, run_seed
from hil.flight.run_inputs import INPUT_FIELDS

pytestmark = pytest.mark.slow


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _commands(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("hil campaign")]


def _refly(command: str, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    words = shlex.split(command)
    assert words[:2] == ["hil", "campaign"]
    return _run([*words[1:], "--out", str(out)], capsys)


def _same_row(refly_dir: Path, row: dict[str, str]) -> None:
    """The re-flown run's result is the campaign's row, as exactly as the CSV writes it."""
    result = json.loads((refly_dir / "result.json").read_text())
    for name in RESULT_FIELDS:
        assert str(result[name]) == row[name], name


def test_a_failed_model_only_run_is_listed_and_reflown_bit_identically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = tmp_path / "campaign"
    argv = ["campaign", "--scenario", "f2-lrf-degraded", "--runs", "3", "--seed", "2"]
    code, out = _run([*argv, "--workers", "1", "--out", str(campaign)], capsys)
    assert code == 0
    results = _csv_rows(campaign / "results.csv")
    failed = [row for row in results if row["passed"] == "False"]
    assert failed, "F2 runs should fail"  # LRF valid from 0.9 km only: too fast
    assert "Failed runs" in out
    commands = _commands(out)
    assert commands == [
        refly_command("f2-lrf-degraded", 2, int(row["run"]), False, "unused") for row in failed
    ]
    assert (
        commands[0]
        == f"hil campaign --scenario f2-lrf-degraded --seed 2 --rerun {failed[0]['run']}"
    )
    listed = (campaign / "failed-runs.txt").read_text()
    assert all(command in listed for command in commands)
    summary = json.loads((campaign / "summary.json").read_text())
    assert [f["run"] for f in summary["failed_runs"]] == [int(row["run"]) for row in failed]
    assert len(summary["scenario_sha256"]) == 64
    inputs = _csv_rows(campaign / "inputs.csv")
    assert list(inputs[0]) == list(INPUT_FIELDS)
    assert [int(row["seed"]) for row in inputs] == [run_seed(2, i) for i in range(3)]

    # run 1 flew in a batch of two (runs 0 and 1); alone it gives the very same numbers
    row = results[1]
    assert row in failed
    command = commands[failed.index(row)]
    again = tmp_path / "again"
    code, out = _refly(command, again, capsys)
    assert code == 1  # a failed run fails again
    _same_row(again, row)
    assert row["verdict"] in out
    timeline = (again / "timeline.txt").read_text()
    assert "FC mode BRAKING" in timeline and "first valid LRF range" in timeline
    assert "ground contact" in timeline
    assert (again / "profile.png").stat().st_size > 0
    assert (again / "trajectory.csv").read_text().startswith("time_s,true_altitude_m")
    drawn = json.loads((again / "inputs.json").read_text())
    assert drawn["run"] == int(row["run"]) and drawn["run_seed"] == int(row["seed"])
    assert drawn["scenario_sha256"] == summary["scenario_sha256"]
    campaign_inputs = inputs[int(row["run"])]
    assert {k: repr(v) for k, v in drawn["inputs"].items()} == campaign_inputs


def test_a_failed_full_stack_run_is_reflown_with_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "short.toml"
    scenario.write_text(
        (SIM_BENCH.parent.parent / "scenarios" / "nominal.toml")
        .read_text()
        .replace("max_duration_s = 900.0", "max_duration_s = 12.0")
    )
    bench = tmp_path / "bench.toml"
    dbc = SIM_BENCH.parent.parent / "can" / "lander.dbc"
    text = SIM_BENCH.read_text().replace('"hil-sim"', '"hil-refly-test"')
    bench.write_text(text.replace('"../can/lander.dbc"', f'"{dbc}"'))
    campaign = tmp_path / "campaign"
    argv = ["campaign", "--scenario", str(scenario), "--runs", "2", "--seed", "4", "--full-stack"]
    code, out = _run(
        [*argv, "--bench", str(bench), "--workers", "1", "--out", str(campaign)], capsys
    )
    assert code == 0
    results = _csv_rows(campaign / "results.csv")
    assert all(row["passed"] == "False" for row in results)  # 12 s: still braking
    commands = _commands(out)
    assert len(commands) == 2
    assert f"--scenario {scenario.resolve()}" in commands[1]
    assert commands[1].endswith(f"--rerun 1 --full-stack --bench {bench.resolve()}")

    again = tmp_path / "again"
    code, out = _refly(commands[1], again, capsys)
    assert code == 1
    _same_row(again, results[1])
    summary = json.loads((again / "summary.json").read_text())  # the descent's own record
    assert summary["seed"] == run_seed(4, 1) and summary["verdict"] == results[1]["verdict"]
    assert "end of run" in (again / "timeline.txt").read_text()
    assert {"profile.png", "bus.blf", "inputs.json"} <= {p.name for p in again.iterdir()}
