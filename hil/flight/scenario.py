"""Descent scenarios (``scenarios/*.toml``): terrain, lander, sensors, FC settings.

A scenario says what the bench flies: the truth terrain (a named profile plus features such
as a crater-rim cliff, ``[[terrain.features]]``) and the FC's onboard map, the sensor and
lander parameters that differ from the model defaults, the error of the state vector uplinked
to the FC, and the FC parameters set over the maintenance port before flight. The FC
parameters the simulated flight software reads (:data:`hil.fsw.parameters.FSW_PARAMETERS`:
the LRF gate, lowest throttle, touchdown rule and the guidance targets of a lander's own
descent profile, ``BRAKING_TIME_S``, ``HIGH_GATE_*``, ``APPROACH_TIME_S``) are also applied to
``Scenario.model.fsw`` by the flight software's own mapping (:func:`hil.fsw.parameters.fsw_params`,
the one the simulated FC's STATE uses), so a model-only run flies the same flight software as
the full stack.
Loading is strict, like bench files: an unknown key or a wrong type is a ``ConfigError``
naming file, table and key.

Monte Carlo dispersions of a campaign's runs (1-sigma values, all optional, default 0;
:mod:`hil.models.dispersions` says who knows what)::

    [dispersions]
    downrange_m = 50.0             # initial position, m
    crossrange_m = 50.0
    altitude_m = 50.0
    downrange_velocity_mps = 1.0   # initial velocity, m/s
    crossrange_velocity_mps = 1.0
    vertical_velocity_mps = 1.0
    dry_mass_kg = 5.0              # truth only; the FC knows the nominal
    propellant_kg = 5.0            # propellant load (the gauge measures it)
    thrust_fraction = 0.01         # max-thrust scale
    isp_s = 1.0
    accel_bias_mg = 0.1            # per axis, on top of [imu]
    gyro_bias_deg_per_h = 0.01     # per axis
    lrf_bias_m = 0.5
    lrf_noise_fraction = 0.2       # LRF noise sigma x (1 + 0.2 z)
    terrain_offset_m = 5.0         # truth terrain vs the FC's map, vertical
    terrain_variants = 8           # K truth variants with unmapped craters (int)
    terrain_craters = 3            # craters per variant (int)
    terrain_crater_radius_m = 300.0
    terrain_crater_zone_m = 20000.0
    terrain_seed = 0               # int

Where the powered descent starts (all optional; the default is the nominal PDI, 505 km
uprange of the site, 15 km up, 1.68 km/s: ``ClosedLoopParams``)::

    [pdi]
    position_m = [-690000.0, 0.0, 15000.0]   # downrange, crossrange, altitude; site at 0
    velocity_mps = [1680.0, 0.0, 0.0]
    pitch_deg = 85.0

Terrain features (applied in file order on top of ``[terrain] truth``)::

    [[terrain.features]]
    kind = "cliff"      # terrain downrange of x_m is height_m lower (negative: higher)
    x_m = -40000.0
    height_m = 3000.0
    width_m = 200.0     # optional, default 200 m

    [[terrain.features]]
    kind = "crater"     # bowl with a raised rim
    x_m = -80000.0      # centre
    radius_m = 2000.0
    depth_m = 400.0     # floor below the rim
    rim_height_m = 160.0  # optional, default 4 % of the diameter
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hil.core.config import TomlTable, read_toml
from hil.core.paths import DATA_DIR, named_files, resolve_named
from hil.errors import ConfigError
from hil.flight.faults import Injection, parse_injections
from hil.flight.model_only import ClosedLoopParams, InitialErrors, run_model_only
from hil.fsw.flight_software import FswParams
from hil.fsw.parameters import FSW_PARAMETERS, fsw_params
from hil.fsw.terrain_map import TerrainMap
from hil.models.dispersions import DispersionParams
from hil.models.dynamics import LanderParams
from hil.models.sensors import GaugeParams, ImuParams, LrfParams
from hil.models.terrain import TerrainProfile
from hil.models.velocimeter import VelocimeterParams
from hil.protocol.parameters import PARAMETERS

SCENARIO_DIR = DATA_DIR / "scenarios"
"""The scenarios the package carries; a bench workspace may add its own (``hil.core.paths``)."""

T = TypeVar("T")


FEATURE_KINDS = ("cliff", "crater")


@dataclass(frozen=True)
class TerrainFeature:
    """One feature baked into the truth terrain; lengths in m, x along the track (site = 0).

    ``cliff``: terrain downrange of ``x_m`` is ``height_m`` lower, smoothed over ``width_m``
    (:meth:`TerrainProfile.with_step`). ``crater``: centre ``x_m``, ``radius_m``, floor
    ``depth_m`` below the rim, rim ``rim_height_m`` (None: 4 % of the diameter)
    (:meth:`TerrainProfile.with_crater`).
    """

    kind: str
    x_m: float
    height_m: float = 0.0
    width_m: float = 200.0
    radius_m: float = 0.0
    depth_m: float = 0.0
    rim_height_m: float | None = None

    def apply(self, profile: TerrainProfile) -> TerrainProfile:
        """``profile`` with this feature added (a new profile)."""
        if self.kind == "cliff":
            return profile.with_step(self.x_m, self.height_m, self.width_m)
        return profile.with_crater(self.x_m, self.radius_m, self.depth_m, self.rim_height_m)


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario. ``truth_terrain`` names the base profile the features go on."""

    name: str
    description: str
    path: Path
    truth_terrain: str
    fc_terrain_map: str
    fc_parameters: dict[str, str] = field(default_factory=dict)
    model: ClosedLoopParams = field(default_factory=ClosedLoopParams)
    terrain_features: tuple[TerrainFeature, ...] = ()
    injections: tuple[Injection, ...] = ()
    """Faults the bench injects during the run (``[[injection]]`` tables, ``hil.flight.faults``)."""

    def truth_terrain_profile(self) -> TerrainProfile:
        """The terrain the lander really flies over: ``truth_terrain`` plus the features.

        Raises ``ConfigError`` naming the file if the base profile is missing.
        """
        profile = TerrainProfile.load(self.truth_terrain)
        for feature in self.terrain_features:
            profile = feature.apply(profile)
        return profile

    def fc_terrain_map_profile(self) -> TerrainMap:
        """The FC's onboard map (``terrain/<fc_terrain_map>.npz``), loaded as the FC
        loads it. Raises ``ConfigError`` naming the file if it is missing."""
        return TerrainMap.load(self.fc_terrain_map)

    def nominal_flight_s(self, seed: int = 0) -> float:
        """Seconds the scenario's flight is expected to take: from the start of the run (the
        coast before ignition included) to LANDED in one model-only flight without dispersions
        or injected faults; ``max_duration_s`` if that flight never lands. Takes a few seconds
        (a whole descent at model speed). Raises ``ConfigError`` for a missing terrain file."""
        params = dataclasses.replace(self.model, dispersions=DispersionParams())
        result = run_model_only(
            1, seed, params, self.truth_terrain_profile(), self.fc_terrain_map_profile()
        )
        end_s = float(result.end_time_s[0])
        landed = bool(result.touched_down[0]) and math.isfinite(end_s)
        return min(end_s, params.max_duration_s) if landed else params.max_duration_s


