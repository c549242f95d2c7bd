"""Dispersion campaigns: statistics, determinism across pools, outputs, a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SIM_BENCH

from hil.campaign import (
    DaskPool,
    LocalPool,
    RunOutcome,
    run_campaign,
    summarise,
    wilson_interval,
    write_outputs,
)
from hil.errors import ConfigError

pytestmark = pytest.mark.slow


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson_interval(126, 200)
    assert (round(low, 4), round(high, 4)) == (0.5612, 0.6939)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(10, 10)[
        0
    ] == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def rows(outcomes: list[RunOutcome]) -> list[str]:
    """Outcomes as text, so that NaN compares equal to NaN."""
    return [repr(outcome) for outcome in outcomes]


@pytest.fixture(scope="module")
def two_runs() -> list[RunOutcome]:
    """Two nominal model-only runs in one process, one run per task."""
    return run_campaign("nominal", 2, seed=3, pool=LocalPool(1), chunk_runs=1)


def test_model_only_campaign_lands_and_summarises(
    tmp_path: Path, two_runs: list[RunOutcome]
) -> None:
    assert all(o.passed and o.touched_down for o in two_runs), [o.verdict for o in two_runs]
    assert len({o.horizontal_speed_mps for o in two_runs}) == 2  # each run its own noise
    summary = summarise(two_runs, "nominal", 3, "model-only")
    assert summary.runs == 2 and summary.passed == 2 and summary.success_rate == 1.0
    assert summary.vertical_speed_percentiles_mps["p50"] == pytest.approx(
        float(np.median([o.vertical_speed_mps for o in two_runs]))
    )
    files = write_outputs(two_runs, summary, tmp_path)
    assert {"results.csv", "summary.json", "touchdown_speed_histogram.png"} <= set(files)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].startswith("run,seed,passed") and len(lines) == 3
    assert json.loads((tmp_path / "summary.json").read_text())["runs"] == 2


def test_two_local_processes_give_the_same_campaign(two_runs: list[RunOutcome]) -> None:
    with LocalPool(2) as pool:
        two = run_campaign("nominal", 2, seed=3, pool=pool, chunk_runs=1)
    assert [o.run for o in two] == [0, 1]
    assert rows(two) == rows(two_runs)


def test_full_stack_runs_go_through_the_links_in_parallel(tmp_path: Path) -> None:
    scenario = tmp_path / "short.toml"
    scenario.write_text(
        (SIM_BENCH.parent.parent / "scenarios" / "nominal.toml")
        .read_text()
        .replace("max_duration_s = 900.0", "max_duration_s = 12.0")
    )
    with LocalPool(2) as pool:
        outcomes = run_campaign(
            str(scenario), 2, seed=1, pool=pool, full_stack=True, bench_path=str(SIM_BENCH)
        )
    assert [o.run for o in outcomes] == [0, 1]
    assert all("end of run" in o.verdict for o in outcomes)  # 12 s: still braking
    assert outcomes[0].seed != outcomes[1].seed


def test_dask_cluster_on_loopback_gives_the_same_results(two_runs: list[RunOutcome]) -> None:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        processes=True,
    ) as cluster:
        pool = DaskPool(cluster.scheduler_address)
        with pool:
            remote = run_campaign("nominal", 2, seed=3, pool=pool, chunk_runs=1)
    assert rows(remote) == rows(two_runs)


def test_bad_campaign_input_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown scenario 'nope'"):
        run_campaign("nope", 10, seed=0, pool=LocalPool(1))
    with pytest.raises(ConfigError, match="--runs must be at least 1"):
        run_campaign("nominal", 0, seed=0, pool=LocalPool(1))
