"""What each run of a campaign drew: its dispersed lander, start state, terrain and sensors.

Everything a run flies that is not the scenario itself is drawn from its *run seed*
(:func:`hil.flight.model_only.run_seed` of the campaign seed and the run's index): the
dispersions (:mod:`hil.models.dispersions`, stream 4) and the sensor noise, each sensor from
its own generator ``SFC64([run_seed, tag])`` (IMU 1, LRF 2, propellant gauge 3;
:mod:`hil.models.sensors`). :func:`drawn_inputs` writes those draws out as numbers, one row
per run (``inputs.csv`` of a campaign, ``inputs.json`` of a re-flown run), so an engineer can
see what a failed run flew without flying it again; the re-fly itself draws them again from
the seed, which gives the same numbers bit for bit.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hil.flight.model_only import dispersed_start
from hil.models import dynamics as dyn
from hil.models.sensors import STREAM_DISPERSION, STREAM_GAUGE, STREAM_IMU, STREAM_LRF

STREAMS = {
    "imu": STREAM_IMU,
    "lrf": STREAM_LRF,
    "gauge": STREAM_GAUGE,
    "dispersions": STREAM_DISPERSION,
}
"""Stream tags: a run's generator for each is ``numpy.random.SFC64([run_seed, tag])``."""

INPUT_FIELDS = (
    "run",
    "seed",
    "terrain_variant",
    "terrain_offset_m",
    "x_m",
    "y_m",
    "z_m",
    "vx_mps",
    "vy_mps",
    "vz_mps",
    "pitch_deg",
    "wet_mass_kg",
    "dry_mass_kg",
    "propellant_kg",
    "max_thrust_n",
    "isp_s",
    "accel_bias_x_mps2",
    "accel_bias_y_mps2",
    "accel_bias_z_mps2",
    "gyro_bias_x_radps",
    "gyro_bias_y_radps",
    "gyro_bias_z_radps",
    "lrf_bias_m",
    "lrf_noise_scale",
    "gauge_scale",
    "vel_bias_x_mps",
    "vel_bias_y_mps",
    "vel_bias_z_mps",
)
"""Columns of ``inputs.csv``: truth at the start of the run (t = 0, the coast before PDI) in
the landing-site frame, the truth lander, the IMU's total biases, the LRF's range bias and
noise scale, the propellant gauge's scale factor, the velocimeter's biases (body axes)."""


def drawn_inputs(
    scenario: Any, runs: Sequence[int], run_seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """One dict of :data:`INPUT_FIELDS` per run, drawn as the runs draw them.

    ``scenario`` is a loaded :class:`hil.flight.scenario.Scenario`; ``runs`` the runs'
    indices in the campaign and ``run_seeds`` their seeds.
    """
    if len(runs) != len(run_seeds):
        raise ValueError(f"drawn_inputs: {len(runs)} runs for {len(run_seeds)} seeds")
    params = scenario.model
    start = dispersed_start(params, scenario.truth_terrain_profile(), run_seeds)
    lander = params.lander
    rows = []
    for i, (run, seed) in enumerate(zip(runs, run_seeds, strict=True)):
        state = start.state[i]
        run_lander = start.lander
        dry = float(run_lander.dry_mass_kg[i]) if run_lander else lander.dry_mass_kg
        gyro = start.imu.gyro_bias_radps
        lrf_bias, lrf_scale = start.lrf.bias_m, start.lrf.noise_scale
        row: dict[str, Any] = {
            "run": int(run),
            "seed": int(seed),
            "terrain_variant": int(start.terrain.variant[i]),
            "terrain_offset_m": float(start.terrain.offset_m[i]),
            "x_m": float(state[dyn.X]),
            "y_m": float(state[dyn.Y]),
            "z_m": float(state[dyn.Z]),
            "vx_mps": float(state[dyn.VX]),
            "vy_mps": float(state[dyn.VY]),
            "vz_mps": float(state[dyn.VZ]),
            "pitch_deg": math.degrees(float(state[dyn.PITCH])),
            "wet_mass_kg": float(state[dyn.MASS]),
            "dry_mass_kg": dry,
            "propellant_kg": float(state[dyn.MASS]) - dry,
            "max_thrust_n": (
                float(run_lander.max_thrust_n[i]) if run_lander else lander.max_thrust_n
            ),
            "isp_s": float(run_lander.isp_s[i]) if run_lander else lander.isp_s,
            "lrf_bias_m": float(lrf_bias[i]) if lrf_bias is not None else 0.0,
            "lrf_noise_scale": float(lrf_scale[i]) if lrf_scale is not None else 1.0,
            "gauge_scale": float(start.gauge.scale[i]),
        }
        for j, axis in enumerate("xyz"):
            row[f"accel_bias_{axis}_mps2"] = float(start.imu.accel_bias_mps2[i, j])
            row[f"gyro_bias_{axis}_radps"] = float(gyro[i, j]) if gyro is not None else 0.0
            row[f"vel_bias_{axis}_mps"] = float(start.vel.bias_mps[i, j])
        rows.append({name: row[name] for name in INPUT_FIELDS})
    return rows


def write_inputs_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """``rows`` of :func:`drawn_inputs` as CSV, floats written exactly (``repr``)."""
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(INPUT_FIELDS)
        for row in rows:
            writer.writerow([repr(row[name]) for name in INPUT_FIELDS])


def scenario_sha256(scenario: Any) -> str:
    """SHA-256 of the scenario file: a re-fly flies the same runs only from the same file."""
    return hashlib.sha256(Path(scenario.path).read_bytes()).hexdigest()
