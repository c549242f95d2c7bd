"""What a ``BenchSession`` tells the GUI: the ``SessionEvent`` types, and the two adapters that
turn bench work into events: ``snapshot_of`` reads an open bench's status into a
``StatusSnapshot``, ``CardEventListener`` forwards a card runner's calls as ``CardEvent``.

Events are plain dataclasses: the session queues them from its worker threads, a descent
process pickles them across its pipe, and the GUI thread takes them at its redraw timer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hil.cards.runner import RunListener
from hil.drivers.can import StatsRow, stats_rows
from hil.services.operator import OperatorRequest

if TYPE_CHECKING:
    from hil.bench import Bench
    from hil.cards.model import Step
    from hil.cards.record import AsRunRecord, AttemptRecord, TeardownRecord

STATUS_PERIOD_S = 0.5
"""How often a job posts a bench status snapshot."""


@dataclass
class SessionEvent:
    """Base of everything the session tells the GUI."""


@dataclass
class JobStarted(SessionEvent):
    kind: str
    """``"check"``, ``"card"`` or ``"descent"``."""
    title: str


@dataclass
class JobFinished(SessionEvent):
    kind: str
    ok: bool
    summary: str
    result: Any = None
    """``CheckResult``, ``AsRunRecord`` or ``DescentResult`` (None after an error)."""
    on_gui_thread: Callable[[], None] | None = None
    """Work the GUI thread must do when it takes this event: a descent's output files (its
    profile plot builds Qt widgets, which only the GUI thread may do)."""


@dataclass
class StatusSnapshot(SessionEvent):
    """Bench status: devices, link statistics, loop timing."""

    devices: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(role, backend, link, state)."""
    can_rows: list[StatsRow] = field(default_factory=list)
    """(message, sent, received, rate Hz, counter gaps, CRC failures, decode errors, stalls)."""
    link: dict[str, int] = field(default_factory=dict)
    device_counters: list[tuple[str, str, float]] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    """lateness_p50_ms, lateness_p99_ms, lateness_max_ms, overruns, frames (descents)."""


@dataclass
class CardEvent(SessionEvent):
    """A ``RunListener`` call, forwarded: ``what`` is the method name."""

    what: str
    record: AsRunRecord | None = None
    step: Step | None = None
    attempt: int = 0
    entry: AttemptRecord | None = None
    teardown: TeardownRecord | None = None
    text: str = ""


@dataclass
class DescentProgress(SessionEvent):
    time_s: float
    altitude_m: float
    mode: str


@dataclass
class OperatorQuestion(SessionEvent):
    request: OperatorRequest


def snapshot_of(
    bench: Bench, state: str, timing: dict[str, float] | None = None
) -> StatusSnapshot | None:
    """Devices, CAN and device link statistics of an open bench (None if a statistics deque
    changed while it was read: the next snapshot will do)."""
    snapshot = StatusSnapshot(timing=dict(timing or {}))
    for role, device in bench.devices.items():
        snapshot.devices.append((role, device.backend, device.describe_link(), state))
    try:
        stats = bench.can.stats
        snapshot.can_rows = stats_rows(stats)
        link = bench.can.link_stats
        snapshot.link = {
            "frames received": link.frames_received,
            "frames sent": link.frames_sent,
            "unknown ids": link.unknown_ids,
            "malformed": link.malformed,
            "error frames": link.error_frames,
        }
        for role, device in bench.devices.items():
            for key, value in device.statistics().items():
                snapshot.device_counters.append((role, key, float(value)))
    except RuntimeError:
        return None
    return snapshot


class CardEventListener(RunListener):
    """Forwards runner calls to ``post`` as ``CardEvent``. The record store's recorder is
    handed to the runner itself (``run_card(recorder=...)``), so a failure to record stops the
    card; it is kept here for its ``run_id``."""

    def __init__(self, post: Callable[[SessionEvent], None], recorder: Any = None) -> None:
        self.post = post
        self.recorder = recorder
        self.record: AsRunRecord | None = None
        """The finished record (also when the runner re-raises after an abort)."""

    @property
    def run_id(self) -> str | None:
        """The run's id in the records store, once the recorder has created it."""
        return getattr(self.recorder, "run_id", None)

    def card_started(self, record: AsRunRecord) -> None:
        self.post(CardEvent("card_started", record=record))

    def attempt_started(self, step: Step, attempt: int) -> None:
        self.post(CardEvent("attempt_started", step=step, attempt=attempt))

    def attempt_finished(self, entry: AttemptRecord) -> None:
        self.post(CardEvent("attempt_finished", entry=entry))

    def logged(self, step: Step | None, text: str) -> None:
        self.post(CardEvent("logged", step=step, text=text))

    def teardown_finished(self, teardown: TeardownRecord) -> None:
        self.post(CardEvent("teardown_finished", teardown=teardown))

    def finished(self, record: AsRunRecord) -> None:
        self.record = record
        self.post(CardEvent("finished", record=record))
