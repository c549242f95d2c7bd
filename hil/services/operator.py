"""The GUI's ``Operator``: card prompts, inspections and failure decisions answered in the GUI.

The card runner calls ``ask``/``inspect``/``on_failure`` in its worker thread. ``GuiOperator``
turns each call into an ``OperatorRequest``, hands it to the GUI thread (``post``, which the
session wires to its event queue and a Qt wake-up signal) and blocks the worker until the GUI
answers it (a dialog, or a scripted operator for tests and CI). ``cancel_all`` releases a
blocked worker when the window closes: the runner then aborts the card and runs its teardown.
Nothing here imports Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hil.cards.model import Card, CardError, InspectionStep, Step
from hil.cards.operators import FAILURE_CHOICES, InspectionResult, Operator
from hil.errors import Cancelled


class OperatorCancelled(Cancelled):
    """The GUI closed (or the job was stopped) while a question was open."""


@dataclass
class OperatorRequest:
    """One question from the runner to the person at the bench.

    ``kind`` is ``"ask"`` (``question``, ``answers``), ``"inspect"`` (``step`` is an
    ``InspectionStep``) or ``"failure"`` (``attempt`` failed; answers are retry/continue/abort).
    """

    kind: str
    step: Step
    question: str = ""
    answers: tuple[str, ...] = ()
    attempt: int = 0
    script: Operator | None = None
    """When set, the GUI fills the dialog from this operator's answer (tests, CI)."""
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _value: Any = field(default=None, repr=False)
    _error: str | None = field(default=None, repr=False)

    @property
    def answered(self) -> bool:
        return self._done.is_set()

    def answer(self, value: str | InspectionResult) -> None:
        """Give the answer (GUI thread); the waiting worker continues. A second answer is
        ignored."""
        if self._done.is_set():
            return
        self._value = value
        self._done.set()

    def cancel(self, reason: str) -> None:
        if self._done.is_set():
            return
        self._error = reason
        self._done.set()

    def scripted_answer(self) -> str | InspectionResult:
        """The injected script's answer to this request. Raises what the script raises."""
        assert self.script is not None
        if self.kind == "ask":
            return self.script.ask(self.step, self.question, self.answers)
        if self.kind == "inspect":
            assert isinstance(self.step, InspectionStep)
            return self.script.inspect(self.step)
        return self.script.on_failure(self.step, self.attempt)

    def wait(self) -> str | InspectionResult:
        """Block (worker thread) until answered. Raises ``OperatorCancelled``."""
        self._done.wait()
        if self._error is not None:
            raise OperatorCancelled(self._error)
        value: str | InspectionResult = self._value
        return value


class GuiOperator:
    """``Operator`` whose answers come from the GUI thread. ``script`` (any ``Operator``, e.g.
    ``ScriptedOperator``) pre-answers every dialog; without it a person answers."""

    def __init__(self, script: Operator | None = None) -> None:
        self.script = script
        self.post: Callable[[OperatorRequest], None] | None = None
        """Set by the session: delivers a request to the GUI thread."""
        self._lock = threading.Lock()
        self._open: list[OperatorRequest] = []
        self._cancelled: str | None = None
        self._closed = False

    def start_card(self, card: Card) -> None:
        with self._lock:
            if not self._closed:
                self._cancelled = None
        start = getattr(self.script, "start_card", None)
        if callable(start):
            start(card)

    def _request(self, request: OperatorRequest) -> str | InspectionResult:
        request.script = self.script
        with self._lock:
            if self._cancelled is not None:
                raise OperatorCancelled(self._cancelled)
            if self.post is None:
                raise OperatorCancelled("no GUI is attached to answer the operator's questions")
            self._open.append(request)
        try:
            self.post(request)
            return request.wait()
        finally:
            with self._lock:
                if request in self._open:
                    self._open.remove(request)

    def ask(self, step: Step, question: str, answers: tuple[str, ...]) -> str:
        value = self._request(OperatorRequest("ask", step, question, tuple(answers)))
        return str(value)

    def inspect(self, step: InspectionStep) -> InspectionResult:
        value = self._request(OperatorRequest("inspect", step, step.text))
        if not isinstance(value, InspectionResult):
            raise CardError(f"step {step.number}: the GUI answered an inspection with {value!r}")
        return value

    def on_failure(self, step: Step, attempt: int) -> str:
        value = self._request(
            OperatorRequest("failure", step, step.text, FAILURE_CHOICES, attempt=attempt)
        )
        return str(value)

    def cancel_all(self, reason: str, *, for_good: bool = False) -> None:
        """Release every waiting worker with ``OperatorCancelled(reason)``; later questions are
        refused the same way until the next card starts (for ever with ``for_good``: the GUI
        is closing)."""
        with self._lock:
            self._cancelled = reason
            self._closed = self._closed or for_good
            pending = list(self._open)
        for request in pending:
            request.cancel(reason)
