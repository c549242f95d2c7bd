"""Dispersion campaigns: many descents of one scenario, their statistics and plots.

Two ways to fly the runs, behind one worker-pool interface:

* **model-only** — the flight-software algorithms and models with no links
  (``run_model_only``), a chunk of runs per task vectorised over the batch axis;
* **full-stack** — every run through the links with the simulated FC (``DescentRun`` in
  lockstep, each on its own virtual CAN channel), one run per task.

Tasks go to a ``WorkerPool``: local processes by default (``LocalPool``), or a Dask
distributed cluster (``DaskPool``, ``--cluster tcp://HOST:PORT``) for campaigns larger than
one machine. Every run's seed is derived from the campaign seed and the run's index, and the
run draws everything from it -- its dispersions (the scenario's ``[dispersions]``, see
:mod:`hil.models.dispersions`) and its sensor noise -- so run i is the same dispersed lander in
model-only and full-stack mode, and a campaign gives the same numbers whatever the pool, the
number of workers and the model-only chunk size. Results are ordered by index.

Model-only chunks are half the campaign, at most ``MODEL_CHUNK_RUNS`` runs, by default
(:func:`default_chunk_runs`), so a campaign of a few hundred runs still keeps two cores busy.
A run's arithmetic never depends on the batch it flies in (no BLAS product or reduction
across the batch sums in a width-dependent order), so any chunk size, any pool and a run
flown alone give bit-identical numbers.

Any failed run can be flown again alone (:mod:`hil.flight.refly`): ``write_outputs`` writes
what every run drew (``inputs.csv``, :mod:`hil.flight.run_inputs`) and the summary lists
each failed run with the one command that re-flies it (:func:`refly_command`), also in
``failed-runs.txt``.

The summary gives the success rate with its Wilson score interval, touchdown-speed
percentiles and the propellant margin; ``write_outputs`` writes ``results.csv``,
``inputs.csv``, ``summary.json``, ``failed-runs.txt`` and PNG plots (touchdown-speed
histogram, landing-error scatter).
"""

from __future__ import annotations

import abc
import concurrent.futures
import csv
import dataclasses
import json
import math
import os
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hil.errors import ConfigError, HilError

MODEL_CHUNK_RUNS = 500
"""Runs per model-only task: a batch costs a fixed ~2.5 s of per-block overhead plus ~0.08 s
a run (CPU, this machine, 2026-11-29), and runs that have landed leave the batch, so big
batches are cheaper per run and a campaign pays for one slow straggler per chunk; 500 keeps
both cores busy for 1,000 runs or more. Fixed, so results do not depend on the number of
workers."""

RESULT_FIELDS = (
    "run",
    "seed",
    "passed",
    "touched_down",
    "vertical_speed_mps",
    "horizontal_speed_mps",
    "tilt_deg",
    "propellant_kg",
    "landing_error_m",
    "lrf_first_valid_range_m",
    "verdict",
)


@dataclass(frozen=True)
class RunOutcome:
    """One run of a campaign, as a row of the results file."""

    run: int
    seed: int
    passed: bool
    touched_down: bool
    vertical_speed_mps: float
    horizontal_speed_mps: float
    tilt_deg: float
    propellant_kg: float
    landing_error_m: float
    lrf_first_valid_range_m: float
    verdict: str


# -- the work, run inside a worker ----------------------------------------------------------


def run_seed(campaign_seed: int, run: int) -> int:
    """The seed of run ``run``: independent streams, the same whatever the pool."""
    from hil.flight.model_only import run_seed as model_run_seed

    return model_run_seed(campaign_seed, run)


def model_chunk(
    scenario_ref: str, campaign_seed: int, first_run: int, runs: int
) -> list[RunOutcome]:
    """Fly runs ``first_run`` .. ``first_run + runs - 1`` model-only, as one batch."""
    from hil.flight.model_only import run_model_only
    from hil.flight.scenario import load_scenario

    scenario = load_scenario(scenario_ref)
    seeds = [run_seed(campaign_seed, first_run + i) for i in range(runs)]
    results = run_model_only(
        runs,
        seed=campaign_seed,
        params=scenario.model,
        terrain=scenario_truth(scenario),
        terrain_map=scenario_map(scenario),
        run_seeds=seeds,
    )
    return model_outcomes(results, first_run, seeds)


