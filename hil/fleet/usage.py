"""What one flight adds to the counters: read from a closed-loop descent run folder or a
flight log file.

A descent folder (``hil descent --out DIR``) has ``summary.json`` and ``trajectory.npz``. It adds
one descent, an engine start for every rise of the true throttle from zero (``true_throttle_pct``
above ``ENGINE_ON_PCT``), the seconds it was above that as burn time, and the simulated duration
as powered time. A flight log is a JSON or TOML file with the counters it adds, e.g.
``{"descents": 1, "engine_starts": 2, "burn_s": 612.4, "powered_h": 0.4}``.

``usage_id`` is the SHA-256 of ``summary.json`` (or of the log file): the same flight logged
twice is recognised even if the folder was copied or moved.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.fleet.errors import CounterError
from hil.fleet.model import Counters

ENGINE_ON_PCT = 0.5
"""Throttle (percent) above which the main engine counts as burning."""


@dataclass(frozen=True)
class Usage:
    """One flight's contribution to the counters."""

    usage_id: str
    source: str
    """The resolved path of the run folder or log file."""
    kind: str
    """``descent`` (a closed-loop run folder) or ``flight-log``."""
    counters: Counters


def read_usage(path: str | Path) -> Usage:
    """The usage recorded at ``path``. Raises ``CounterError`` naming the file at fault."""
    source = Path(path).expanduser()
    if source.is_dir():
        if (source / "summary.json").is_file():
            return _descent(source)
        raise CounterError(
            f"{source}: not a descent run folder (no summary.json) and not a flight log file"
        )
    if source.is_file():
        return _flight_log(source)
    raise CounterError(f"{source}: no such run folder or flight log")


def _descent(folder: Path) -> Usage:
    import numpy as np

    summary_path = folder / "summary.json"
    raw = summary_path.read_bytes()
    try:
        summary = json.loads(raw)
    except ValueError as err:
        raise CounterError(f"{summary_path}: not JSON ({err})") from None
    stop = summary.get("stop_reason") if isinstance(summary, dict) else None
    if not stop:
        raise CounterError(f"{summary_path}: no stop_reason; not a completed descent")
    if stop == "not started":
        raise CounterError(f"{summary_path}: the descent never started; nothing to log")
    trajectory = folder / "trajectory.npz"
    try:
        with np.load(trajectory) as data:
            time_s = np.asarray(data["time_s"], dtype=np.float64)
            column = "true_throttle_pct" if "true_throttle_pct" in data else "cmd_throttle_pct"
            throttle_pct = np.asarray(data[column], dtype=np.float64)
    except (OSError, KeyError, ValueError) as err:
        raise CounterError(f"{trajectory}: cannot read time and throttle ({err})") from None
    if time_s.size < 2 or time_s.shape != throttle_pct.shape:
        raise CounterError(f"{trajectory}: fewer than two samples of time and throttle")
    on = throttle_pct > ENGINE_ON_PCT
    starts = int(on[0]) + int(np.count_nonzero(on[1:] & ~on[:-1]))
    dt_s = np.diff(time_s)
    if np.any(dt_s < 0):
        raise CounterError(f"{trajectory}: time goes backwards")
    burn_s = float(np.sum(dt_s[on[:-1]]))
    timing = summary.get("timing") or {}
    duration_s = float(timing.get("simulated_s") or (time_s[-1] - time_s[0]))
    counters = Counters(
        descents=1, engine_starts=starts, burn_s=burn_s, powered_h=duration_s / 3600.0
    )
    return Usage(hashlib.sha256(raw).hexdigest(), str(folder.resolve()), "descent", counters)


def _flight_log(path: Path) -> Usage:
    raw = path.read_bytes()
    data: Any
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise CounterError(f"{path}: not a JSON or TOML flight log ({err})") from None
    if not isinstance(data, dict):
        raise CounterError(f"{path}: a flight log is a table of counters")
    counters = Counters.parse(data, str(path))
    if counters == Counters():
        raise CounterError(f"{path}: the flight log adds nothing")
    return Usage(hashlib.sha256(raw).hexdigest(), str(path.resolve()), "flight-log", counters)
