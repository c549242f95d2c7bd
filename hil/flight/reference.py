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
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hil.core.config import TomlTable, read_toml
from hil.core.paths import named_files, resolve_named
from hil.errors import ConfigError
from hil.flight.descent.result import DescentResult
from hil.flight.model_only import run_model_only
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


def from_flight_record(
    record: Mapping[str, FloatArray], contact_time_s: float | None, max_thrust_n: float
) -> FlownDescent:
    """The figures of a full-stack run from its flight record (``trajectory.npz``: columns of
    :data:`hil.flight.descent.RECORD_COLUMNS`)."""
    return measure(
        np.asarray(record["time_s"]),
        np.asarray(record["fc_mode"]),
        np.asarray(record["true_z_m"]),
        np.hypot(record["true_vx_mps"], record["true_vz_mps"]),
        0.01 * np.asarray(record["true_throttle_pct"]) * max_thrust_n / record["true_mass_kg"],
        contact_time_s,
    )


def from_model_history(
    history: Mapping[str, FloatArray], contact_time_s: float | None, max_thrust_n: float
) -> FlownDescent:
    """The figures of a model-only run from its history (``record_history=True``)."""
    return measure(
        np.asarray(history["time_s"]),
        np.asarray(history["mode"]),
        np.asarray(history["z_m"]),
        np.hypot(history["vx_mps"], history["vz_mps"]),
        np.asarray(history["throttle"]) * max_thrust_n / history["mass_kg"],
        contact_time_s,
    )


def from_descent(result: DescentResult, scenario: Scenario) -> FlownDescent:
    """The figures of a full-stack run from the flight record it wrote (``trajectory.npz`` of
    its ``out_dir``). Raises ``ConfigError`` when the run wrote none."""
    if result.out_dir is None or "trajectory" not in result.files:
        raise ConfigError(f"descent of {result.scenario}: no flight record to measure")
    with np.load(result.out_dir / result.files["trajectory"]) as record:
        columns = {name: record[name] for name in record.files}
    contact = result.contact.time_s if result.contact is not None else None
    return from_flight_record(columns, contact, run_max_thrust_n(scenario, result.seed))


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
    assert results.history is not None
    touched = bool(results.touched_down[0])
    contact = float(results.touchdown_time_s[0]) if touched else None
    return from_model_history(results.history, contact, run_max_thrust_n(scenario, seed))


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
