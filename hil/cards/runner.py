"""Running a card on an open bench and producing its as-run record.

Rules the runner enforces (docs/architecture.md §7):

* Steps run in order; every attempt is a new record entry, raw values are never overwritten.
* The bench computes outcomes: measurements from their limits, prompts from ``expect``,
  inspections from the inspector's judgement; a red monitor excursion fails the step.
* After a failed attempt the step is retried up to its ``attempts``; with pause-on-failure the
  operator decides instead (retry / continue / abort). Then the step's ``on_fail`` rule applies:
  ``stop`` skips the remaining steps, ``continue`` goes on (the card still fails).
* A device vanishing during a step (``LinkError``, ``DeviceTimeout``) makes the step ERROR.
* The teardown always runs: after a pass, a failure, an exception, an operator abort or a
  ``KeyboardInterrupt`` (which is re-raised after the record is finished).
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hil.bench import Bench
from hil.bench.assembly import lockstep_refusal
from hil.cards.limits import MonitorWatch, judge, within
from hil.cards.loader import LoadedCard
from hil.cards.model import (
    ActionStep,
    Card,
    CardError,
    InspectionStep,
    MeasurementStep,
    PromptStep,
    Step,
    StepContext,
    display_path,
)
from hil.cards.operators import FAILURE_CHOICES, Operator, file_sha256
from hil.cards.record import (
    AsRunRecord,
    AttemptRecord,
    Outcome,
    TeardownRecord,
    software_versions,
)
from hil.core.clock import SimulatedClock, WallClock
from hil.core.config import BenchConfig
from hil.core.timestamps import utc_now
from hil.errors import DeviceTimeout, LinkError

log = logging.getLogger("hil.cards")

OPERATOR_ATTEMPT_LIMIT = 10
"""With pause-on-failure, a step gets at most this many attempts however often the operator
says retry (a scripted "retry" must not loop for ever)."""


class RunListener:
    """Live view of a run (terminal table, GUI). Override what you need; every method is called
    in the thread running the card. An exception in a listener is logged, never fatal."""

    def card_started(self, record: AsRunRecord) -> None: ...

    def attempt_started(self, step: Step, attempt: int) -> None: ...

    def attempt_finished(self, entry: AttemptRecord) -> None: ...

    def logged(self, step: Step | None, text: str) -> None: ...

    def teardown_finished(self, teardown: TeardownRecord) -> None: ...

    def finished(self, record: AsRunRecord) -> None:
        """The record is complete (also when the run was interrupted)."""


class _OperatorFailed(Exception):
    """An operator call raised (missing scripted answer, closed dialog): the run is aborted."""


class RunRecorder(Protocol):
    """The durable write path of a run (``hil.records.StoreRecorder``): the same events as a
    ``RunListener``, but a failure to record stops the run."""

    def card_started(self, record: AsRunRecord) -> Any: ...
    def attempt_started(self, step: Step, attempt: int) -> Any: ...
    def attempt_finished(self, entry: AttemptRecord) -> Any: ...
    def logged(self, step: Step | None, text: str) -> Any: ...
    def teardown_finished(self, teardown: TeardownRecord) -> Any: ...
    def finished(self, record: AsRunRecord) -> Any: ...


def bench_for(card: Card, config: BenchConfig, **options: Any) -> Bench:
    """The bench (not yet open) a card runs on: on a simulated clock when the card flies in
    lockstep and every device of ``config`` is simulated, on the wall clock otherwise."""
    lockstep = card.lockstep and lockstep_refusal(config) is None
    return Bench(config, clock=SimulatedClock() if lockstep else WallClock(), **options)


def run_card(
    loaded: LoadedCard,
    bench: Bench,
    operator: Operator,
    *,
    lander: str,
    operator_id: str,
    listener: RunListener | None = None,
    recorder: RunRecorder | None = None,
    pause_on_failure: bool = False,
) -> AsRunRecord:
    """Run ``loaded`` on the open ``bench``; return the finished as-run record.

    Raises ``CardError`` (before anything runs) when the card is not effective for ``lander``;
    re-raises ``KeyboardInterrupt`` and operator errors after the teardown ran.
    """
    return _Run(
        loaded, bench, operator, lander, operator_id, listener, pause_on_failure, recorder
    ).run()


def new_record(loaded: LoadedCard, bench: Bench, lander: str, operator_id: str) -> AsRunRecord:
    """An empty record bound to the card's content hash, the lander, operator and bench."""
    card = loaded.card
    config = bench.config
    try:
        config_text: str | None = Path(config.path).read_text(encoding="utf-8")
    except OSError:
        config_text = None
    return AsRunRecord(
        card={
            "number": card.number,
            "revision": card.revision,
            "title": card.title,
            "effectivity": list(card.effectivity),
            "interval": card.interval,
            "content_sha256": loaded.sha256,
            "source": loaded.source,
        },
        lander=lander,
        operator_id=operator_id,
        bench={
            "name": config.name,
            "config_path": str(config.path),
            "config_text": config_text,
            "can_channel": config.can.channel,
            "backends": {role: device.backend for role, device in config.devices.items()},
        },
        software=software_versions(),
        started_utc=utc_now(),
    )


