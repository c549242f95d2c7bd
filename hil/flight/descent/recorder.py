"""The flight recorder of a descent and the files a run leaves behind.

At 10 Hz the run records truth beside what the FC said on CAN (``RECORD_COLUMNS``). At the
end ``write_outputs`` writes the folder an engineer keeps with the record: the trajectory
(``trajectory.npz``, ``trajectory.csv``), the profile plot (``profile.png``) and the summary
(``summary.json``); the bus log (``bus.blf``) is written by the bench's CAN link as it goes.
A plot that fails never costs the run its other files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hil import __version__
from hil.core.executive import TimingReport
from hil.drivers.can import CanLink
from hil.flight.descent.result import DescentResult

RECORD_COLUMNS = (
    "time_s",
    "true_x_m",
    "true_z_m",
    "true_altitude_m",
    "true_vx_mps",
    "true_vz_mps",
    "true_mass_kg",
    "true_throttle_pct",
    "true_pitch_deg",
    "terrain_height_m",
    "fc_altitude_m",
    "fc_downrange_m",
    "fc_velocity_downrange_mps",
    "fc_velocity_vertical_mps",
    "fc_mode",
    "fc_lrf_accepted",
    "fc_lrf_rejected",
    "cmd_throttle_pct",
    "cmd_pitch_deg",
    "lrf_range_m",
    "lrf_valid",
)


class FlightRecorder:
    """Rows of ``RECORD_COLUMNS``, one per telemetry tick."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, ...]] = []

    def append(self, row: tuple[float, ...]) -> None:
        self.rows.append(row)

    def table(self) -> np.ndarray:
        """The rows as an array of shape (rows, columns)."""
        return np.array(self.rows, dtype=np.float64).reshape(-1, len(RECORD_COLUMNS))


def write_outputs(
    out_dir: Path,
    result: DescentResult,
    table: np.ndarray,
    bench_path: Path,
    plot: bool = True,
    notes: dict[str, Any] | None = None,
) -> None:
    """Write the trajectory, the summary and (``plot``) the profile into ``out_dir``; the
    names go into ``result.files``. ``plot=False`` leaves the plot to ``write_profile``
    (a GUI draws it on its own thread). ``notes`` go into the summary as they are."""
    columns: dict[str, Any] = {name: table[:, i] for i, name in enumerate(RECORD_COLUMNS)}
    np.savez_compressed(out_dir / "trajectory.npz", **columns)
    np.savetxt(
        out_dir / "trajectory.csv",
        table,
        delimiter=",",
        header=",".join(RECORD_COLUMNS),
        comments="",
        fmt="%.6g",
    )
    result.files = {
        "trajectory": "trajectory.npz",
        "trajectory_csv": "trajectory.csv",
        "bus_log": "bus.blf",
        "summary": "summary.json",
    }
    if plot:
        write_profile(out_dir, result, table)
    summary = result.summary()
    summary["software_version"] = __version__
    summary["bench"] = str(bench_path)
    summary.update(notes or {})
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


def write_profile(out_dir: Path, result: DescentResult, table: np.ndarray) -> None:
    """The descent profile plot (``profile.png``); a failure is noted in the timeline."""
    from hil.flight.plots import descent_profile_png

    try:
        descent_profile_png(table, RECORD_COLUMNS, out_dir / "profile.png", title=result.verdict)
        result.files["profile"] = "profile.png"
    except Exception as err:  # a plot must never cost the run its record
        end_s = result.events[-1][0] if result.events else 0.0
        result.events.append((end_s, f"profile plot not written: {err}"))


def timing_summary(timing: TimingReport | None) -> dict[str, Any]:
    """The executive's real-time figures for the summary (empty without a run)."""
    if timing is None:
        return {}
    return {
        "simulated_s": timing.simulated_s,
        "wall_s": timing.wall_s,
        "real_time_factor": timing.real_time_factor,
        "frames": float(timing.frames),
        "overruns": float(timing.overruns),
        "lateness_p50_ms": 1000 * timing.percentile_s(50),
        "lateness_p99_ms": 1000 * timing.percentile_s(99),
        "lateness_max_ms": 1000 * float(timing.lateness_s.max()) if timing.lateness_s.size else 0.0,
        "priority": timing.priority,
    }


def spread_ms(name: str, values_s: list[float]) -> dict[str, float]:
    """``<name>_p50_ms``, ``_p99_ms``, ``_max_ms`` of ``values_s`` (nothing when empty)."""
    if not values_s:
        return {}
    values_ms = 1000.0 * np.asarray(values_s)
    return {
        f"{name}_p50_ms": float(np.percentile(values_ms, 50)),
        f"{name}_p99_ms": float(np.percentile(values_ms, 99)),
        f"{name}_max_ms": float(values_ms.max()),
    }


def bus_log_notes(can: CanLink) -> dict[str, Any]:
    """What the summary says of the bus log's time base (nothing without a log)."""
    if can.log_start_epoch_s is None:
        return {}
    start = datetime.fromtimestamp(can.log_start_epoch_s, UTC)
    base = (
        "frames carry simulated seconds since the start plus the wall time at the start"
        if can.log_time_offset_s
        else "frames carry wall time"
    )
    return {"bus_log_start_utc": start.isoformat(timespec="milliseconds"), "bus_log_time": base}
