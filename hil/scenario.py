"""Descent scenarios (``fixtures/scenarios/*.toml``): terrain, lander, sensors, FC settings.

A scenario says what the bench flies: the truth terrain and the FC's onboard map, the
sensor and lander parameters that differ from the model defaults, the error of the state
vector uplinked to the FC, and the FC parameters set over the maintenance port before
flight. Loading is strict, like bench files: an unknown key or a wrong type is a
``ConfigError`` naming file, table and key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hil.config import TomlTable, read_toml
from hil.errors import ConfigError
from hil.models.closed_loop import ClosedLoopParams, InitialErrors
from hil.models.dynamics import LanderParams
from hil.models.sensors import GaugeParams, ImuParams, LrfParams

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"

T = TypeVar("T")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: Path
    truth_terrain: str
    fc_terrain_map: str
    fc_parameters: dict[str, str] = field(default_factory=dict)
    model: ClosedLoopParams = field(default_factory=ClosedLoopParams)


def scenario_names() -> list[str]:
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (``fixtures/scenarios/<name>.toml``) or path.

    Raises ``ConfigError``: an unknown name lists the scenarios that exist.
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise ConfigError(
                f"unknown scenario {str(name_or_path)!r}; scenarios: {', '.join(scenario_names())}"
            )
    return _parse(read_toml(path, "scenario"), path)


def _parse(data: dict[str, Any], path: Path) -> Scenario:
    top = TomlTable(path, "", data)
    head = top.require("scenario")
    name = head.get("name", str)
    description = head.get("description", str, "")
    head.finish()

    terrain = top.table("terrain", required=False)
    truth_terrain, fc_map = "nominal", "nominal"
    if terrain is not None:
        truth_terrain = terrain.get("truth", str, "nominal")
        fc_map = terrain.get("fc_map", str, truth_terrain)
        terrain.finish()

    fc_parameters: dict[str, str] = {}
    fc = top.table("fc", required=False)
    if fc is not None:
        for key, value in fc.data.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise fc.error(key, f"expected a string or number, got {type(value).__name__}")
            fc_parameters[key.upper()] = str(value)
        fc._read.update(fc.data)
        fc.finish()

    defaults = ClosedLoopParams()
    model = dataclasses.replace(
        defaults,
        lander=_dataclass(top, "lander", LanderParams, defaults.lander),
        imu=_dataclass(top, "imu", ImuParams, defaults.imu),
        lrf=_dataclass(top, "lrf", LrfParams, defaults.lrf),
        gauge=_dataclass(top, "gauge", GaugeParams, defaults.gauge),
        errors=_dataclass(top, "uplink_error", InitialErrors, defaults.errors),
    )
    timeline = top.table("timeline", required=False)
    if timeline is not None:
        model = dataclasses.replace(
            model,
            coast_s=timeline.get("coast_s", float, model.coast_s),
            max_duration_s=timeline.get("max_duration_s", float, model.max_duration_s),
        )
        timeline.finish()
    top.finish()
    return Scenario(name, description, path, truth_terrain, fc_map, fc_parameters, model)


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