def scenario_names() -> list[str]:
    """Every scenario by name: the workspace's and the package's."""
    return list(named_files("scenarios", ".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (``scenarios/<name>.toml`` of the workspace or the package) or path.

    Raises ``ConfigError``: an unknown name lists the scenarios that exist.
    """
    path = resolve_named(name_or_path, "scenarios", ".toml")
    if path.suffix != ".toml" and not path.is_file():
        raise ConfigError(
            f"unknown scenario {str(name_or_path)!r}; scenarios: {', '.join(scenario_names())}"
        )
    return _parse(read_toml(path, "scenario"), path)


def _beside(scenario_path: Path, terrain: str) -> str:
    """A terrain named by file (``site.npz``) is relative to the scenario file; a bare name
    is looked up in the data folders when it is loaded."""
    if terrain.endswith(".npz") and not Path(terrain).is_absolute():
        return str(scenario_path.resolve().parent / terrain)
    return terrain


def _parse(data: dict[str, Any], path: Path) -> Scenario:
    top = TomlTable(path, "", data)
    head = top.require("scenario")
    name = head.get("name", str)
    description = head.get("description", str, "")
    head.finish()

    terrain = top.table("terrain", required=False)
    truth_terrain, fc_map = "nominal", "nominal"
    features: tuple[TerrainFeature, ...] = ()
    if terrain is not None:
        truth_terrain = terrain.get("truth", str, "nominal")
        fc_map = terrain.get("fc_map", str, truth_terrain)
        features = _features(terrain)
        terrain.finish()
    truth_terrain, fc_map = _beside(path, truth_terrain), _beside(path, fc_map)

    fc_parameters: dict[str, str] = {}
    fc = top.table("fc", required=False)
    if fc is not None:
        for key, value in fc.data.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise fc.error(key, f"expected a string or number, got {type(value).__name__}")
            parameter = key.upper()
            if parameter not in PARAMETERS or not PARAMETERS[parameter].writable:
                settable = ", ".join(n for n, p in PARAMETERS.items() if p.writable)
                raise fc.error(key, f"not a settable FC parameter; parameters: {settable}")
            fc_parameters[parameter] = str(value)
        fc._read.update(fc.data)
        fc.finish()

    defaults = ClosedLoopParams()
    model = dataclasses.replace(
        defaults,
        lander=_dataclass(top, "lander", LanderParams, defaults.lander),
        imu=_dataclass(top, "imu", ImuParams, defaults.imu),
        lrf=_dataclass(top, "lrf", LrfParams, defaults.lrf),
        gauge=_dataclass(top, "gauge", GaugeParams, defaults.gauge),
        velocimeter=_velocimeter(top, defaults.velocimeter),
        errors=_dataclass(top, "uplink_error", InitialErrors, defaults.errors),
        dispersions=_dispersions(top, defaults.dispersions),
        fsw=_fsw_params(fc, fc_parameters, defaults.fsw),
    )
    model = _pdi(top, model)
    timeline = top.table("timeline", required=False)
    if timeline is not None:
        model = dataclasses.replace(
            model,
            coast_s=timeline.get("coast_s", float, model.coast_s),
            max_duration_s=timeline.get("max_duration_s", float, model.max_duration_s),
        )
        timeline.finish()
    injections = parse_injections(top)
    top.finish()
    return Scenario(
        name, description, path, truth_terrain, fc_map, fc_parameters, model, features, injections
    )


def _pdi(top: TomlTable, model: ClosedLoopParams) -> ClosedLoopParams:
    """``[pdi]``: the powered descent's start state (vectors of three numbers)."""
    table = top.table("pdi", required=False)
    if table is None:
        return model

    def vector(key: str, default: tuple[float, float, float]) -> tuple[float, float, float]:
        raw = table.get(key, list, list(default))
        numbers = [v for v in raw if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(raw) != 3 or len(numbers) != 3 or not all(map(math.isfinite, numbers)):
            raise table.error(key, f"expected three numbers, got {raw!r}")
        return (float(raw[0]), float(raw[1]), float(raw[2]))

    position_m = vector("position_m", model.pdi_position_m)
    if not position_m[2] > 0:
        raise table.error("position_m", f"altitude must be > 0, got {position_m[2]}")
    changed = dataclasses.replace(
        model,
        pdi_position_m=position_m,
        pdi_velocity_mps=vector("velocity_mps", model.pdi_velocity_mps),
        pdi_pitch_deg=table.get("pitch_deg", float, model.pdi_pitch_deg),
    )
    table.finish()
    return changed


def _features(terrain: TomlTable) -> tuple[TerrainFeature, ...]:
    """``[[terrain.features]]``: each a cliff or a crater; wrong or unknown keys are named."""
    raw = terrain.get("features", list, [])
    out: list[TerrainFeature] = []
    for i, item in enumerate(raw):
        where = f"features[{i}]"
        if not isinstance(item, dict):
            raise terrain.error(where, f"expected a table, got {type(item).__name__}")
        table = TomlTable(terrain.path, f"{terrain.where}.{where}", item)
        kind = table.get("kind", str)
        if kind not in FEATURE_KINDS:
            raise table.error("kind", f"{kind!r} is not one of {', '.join(FEATURE_KINDS)}")
        x_m = table.get("x_m", float)
        if kind == "cliff":
            width_m = table.get("width_m", float, 200.0)
            if not width_m > 0:
                raise table.error("width_m", f"must be > 0, got {width_m}")
            feature = TerrainFeature(
                kind, x_m, height_m=table.get("height_m", float), width_m=width_m
            )
        else:
            radius_m = table.get("radius_m", float)
            if not radius_m > 0:
                raise table.error("radius_m", f"must be > 0, got {radius_m}")
            rim: float | None = None
            if "rim_height_m" in table.data:
                rim = table.get("rim_height_m", float)
            feature = TerrainFeature(
                kind, x_m, radius_m=radius_m, depth_m=table.get("depth_m", float), rim_height_m=rim
            )
        table.finish()
        out.append(feature)
    return tuple(out)


def _fsw_params(fc: TomlTable | None, parameters: dict[str, str], default: FswParams) -> FswParams:
    """The flight software the simulated FC builds from these parameters (as its STATE does).

    Values are checked against the FC's parameter table; raises ``ConfigError`` naming the
    ``[fc]`` key for a value the FC would refuse.
    """
    if fc is None:
        return default
    values: dict[str, str | float] = {}
    for key in FSW_PARAMETERS:
        if key in parameters:
            try:
                values[key] = PARAMETERS[key].parse(parameters[key])
            except ValueError as err:
                raise fc.error(key, str(err)) from None
    return fsw_params(values, default)


def _dispersions(top: TomlTable, default: DispersionParams) -> DispersionParams:
    """``[dispersions]``: known keys of the right type, sigmas >= 0 (else the key is named)."""
    try:
        return _dataclass(top, "dispersions", DispersionParams, default)
    except ConfigError:
        raise
    except ValueError as err:
        table = top.table("dispersions")
        assert table is not None
        key, _, reason = str(err).partition(": ")
        raise table.error(key, reason) from None


def _velocimeter(top: TomlTable, default: VelocimeterParams) -> VelocimeterParams:
    """``[velocimeter]``: known keys of the right type, a dropout probability within 0 .. 1."""
    try:
        return _dataclass(top, "velocimeter", VelocimeterParams, default)
    except ConfigError:
        raise
    except ValueError as err:
        table = top.table("velocimeter")
        assert table is not None
        key, _, reason = str(err).partition(": ")
        raise table.error(key, reason) from None


def _dataclass(top: TomlTable, key: str, cls: type[T], default: T) -> T:
    """Override fields of ``default`` from table ``key``; unknown fields are errors."""
    table = top.table(key, required=False)
    if table is None:
        return default
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name in table.data:
            current = getattr(default, item.name)
            kind = type(current)
            if kind is tuple:
                raw = table.get(item.name, list)
                values[item.name] = tuple(float(v) for v in raw)
            else:
                values[item.name] = table.get(item.name, kind)
    table.finish()
    return dataclasses.replace(default, **values)  # type: ignore[type-var]
