"""``BenchSession``: the bench work behind the GUI, in worker threads, one job at a time.

The GUI never calls a driver. It asks the session for a job — a bench check, a card run or a
descent — and the session runs it in a worker thread through the same services the CLI uses
(``run_check``, ``run_card``, ``DescentRun``). What the job produces reaches the GUI two ways,
both drained by the GUI's redraw timer:

* signal values: a ``SignalStore`` listener appends each published batch to ``signals`` (a
  ``SignalBuffer``); nothing per sample crosses into Qt;
* everything else (job started/finished, bench status snapshots, card step events, descent
  progress, operator questions) as ``SessionEvent`` objects in ``events``
  (``hil.services.events``).

A real-time descent flies in a child process (``hil.services.descent_process``) whose
signals and events the worker relays into the same two channels; a lockstep descent flies in
the worker itself. Either way a ``DescentHook`` (``hil.services.descent_hook``) watches it.

``wake`` (set by the GUI) is called after an operator question or a job's end is queued, so
the GUI answers at once rather than at its next frame; it must be cheap and thread-safe (a
queued Qt signal). Closing the session stops the
running job (a descent at its next 20 ms block; a card's open question is cancelled, so the card
aborts and its teardown runs) and joins the worker thread.

The event types, ``snapshot_of``, ``STATUS_PERIOD_S`` and ``JobStopped`` are re-exported here
for the GUI, which imports them from this module.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hil.bench import Bench
from hil.bench.assembly import lockstep_refusal
from hil.bench.check import CheckResult, run_check
from hil.cards.loader import LoadedCard
from hil.cards.model import Card
from hil.cards.record import AsRunRecord
from hil.cards.runner import bench_for, run_card
from hil.core.config import BenchConfig
from hil.errors import ConfigError, HilError
from hil.flight.descent import DescentResult, DescentRun, descent_bench
from hil.services.descent_hook import DescentHook, JobStopped
from hil.services.descent_process import DescentProcess
from hil.services.events import (
    STATUS_PERIOD_S,
    CardEvent,
    CardEventListener,
    DescentProgress,
    JobFinished,
    JobStarted,
    OperatorQuestion,
    SessionEvent,
    StatusSnapshot,
    snapshot_of,
)
from hil.services.operator import GuiOperator, OperatorCancelled, OperatorRequest
from hil.services.traces import SignalBuffer

if TYPE_CHECKING:
    from hil.core.signals import SignalStore
    from hil.flight.scenario import Scenario
    from hil.records.store import RecordStore

__all__ = [
    "STATUS_PERIOD_S",
    "BenchSession",
    "CardEvent",
    "DescentProgress",
    "JobFinished",
    "JobStarted",
    "JobStopped",
    "OperatorQuestion",
    "SessionBusy",
    "SessionEvent",
    "StatusSnapshot",
    "snapshot_of",
]

log = logging.getLogger("hil.gui")


class SessionBusy(HilError):
    """A job was started while another one is running."""


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
        effective for ``lander`` raises ``CardError`` at once, and with a records store an
        operator who is not a registered person ``RecordError`` (nothing runs)."""
        card = loaded.card
        card.require_effective(lander)
        if self.store is not None:
            from hil.records.recorder import require_operator

            require_operator(self.store, operator_id)

        def work() -> None:
            recorder = None
            if self.store is not None:
                from hil.records.recorder import StoreRecorder

                recorder = StoreRecorder(self.store)
            listener = CardEventListener(self.post, recorder)
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
            model = dataclasses.replace(scenario.model, max_duration_s=max_duration_s)
            scenario = dataclasses.replace(scenario, model=model)
        out = None
        if self.out_dir is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = self.out_dir / f"descent-{scenario.name}-seed{seed}-{stamp}"
        title = f"descent {scenario.name} (seed {seed}{', real time' if realtime else ''})"
        if isolate if isolate is not None else realtime:

            def in_process() -> None:
                self._descent_in_process(scenario, seed, realtime, out)

            self._start("descent", title, in_process)
            return
        hook = DescentHook(self.post, self._attach, self._stop.is_set, realtime)
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

    def _descent_in_process(
        self, scenario: Scenario, seed: int, realtime: bool, out: Path | None
    ) -> None:
        """Worker: fly the descent in a child process, relaying its signals and events."""
        process = DescentProcess(
            self.config,
            scenario,
            seed=seed,
            realtime=realtime,
            out_dir=out,
            on_signals=self.signals.listener,
            on_units=self._remote_units.update,
            post=self.post,
        )
        process.run(self._stop.is_set)
        self.post(self.idle_status())
        result = process.result()
        self.post(JobFinished("descent", result.passed, result.verdict, result))
