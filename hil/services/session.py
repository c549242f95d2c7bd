"""``BenchSession``: the bench work behind the GUI, in worker threads, one job at a time.

The GUI never calls a driver. It asks the session for a job — a bench check, a card run or a
descent — and the session runs it in a worker thread through the same services the CLI uses
(``run_check``, ``run_card``, ``DescentRun``). What the job produces reaches the GUI two ways,
both drained by the GUI's redraw timer:

* signal values: a ``SignalStore`` listener appends each published batch to ``signals`` (a
  ``SignalBuffer``); nothing per sample crosses into Qt;
* everything else (job started/finished, bench status snapshots, card step events, descent
  progress, operator questions) as ``SessionEvent`` objects in ``events``.

``wake`` (set by the GUI) is called after an operator question or a job's end is queued, so
the GUI answers at once rather than at its next frame; it must be cheap and thread-safe (a
queued Qt signal). Closing the session stops the
running job (a descent at its next 20 ms block; a card's open question is cancelled, so the card
aborts and its teardown runs) and joins the worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hil.bench import Bench
from hil.bench.assembly import lockstep_refusal
from hil.bench.check import CheckResult, run_check
from hil.cards.loader import LoadedCard
from hil.cards.model import Card
from hil.cards.record import AsRunRecord, AttemptRecord, TeardownRecord
from hil.cards.runner import RunListener, bench_for, run_card
from hil.core.config import BenchConfig, CanConfig
from hil.drivers.can import StatsRow, stats_rows
from hil.errors import Cancelled, ConfigError, HilError
from hil.flight.descent import DescentResult, DescentRun, descent_bench
from hil.services.operator import GuiOperator, OperatorCancelled, OperatorRequest
from hil.services.traces import SignalBuffer

if TYPE_CHECKING:
    from hil.cards.model import Step
    from hil.core.signals import SignalStore
    from hil.flight.scenario import Scenario
    from hil.records.store import RecordStore

log = logging.getLogger("hil.gui")

STATUS_PERIOD_S = 0.5
"""How often a job posts a bench status snapshot."""


class SessionBusy(HilError):
    """A job was started while another one is running."""


class JobStopped(Cancelled):
    """Raised inside a descent (from its injection hook) when the operator stops it."""


# -- events --------------------------------------------------------------------------------


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
    """(message, sent, received, rate Hz, counter gaps, CRC failures, decode errors)."""
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


# -- the session ---------------------------------------------------------------------------


class _CardListener(RunListener):
    """Forwards runner calls to the GUI. The record store's recorder is handed to the runner
    itself (``run_card(recorder=...)``), so a failure to record stops the card."""

    def __init__(self, session: BenchSession, recorder: Any = None) -> None:
        self.session = session
        self.recorder = recorder
        self.record: AsRunRecord | None = None
        """The finished record (also when the runner re-raises after an abort)."""

    @property
    def run_id(self) -> str | None:
        """The run's id in the records store, once the recorder has created it."""
        return getattr(self.recorder, "run_id", None)

    def card_started(self, record: AsRunRecord) -> None:
        self.session.post(CardEvent("card_started", record=record))

    def attempt_started(self, step: Step, attempt: int) -> None:
        self.session.post(CardEvent("attempt_started", step=step, attempt=attempt))

    def attempt_finished(self, entry: AttemptRecord) -> None:
        self.session.post(CardEvent("attempt_finished", entry=entry))

    def logged(self, step: Step | None, text: str) -> None:
        self.session.post(CardEvent("logged", step=step, text=text))

    def teardown_finished(self, teardown: TeardownRecord) -> None:
        self.session.post(CardEvent("teardown_finished", teardown=teardown))

    def finished(self, record: AsRunRecord) -> None:
        self.record = record
        self.session.post(CardEvent("finished", record=record))


