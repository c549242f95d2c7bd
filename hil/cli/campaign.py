"""``hil campaign``: a Monte Carlo campaign of a scenario, and any of its runs flown again.

``hil.cli.main`` calls ``add_commands(subparsers)`` while building its parser. A campaign
prints its statistics and lists each failed run with the one command that re-flies it:
the same command with ``--rerun N`` (``hil.flight.refly``), which flies run N alone in the
campaign's mode, bit-identically, and writes its timeline and profile plot. A campaign exits
0 when it ran (its statistics are the result); a re-fly exits 0 when the run passes, 1 when
it fails, as ``hil descent`` does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hil.cli.defaults import DEFAULT_BENCH, shown
from hil.cli.exit_codes import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from hil.flight.campaign import CampaignSummary, RunOutcome

SHOWN_FAILED_RUNS = 10
"""Failed runs listed on the terminal; ``failed-runs.txt`` and ``--json`` list them all."""


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``campaign`` to the ``hil`` command's subparsers."""
    from hil.cli.help_text import CAMPAIGN_EPILOG, ScenarioHelpFormatter
    from hil.cli.output import add_json_argument
    from hil.cli.progress import add_progress_argument

    campaign = subparsers.add_parser(
        "campaign",
        help="Monte Carlo dispersion campaign of a scenario: statistics and plots",
        description="Flies RUNS dispersed descents of a scenario (model-only, or through the "
        "links with --full-stack) and writes results.csv, inputs.csv (what each run drew: "
        "its dispersed lander, start state, terrain variant, sensor biases and seeds), "
        "summary.json, failed-runs.txt and plots. Each failed run is listed with the one "
        "command that re-flies it: the same scenario and seed with --rerun N, which flies "
        "run N alone in the same mode, bit-identically, and writes its timeline, trajectory "
        "and profile plot.",
        epilog=CAMPAIGN_EPILOG,
        formatter_class=ScenarioHelpFormatter,
    )
    campaign.add_argument(
        "--bench",
        type=Path,
        default=DEFAULT_BENCH,
        help=f"bench file, or a bench by name, e.g. sim (default: {shown(DEFAULT_BENCH)})",
    )
    campaign.add_argument("--scenario", default="nominal", help="scenario name or .toml path")
    campaign.add_argument("--runs", type=int, default=100, help="number of runs (default 100)")
    campaign.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    campaign.add_argument(
        "--full-stack", action="store_true", help="fly every run through the links (slower)"
    )
    campaign.add_argument(
        "--rerun",
        type=int,
        default=None,
        metavar="N",
        help="fly only run N of the campaign of this scenario and seed again (model-only, or "
        "full stack with --full-stack), with its timeline and profile plot; --runs is not "
        "needed: run N is the same in a campaign of any size",
    )
    campaign.add_argument(
        "--workers", type=int, default=None, help="local worker processes (default: all cores)"
    )
    campaign.add_argument(
        "--cluster", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786"
    )
    campaign.add_argument("--out", type=Path, default=None, help="output folder")
    add_progress_argument(campaign)
    add_json_argument(campaign)
    campaign.set_defaults(handler=_campaign)


def _campaign(args: argparse.Namespace) -> int:
    if args.rerun is not None:
        return _rerun(args)
    from hil.cli.output import table
    from hil.cli.progress import CountProgress, progress_wanted
    from hil.flight.campaign import (
        DaskPool,
        LocalPool,
        WorkerPool,
        failed_runs,
        run_campaign,
        summarise,
        write_outputs,
    )
    from hil.flight.run_inputs import drawn_inputs, scenario_sha256
    from hil.flight.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    mode = "full-stack" if args.full_stack else "model-only"
    out = args.out or Path("runs") / (
        f"campaign-{scenario.name}-{mode}-{args.runs}runs-seed{args.seed}-"
        f"{time.strftime('%Y%m%d-%H%M%S')}"
    )
    pool: WorkerPool = DaskPool(args.cluster) if args.cluster else LocalPool(args.workers)
    where = args.cluster or f"{getattr(pool, 'workers', 1)} local worker(s)"
    if not args.json:
        print(f"campaign: {scenario.name}, {args.runs} runs, seed {args.seed}, {mode}, {where}")
    progress = CountProgress(args.runs, enabled=progress_wanted(args.progress))
    started_s = time.perf_counter()
    with pool:
        try:
            outcomes = run_campaign(
                args.scenario,
                args.runs,
                args.seed,
                pool,
                args.full_stack,
                str(args.bench),
                progress,
            )
        finally:
            progress.close()
    summary = summarise(outcomes, scenario.name, args.seed, mode)
    summary.wall_s = time.perf_counter() - started_s
    summary.scenario_sha256 = scenario_sha256(scenario)
    summary.failed_runs = failed_runs(
        outcomes, args.scenario, args.seed, args.full_stack, str(args.bench)
    )
    inputs = drawn_inputs(scenario, [o.run for o in outcomes], [o.seed for o in outcomes])
    files = write_outputs(outcomes, summary, out, inputs)
    if args.json:
        from dataclasses import asdict

        from hil.cli.output import print_json

        print_json({**asdict(summary), "out": str(out), "files": files})
        return EXIT_OK
    print()
    rows = _summary_rows(summary)
    print(table(["quantity", "statistic", "value"], rows, title="Campaign summary"))
    print(f"\n{summary.runs} runs in {summary.wall_s:.1f} s; outputs: {out}/ ({', '.join(files)})")
    _print_failed(summary)
    return EXIT_OK