def model_outcomes(results: Any, first_run: int, seeds: Sequence[int]) -> list[RunOutcome]:
    """The outcomes of model-only ``results`` (:class:`~hil.flight.model_only.ModelRunResults`)
    of runs ``first_run`` .. with ``seeds``: the rows a campaign and a re-fly both report."""
    outcomes = []
    for i, seed in enumerate(seeds):
        touched = bool(results.touched_down[i])
        outcomes.append(
            RunOutcome(
                run=first_run + i,
                seed=seed,
                passed=bool(results.passed[i]),
                touched_down=touched,
                vertical_speed_mps=float(abs(results.touchdown_vertical_speed_mps[i])),
                horizontal_speed_mps=float(results.touchdown_horizontal_speed_mps[i]),
                tilt_deg=float(results.touchdown_tilt_deg[i]),
                propellant_kg=float(results.propellant_left_kg[i]),
                landing_error_m=float(results.landing_error_m[i]),
                lrf_first_valid_range_m=float(results.lrf_first_valid_range_m[i]),
                verdict=results.verdict(i),
            )
        )
    return outcomes


def full_stack_run(
    scenario_ref: str, campaign_seed: int, run: int, bench_path: str
) -> list[RunOutcome]:
    """Fly one run through the links with the simulated FC, on a private CAN channel."""
    from hil.core.config import load_bench
    from hil.flight.descent import fly
    from hil.flight.scenario import load_scenario

    config = load_bench(bench_path)
    channel = f"{config.can.channel}-campaign-{os.getpid()}-{run}"
    config = dataclasses.replace(config, can=dataclasses.replace(config.can, channel=channel))
    seed = run_seed(campaign_seed, run)
    result = fly(config, load_scenario(scenario_ref), seed=seed)
    return [descent_outcome(run, seed, result)]


def descent_outcome(run: int, seed: int, result: Any) -> RunOutcome:
    """The outcome of a full-stack descent (a :class:`~hil.flight.descent.DescentResult`)."""
    contact = result.contact
    nan = math.nan
    return RunOutcome(
        run=run,
        seed=seed,
        passed=result.passed,
        touched_down=contact is not None,
        vertical_speed_mps=abs(contact.vertical_speed_mps) if contact else nan,
        horizontal_speed_mps=contact.horizontal_speed_mps if contact else nan,
        tilt_deg=contact.tilt_deg if contact else nan,
        propellant_kg=contact.propellant_kg if contact else nan,
        landing_error_m=contact.landing_error_m if contact else nan,
        lrf_first_valid_range_m=result.lrf_first_valid_range_m or nan,
        verdict=result.verdict,
    )


def scenario_truth(scenario: Any) -> Any:
    """The truth terrain profile a scenario's runs fly over."""
    builder = getattr(scenario, "truth_terrain_profile", None)
    if builder is not None:
        return builder()
    from hil.models.terrain import TerrainProfile

    return TerrainProfile.load(scenario.truth_terrain)


def scenario_map(scenario: Any) -> Any:
    """The FC's onboard map of a scenario (None: a map of the truth terrain)."""
    builder = getattr(scenario, "fc_terrain_map_profile", None)
    return builder() if builder is not None else None


# -- worker pools ----------------------------------------------------------------------------

Job = tuple[Callable[..., list[RunOutcome]], tuple[Any, ...]]


