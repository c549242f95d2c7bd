"""A descent flown in a spawned child process, and the messages it sends the GUI process.

A real-time descent flies in its own process, so the GUI's Python work never competes with
the executive for the interpreter lock. The two sides talk over a one-way ``multiprocessing``
pipe, plus an ``Event`` the parent sets to stop the run:

* the child (``descent_child``) flies the descent with a ``DescentHook`` and sends typed
  messages: ``SignalBatches`` (every ``SEND_PERIOD_S``), ``Units`` and ``Event`` (a status
  snapshot or progress), and at the end either ``Result`` or ``Failure`` (one line);
* the parent (``DescentProcess``, run in the session's worker thread) starts the child,
  relays each message by its type (signals to the session's buffer, events to its queue),
  sets the stop event when asked, and hands back the result. A message of an unknown type is
  counted and logged, never fatal to the relay.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hil.core.config import BenchConfig, CanConfig, load_bench
from hil.core.signals import Listener
from hil.errors import HilError
from hil.flight.descent import DescentResult, DescentRun, descent_bench
from hil.services.descent_hook import DescentHook
from hil.services.events import SessionEvent, StatusSnapshot

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event as StopEvent

    from hil.bench import Bench
    from hil.core.signals import SignalStore
    from hil.flight.scenario import Scenario

log = logging.getLogger("hil.gui")

CHILD_NICENESS = -10
"""Niceness the descent process asks for: its device and bus threads (which share the
executive's interpreter lock) then win the CPU over the GUI's drawing. Without the privilege
the process runs at normal priority."""

SEND_PERIOD_S = 0.03
"""How often a descent process sends its signal batches to the GUI process."""

POLL_PERIOD_S = 0.05
"""How long the parent waits for a message before it looks at the stop request again."""


# -- messages, child to parent ---------------------------------------------------------------


@dataclass(frozen=True)
class SignalBatches:
    """Signal batches published since the last send, as ``(timestamp_s, {name: value})``."""

    batches: tuple[tuple[float, dict[str, float]], ...]


@dataclass(frozen=True)
class Units:
    """The unit of every signal the child's bench declares (sent before each snapshot)."""

    units: dict[str, str]


@dataclass(frozen=True)
class Event:
    """A session event for the GUI: a status snapshot or descent progress."""

    event: SessionEvent


@dataclass(frozen=True)
class Result:
    """The descent's result; the last message of a run that finished."""

    result: DescentResult


@dataclass(frozen=True)
class Failure:
    """Why the descent did not finish, in one line; the last message of a failed run."""

    message: str


ChildMessage = SignalBatches | Units | Event | Result | Failure
"""Everything a descent process sends."""


# -- the child's side ------------------------------------------------------------------------


class _PipeSender:
    """The child process's side: signal batches collected by a listener, sent in one message
    every ``SEND_PERIOD_S`` (from the executive's injection hook), events sent as they come."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._lock = threading.Lock()
        self._batches: list[tuple[float, dict[str, float]]] = []
        self._next_send_s = 0.0
        self._store: SignalStore | None = None

    def send(self, message: ChildMessage) -> None:
        self.connection.send(message)

    def listener(self, timestamp_s: float, values: Mapping[str, float]) -> None:
        with self._lock:
            self._batches.append((timestamp_s, dict(values)))

    def attach(self, bench: Bench) -> Callable[[], None]:
        self._store = bench.signals
        return bench.signals.add_listener(self.listener)

    def post(self, event: SessionEvent) -> None:
        if isinstance(event, StatusSnapshot) and self._store is not None:
            store = self._store
            self.send(Units({n: store.unit(n) for n in store.names()}))
        self.send(Event(event))

    def flush(self, force: bool = False) -> None:
        now_s = time.monotonic()
        if not force and now_s < self._next_send_s:
            return
        self._next_send_s = now_s + SEND_PERIOD_S
        with self._lock:
            batches, self._batches = self._batches, []
        if batches:
            self.send(SignalBatches(tuple(batches)))


def descent_child(
    config_path: Path,
    can: CanConfig,
    scenario: Scenario,
    seed: int,
    realtime: bool,
    out_dir: Path | None,
    connection: Connection,
    stop: StopEvent,
) -> None:
    """Entry point of a descent process: fly, stream signals and events, send the result.
    The bench file is loaded again here (a ``BenchConfig`` does not pickle), with the
    parent's CAN settings (a test's private channel)."""
    sender = _PipeSender(connection)
    with contextlib.suppress(OSError):  # needs CAP_SYS_NICE, like the executive's SCHED_FIFO
        os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICENESS)
    try:
        config = dataclasses.replace(load_bench(config_path), can=can)
    except BaseException as err:
        sender.send(Failure(f"descent process: {type(err).__name__}: {err}"))
        connection.close()
        return
    hook = DescentHook(sender.post, sender.attach, stop.is_set, realtime)

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
        sender.send(Result(result))
    except BaseException as err:
        sender.send(Failure(f"descent process: {type(err).__name__}: {err}"))
    finally:
        connection.close()


# -- the parent's side -----------------------------------------------------------------------


class DescentProcess:
    """The GUI process's side of one descent flown by ``descent_child``.

    ``on_signals`` takes each relayed signal batch (a ``SignalStore`` listener's signature),
    ``on_units`` the child bench's signal units, ``post`` the session events. ``run`` blocks
    (call it from a worker thread); ``result`` then gives the descent's result.
    """

    def __init__(
        self,
        config: BenchConfig,
        scenario: Scenario,
        *,
        seed: int,
        realtime: bool,
        out_dir: Path | None,
        on_signals: Listener,
        on_units: Callable[[Mapping[str, str]], None],
        post: Callable[[SessionEvent], None],
    ) -> None:
        self.config = config
        self.scenario = scenario
        self.seed = seed
        self.realtime = realtime
        self.out_dir = out_dir
        self.on_signals = on_signals
        self.on_units = on_units
        self.post = post
        self.exitcode: int | None = None
        self.unknown_messages = 0
        """Messages of a type the relay does not know (counted, logged once per type)."""
        self._unknown_types: set[str] = set()
        self._result: DescentResult | None = None
        self._error = ""

    def run(self, stopped: Callable[[], bool]) -> None:
        """Start the child, relay its messages until it ends, join it. ``stopped()`` true
        asks the child to stop at its next block."""
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        stop = context.Event()
        process = context.Process(
            target=descent_child,
            args=(
                self.config.path,
                self.config.can,
                self.scenario,
                self.seed,
                self.realtime,
                self.out_dir,
                sender,
                stop,
            ),
            name="hil-gui-descent",
            daemon=True,
        )
        process.start()
        sender.close()
        try:
            while True:
                if stopped():
                    stop.set()
                if not receiver.poll(POLL_PERIOD_S):
                    if not process.is_alive() and not receiver.poll(0):
                        break
                    continue
                try:
                    message = receiver.recv()
                except EOFError:
                    break
                self.dispatch(message)
        finally:
            stop.set()
            receiver.close()
            process.join()
            self.exitcode = process.exitcode

    def dispatch(self, message: object) -> None:
        """Relay one message from the child by its type."""
        match message:
            case SignalBatches(batches):
                on_signals = self.on_signals
                for timestamp_s, values in batches:
                    on_signals(timestamp_s, values)
            case Units(units):
                self.on_units(units)
            case Event(event):
                self.post(event)
            case Result(result):
                self._result = result
            case Failure(text):
                self._error = text
            case _:
                self.unknown_messages += 1
                kind = type(message).__qualname__
                if kind not in self._unknown_types:
                    self._unknown_types.add(kind)
                    log.warning("descent process sent an unknown message (%s); ignored", kind)

    def result(self) -> DescentResult:
        """The descent's result, once ``run`` returned. Raises ``HilError`` with the child's
        one-line failure, or the exit code if it ended without a word."""
        if self._result is None:
            code = self.exitcode
            raise HilError(
                self._error or f"descent process ended without a result (exit code {code})"
            )
        return self._result
