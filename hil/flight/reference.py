"""A flown descent against a published one: the reference check (``hil descent --reference``).

A *reference* (``references/<name>.toml`` of the data layout, e.g. ``apollo11``) gives, for
each figure, the published value, a tolerance and the one line that justifies it. A
:class:`FlownDescent` holds the same figures measured from a flight; :func:`compare` lays the
two side by side, one :class:`ReferenceRow` per figure, PASS within the tolerance, MISS outside
it (or when the flight never got there).

Measured the same way for a full-stack run (its 10 Hz flight record) and a model-only run (its
50 Hz history), from truth and the FC's mode:

* PDI: the first record in which the FC is in BRAKING; altitude and speed (in the
  downrange-vertical plane) there;
* high gate: the first record in which the FC is in APPROACH (the guidance's phase switch,
  :mod:`hil.fsw.modes`), its time after PDI and altitude;
* altitude: above the landing site's level (truth ``z``), the frame Apollo's trajectory
  figures are given in; the terrain under a lander 505 km uprange varies by hundreds of
  metres from one 20 m cell to the next, and is not what the plan flies to;
* touchdown: ground contact (truth), its time after PDI;
* delta-v: the integral of the thrust acceleration ``throttle * max_thrust / mass`` from the
  start of the record to contact (trapezoids), with the run's own (dispersed) maximum thrust.
  The truth model burns ``thrust / (Isp g0)``, so this equals the rocket equation on the
  propellant used to round-off; the integral is the measure that would survive a model that
  did not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hil.core.config import TomlTable, read_toml
from hil.core.paths import named_files, resolve_named
from hil.errors import ConfigError
from hil.flight.descent.result import DescentResult
from hil.flight.model_only import ModelRunResults, run_model_only
from hil.flight.run_inputs import drawn_inputs
from hil.flight.scenario import Scenario
from hil.fsw.modes import Mode

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FlownDescent:
    """The figures a reference is checked on, measured from one flight (NaN: not reached)."""

    pdi_altitude_m: float
    pdi_speed_mps: float
    high_gate_time_s: float  #: after PDI
    high_gate_altitude_m: float
    touchdown_time_s: float  #: after PDI
    delta_v_mps: float  #: PDI to contact
    # -- how a failed landing went (the HAKUTO-R references); altitudes above the terrain
    believed_down_altitude_m: float = math.nan  #: true, when the FC first believed <= 1 m
    propellant_out_altitude_m: float = math.nan  #: true, when the tanks ran dry in flight
    fall_s: float = math.nan  #: tanks dry to contact
    impact_speed_mps: float = math.nan  #: at contact
    first_valid_range_m: float = math.nan  #: the LRF's first valid range
    first_valid_speed_mps: float = math.nan  #: true speed then
    descent_rate_at_192_m_mps: float = math.nan  #: true, first time 192 m above the terrain


FIGURES = tuple(item.name for item in fields(FlownDescent))
"""The keys a reference file may check, in the order they are shown."""


@dataclass(frozen=True)
class ReferenceValue:
    """One published figure: its value, the tolerance it is held to and why."""

    key: str
    label: str
    unit: str
    value: float
    tolerance: float
    source: str
    why: str


@dataclass(frozen=True)
class Reference:
    name: str
    title: str
    sources: tuple[str, ...]
    values: tuple[ReferenceValue, ...]
    path: Path


@dataclass(frozen=True)
class ReferenceRow:
    """A figure of the reference beside the bench's."""

    label: str
    unit: str
    reference: float
    bench: float
    tolerance: float
    passed: bool
    why: str

    @property
    def off_fraction(self) -> float:
        """(bench - reference) / reference; NaN when the bench has no figure."""
        return (self.bench - self.reference) / self.reference if self.reference else math.nan


def reference_names() -> list[str]:
    """Every reference by name: the workspace's and the package's."""
    return list(named_files("references", ".toml"))


