"""Re-flying one run of a campaign, alone, with its timeline and plot.

A campaign's run i is fully given by the scenario file, the campaign seed and i (its run seed
is :func:`hil.flight.campaign.run_seed` of the two and it draws everything from it,
:mod:`hil.flight.run_inputs`). :func:`refly` flies it again in the campaign's mode:

* **model-only** — the same batch code with a batch of one (a run's numbers never depend on
  its batch), with run 0's history recorded: the figures are bit-identical to the campaign's
  row, and the history gives the timeline (mode changes, first valid and first accepted LRF
  range, LRF rejected for good, propellant exhausted, contact, LANDED) and a profile plot;
* **full stack** — the same ``fly`` the campaign's worker called, on the bench's own CAN
  channel, writing everything a descent writes (bus log, trajectory, summary, profile).

Either way the folder gets ``inputs.json`` (what the run drew), ``result.json`` (the
campaign's row for this run) and ``timeline.txt``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hil.flight.campaign import (
    RunOutcome,
    descent_outcome,
    model_outcomes,
    run_seed,
    scenario_map,
    scenario_truth,
)
from hil.flight.run_inputs import STREAMS, drawn_inputs, scenario_sha256
from hil.fsw.modes import Mode

PROFILE_COLUMNS = (
    "time_s",
    "true_altitude_m",
    "fc_altitude_m",
    "true_vz_mps",
    "fc_velocity_vertical_mps",
    "true_vx_mps",
    "fc_velocity_downrange_mps",
    "true_throttle_pct",
    "cmd_throttle_pct",
    "fc_mode",
)
"""Columns of a model-only re-fly's ``trajectory.csv`` (20 ms), named as a descent's."""


@dataclass
class Refly:
    """A run flown again: the campaign's row for it, its timeline and the files written."""

    outcome: RunOutcome
    events: list[tuple[float, str]]
    out: Path
    mode: str
    files: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)


def refly(
    scenario_ref: str,
    campaign_seed: int,
    run: int,
    out: Path,
    full_stack: bool = False,
    bench_path: str = "sim",
    progress: Any = None,
) -> Refly:
    """Fly run ``run`` of the campaign of ``scenario_ref`` seeded ``campaign_seed`` again into
    ``out``. Raises ``ConfigError`` for an unknown scenario or bench, ``ValueError`` for a
    negative run."""
    from hil.flight.scenario import load_scenario

    if run < 0:
        raise ValueError(f"--rerun must be a run index >= 0 (got {run})")
    scenario = load_scenario(scenario_ref)
    seed = run_seed(campaign_seed, run)
    out.mkdir(parents=True, exist_ok=True)
    inputs = drawn_inputs(scenario, [run], [seed])[0]
    if full_stack:
        done = _full_stack(scenario, seed, run, out, bench_path, progress)
    else:
        done = _model_only(scenario, campaign_seed, seed, run, out)
    done.inputs = inputs
    record = {
        "scenario": scenario.name,
        "scenario_path": str(scenario.path),
        "scenario_sha256": scenario_sha256(scenario),
        "campaign_seed": campaign_seed,
        "run": run,
        "run_seed": seed,
        "streams": {name: f"SFC64([{seed}, {tag}])" for name, tag in STREAMS.items()},
        "inputs": inputs,
    }
    (out / "inputs.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "result.json").write_text(
        json.dumps({"mode": done.mode, **dataclasses.asdict(done.outcome)}, indent=2) + "\n"
    )
    lines = [f"{t:9.2f}  {text}" for t, text in done.events]
    (out / "timeline.txt").write_text("\n".join([*lines, "", done.outcome.verdict]) + "\n")
    done.files = ["inputs.json", "result.json", "timeline.txt", *done.files]
    return done


def _full_stack(
    scenario: Any, seed: int, run: int, out: Path, bench_path: str, progress: Any
) -> Refly:
    from hil.core.config import load_bench
    from hil.flight.descent import fly

    options = {} if progress is None else {"progress": progress}
    result = fly(load_bench(bench_path), scenario, seed=seed, out_dir=out, **options)
    outcome = descent_outcome(run, seed, result)
    return Refly(outcome, list(result.events), out, "full-stack", list(result.files.values()))