class BenchSession:
    """Runs bench jobs for the GUI. A context manager; closing twice is harmless.

    ``store`` (a ``hil.records`` ``RecordStore``), when given, receives every card run through
    a ``StoreRecorder``; ``out_dir`` receives as-run JSON files and descent outputs.
    """

    def __init__(
        self,
        config: BenchConfig,
        *,
        operator: GuiOperator | None = None,
        store: RecordStore | None = None,
        out_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.operator = operator or GuiOperator()
        self.operator.post = self._post_question
        self.store = store
        self.out_dir = out_dir
        self.signals = SignalBuffer()
        self.events: queue.SimpleQueue[SessionEvent] = queue.SimpleQueue()
        self.wake: Callable[[], None] | None = None
        self._signal_store: SignalStore | None = None
        self._remote_units: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._job = ""
        self._stop = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self.last_run_id: str | None = None
        """Record-store id of the last card run (None without a store)."""

    # -- plumbing ------------------------------------------------------------------------------

    def post(self, event: SessionEvent) -> None:
        """Queue ``event`` for the GUI thread (any thread)."""
        self.events.put(event)
        wake = self.wake
        if wake is not None and isinstance(event, OperatorQuestion | JobFinished):
            wake()

    def _post_question(self, request: OperatorRequest) -> None:
        self.post(OperatorQuestion(request))

    def poll(self) -> list[SessionEvent]:
        """Every queued event, oldest first (GUI thread)."""
        out: list[SessionEvent] = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def unit(self, name: str) -> str:
        """The unit the bench declared for a signal ("" if none)."""
        if name in self._remote_units:
            return self._remote_units[name]
        store = self._signal_store
        if store is None:
            return ""
        try:
            return store.unit(name)
        except KeyError:
            return ""

    @property
    def busy(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def job(self) -> str:
        return self._job if self.busy else ""

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait for the running job to end; True if none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return not self.busy

    def stop(self) -> None:
        """Ask the running job to stop: a descent ends at its next block; a card's open
        question is cancelled (the card aborts, its teardown runs)."""
        self._stop.set()
        self.operator.cancel_all("stopped by the operator from the GUI")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.operator.cancel_all("the GUI was closed", for_good=True)
        thread = self._thread
        if thread is not None:
            thread.join()

    def __enter__(self) -> BenchSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def idle_status(self) -> StatusSnapshot:
        """What the status panel shows with no bench open: the configured devices."""
        devices = [
            (role, device.backend, "", "closed") for role, device in self.config.devices.items()
        ]
        return StatusSnapshot(devices=devices)

    def _start(self, kind: str, title: str, work: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                raise HilError("bench session is closed")
            if self.busy:
                raise SessionBusy(f"bench busy: {self._job} is running")
            self._job = title
            self._stop.clear()
            self.post(JobStarted(kind, title))

            def body() -> None:
                try:
                    work()
                except BaseException as err:  # the worker must always report back
                    log.exception("GUI job %s failed", title)
                    self.post(JobFinished(kind, False, f"{title}: {type(err).__name__}: {err}"))

            self._thread = threading.Thread(target=body, name=f"hil-gui-{kind}", daemon=True)
            self._thread.start()

    # -- status --------------------------------------------------------------------------------

    def _snapshot(self, bench: Bench, state: str, timing: dict[str, float] | None = None) -> None:
        """Post the bench's link statistics (from the job's thread, never the GUI's)."""
        snapshot = snapshot_of(bench, state, timing)
        if snapshot is not None:
            self.post(snapshot)

    def _watch(self, bench: Bench, done: threading.Event, state: str) -> threading.Thread:
        """A thread posting status snapshots every ``STATUS_PERIOD_S`` until ``done``."""

        def body() -> None:
            while not done.wait(STATUS_PERIOD_S):
                self._snapshot(bench, state)

        thread = threading.Thread(target=body, name="hil-gui-status", daemon=True)
        thread.start()
        return thread

    def _attach(self, bench: Bench) -> Callable[[], None]:
        """Route the bench's signals into ``signals``; returns the remover."""
        self._signal_store = bench.signals
        return bench.signals.add_listener(self.signals.listener)

    def _with_bench(
        self, state: str, work: Callable[[Bench], None], card: Card | None = None
    ) -> None:
        """Open the bench (the one ``card`` runs on, ``bench_for``), stream its signals and
        status to the GUI while ``work`` runs."""
        done = threading.Event()
        bench = Bench(self.config) if card is None else bench_for(card, self.config)
        with bench:
            remove = self._attach(bench)
            watcher = self._watch(bench, done, state)
            try:
                work(bench)
            finally:
                done.set()
                watcher.join()
                remove()
                self._snapshot(bench, "open (idle)")
        self.post(self.idle_status())

    # -- jobs ----------------------------------------------------------------------------------

    def start_bench_check(self) -> None:
        """``hil bench check`` in a worker. Raises ``SessionBusy``."""

        def work() -> None:
            result: list[CheckResult] = []
            self._with_bench("checking", lambda bench: result.append(run_check(bench)))
            check = result[0]
            summary = (
                "bench check: PASS"
                if check.ok
                else "bench check: FAIL: " + "; ".join(check.problems)
            )
            self.post(JobFinished("check", check.ok, summary, check))

        self._start("check", "bench check", work)

    def start_card(
        self,
        loaded: LoadedCard,
        *,
        lander: str,
        operator_id: str,
        pause_on_failure: bool = False,
    ) -> None:
        """Run a card in a worker with the GUI operator. Raises ``SessionBusy``; a card not
        effective for ``lander`` raises ``CardError`` at once (nothing runs)."""
        card = loaded.card
        card.require_effective(lander)

        def work() -> None:
            recorder = None
            if self.store is not None:
                from hil.records.recorder import StoreRecorder

                recorder = StoreRecorder(self.store)
            listener = _CardListener(self, recorder)
            records: list[AsRunRecord] = []

            def run(bench: Bench) -> None:
                records.append(
                    run_card(
                        loaded,
                        bench,
                        self.operator,
                        lander=lander,
                        operator_id=operator_id,
                        listener=listener,
                        recorder=recorder,
                        pause_on_failure=pause_on_failure,
                    )
                )

            try:
                self._with_bench("running card", run, loaded.card)
            except OperatorCancelled:  # the runner aborted the card and ran the teardown
                if listener.record is None:
                    raise
                records.append(listener.record)
            finally:
                self.last_run_id = listener.run_id
            record = records[0]
            if self.out_dir is not None:
                record.save(self.out_dir / "cards" / record.default_name())
            self.post(JobFinished("card", record.outcome.passed, record.summary(), record))

        self._start("card", f"card {card.number}", work)

    def start_descent(
        self,
        scenario: Scenario,
        *,
        seed: int = 0,
        realtime: bool = False,
        max_duration_s: float | None = None,
        isolate: bool | None = None,
    ) -> None:
        """Fly ``scenario`` (``DescentRun``); ``max_duration_s`` shortens the run.

        ``isolate`` (default: on for real time) flies it in a child process, so the GUI's
        Python work never competes with the executive for the interpreter lock; lockstep runs
        in a worker thread. Raises ``SessionBusy``; ``ConfigError`` for lockstep on a hardware
        bench.
        """
        if not realtime:
            refusal = lockstep_refusal(self.config)
            if refusal is not None:
                raise ConfigError(refusal)
        if max_duration_s is not None:
            import dataclasses

            model = dataclasses.replace(scenario.model, max_duration_s=max_duration_s)
            scenario = dataclasses.replace(scenario, model=model)
        out = None
        if self.out_dir is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = self.out_dir / f"descent-{scenario.name}-seed{seed}-{stamp}"
        title = f"descent {scenario.name} (seed {seed}{', real time' if realtime else ''})"
        if isolate if isolate is not None else realtime:

            def in_process() -> None:
                self._descent_process(scenario, seed, realtime, out)

            self._start("descent", title, in_process)
            return
        hook = _DescentHook(self.post, self._attach, self._stop.is_set, realtime)
        config = self.config

        def work() -> None:
            with descent_bench(config, realtime=realtime, out_dir=out) as bench:
                # the profile plot builds Qt widgets: drawn later, on the GUI thread
                run = DescentRun(
                    bench,
                    scenario,
                    seed=seed,
                    out_dir=out,
                    progress=hook.progress,
                    injections=[hook],
                    plot=False,
                )
                try:
                    result: DescentResult = run.run()
                finally:
                    hook.detach()
                snapshot = hook.final_snapshot(result)
            if snapshot is not None:
                self.post(snapshot)
            self.post(self.idle_status())
            outputs = None
            if out is not None:

                def outputs() -> None:
                    run.write_profile(result)

            self.post(JobFinished("descent", result.passed, result.verdict, result, outputs))

        self._start("descent", title, work)

    def _descent_process(
        self, scenario: Scenario, seed: int, realtime: bool, out: Path | None
    ) -> None:
        """Worker: run ``descent_child`` in a spawned process and relay what it sends."""
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        stop = context.Event()
        process = context.Process(
            target=descent_child,
            args=(self.config.path, self.config.can, scenario, seed, realtime, out, sender, stop),
            name="hil-gui-descent",
            daemon=True,
        )
        process.start()
        sender.close()
        result: DescentResult | None = None
        error = ""
        try:
            while True:
                if self._stop.is_set():
                    stop.set()
                if not receiver.poll(0.05):
                    if not process.is_alive() and not receiver.poll(0):
                        break
                    continue
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    break
                if kind == "signals":
                    listener = self.signals.listener
                    for timestamp_s, values in payload:
                        listener(timestamp_s, values)
                elif kind == "units":
                    self._remote_units.update(payload)
                elif kind == "event":
                    self.post(payload)
                elif kind == "result":
                    result = payload
                elif kind == "error":
                    error = payload
        finally:
            stop.set()
            receiver.close()
            process.join()
        self.post(self.idle_status())
        if result is None:
            code = process.exitcode
            raise HilError(error or f"descent process ended without a result (exit code {code})")
        self.post(JobFinished("descent", result.passed, result.verdict, result))


class _DescentHook:
    """Runs inside the descent's executive (an injection at 50 Hz): attaches the signal
    listener once the run's bench exists, posts status every 0.5 s, stops the run on request.
    It does a few list appends per call; the GUI's drawing never happens here.

    ``post`` delivers events, ``attach(bench)`` routes the bench's signals and returns the
    remover, ``stopped()`` says the operator asked to stop: a session's own (descent in a
    thread) or the child process's pipe (descent in a process)."""

    def __init__(
        self,
        post: Callable[[SessionEvent], None],
        attach: Callable[[Bench], Callable[[], None]],
        stopped: Callable[[], bool],
        realtime: bool,
    ) -> None:
        self.post = post
        self.attach = attach
        self.stopped = stopped
        self.realtime = realtime
        self.bench: Bench | None = None
        self._remove: Callable[[], None] | None = None
        self._next_status_s = 0.0
        self._lateness_s: list[float] = []

    def __call__(self, run: DescentRun, time_s: float) -> None:
        if self.stopped():
            raise JobStopped("descent stopped by the operator")
        if self.bench is None:
            self.bench = run.bench
            self._remove = self.attach(run.bench)
        if self.realtime:
            self._lateness_s.append(max(0.0, run.elapsed_s() - time_s))
        if time_s >= self._next_status_s:
            self._next_status_s = time_s + STATUS_PERIOD_S
            snapshot = snapshot_of(run.bench, "descent", self.timing())
            if snapshot is not None:
                self.post(snapshot)

    def progress(self, time_s: float, altitude_m: float, mode: str) -> None:
        self.post(DescentProgress(time_s, altitude_m, mode))

    def timing(self) -> dict[str, float]:
        if not self._lateness_s:
            return {}
        late = np.asarray(self._lateness_s[-2000:])
        return {
            "lateness_p50_ms": 1000 * float(np.percentile(late, 50)),
            "lateness_p99_ms": 1000 * float(np.percentile(late, 99)),
            "lateness_max_ms": 1000 * float(late.max()),
            "frames": float(len(self._lateness_s)),
        }

    def final_snapshot(self, result: DescentResult) -> StatusSnapshot | None:
        """The bench's statistics at the end, with the executive's own timing."""
        if self.bench is None:
            return None
        timing = {k: float(v) for k, v in self.timing().items()}
        for key in ("lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms", "overruns"):
            if key in result.timing:
                timing[key] = float(result.timing[key])
        return snapshot_of(self.bench, "closed", timing)

    def detach(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None


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


CHILD_NICENESS = -10
"""Niceness the descent process asks for: its device and bus threads (which share the
executive's interpreter lock) then win the CPU over the GUI's drawing. Without the privilege
the process runs at normal priority."""

SEND_PERIOD_S = 0.03
"""How often a descent process sends its signal batches to the GUI process."""


class _PipeSender:
    """The child process's side: signal batches collected by a listener, sent in one message
    every ``SEND_PERIOD_S`` (from the executive's injection hook), events sent as they come."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._lock = threading.Lock()
        self._batches: list[tuple[float, Any]] = []
        self._next_send_s = 0.0
        self._store: SignalStore | None = None

    def listener(self, timestamp_s: float, values: Any) -> None:
        with self._lock:
            self._batches.append((timestamp_s, dict(values)))

    def attach(self, bench: Bench) -> Callable[[], None]:
        self._store = bench.signals
        return bench.signals.add_listener(self.listener)

    def post(self, event: SessionEvent) -> None:
        if isinstance(event, StatusSnapshot) and self._store is not None:
            store = self._store
            self.connection.send(("units", {n: store.unit(n) for n in store.names()}))
        self.connection.send(("event", event))

    def flush(self, force: bool = False) -> None:
        now_s = time.monotonic()
        if not force and now_s < self._next_send_s:
            return
        self._next_send_s = now_s + SEND_PERIOD_S
        with self._lock:
            batches, self._batches = self._batches, []
        if batches:
            self.connection.send(("signals", batches))


def descent_child(
    config_path: Path,
    can: CanConfig,
    scenario: Scenario,
    seed: int,
    realtime: bool,
    out_dir: Path | None,
    connection: Any,
    stop: Any,
) -> None:
    """Entry point of a descent process: fly, stream signals and events, send the result.
    The bench file is loaded again here (a ``BenchConfig`` does not pickle), with the
    parent's CAN settings (a test's private channel)."""
    import dataclasses

    from hil.core.config import load_bench

    sender = _PipeSender(connection)
    with contextlib.suppress(OSError):  # needs CAP_SYS_NICE, like the executive's SCHED_FIFO
        os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICENESS)
    try:
        config = dataclasses.replace(load_bench(config_path), can=can)
    except BaseException as err:
        connection.send(("error", f"descent process: {type(err).__name__}: {err}"))
        connection.close()
        return
    hook = _DescentHook(sender.post, sender.attach, stop.is_set, realtime)

    def injection(run: DescentRun, time_s: float) -> None:
        hook(run, time_s)
        sender.flush()

    try:
        with descent_bench(config, realtime=realtime, out_dir=out_dir) as bench:
            run = DescentRun(
                bench,
                scenario,
                seed=seed,
                out_dir=out_dir,
                progress=hook.progress,
                injections=[injection],
            )
            result = run.run()
        hook.detach()
        sender.flush(force=True)
        snapshot = hook.final_snapshot(result)
        if snapshot is not None:
            sender.post(snapshot)
        connection.send(("result", result))
    except BaseException as err:
        connection.send(("error", f"descent process: {type(err).__name__}: {err}"))
    finally:
        connection.close()