def _summary_rows(summary: CampaignSummary) -> list[tuple[str, str, str]]:
    low, high = summary.success_interval_95
    vertical = summary.vertical_speed_percentiles_mps
    horizontal = summary.horizontal_speed_percentiles_mps
    propellant = summary.propellant_margin_kg
    return [
        (
            "within touchdown limits",
            f"{summary.passed}/{summary.runs}",
            f"{100 * summary.success_rate:.1f} % (95 % CI {100 * low:.1f} - {100 * high:.1f} %)",
        ),
        (
            "vertical speed, m/s",
            "p50 / p90 / p99",
            f"{vertical['p50']:.2f} / {vertical['p90']:.2f} / {vertical['p99']:.2f}",
        ),
        (
            "horizontal speed, m/s",
            "p50 / p90 / p99",
            f"{horizontal['p50']:.2f} / {horizontal['p90']:.2f} / {horizontal['p99']:.2f}",
        ),
        (
            "propellant left, kg",
            "min / p5 / p50",
            f"{propellant['min']:.1f} / {propellant['p5']:.1f} / {propellant['p50']:.1f}",
        ),
    ]


def _print_failed(summary: CampaignSummary) -> None:
    """The failed runs and the command that re-flies each (the first few on a terminal)."""
    failed = summary.failed_runs
    if not failed:
        return
    from hil.cli.output import table

    shown_runs = failed[:SHOWN_FAILED_RUNS]
    rows = [(str(f.run), f.verdict) for f in shown_runs]
    print()
    print(table(["run", "verdict"], rows, title=f"Failed runs ({len(failed)})"))
    print("\nre-fly a failed run (bit-identical, with its timeline and profile plot):")
    for item in shown_runs:
        print(f"  {item.command}")
    if len(failed) > len(shown_runs):
        print(f"  ... and {len(failed) - len(shown_runs)} more in failed-runs.txt")


def _rerun(args: argparse.Namespace) -> int:
    from hil.cli.output import table
    from hil.cli.progress import DescentProgress, progress_wanted
    from hil.flight.campaign import RESULT_FIELDS
    from hil.flight.refly import refly
    from hil.flight.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    mode = "full-stack" if args.full_stack else "model-only"
    out = args.out or Path("runs") / (
        f"refly-{scenario.name}-{mode}-seed{args.seed}-run{args.rerun}-"
        f"{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if not args.json:
        print(f"re-fly: run {args.rerun} of campaign {scenario.name}, seed {args.seed}, {mode}")
    progress = None
    if args.full_stack:
        shown_bar = progress_wanted(args.progress)
        expected_s = scenario.nominal_flight_s() if shown_bar else scenario.model.max_duration_s
        progress = DescentProgress(expected_s, enabled=shown_bar)
    try:
        done = refly(
            args.scenario, args.seed, args.rerun, out, args.full_stack, str(args.bench), progress
        )
    finally:
        if progress is not None:
            progress.close()
    outcome = done.outcome
    if args.json:
        from dataclasses import asdict

        from hil.cli.output import print_json

        print_json(
            {
                "mode": mode,
                **asdict(outcome),
                "events": done.events,
                "inputs": done.inputs,
                "out": str(out),
                "files": done.files,
            }
        )
        return EXIT_OK if outcome.passed else EXIT_FAILED
    print()
    events = [(f"{t:8.2f}", text) for t, text in done.events]
    print(table(["t (s)", "event"], events, title="Timeline"))
    print()
    print(table(["quantity", "value"], _outcome_rows(outcome, RESULT_FIELDS), title="Run"))
    print(f"outputs: {out}/ ({', '.join(done.files)})")
    print()
    print(outcome.verdict)
    return EXIT_OK if outcome.passed else EXIT_FAILED


def _outcome_rows(outcome: RunOutcome, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """The run's row of ``results.csv``, one field a line, written as the file writes it."""
    return [(name, str(getattr(outcome, name))) for name in fields if name != "verdict"]