def load_reference(name_or_path: str | Path) -> Reference:
    """A reference by name (``references/<name>.toml``) or path. Raises ``ConfigError``: an
    unknown name lists the references that exist; an unknown figure lists the known ones."""
    path = resolve_named(name_or_path, "references", ".toml")
    if path.suffix != ".toml" and not path.is_file():
        raise ConfigError(
            f"unknown reference {str(name_or_path)!r}; references: {', '.join(reference_names())}"
        )
    data = read_toml(path, "reference")
    top = TomlTable(path, "", data)
    head = top.require("reference")
    name = head.get("name", str)
    title = head.get("title", str, name)
    sources = head.get("sources", list, [])
    head.finish()
    raw = top.get("quantity", list)
    top.finish()
    values = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise top.error("quantity", f"entry {i + 1}: expected a table")
        table = TomlTable(path, f"quantity {i + 1}", entry)
        key = table.get("key", str)
        if key not in FIGURES:
            raise table.error("key", f"unknown figure {key!r}; figures: {', '.join(FIGURES)}")
        tolerance = table.get("tolerance", float)
        if not tolerance > 0:
            raise table.error("tolerance", f"must be > 0, not {tolerance}")
        values.append(
            ReferenceValue(
                key=key,
                label=table.get("label", str, key),
                unit=table.get("unit", str, ""),
                value=table.get("value", float),
                tolerance=tolerance,
                source=table.get("source", str, ""),
                why=table.get("why", str, ""),
            )
        )
        table.finish()
    return Reference(name, title, tuple(str(s) for s in sources), tuple(values), path)


def compare(reference: Reference, flown: FlownDescent) -> list[ReferenceRow]:
    """One row per figure of ``reference``: PASS when ``|bench - value| <= tolerance``."""
    rows = []
    for item in reference.values:
        bench = float(getattr(flown, item.key))
        passed = math.isfinite(bench) and abs(bench - item.value) <= item.tolerance
        rows.append(
            ReferenceRow(item.label, item.unit, item.value, bench, item.tolerance, passed, item.why)
        )
    return rows


def measure(
    time_s: FloatArray,
    mode: FloatArray,
    altitude_m: FloatArray,
    speed_mps: FloatArray,
    thrust_accel_mps2: FloatArray,
    contact_time_s: float | None,
) -> FlownDescent:
    """The figures of one flight from its records (arrays of one length, in time order)."""
    nan = math.nan
    pdi = np.flatnonzero(mode == Mode.BRAKING)
    if pdi.size == 0:
        return FlownDescent(nan, nan, nan, nan, nan, nan)
    i = int(pdi[0])
    t_pdi = float(time_s[i])
    gate = np.flatnonzero(mode == Mode.APPROACH)
    gate_time, gate_altitude = nan, nan
    if gate.size:
        gate_time, gate_altitude = float(time_s[gate[0]]) - t_pdi, float(altitude_m[gate[0]])
    contact = nan if contact_time_s is None else float(contact_time_s)
    flown = time_s <= contact if math.isfinite(contact) else np.ones(time_s.shape, dtype=bool)
    delta_v = float(np.trapezoid(thrust_accel_mps2[flown], time_s[flown]))
    return FlownDescent(
        pdi_altitude_m=float(altitude_m[i]),
        pdi_speed_mps=float(speed_mps[i]),
        high_gate_time_s=gate_time,
        high_gate_altitude_m=gate_altitude,
        touchdown_time_s=contact - t_pdi,
        delta_v_mps=delta_v if math.isfinite(contact) else nan,
    )


@dataclass(frozen=True)
class FailureRecord:
    """The columns a failed landing is measured by (one flight, time order, one length)."""

    time_s: FloatArray
    altitude_m: FloatArray  #: truth, above the terrain under the lander
    altitude_est_m: FloatArray  #: the FC's
    vx_mps: FloatArray
    vz_mps: FloatArray
    mass_kg: FloatArray  #: truth
    cmd_throttle_pct: FloatArray  #: the FC's command
    first_valid_time_s: float  #: NaN: the LRF never gave a valid range
    first_valid_range_m: float


