"""The test-card model: a card, its steps and monitors, built declaratively in a card module.

A card module in ``procedures/`` builds one module-level ``CARD`` with ``Card(...)`` and the step
constructors ``action``, ``measurement``, ``inspection``, ``prompt`` (or the generic ``step``).
Every constructor records the file and line it was called from and checks its arguments at
once, so a mistake is a ``CardError`` such as
``procedures/x.py:42: step 3: measurement 'heartbeat_rate' has limits but no unit`` raised while
the card is loaded, before any step runs. This module owns the model and those checks; running
a card is ``hil.cards.runner``'s business.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hil.core.config import ROLES
from hil.core.timestamps import utc_now
from hil.errors import ConfigError

if TYPE_CHECKING:
    from hil.bench import Bench
    from hil.core.signals import SignalStore
    from hil.drivers.roles import FlightComputer

CARD_NUMBER = re.compile(r"^LL-\d{2}-\d{2}-\d{2}-\d{3}-\d{3}$")
"""ATA iSpec 2200 style card number, e.g. ``LL-31-10-00-710-801``."""

ON_FAIL = ("stop", "continue")
"""What happens after a step's last failed attempt: stop the card (later steps SKIPPED) or
continue with the next step (the card still fails)."""

_EFFECTIVITY = re.compile(
    r"^(?P<model>[A-Za-z0-9][A-Za-z0-9-]*?)"
    r"(?:\s+(?P<ranges>SN\d+(?:-SN\d+)?(?:\s*,\s*SN\d+(?:-SN\d+)?)*))?$"
)
_LANDER = re.compile(r"^(?:(?P<model>.+?)[-\s])?SN(?P<serial>\d+)$")

StepFunction = Callable[["StepContext"], None]
"""An action or a teardown: drives the bench; raising makes the step FAIL (ERROR if a device
times out or its link fails)."""

MeasureFunction = Callable[["StepContext"], float]
"""A measurement: returns the measured value in the step's unit."""


def limits_text(low: float | None, high: float | None, unit: str) -> str:
    """Limits as a technician reads them: ``9.5 .. 10.5 Hz``, ``>= 0.1 kg``, ``<= 90 %``."""
    unit_text = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{low:g} .. {high:g}{unit_text}"
    if low is not None:
        return f">= {low:g}{unit_text}"
    if high is not None:
        return f"<= {high:g}{unit_text}"
    return "(no limits)"


class CardError(ConfigError):
    """A card (or its answers file) is wrong. The message starts with ``file:line``."""