class _Run:
    def __init__(
        self,
        loaded: LoadedCard,
        bench: Bench,
        operator: Operator,
        lander: str,
        operator_id: str,
        listener: RunListener | None,
        pause_on_failure: bool,
        recorder: RunRecorder | None = None,
    ) -> None:
        self.card: Card = loaded.card
        self.card.require_effective(lander)
        self.bench = bench
        self.operator = operator
        self.lander = lander
        self.operator_id = operator_id
        self.listener = listener or RunListener()
        self.recorder = recorder
        self._recorder_error: Exception | None = None
        self.pause_on_failure = pause_on_failure
        self.state: dict[str, object] = {}
        self.record = new_record(loaded, bench, lander, operator_id)

    # -- the card ------------------------------------------------------------------------------

    def run(self) -> AsRunRecord:
        record = self.record
        self._emit("card_started", record)
        start = getattr(self.operator, "start_card", None)
        if callable(start):
            start(self.card)
        failed = False
        aborted = False
        pending: BaseException | None = None
        index = 0
        steps = self.card.steps
        try:
            while index < len(steps):
                decision = self._run_step(steps[index])
                index += 1
                if decision == "next":
                    continue
                failed = True
                if decision == "stop":
                    self._mark_rest(steps[index:], Outcome.SKIPPED, "an earlier step failed")
                    break
                if decision == "abort":
                    aborted = True
                    record.aborted_reason = "operator aborted after a failed step"
                    self._mark_rest(steps[index:], Outcome.ABORTED, "operator aborted")
                    break
        except BaseException as err:  # KeyboardInterrupt, operator errors: abort, tear down
            aborted = True
            pending = err.__cause__ if isinstance(err, _OperatorFailed) and err.__cause__ else err
            what = "interrupted" if isinstance(pending, KeyboardInterrupt) else "aborted"
            record.aborted_reason = f"{what}: {type(pending).__name__}: {pending}".rstrip(": ")
            self._mark_rest(steps[index + 1 :], Outcome.ABORTED, record.aborted_reason)
        finally:
            self._teardown()
            teardown_ok = record.teardown.outcome in (Outcome.PASS, Outcome.SKIPPED)
            if aborted:
                record.outcome = Outcome.ABORTED
            elif failed or not teardown_ok:
                record.outcome = Outcome.FAIL
            else:
                record.outcome = Outcome.PASS
            record.finished_utc = utc_now()
            self._emit("finished", record, deferred=True)
        if pending is not None:
            raise pending
        if self._recorder_error is not None:
            raise self._recorder_error
        return record

    def _mark_rest(self, steps: tuple[Step, ...], outcome: Outcome, reason: str) -> None:
        for item in steps:
            self.record.attempts.append(
                AttemptRecord(
                    step=item.number,
                    kind=item.kind,
                    text=item.text,
                    attempt=0,
                    rii=item.rii,
                    outcome=outcome,
                    error=f"not performed: {reason}",
                )
            )

    def _run_step(self, item: Step) -> str:
        """Attempts of one step; returns "next", "continue", "stop" or "abort"."""
        attempt = 0
        while True:
            attempt += 1
            entry = self._attempt(item, attempt)
            if entry.outcome.passed:
                return "next"
            if self.pause_on_failure:
                decision = self.operator.on_failure(item, attempt)
                if decision not in FAILURE_CHOICES:
                    raise CardError(
                        f"{item.where}: operator answered {decision!r} after a failure "
                        f"(choices: {', '.join(FAILURE_CHOICES)})"
                    )
                if decision == "retry" and attempt < max(item.attempts, OPERATOR_ATTEMPT_LIMIT):
                    continue
                if decision == "abort":
                    return "abort"
                if decision == "continue":
                    return "continue"
            elif attempt < item.attempts:
                continue
            return "continue" if item.on_fail == "continue" else "stop"

    # -- one attempt ---------------------------------------------------------------------------

    def _context(self, item: Step | None, attempt: int) -> StepContext:
        def on_log(ctx: StepContext, text: str) -> None:
            self._emit("logged", ctx.step, text)

        return StepContext(
            bench=self.bench,
            card=self.card,
            lander=self.lander,
            operator_id=self.operator_id,
            state=self.state,
            step=item,
            attempt=attempt,
            bench_config_path=Path(self.bench.config.path),
            on_log=on_log,
        )

    def _attempt(self, item: Step, attempt: int) -> AttemptRecord:
        entry = AttemptRecord(
            step=item.number,
            kind=item.kind,
            text=item.text,
            attempt=attempt,
            rii=item.rii,
            started_utc=utc_now(),
        )
        ctx = self._context(item, attempt)
        entry.logs = ctx.logs
        entry.values = ctx.values
        self._emit("attempt_started", item, attempt)
        clock = self.bench.clock
        started_s = clock.now_s()
        watch = MonitorWatch(item.monitors, self.bench.signals, started_s)
        try:
            with watch:
                try:
                    entry.outcome = self._perform(item, ctx, entry)
                except (LinkError, DeviceTimeout) as err:
                    entry.outcome = Outcome.ERROR
                    entry.error = _describe(err)
                    entry.exception = type(err).__name__
                except _OperatorFailed:
                    raise
                except Exception as err:
                    entry.outcome = Outcome.FAIL
                    entry.error = _describe(err)
                    entry.exception = type(err).__name__
        except BaseException as err:
            cause = err.__cause__ if isinstance(err, _OperatorFailed) else err
            entry.outcome = Outcome.ABORTED
            entry.error = f"{type(cause).__name__}: {cause}".rstrip(": ")
            raise
        finally:
            entry.excursions = watch.excursions()
            red = [item for item in entry.excursions if item.band == "red"]
            if red and entry.outcome.passed:
                entry.outcome = Outcome.FAIL
            if red:
                texts = "; ".join(excursion.describe() for excursion in red)
                entry.error = f"{entry.error}; {texts}" if entry.error else texts
            entry.finished_utc = utc_now()
            entry.duration_s = max(0.0, clock.now_s() - started_s)
            self.record.attempts.append(entry)
            self._emit("attempt_finished", entry)
        return entry

    def _perform(self, item: Step, ctx: StepContext, entry: AttemptRecord) -> Outcome:
        if isinstance(item, ActionStep):
            item.run(ctx)
            return Outcome.PASS
        if isinstance(item, MeasurementStep):
            return self._measure(item, ctx, entry)
        if isinstance(item, PromptStep):
            entry.question, entry.answers, entry.expect = item.text, item.answers, item.expect
            try:
                answer = self.operator.ask(item, item.text, item.answers)
            except Exception as err:
                raise _OperatorFailed(str(err)) from err
            entry.answer = answer
            if answer not in item.answers:
                entry.error = f"answer {answer!r} is not one of {', '.join(item.answers)}"
                return Outcome.FAIL
            if item.expect is not None and answer != item.expect:
                entry.error = f"answered {answer!r}, expected {item.expect!r}"
                return Outcome.FAIL
            return Outcome.PASS
        if isinstance(item, InspectionStep):
            entry.criterion = item.criterion
            try:
                result = self.operator.inspect(item)
            except Exception as err:
                raise _OperatorFailed(str(err)) from err
            entry.passed, entry.comment = bool(result.passed), result.comment
            if result.evidence is not None:
                entry.evidence = str(result.evidence)
                try:
                    entry.evidence_sha256 = file_sha256(Path(result.evidence))
                except OSError as err:
                    entry.error = f"evidence file unreadable: {err}"
                    return Outcome.FAIL
            elif item.evidence:
                ctx.log("no evidence file attached")
            if not result.passed:
                entry.error = f"inspection unsatisfactory: {result.comment or item.criterion}"
                return Outcome.FAIL
            return Outcome.PASS
        raise CardError(f"{item.where}: no runner for step kind {item.kind!r}")

    def _measure(self, item: MeasurementStep, ctx: StepContext, entry: AttemptRecord) -> Outcome:
        entry.name, entry.unit, entry.marginal = item.name, item.unit, item.marginal
        entry.low, entry.high = item.low, item.high
        clock = self.bench.clock
        deadline_s = clock.now_s() + (item.wait_until_s or 0.0)
        while True:
            raw = item.measure(ctx)
            if raw is None or isinstance(raw, str):
                raise TypeError(f"measure returned {raw!r}, not a number")
            value = float(raw)
            entry.polled_values.append(value)
            entry.value = value
            if item.wait_until_s is None or within(value, item.low, item.high):
                break
            now_s = clock.now_s()
            if now_s >= deadline_s:
                ctx.log(
                    f"{item.name} not within limits after {item.wait_until_s:g} s "
                    f"({len(entry.polled_values)} readings)"
                )
                break
            clock.sleep_until(min(now_s + item.poll_s, deadline_s))
        if math.isnan(value):
            entry.error = f"{item.name} is not a number"
        return judge(value, item.low, item.high, item.marginal)

    # -- teardown ------------------------------------------------------------------------------

    def _teardown(self) -> None:
        teardown = self.record.teardown
        if self.card.teardown is None:
            teardown.outcome = Outcome.SKIPPED
            return
        ctx = self._context(None, 0)
        teardown.logs = ctx.logs
        teardown.values = ctx.values
        teardown.started_utc = utc_now()
        try:
            self.card.teardown(ctx)
            teardown.outcome = Outcome.PASS
        except (LinkError, DeviceTimeout) as err:
            teardown.outcome = Outcome.ERROR
            teardown.error = _describe(err)
            teardown.exception = type(err).__name__
        except Exception as err:
            teardown.outcome = Outcome.FAIL
            teardown.error = _describe(err)
            teardown.exception = type(err).__name__
        except BaseException as err:  # a second Ctrl-C during teardown: record, then go
            teardown.outcome = Outcome.ABORTED
            teardown.error = f"teardown interrupted: {type(err).__name__}"
            raise
        finally:
            teardown.finished_utc = utc_now()
            self._emit("teardown_finished", teardown, deferred=True)

    def _emit(self, event: str, *args: object, deferred: bool = False) -> None:
        """Tell the listener (its failures are logged) and the recorder (its failures stop
        the run: an event that is not durable must not be followed by the next step).

        ``deferred``: we are already ending the run (teardown, finish); a recorder failure is
        kept and raised once the run has ended, so it cannot hide another error."""
        self._notify(getattr(self.listener, event), *args)
        if self.recorder is None:
            return
        try:
            getattr(self.recorder, event)(*args)
        except Exception as err:
            if not deferred:
                raise
            log.exception("recording %s failed", event)
            self._recorder_error = self._recorder_error or err

    def _notify(self, method: Callable[..., None], *args: object) -> None:
        try:
            method(*args)
        except Exception:
            log.exception("card run listener %s failed", getattr(method, "__name__", method))


def _describe(err: BaseException) -> str:
    """``Type: message (at file:line)`` with the innermost frame that raised it."""
    frames = traceback.extract_tb(err.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {display_path(last.filename)}:{last.lineno})"
    text = str(err) or repr(err)
    return f"{type(err).__name__}: {text}{where}"