#: the altitude of HAKUTO-R Mission 2's last telemetry (ispace, June 2025)
LAST_TELEMETRY_ALTITUDE_M = 192.0


def measure_failure(
    record: FailureRecord, contact_time_s: float | None, impact_speed_mps: float
) -> dict[str, float]:
    """The figures of how a landing went wrong (the fields of :class:`FlownDescent` after
    ``delta_v_mps``), NaN where the flight never got there.

    The tanks ran dry at the last record in which the mass still fell, if the FC still
    commanded thrust after it (a lander that cut its engine on the ground burned to the end
    of its burn, not of its propellant)."""
    nan = math.nan
    t, altitude, speed = record.time_s, record.altitude_m, np.hypot(record.vx_mps, record.vz_mps)
    contact = nan if contact_time_s is None else float(contact_time_s)
    figures = {"impact_speed_mps": impact_speed_mps if math.isfinite(contact) else nan}
    down = np.flatnonzero(record.altitude_est_m <= 1.0)
    figures["believed_down_altitude_m"] = float(altitude[down[0]]) if down.size else nan
    burning = np.flatnonzero(np.diff(record.mass_kg) < -1e-6)
    if burning.size:
        dry = int(burning[-1]) + 1
        if dry + 1 < t.size and np.any(record.cmd_throttle_pct[dry + 1 :] > 0.0):
            figures["propellant_out_altitude_m"] = float(altitude[dry])
            figures["fall_s"] = contact - float(t[dry])
    if math.isfinite(record.first_valid_time_s):
        i = min(int(np.searchsorted(t, record.first_valid_time_s)), t.size - 1)
        figures["first_valid_range_m"] = record.first_valid_range_m
        figures["first_valid_speed_mps"] = float(speed[i])
    low = np.flatnonzero(altitude <= LAST_TELEMETRY_ALTITUDE_M)
    if low.size:
        figures["descent_rate_at_192_m_mps"] = -float(record.vz_mps[low[0]])
    return figures


def from_flight_record(
    record: Mapping[str, FloatArray],
    contact_time_s: float | None,
    max_thrust_n: float,
    impact_speed_mps: float = math.nan,
) -> FlownDescent:
    """The figures of a full-stack run from its flight record (``trajectory.npz``: columns of
    :data:`hil.flight.descent.RECORD_COLUMNS`); ``impact_speed_mps`` from its contact."""
    valid = np.flatnonzero(np.asarray(record["lrf_valid"]) > 0)
    failure = FailureRecord(
        time_s=np.asarray(record["time_s"]),
        altitude_m=np.asarray(record["true_altitude_m"]),
        altitude_est_m=np.asarray(record["fc_altitude_m"]),
        vx_mps=np.asarray(record["true_vx_mps"]),
        vz_mps=np.asarray(record["true_vz_mps"]),
        mass_kg=np.asarray(record["true_mass_kg"]),
        cmd_throttle_pct=np.asarray(record["cmd_throttle_pct"]),
        first_valid_time_s=float(record["time_s"][valid[0]]) if valid.size else math.nan,
        first_valid_range_m=float(record["lrf_range_m"][valid[0]]) if valid.size else math.nan,
    )
    flown = measure(
        np.asarray(record["time_s"]),
        np.asarray(record["fc_mode"]),
        np.asarray(record["true_z_m"]),
        np.hypot(record["true_vx_mps"], record["true_vz_mps"]),
        0.01 * np.asarray(record["true_throttle_pct"]) * max_thrust_n / record["true_mass_kg"],
        contact_time_s,
    )
    return replace(flown, **measure_failure(failure, contact_time_s, impact_speed_mps))