class WorkerPool(abc.ABC):
    """Runs campaign jobs somewhere; yields each job's outcomes as it completes."""

    @abc.abstractmethod
    def run(self, jobs: Sequence[Job]) -> Iterator[list[RunOutcome]]: ...

    @property
    def parallelism(self) -> int:
        """How many jobs run at once (sizes the model-only chunks)."""
        return 1

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LocalPool(WorkerPool):
    """Local worker processes (``workers=1`` runs in this process, no pool at all)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    @property
    def parallelism(self) -> int:
        return self.workers

    def run(self, jobs: Sequence[Job]) -> Iterator[list[RunOutcome]]:
        if self.workers == 1:
            for function, args in jobs:
                yield function(*args)
            return
        with concurrent.futures.ProcessPoolExecutor(self.workers) as executor:
            futures = [executor.submit(function, *args) for function, args in jobs]
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()


class DaskPool(WorkerPool):
    """A Dask distributed cluster at ``address`` (``tcp://HOST:PORT``)."""

    def __init__(self, address: str, timeout_s: float = 10.0) -> None:
        try:
            from dask.distributed import Client
        except ImportError as err:
            raise ConfigError(
                "--cluster needs dask.distributed: pip install 'hil[cluster]'"
            ) from err
        try:
            self.client = Client(address, timeout=timeout_s)
        except OSError as err:
            raise HilError(f"Dask cluster {address}: cannot connect: {err}") from err

    @property
    def parallelism(self) -> int:
        try:
            workers = self.client.scheduler_info().get("workers", {})
        except (OSError, AttributeError):
            return 1
        return max(1, len(workers))

    def run(self, jobs: Sequence[Job]) -> Iterator[list[RunOutcome]]:
        from dask.distributed import as_completed

        futures = [self.client.submit(function, *args, pure=False) for function, args in jobs]
        for future in as_completed(futures):
            yield future.result()

    def close(self) -> None:
        self.client.close()


# -- the campaign ---------------------------------------------------------------------------


@dataclass
class CampaignSummary:
    scenario: str
    runs: int
    seed: int
    mode: str
    passed: int
    success_rate: float
    success_interval_95: tuple[float, float]
    vertical_speed_percentiles_mps: dict[str, float]
    horizontal_speed_percentiles_mps: dict[str, float]
    propellant_margin_kg: dict[str, float]
    landing_error_percentiles_m: dict[str, float]
    wall_s: float = 0.0
    scenario_sha256: str = ""
    """The scenario file flown: a re-fly reproduces the runs only from the same file."""
    failed_runs: list[FailedRun] = field(default_factory=list)
    """Each run outside the touchdown limits, with the command that re-flies it."""


@dataclass(frozen=True)
class FailedRun:
    """A run outside the touchdown limits and the one command that flies it again."""

    run: int
    seed: int
    verdict: str
    command: str


def refly_command(
    scenario_ref: str, campaign_seed: int, run: int, full_stack: bool, bench_path: str
) -> str:
    """The shell command that re-flies run ``run`` of a campaign, alone and bit-identically.

    A scenario or bench named by file is given by its absolute path, so the command works
    from any folder; one named by its bare name stays a name.
    """
    words = [
        "hil",
        "campaign",
        "--scenario",
        _portable(scenario_ref, "scenarios"),
        "--seed",
        str(campaign_seed),
        "--rerun",
        str(run),
    ]
    if full_stack:
        words += ["--full-stack", "--bench", _portable(bench_path, "benches")]
    return shlex.join(words)


def _portable(ref: str, folder: str) -> str:
    """``ref`` as a command line gives it from any folder: a data file's bare name, else an
    absolute path."""
    from hil.core.paths import named_files

    path = Path(ref)
    named = named_files(folder, ".toml")
    if ref in named:
        return ref
    if path.exists():
        resolved = path.resolve()
        if named.get(path.stem) is not None and named[path.stem].resolve() == resolved:
            return path.stem
        return str(resolved)
    return ref


def failed_runs(
    outcomes: Sequence[RunOutcome],
    scenario_ref: str,
    campaign_seed: int,
    full_stack: bool,
    bench_path: str,
) -> list[FailedRun]:
    """The runs of ``outcomes`` that did not pass, each with its :func:`refly_command`."""
    return [
        FailedRun(
            outcome.run,
            outcome.seed,
            outcome.verdict,
            refly_command(scenario_ref, campaign_seed, outcome.run, full_stack, bench_path),
        )
        for outcome in outcomes
        if not outcome.passed
    ]


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default)."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _percentiles(values: np.ndarray, points: Sequence[int] = (50, 90, 99)) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {f"p{q}": math.nan for q in points}
    return {f"p{q}": float(np.percentile(finite, q)) for q in points}


