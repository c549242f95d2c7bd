"""Operators: whoever answers a card's prompts, judges its inspections and decides after a
failure. ``ConsoleOperator`` asks at the terminal; ``ScriptedOperator`` reads a TOML answers
file (CI); the GUI provides a third implementation of the same ``Operator`` protocol.

Answers file (keys are card numbers, then step numbers as strings)::

    ["LL-31-10-00-710-801"]
    "3" = { passed = true, comment = "pins OK", evidence = "photos/j1.jpg" }
    "4" = "yes"
    "5" = ["no", "yes"]        # one answer per attempt; the last repeats
    on_failure = "abort"       # or { "4" = "retry" }: used with pause-on-failure

A missing answer raises ``CardError`` naming the answers file, card and step.
"""

from __future__ import annotations

import hashlib
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from hil.cards.model import Card, CardError, InspectionStep, PromptStep, Step

FAILURE_CHOICES = ("retry", "continue", "abort")
"""What an operator may decide after a failed attempt (pause-on-failure)."""


@dataclass(frozen=True)
class InspectionResult:
    """An inspector's judgement of one inspection step."""

    passed: bool
    comment: str = ""
    evidence: Path | None = None


class Operator(Protocol):
    """The person (or script) at the bench. The runner calls ``start_card(card)`` first when an
    operator has that method."""

    def ask(self, step: Step, question: str, answers: tuple[str, ...]) -> str:
        """One of ``answers``."""
        ...

    def inspect(self, step: InspectionStep) -> InspectionResult: ...

    def on_failure(self, step: Step, attempt: int) -> str:
        """``"retry"``, ``"continue"`` or ``"abort"`` after attempt ``attempt`` failed."""
        ...


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ConsoleOperator:
    """Asks at the terminal. ``read``/``out`` default to ``input`` and stdout (injectable)."""

    def __init__(
        self, read: Callable[[str], str] | None = None, out: IO[str] | None = None
    ) -> None:
        self._read = read or input
        self._out = out or sys.stdout

    def _say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _choose(self, question: str, answers: tuple[str, ...]) -> str:
        while True:
            reply = self._read(f"{question} [{'/'.join(answers)}] ").strip()
            matches = [a for a in answers if a.lower() == reply.lower()]
            if not matches:
                matches = [a for a in answers if reply and a.lower().startswith(reply.lower())]
            if len(matches) == 1:
                return matches[0]
            self._say(f"  please answer one of: {', '.join(answers)}")

    def ask(self, step: Step, question: str, answers: tuple[str, ...]) -> str:
        return self._choose(f"step {step.number}: {question}", answers)

    def inspect(self, step: InspectionStep) -> InspectionResult:
        self._say(f"step {step.number}: {step.text}")
        self._say(f"  criterion: {step.criterion}")
        verdict = self._choose("  criterion met?", ("yes", "no"))
        comment = self._read("  comment: ").strip()
        evidence: Path | None = None
        if step.evidence:
            while True:
                text = self._read("  evidence file (empty for none): ").strip()
                if not text:
                    break
                candidate = Path(text).expanduser()
                if candidate.is_file():
                    evidence = candidate
                    break
                self._say(f"  no such file: {candidate}")
        return InspectionResult(verdict == "yes", comment, evidence)

    def on_failure(self, step: Step, attempt: int) -> str:
        return self._choose(f"step {step.number} attempt {attempt} failed:", FAILURE_CHOICES)


class ScriptedOperator:
    """Answers from a TOML answers file (see the module docstring). Raises ``CardError`` naming
    file, card and step when an answer is missing or malformed."""

    def __init__(self, answers_file: str | Path) -> None:
        self.path = Path(answers_file)
        try:
            with self.path.open("rb") as stream:
                self._data: dict[str, Any] = tomllib.load(stream)
        except FileNotFoundError as err:
            raise CardError(f"{self.path}: answers file not found") from err
        except tomllib.TOMLDecodeError as err:
            raise CardError(f"{self.path}: not valid TOML: {err}") from err
        for number, table in self._data.items():
            if not isinstance(table, dict):
                raise CardError(f"{self.path}: [{number}] must be a table of step answers")
        self._card: Card | None = None
        self._calls: dict[int, int] = {}

    def start_card(self, card: Card) -> None:
        self._card = card
        self._calls = {}

    def _answers(self) -> tuple[str, Mapping[str, Any]]:
        if self._card is None:
            raise CardError(f"{self.path}: no card started (the runner calls start_card)")
        number = self._card.number
        return number, self._data.get(number, {})

    def _lookup(self, step: Step) -> Any:
        number, table = self._answers()
        if str(step.number) not in table:
            raise CardError(
                f"{self.path}: no scripted answer for card {number} step {step.number} "
                f"({step.kind}: {step.text})"
            )
        return table[str(step.number)]

    def _next_answer(self, step: Step) -> Any:
        """The answer for this call: a list gives one answer per attempt, the last repeats."""
        value = self._lookup(step)
        calls = self._calls[step.number] = self._calls.get(step.number, 0) + 1
        if isinstance(value, list) and value:
            return value[min(calls, len(value)) - 1]
        return value

    def check(self, card: Card) -> None:
        """Raise ``CardError`` now if any prompt or inspection of ``card`` has no answer."""
        table = self._data.get(card.number, {})
        missing = [
            str(item.number)
            for item in card.steps
            if isinstance(item, PromptStep | InspectionStep) and str(item.number) not in table
        ]
        if missing:
            raise CardError(
                f"{self.path}: no scripted answer for card {card.number} "
                f"step{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            )

    def ask(self, step: Step, question: str, answers: tuple[str, ...]) -> str:
        number, _ = self._answers()
        value = self._next_answer(step)
        if not isinstance(value, str):
            raise CardError(
                f"{self.path}: card {number} step {step.number}: answer must be a string, "
                f"got {value!r}"
            )
        return value

    def inspect(self, step: InspectionStep) -> InspectionResult:
        number, _ = self._answers()
        where = f"{self.path}: card {number} step {step.number}"
        value = self._next_answer(step)
        if not isinstance(value, dict):
            raise CardError(f'{where}: expected {{ passed = true, comment = "..." }}')
        unknown = sorted(set(value) - {"passed", "comment", "evidence"})
        if unknown:
            raise CardError(f"{where}: unknown key {unknown[0]!r}")
        passed = value.get("passed")
        if not isinstance(passed, bool):
            raise CardError(f"{where}: passed must be true or false")
        comment = value.get("comment", "")
        if not isinstance(comment, str):
            raise CardError(f"{where}: comment must be a string")
        evidence: Path | None = None
        if "evidence" in value:
            evidence = Path(str(value["evidence"]))
            if not evidence.is_absolute():
                evidence = self.path.parent / evidence
            if not evidence.is_file():
                raise CardError(f"{where}: evidence file not found: {evidence}")
        return InspectionResult(passed, comment, evidence)

    def on_failure(self, step: Step, attempt: int) -> str:
        """The scripted decision; without one, the step's own rule (continue or abort)."""
        number, table = self._answers()
        value = table.get("on_failure")
        if isinstance(value, dict):
            value = value.get(str(step.number))
        if value is None:
            return "continue" if step.on_fail == "continue" else "abort"
        if value not in FAILURE_CHOICES:
            raise CardError(
                f"{self.path}: card {number}: on_failure must be one of {FAILURE_CHOICES}, "
                f"got {value!r}"
            )
        return str(value)