def from_model_history(results: ModelRunResults, max_thrust_n: float, run: int = 0) -> FlownDescent:
    """The figures of run ``run`` of a model-only batch flown with ``record_history=True``."""
    history = results.history
    if history is None:
        raise ValueError("a model-only run is measured from its history (record_history=True)")
    touched = bool(results.touched_down[run])
    contact = float(results.touchdown_time_s[run]) if touched else None
    flown = measure(
        np.asarray(history["time_s"]),
        np.asarray(history["mode"]),
        np.asarray(history["z_m"]),
        np.hypot(history["vx_mps"], history["vz_mps"]),
        np.asarray(history["throttle"]) * max_thrust_n / history["mass_kg"],
        contact,
    )
    failure = FailureRecord(
        time_s=np.asarray(history["time_s"]),
        altitude_m=np.asarray(history["altitude_m"]),
        altitude_est_m=np.asarray(history["altitude_est_m"]),
        vx_mps=np.asarray(history["vx_mps"]),
        vz_mps=np.asarray(history["vz_mps"]),
        mass_kg=np.asarray(history["mass_kg"]),
        cmd_throttle_pct=np.asarray(history["cmd_throttle_pct"]),
        first_valid_time_s=float(results.lrf_first_valid_time_s[run]),
        first_valid_range_m=float(results.lrf_first_valid_range_m[run]),
    )
    impact = math.hypot(
        results.touchdown_vertical_speed_mps[run], results.touchdown_horizontal_speed_mps[run]
    )
    return replace(flown, **measure_failure(failure, contact, impact))


def from_descent(result: DescentResult, scenario: Scenario) -> FlownDescent:
    """The figures of a full-stack run from the flight record it wrote (``trajectory.npz`` of
    its ``out_dir``). Raises ``ConfigError`` when the run wrote none."""
    if result.out_dir is None or "trajectory" not in result.files:
        raise ConfigError(f"descent of {result.scenario}: no flight record to measure")
    with np.load(result.out_dir / result.files["trajectory"]) as record:
        columns = {name: record[name] for name in record.files}
    contact = result.contact
    return from_flight_record(
        columns,
        contact.time_s if contact is not None else None,
        run_max_thrust_n(scenario, result.seed),
        contact.speed_mps if contact is not None else math.nan,
    )


def run_max_thrust_n(scenario: Scenario, seed: int) -> float:
    """The truth maximum thrust of run ``seed`` of ``scenario`` (dispersed as it flew)."""
    return float(drawn_inputs(scenario, [0], [seed])[0]["max_thrust_n"])


def fly_model_only(scenario: Scenario, seed: int = 0) -> FlownDescent:
    """Fly ``scenario`` model-only as the full stack flies seed ``seed`` (the same dispersed
    lander, start and sensors) and measure it: a few seconds."""
    results = run_model_only(
        1,
        seed,
        params=scenario.model,
        terrain=scenario.truth_terrain_profile(),
        terrain_map=scenario.fc_terrain_map_profile(),
        record_history=True,
        run_seeds=[seed],
    )
    return from_model_history(results, run_max_thrust_n(scenario, seed))


def rows_text(rows: Sequence[ReferenceRow]) -> list[tuple[str, str, str, str, str, str]]:
    """Table cells of ``rows``: figure, reference, bench, off by, tolerance, result."""
    cells = []
    for row in rows:
        bench = f"{row.bench:,.0f} {row.unit}" if math.isfinite(row.bench) else "not reached"
        off = f"{100 * row.off_fraction:+.1f} %" if math.isfinite(row.bench) else "-"
        cells.append(
            (
                row.label,
                f"{row.reference:,.0f} {row.unit}",
                bench,
                off,
                f"+-{row.tolerance:,.0f} {row.unit} ({100 * row.tolerance / row.reference:.0f} %)",
                "PASS" if row.passed else "MISS",
            )
        )
    return cells
