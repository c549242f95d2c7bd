"""Dispersion campaigns: statistics, determinism across pools, outputs, a Dask cluster."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import SIM_BENCH

from hil.errors import ConfigError
from hil.flight.campaign import (
    DaskPool,
    LocalPool,
    RunOutcome,
    run_campaign,
    run_seed,
    summarise,
    wilson_interval,
    write_outputs,
)
from hil.flight.model_only import dispersed_start, run_model_only
from hil.flight.scenario import load_scenario
from hil.models import dynamics as dyn
from hil.models.dispersions import DispersionParams

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


def test_chunking_does_not_change_the_campaign(two_runs: list[RunOutcome]) -> None:
    """Each run draws from its own seed, and its numbers never depend on the batch's width."""
    one_batch = run_campaign("nominal", 2, seed=3, pool=LocalPool(1), chunk_runs=2)
    assert (
        [o.seed for o in one_batch]
        == [o.seed for o in two_runs]
        == [
            run_seed(3, 0),
            run_seed(3, 1),
        ]
    )
    assert rows(one_batch) == rows(two_runs)  # bit for bit


def test_nominal_runs_fly_dispersed_landers_with_the_declared_sigmas() -> None:
    scenario = load_scenario("nominal")
    seeds = [run_seed(7, i) for i in range(400)]
    start = dispersed_start(scenario.model, scenario.truth_terrain_profile(), seeds)
    d = scenario.model.dispersions
    nominal = dispersed_start(
        replace(scenario.model, dispersions=DispersionParams()),
        scenario.truth_terrain_profile(),
        seeds[:1],
    ).state[0]
    offset = start.state - nominal
    assert offset[:, dyn.X].std() == pytest.approx(d.downrange_m, rel=0.15)
    assert offset[:, dyn.VZ].std() == pytest.approx(d.vertical_velocity_mps, rel=0.15)
    wet_sigma = math.hypot(d.dry_mass_kg, d.propellant_kg)
    assert offset[:, dyn.MASS].std() == pytest.approx(wet_sigma, rel=0.15)
    assert start.lander is not None
    assert start.lander.isp_s.std() == pytest.approx(d.isp_s, rel=0.15)
    assert len(set(start.terrain.variant.tolist())) == d.terrain_variants


def test_model_only_and_full_stack_run_i_fly_the_same_dispersed_lander() -> None:
    from hil.flight.descent import Plant

    scenario = load_scenario("nominal")
    seeds = [run_seed(5, i) for i in range(3)]
    batch = dispersed_start(scenario.model, scenario.truth_terrain_profile(), seeds)
    for i, seed in enumerate(seeds):
        plant = Plant(scenario, seed)
        np.testing.assert_array_equal(plant.initial_state[0], batch.state[i])
        assert batch.lander is not None
        assert plant.dry_mass_kg == batch.lander.dry_mass_kg[i]
        assert plant.run_lander is not None
        assert plant.run_lander.max_thrust_n[0] == batch.lander.max_thrust_n[i]
        x = np.array([-5000.0, -2000.0])
        np.testing.assert_allclose(
            plant.terrain.height_m(x), batch.terrain.take(np.array([i, i])).height_m(x)
        )
        assert plant.uplink_mass_kg == scenario.model.lander.wet_mass_kg  # FC: nominal
        np.testing.assert_array_equal(plant.imu.accel_bias_mps2[0], batch.imu.accel_bias_mps2[i])


def test_a_run_flies_the_same_alone_or_in_any_batch() -> None:
    scenario = load_scenario("nominal")
    short = replace(scenario.model, max_duration_s=30.0)
    seeds = [run_seed(9, i) for i in range(3)]

    def fly(run_seeds: list[int]) -> dict[str, np.ndarray]:
        res = run_model_only(
            len(run_seeds), 0, params=short, record_history=True, run_seeds=run_seeds
        )
        assert res.history is not None
        return res.history

    alone = fly([seeds[1]])
    in_batch = fly([seeds[1], seeds[0], seeds[2]])
    again = fly([seeds[1]])
    for key in alone:
        np.testing.assert_array_equal(alone[key], again[key])
        np.testing.assert_array_equal(in_batch[key], alone[key])  # bit for bit
    other = fly([seeds[0]])
    assert not np.array_equal(other["x_m"], alone["x_m"])  # dispersed start


def test_a_model_only_campaign_is_split_so_that_two_cores_share_it() -> None:
    from hil.flight.campaign import MODEL_CHUNK_RUNS, jobs_for

    def chunks(runs: int) -> list[int]:
        return [args[3] for _, args in jobs_for("nominal", runs, 1, False, "unused")]

    assert chunks(1) == [1]
    assert chunks(200) == [100, 100]  # a few hundred runs no longer wait on one process
    assert chunks(201) == [101, 100]
    assert chunks(1000) == [MODEL_CHUNK_RUNS, MODEL_CHUNK_RUNS]
    assert chunks(1200) == [500, 500, 200]
    # by the number of runs only: the same chunks, so the same results, on any pool
    assert [args[2] for _, args in jobs_for("nominal", 201, 1, False, "unused")] == [0, 101]