def summarise(
    outcomes: Sequence[RunOutcome], scenario: str, seed: int, mode: str
) -> CampaignSummary:
    passed = sum(outcome.passed for outcome in outcomes)
    runs = len(outcomes)
    propellant = np.array([outcome.propellant_kg for outcome in outcomes])
    finite = propellant[np.isfinite(propellant)]
    return CampaignSummary(
        scenario=scenario,
        runs=runs,
        seed=seed,
        mode=mode,
        passed=passed,
        success_rate=passed / runs if runs else 0.0,
        success_interval_95=wilson_interval(passed, runs),
        vertical_speed_percentiles_mps=_percentiles(
            np.array([outcome.vertical_speed_mps for outcome in outcomes])
        ),
        horizontal_speed_percentiles_mps=_percentiles(
            np.array([outcome.horizontal_speed_mps for outcome in outcomes])
        ),
        propellant_margin_kg={
            "min": float(finite.min()) if finite.size else math.nan,
            **_percentiles(propellant, (5, 50)),
        },
        landing_error_percentiles_m=_percentiles(
            np.array([outcome.landing_error_m for outcome in outcomes])
        ),
    )


def default_chunk_runs(runs: int) -> int:
    """Model-only runs per task for a campaign of ``runs``: half of them, at most
    ``MODEL_CHUNK_RUNS`` (200 runs fly as two chunks of 100, 1,000 as two of 500)."""
    return max(1, min(MODEL_CHUNK_RUNS, math.ceil(runs / 2)))


def jobs_for(
    scenario_ref: str,
    runs: int,
    seed: int,
    full_stack: bool,
    bench_path: str,
    chunk_runs: int | None = None,
) -> list[Job]:
    """The jobs of a campaign: one per full-stack run, model-only chunks of ``chunk_runs``
    (default :func:`default_chunk_runs`)."""
    if runs < 1:
        raise ConfigError(f"--runs must be at least 1 (got {runs})")
    if chunk_runs is None:
        chunk_runs = default_chunk_runs(runs)
    if chunk_runs < 1:
        raise ConfigError(f"model-only chunk must be at least 1 run (got {chunk_runs})")
    if full_stack:
        return [(full_stack_run, (scenario_ref, seed, run, bench_path)) for run in range(runs)]
    return [
        (model_chunk, (scenario_ref, seed, first, min(chunk_runs, runs - first)))
        for first in range(0, runs, chunk_runs)
    ]


def run_campaign(
    scenario_ref: str,
    runs: int,
    seed: int,
    pool: WorkerPool,
    full_stack: bool = False,
    bench_path: str = "sim",
    progress: Callable[[int, int], None] | None = None,
    chunk_runs: int | None = None,
) -> list[RunOutcome]:
    """Fly the campaign; returns one outcome per run, ordered by run index.

    ``chunk_runs`` sets the model-only batch size; it changes the results to round-off only.
    """
    from hil.flight.scenario import load_scenario

    load_scenario(scenario_ref)  # an unknown scenario fails here, before any worker starts
    jobs = jobs_for(scenario_ref, runs, seed, full_stack, bench_path, chunk_runs)
    outcomes: list[RunOutcome] = []
    for batch in pool.run(jobs):
        outcomes.extend(batch)
        if progress is not None:
            progress(len(outcomes), runs)
    return sorted(outcomes, key=lambda outcome: outcome.run)


def write_outputs(
    outcomes: Sequence[RunOutcome],
    summary: CampaignSummary,
    out: Path,
    inputs: Sequence[dict[str, Any]] | None = None,
) -> list[str]:
    """``results.csv``, ``inputs.csv`` (with ``inputs``, :func:`hil.flight.run_inputs.
    drawn_inputs`), ``summary.json``, ``failed-runs.txt`` (when runs failed) and the PNG
    plots; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(RESULT_FIELDS)
        for outcome in outcomes:
            writer.writerow([getattr(outcome, name) for name in RESULT_FIELDS])
    files = ["results.csv"]
    if inputs is not None:
        from hil.flight.run_inputs import write_inputs_csv

        write_inputs_csv(inputs, out / "inputs.csv")
        files.append("inputs.csv")
    (out / "summary.json").write_text(json.dumps(dataclasses.asdict(summary), indent=2) + "\n")
    files.append("summary.json")
    if summary.failed_runs:
        lines = [f"# {len(summary.failed_runs)} of {summary.runs} runs failed; each re-flies with"]
        for failed in summary.failed_runs:
            lines += [f"# run {failed.run} (seed {failed.seed}): {failed.verdict}", failed.command]
        (out / "failed-runs.txt").write_text("\n".join(lines) + "\n")
        files.append("failed-runs.txt")
    from hil.flight.plots import campaign_plots

    files += campaign_plots(outcomes, summary, out)
    return files
