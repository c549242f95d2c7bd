"""The maintenance program file: tasks (cards with thresholds and repeat intervals) and the
part catalogue (life limits per part number).

::

    [program]
    name = "LL-1 lunar lander maintenance program"
    revision = "A"
    due_soon_fraction = 0.1          # optional

    [[part]]
    number = "ME-100"
    name = "Main engine"
    life = { engine_starts = 60, burn_s = 15000 }

    [[task]]
    card = "LL-34-21-00-720-801"
    title = "IMU static bias and noise"
    models = ["LL-1"]                # optional: every model
    configurations = []              # optional: every configuration
    threshold = { descents = 2 }     # optional: first due (default: one repeat interval)
    repeat = { descents = 5, days = 90 }

Unknown keys are errors naming the file, table and key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.errors import ConfigError
from hil.fleet.errors import CounterError
from hil.fleet.model import DEFAULT_SOON_FRACTION, Task, parse_limits


@dataclass(frozen=True)
class Part:
    """A part number in the catalogue and its life limits."""

    number: str
    name: str
    life: dict[str, float]


@dataclass(frozen=True)
class Program:
    name: str
    revision: str
    soon_fraction: float = DEFAULT_SOON_FRACTION
    tasks: tuple[Task, ...] = ()
    parts: tuple[Part, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return f"{self.name} rev {self.revision}"


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {known})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of strings")
    return tuple(value)


def load_program(path: str | Path) -> Program:
    """Read a program file. Raises ``ConfigError`` naming the file, table and key."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except OSError as err:
        raise ConfigError(f"program {path}: cannot read ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"program {path}: {err}") from err
    _check_keys(data, {"program", "part", "task"}, f"program {path}")
    head = data.get("program", {})
    _check_keys(head, {"name", "revision", "due_soon_fraction"}, f"program {path} [program]")
    soon = head.get("due_soon_fraction", DEFAULT_SOON_FRACTION)
    if not isinstance(soon, int | float) or not 0 <= soon < 1:
        raise ConfigError(f"program {path} [program] due_soon_fraction: use 0 <= x < 1")
    parts = []
    for index, item in enumerate(data.get("part", [])):
        where = f"program {path} [[part]] #{index + 1}"
        _check_keys(item, {"number", "name", "life"}, where)
        if not isinstance(item.get("number"), str) or not item["number"]:
            raise ConfigError(f"{where}: 'number' is required")
        try:
            life = parse_limits(item.get("life", {}), f"{where} life")
        except CounterError as err:
            raise ConfigError(str(err)) from None
        parts.append(Part(item["number"], str(item.get("name", item["number"])), life))
    tasks = []
    seen: set[str] = set()
    for index, item in enumerate(data.get("task", [])):
        where = f"program {path} [[task]] #{index + 1}"
        _check_keys(
            item,
            {"card", "title", "models", "configurations", "threshold", "repeat"},
            where,
        )
        card = item.get("card")
        if not isinstance(card, str) or not card:
            raise ConfigError(f"{where}: 'card' (the card number) is required")
        if card in seen:
            raise ConfigError(f"{where}: card {card} is listed twice")
        seen.add(card)
        try:
            threshold = parse_limits(item.get("threshold", {}), f"{where} ({card}) threshold")
            repeat = parse_limits(item.get("repeat", {}), f"{where} ({card}) repeat")
        except CounterError as err:
            raise ConfigError(str(err)) from None
        if not threshold and not repeat:
            raise ConfigError(f"{where} ({card}): needs a threshold or a repeat interval")
        tasks.append(
            Task(
                card_number=card,
                title=str(item.get("title", card)),
                models=_strings(item.get("models", []), f"{where} models"),
                configurations=_strings(item.get("configurations", []), f"{where} configurations"),
                threshold=threshold,
                repeat=repeat,
            )
        )
    return Program(
        name=str(head.get("name", path.stem)),
        revision=str(head.get("revision", "-")),
        soon_fraction=float(soon),
        tasks=tuple(tasks),
        parts=tuple(parts),
    )