def _model_only(scenario: Any, campaign_seed: int, seed: int, run: int, out: Path) -> Refly:
    from hil.flight.model_only import run_model_only

    results = run_model_only(
        1,
        seed=campaign_seed,
        params=scenario.model,
        terrain=scenario_truth(scenario),
        terrain_map=scenario_map(scenario),
        record_history=True,
        run_seeds=[seed],
    )
    outcome = model_outcomes(results, run, [seed])[0]
    history = results.history or {}
    dry_kg = drawn_inputs(scenario, [run], [seed])[0]["dry_mass_kg"]
    events = model_timeline(results, history, dry_kg)
    table = np.column_stack(
        [
            history["time_s"],
            history["altitude_m"],
            history["altitude_est_m"],
            history["vz_mps"],
            history["vz_est_mps"],
            history["vx_mps"],
            history["vx_est_mps"],
            100.0 * history["throttle"],
            history["cmd_throttle_pct"],
            history["mode"],
        ]
    )
    np.savetxt(
        out / "trajectory.csv",
        table,
        delimiter=",",
        header=",".join(PROFILE_COLUMNS),
        comments="",
        fmt="%.9g",
    )
    files = ["trajectory.csv"]
    from hil.flight.plots import descent_profile_png

    try:
        descent_profile_png(table, PROFILE_COLUMNS, out / "profile.png", title=outcome.verdict)
        files.append("profile.png")
    except Exception as err:  # a plot must never cost the re-fly its record
        events.append((float(results.end_time_s[0]), f"profile plot not written: {err}"))
    return Refly(outcome, events, out, "model-only", files)


def model_timeline(
    results: Any, history: dict[str, np.ndarray], dry_mass_kg: float
) -> list[tuple[float, str]]:
    """The events of run 0 of model-only ``results`` (recorded with ``history``), in time
    order: mode changes, the LRF's first valid and first accepted range, the LRF rejected for
    good, propellant exhausted, contact with the ground and LANDED declared."""
    t = history["time_s"]
    altitude, estimate = history["altitude_m"], history["altitude_est_m"]

    def where(i: int) -> str:
        return f"altitude {altitude[i]:.0f} m (FC estimate {estimate[i]:.0f} m)"

    def at(time_s: float) -> int:
        return min(int(np.searchsorted(t, time_s - 1e-9)), t.size - 1)

    events: list[tuple[float, str]] = []
    mode = history["mode"]
    changes = np.flatnonzero(np.diff(mode, prepend=-1.0))
    for change in changes.tolist():
        if int(mode[change]) == Mode.LANDED:
            continue  # its own event below, with the altitude error
        name = Mode(int(mode[change])).name
        events.append((float(t[change]), f"FC mode {name}, {where(change)}"))
    first_valid = float(results.lrf_first_valid_time_s[0])
    if math.isfinite(first_valid):
        i = at(first_valid)
        rng = float(results.lrf_first_valid_range_m[0])
        speed = math.hypot(history["vx_mps"][i], history["vz_mps"][i])
        events.append(
            (
                first_valid,
                f"first valid LRF range {rng:.0f} m at {where(i)}, speed {speed:.1f} m/s, "
                f"descending {-history['vz_mps'][i]:.1f} m/s",
            )
        )
    first_accept = float(results.lrf_first_accept_time_s[0])
    if math.isfinite(first_accept):
        events.append((first_accept, f"FC accepted its first LRF range, {where(at(first_accept))}"))
    latched = np.flatnonzero(history["lrf_latched"] > 0)
    if latched.size:
        i = int(latched[0])
        events.append((float(t[i]), f"FC rejected the LRF for good at {where(i)}"))
    empty = np.flatnonzero(history["mass_kg"] <= dry_mass_kg)
    if empty.size:
        i = int(empty[0])
        events.append((float(t[i]), f"propellant exhausted at {where(i)}"))
    if results.touched_down[0]:
        events.append(
            (
                float(results.touchdown_time_s[0]),
                f"ground contact: {abs(results.touchdown_vertical_speed_mps[0]):.2f} m/s "
                f"vertical, {results.touchdown_horizontal_speed_mps[0]:.2f} m/s horizontal, "
                f"tilt {results.touchdown_tilt_deg[0]:.1f} deg, "
                f"{results.propellant_left_kg[0]:.1f} kg propellant left, "
                f"{results.landing_error_m[0]:.0f} m from the site",
            )
        )
    landed = float(results.landed_declared_time_s[0])
    if math.isfinite(landed):
        events.append(
            (
                landed,
                f"FC declared LANDED with altitude estimate error "
                f"{results.landed_altitude_error_m[0]:.1f} m",
            )
        )
    events.append((float(results.end_time_s[0]), "end of run"))
    return sorted(events, key=lambda event: event[0])