@dataclass(frozen=True)
class Source:
    """Where something was written: a file (relative to the working folder when inside it)
    and a line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


UNKNOWN_SOURCE = Source("<unknown>", 0)


def display_path(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies inside it, else as given."""
    candidate = Path(path)
    try:
        return str(candidate.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _caller(depth: int) -> Source:
    """The file and line of the code ``depth`` calls above the function calling this one."""
    frame = sys._getframe(depth + 1)
    return Source(display_path(frame.f_code.co_filename), frame.f_lineno)


# -- monitors ------------------------------------------------------------------------------------

Band = tuple[float | None, float | None]
"""An allowed band ``(low, high)`` in the monitor's unit; ``None`` leaves that side open."""


@dataclass(frozen=True)
class Monitor:
    """A signal watched while a step runs: leaving ``red`` fails the step (with the value and
    time), leaving ``yellow`` records a warning. Bands are the *allowed* ranges."""

    signal: str
    red: Band
    yellow: Band | None = None
    unit: str = ""
    source: Source = field(default=UNKNOWN_SOURCE, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.source is UNKNOWN_SOURCE:
            object.__setattr__(self, "source", _caller(2))
        where = f"{self.source}: monitor {self.signal!r}"
        if not isinstance(self.signal, str) or not self.signal:
            raise CardError(f"{where}: the signal name must be a non-empty string")
        red = _band(self.red, f"{where}: red band")
        object.__setattr__(self, "red", red)
        if self.yellow is not None:
            yellow = _band(self.yellow, f"{where}: yellow band")
            object.__setattr__(self, "yellow", yellow)
            if not _inside_band(yellow, red):
                raise CardError(f"{where}: yellow band {yellow} must lie inside red band {red}")
        if not self.unit:
            raise CardError(f"{where} has limits but no unit")


def _band(value: object, where: str) -> Band:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise CardError(f"{where}: expected (low, high), got {value!r}")
    low = _optional_number(value[0], f"{where} low")
    high = _optional_number(value[1], f"{where} high")
    if low is None and high is None:
        raise CardError(f"{where}: needs at least one limit")
    if low is not None and high is not None and low > high:
        raise CardError(f"{where}: low {low:g} is above high {high:g}")
    return (low, high)


def _inside_band(inner: Band, outer: Band) -> bool:
    low_ok = outer[0] is None or (inner[0] is not None and inner[0] >= outer[0])
    high_ok = outer[1] is None or (inner[1] is not None and inner[1] <= outer[1])
    return low_ok and high_ok


def _optional_number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise CardError(f"{where}: expected a number, got {value!r}")
    return float(value)


# -- steps ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Step:
    """One numbered step. Subclasses add the fields of their kind."""

    kind: ClassVar[str] = ""
    number: int
    text: str
    rii: bool = False
    """Required inspection item: an independent inspector must counter-sign it."""
    on_fail: str = "stop"
    attempts: int = 1
    """Attempts the bench makes on its own before the step counts as failed."""
    monitors: tuple[Monitor, ...] = ()
    source: Source = field(default=UNKNOWN_SOURCE, compare=False, repr=False)

    @property
    def where(self) -> str:
        """``file:line: step N`` for messages."""
        return f"{self.source}: step {self.number}"


@dataclass(frozen=True, kw_only=True)
class ActionStep(Step):
    kind: ClassVar[str] = "action"
    run: StepFunction


@dataclass(frozen=True, kw_only=True)
class MeasurementStep(Step):
    kind: ClassVar[str] = "measurement"
    name: str
    unit: str
    measure: MeasureFunction
    low: float | None = None
    high: float | None = None
    marginal: float = 0.0
    """Width of the band inside each limit where a value is MARGINAL (a flagged pass)."""
    wait_until_s: float | None = None
    """Re-measure every ``poll_s`` until the value is within limits or this time has passed."""
    poll_s: float = 0.1

    def limits_text(self) -> str:
        """The limits as a technician reads them: ``9.5 .. 10.5 Hz``, ``<= 90 %``."""
        return limits_text(self.low, self.high, self.unit)


@dataclass(frozen=True, kw_only=True)
class InspectionStep(Step):
    kind: ClassVar[str] = "inspection"
    criterion: str
    evidence: bool = False
    """The technician is asked for an evidence file (photo, scan) with the judgement."""


@dataclass(frozen=True, kw_only=True)
class PromptStep(Step):
    kind: ClassVar[str] = "prompt"
    answers: tuple[str, ...]
    expect: str | None = None

    @property
    def question(self) -> str:
        return self.text


STEP_KINDS: dict[str, type[Step]] = {
    cls.kind: cls for cls in (ActionStep, MeasurementStep, InspectionStep, PromptStep)
}


def action(
    number: int,
    text: str,
    *,
    run: StepFunction,
    rii: bool = False,
    on_fail: str = "stop",
    attempts: int = 1,
    monitors: tuple[Monitor, ...] = (),
) -> ActionStep:
    """An action step: ``run(ctx)`` drives the bench; raising makes the step FAIL."""
    fields: dict[str, Any] = {"run": run, "monitors": monitors, "rii": rii}
    fields.update(on_fail=on_fail, attempts=attempts)
    step = _build("action", number, text, _caller(1), fields)
    assert isinstance(step, ActionStep)
    return step


def measurement(
    number: int,
    text: str,
    *,
    name: str,
    unit: str,
    measure: MeasureFunction,
    low: float | None = None,
    high: float | None = None,
    marginal: float = 0.0,
    wait_until_s: float | None = None,
    poll_s: float = 0.1,
    monitors: tuple[Monitor, ...] = (),
    rii: bool = False,
    on_fail: str = "stop",
    attempts: int = 1,
) -> MeasurementStep:
    """A measurement: ``measure(ctx)`` returns a value; the bench judges it against the limits
    (outside = FAIL, within ``marginal`` of a limit = MARGINAL, else PASS). A limit without a
    unit raises ``CardError``."""
    fields: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "measure": measure,
        "low": low,
        "high": high,
        "marginal": marginal,
        "wait_until_s": wait_until_s,
        "poll_s": poll_s,
        "monitors": monitors,
        "rii": rii,
        "on_fail": on_fail,
        "attempts": attempts,
    }
    step = _build("measurement", number, text, _caller(1), fields)
    assert isinstance(step, MeasurementStep)
    return step


def inspection(
    number: int,
    text: str,
    *,
    criterion: str,
    evidence: bool = False,
    rii: bool = False,
    on_fail: str = "stop",
    attempts: int = 1,
) -> InspectionStep:
    """An inspection: the operator judges ``criterion`` (pass/fail, comment, optional evidence)."""
    fields: dict[str, Any] = {"criterion": criterion, "evidence": evidence, "rii": rii}
    fields.update(on_fail=on_fail, attempts=attempts)
    step = _build("inspection", number, text, _caller(1), fields)
    assert isinstance(step, InspectionStep)
    return step


def prompt(
    number: int,
    question: str,
    *,
    answers: tuple[str, ...],
    expect: str | None = None,
    rii: bool = False,
    on_fail: str = "stop",
    attempts: int = 1,
) -> PromptStep:
    """A question with allowed ``answers``; with ``expect`` set any other answer FAILs."""
    fields: dict[str, Any] = {"answers": answers, "expect": expect, "rii": rii}
    fields.update(on_fail=on_fail, attempts=attempts)
    step = _build("prompt", number, question, _caller(1), fields)
    assert isinstance(step, PromptStep)
    return step


def step(kind: str, number: int, text: str, **fields: Any) -> Step:
    """The generic form: ``step("measurement", 2, "...", name=..., unit=..., measure=...)``.

    An unknown kind or field raises ``CardError`` naming file and line.
    """
    return _build(kind, number, text, _caller(1), fields)


def _build(kind: str, number: int, text: str, source: Source, fields: dict[str, Any]) -> Step:
    where = f"{source}: step {number}"
    cls = STEP_KINDS.get(kind)
    if cls is None:
        raise CardError(f"{where}: unknown step kind {kind!r} (kinds: {', '.join(STEP_KINDS)})")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise CardError(f"{source}: step number must be a positive integer, got {number!r}")
    if not isinstance(text, str) or not text.strip():
        raise CardError(f"{where}: the step text must be a non-empty string")
    try:
        built = cls(number=number, text=text, source=source, **fields)
    except TypeError as err:
        raise CardError(f"{where}: {kind}: {_type_error(err)}") from None
    _check(built, where)
    return built


def _type_error(err: TypeError) -> str:
    text = str(err)
    return text.split(".__init__() ", 1)[-1]


def _check(item: Step, where: str) -> None:
    """Argument checks common to every kind, then the kind's own."""
    if item.on_fail not in ON_FAIL:
        raise CardError(f"{where}: on_fail must be one of {ON_FAIL}, got {item.on_fail!r}")
    if isinstance(item.attempts, bool) or not isinstance(item.attempts, int) or item.attempts < 1:
        raise CardError(f"{where}: attempts must be an integer >= 1, got {item.attempts!r}")
    if not isinstance(item.rii, bool):
        raise CardError(f"{where}: rii must be True or False, got {item.rii!r}")
    monitors = tuple(item.monitors)
    for monitor in monitors:
        if not isinstance(monitor, Monitor):
            raise CardError(f"{where}: monitors must be Monitor(...) objects, got {monitor!r}")
    object.__setattr__(item, "monitors", monitors)
    if isinstance(item, ActionStep) and not callable(item.run):
        raise CardError(f"{where}: action run= must be a function of the step context")
    if isinstance(item, MeasurementStep):
        _check_measurement(item, where)
    if isinstance(item, InspectionStep):
        if not isinstance(item.criterion, str) or not item.criterion.strip():
            raise CardError(f"{where}: inspection needs a criterion (what the technician judges)")
        if not isinstance(item.evidence, bool):
            raise CardError(f"{where}: evidence must be True or False, got {item.evidence!r}")
    if isinstance(item, PromptStep):
        answers = item.answers
        if isinstance(answers, str) or not all(isinstance(a, str) and a for a in answers):
            raise CardError(f"{where}: answers must be a tuple of non-empty strings")
        answers = tuple(answers)
        if not answers:
            raise CardError(f"{where}: a prompt needs at least one allowed answer")
        if len(set(answers)) != len(answers):
            raise CardError(f"{where}: answers {answers} repeat an answer")
        object.__setattr__(item, "answers", answers)
        if item.expect is not None and item.expect not in answers:
            raise CardError(f"{where}: expect {item.expect!r} is not one of answers {answers}")


def _check_measurement(item: MeasurementStep, where: str) -> None:
    where = f"{where}: measurement {item.name!r}"
    if not isinstance(item.name, str) or not item.name:
        raise CardError(f"{where}: needs a name")
    if not callable(item.measure):
        raise CardError(f"{where}: measure= must be a function of the step context")
    low = _optional_number(item.low, f"{where}: low")
    high = _optional_number(item.high, f"{where}: high")
    marginal = _optional_number(item.marginal, f"{where}: marginal") or 0.0
    object.__setattr__(item, "low", low)
    object.__setattr__(item, "high", high)
    object.__setattr__(item, "marginal", marginal)
    if not isinstance(item.unit, str):
        raise CardError(f"{where}: unit must be a string, got {item.unit!r}")
    if (low is not None or high is not None) and not item.unit:
        raise CardError(f"{where} has limits but no unit")
    if low is not None and high is not None and low > high:
        raise CardError(f"{where}: low {low:g} is above high {high:g}")
    if marginal < 0:
        raise CardError(f"{where}: marginal must not be negative, got {marginal:g}")
    if low is not None and high is not None and 2 * marginal > high - low:
        raise CardError(f"{where}: marginal {marginal:g} is wider than half the limit band")
    if item.wait_until_s is not None:
        wait_s = _optional_number(item.wait_until_s, f"{where}: wait_until_s")
        if wait_s is None or wait_s <= 0:
            raise CardError(f"{where}: wait_until_s must be positive")
        object.__setattr__(item, "wait_until_s", wait_s)
    poll_s = _optional_number(item.poll_s, f"{where}: poll_s")
    if poll_s is None or poll_s <= 0:
        raise CardError(f"{where}: poll_s must be positive")
    object.__setattr__(item, "poll_s", poll_s)


# -- the card ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A test card: identification, applicability, safety notes and ordered steps.

    Raises ``CardError`` naming file and line for a bad number, an unknown role, a duplicate or
    out-of-order step number.
    """

    number: str
    revision: str
    title: str
    effectivity: tuple[str, ...] = ("*",)
    interval: str = ""
    equipment: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    cautions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    teardown: StepFunction | None = None
    lockstep: bool = False
    """The card flies the bench on a simulated clock (a descent) when every device of the
    bench is simulated; on a bench with hardware it runs in real time (``bench_for``)."""
    timing_limits: bool = False
    """The card's limits are real-time figures of the bench and FC as built (a latency, a
    rate): on a shared or busy computer they may fail while the card itself works, so a CI
    that only checks the card works (the project's own suite) judges that every step ran and
    was measured, and leaves how fast to the benchmarks."""
    source: Source = field(default=UNKNOWN_SOURCE, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.source is UNKNOWN_SOURCE:
            object.__setattr__(self, "source", _caller(2))
        where = f"{self.source}: card {self.number}"
        if not isinstance(self.number, str) or not CARD_NUMBER.match(self.number):
            raise CardError(
                f"{self.source}: bad card number {self.number!r} "
                "(expected LL-nn-nn-nn-nnn-nnn, e.g. LL-31-10-00-710-801)"
            )
        for name in ("revision", "title"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise CardError(f"{where}: {name} must be a non-empty string")
        for name in ("effectivity", "equipment", "warnings", "cautions", "notes", "roles"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(item, str) for item in value):
                raise CardError(f"{where}: {name} must be a tuple of strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.effectivity:
            raise CardError(f"{where}: effectivity is empty (use '*' for every lander)")
        for entry in self.effectivity:
            if entry != "*" and not _EFFECTIVITY.match(entry.strip()):
                raise CardError(
                    f"{where}: effectivity {entry!r} is not 'MODEL' or 'MODEL SNnnn-SNnnn' or '*'"
                )
        for role in self.roles:
            if role not in ROLES:
                raise CardError(f"{where}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        if self.teardown is not None and not callable(self.teardown):
            raise CardError(f"{where}: teardown must be a function of the step context")
        steps = tuple(self.steps)
        if not steps:
            raise CardError(f"{where}: has no steps")
        seen: dict[int, Step] = {}
        previous: Step | None = None
        for item in steps:
            if not isinstance(item, Step):
                raise CardError(f"{where}: steps must be built with action/measurement/...")
            if item.number in seen:
                raise CardError(
                    f"{item.where}: duplicate step number (first at {seen[item.number].source})"
                )
            if previous is not None and item.number < previous.number:
                raise CardError(f"{item.where}: comes after step {previous.number}; keep order")
            seen[item.number] = previous = item
        object.__setattr__(self, "steps", steps)

    def require_effective(self, lander: str) -> None:
        """Raise ``CardError`` (naming the card's file) unless the card covers ``lander``."""
        if not self.applies_to(lander):
            raise CardError(
                f"{self.source}: card {self.number} is not effective for lander {lander!r} "
                f"(effectivity: {', '.join(self.effectivity)})"
            )

    def applies_to(self, lander: str) -> bool:
        """True when the card's effectivity covers ``lander`` (``"HR-M3-SN002"``, ``"SN002"``
        or a model name)."""
        match = _LANDER.match(lander.strip())
        model = (match.group("model") if match else lander.strip()) or None
        serial = int(match.group("serial")) if match else None
        for entry in self.effectivity:
            if entry == "*":
                return True
            found = _EFFECTIVITY.match(entry.strip())
            if found is None:
                continue
            if model is not None and model.upper() != found.group("model").upper():
                continue
            ranges = found.group("ranges")
            if ranges is None:
                return True
            if serial is not None and any(_serial_in(serial, r) for r in ranges.split(",")):
                return True
        return False


def _serial_in(serial: int, text: str) -> bool:
    first, _, last = text.strip().partition("-")
    low = int(first[2:])
    high = int(last[2:]) if last else low
    return low <= serial <= high


# -- what a step function is handed ----------------------------------------------------------


@dataclass
class StepContext:
    """What a step function is handed for one step attempt (or the teardown, where ``step``
    is None): the open bench, scratch state shared by the card's steps, and the way back into
    the as-run record (``log``, ``record``). Procedures reach the devices only through
    ``ctx.bench``, keep what later steps or the teardown need in ``ctx.state`` and note what
    they did with ``ctx.log``."""

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
