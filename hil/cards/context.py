"""What a step function is handed: the open bench, scratch state shared by the card's steps,
and the way back into the as-run record (``log``, ``record``).

Procedures reach the devices only through ``ctx.bench`` (never constructing drivers), keep what
later steps or the teardown need in ``ctx.state``, and note what they did with ``ctx.log``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.core.timestamps import utc_now

if TYPE_CHECKING:
    from hil.bench import Bench
    from hil.cards.model import Card, Step
    from hil.core.signals import SignalStore
    from hil.drivers.roles import FlightComputer


@dataclass
class StepContext:
    """The context of one step attempt (or of the teardown, where ``step`` is None)."""

    bench: Bench
    card: Card
    lander: str
    operator_id: str
    state: dict[str, Any]
    """Scratch shared between the card's steps and its teardown."""
    step: Step | None = None
    attempt: int = 0
    bench_config_path: Path | None = None
    logs: list[dict[str, str]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    on_log: Callable[[StepContext, str], None] | None = None

    @property
    def fc(self) -> FlightComputer:
        """The flight computer under test (``ctx.bench.flight_computer``)."""
        return self.bench.flight_computer

    @property
    def signals(self) -> SignalStore:
        return self.bench.signals

    def log(self, text: str) -> None:
        """Put a line into the as-run record (and the live display)."""
        self.logs.append({"utc": utc_now(), "text": str(text)})
        if self.on_log is not None:
            self.on_log(self, str(text))

    def record(self, name: str, value: float | str, unit: str = "") -> None:
        """Keep an extra value in the record, beside the step (no limits, no verdict)."""
        if not isinstance(value, str):
            value = float(value)
        self.values.append({"name": name, "value": value, "unit": unit, "utc": utc_now()})
