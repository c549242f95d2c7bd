"""What a run's events say: steps and their attempts, RII steps, performers and signatures.

Sign-off rules, verification and export all read a run through ``RunState.from_events``; it
never touches storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hil.records.store import Event


class Meaning(StrEnum):
    """What a signature attests."""

    PERFORMED = "performed"
    INSPECTED = "inspected"
    APPROVED = "approved"


@dataclass
class Signature:
    """A signature event as the record shows it."""

    seq: int
    meaning: str
    person_id: str
    printed_name: str
    signed_utc: str
    steps: tuple[int, ...]
    """Covered steps; empty for a signature on the whole card."""
    payload: dict[str, Any]

    @property
    def on_card(self) -> bool:
        return not self.steps

    def covers(self, step: int) -> bool:
        return self.on_card or step in self.steps


@dataclass
class RunState:
    run_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    attempts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Step number -> attempt payloads in record order (corrections not applied)."""
    rii_steps: set[int] = field(default_factory=set)
    signatures: list[Signature] = field(default_factory=list)
    corrections: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    redlines: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    attachments: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    teardown: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    interrupted: dict[str, Any] | None = None

    @classmethod
    def from_events(cls, run_id: str, events: Sequence[Event]) -> RunState:
        state = cls(run_id)
        for event in events:
            state.add(event)
        return state

    def add(self, event: Event) -> None:
        kind = event.kind
        if kind not in _KINDS_READ:
            return
        payload = event.payload
        if kind == "run_started":
            self.meta = payload
        elif kind == "attempt":
            step = int(payload.get("step", 0))
            self.attempts.setdefault(step, []).append(payload)
            if payload.get("rii"):
                self.rii_steps.add(step)
        elif kind == "signature":
            self.signatures.append(
                Signature(
                    seq=event.seq,
                    meaning=str(payload.get("meaning")),
                    person_id=str(payload.get("person_id")),
                    printed_name=str(payload.get("printed_name")),
                    signed_utc=str(payload.get("signed_utc")),
                    steps=tuple(int(s) for s in payload.get("steps", [])),
                    payload=payload,
                )
            )
        elif kind == "correction":
            self.corrections.append((event.seq, payload))
        elif kind == "redline":
            self.redlines.append((event.seq, payload))
        elif kind == "attachment":
            self.attachments.append((event.seq, payload))
        elif kind == "teardown":
            self.teardown = payload
        elif kind == "run_finished":
            self.finished = payload
        elif kind == "run_interrupted":
            self.interrupted = payload

    @property
    def card_number(self) -> str:
        card = self.meta.get("card") or {}
        return str(card.get("number", "")) if isinstance(card, dict) else ""

    @property
    def operator_id(self) -> str:
        return str(self.meta.get("operator_id", ""))

    @property
    def steps(self) -> list[int]:
        return sorted(self.attempts)

    def complete(self, step: int) -> bool:
        """The step ran to an end (any outcome but SKIPPED/ABORTED) in at least one attempt."""
        return any(
            int(a.get("attempt", 0)) >= 1
            and a.get("finished_utc")
            and a.get("outcome") not in ("SKIPPED", "ABORTED")
            for a in self.attempts.get(step, [])
        )

    def performers(self, step: int) -> set[str]:
        """Who performed ``step``: the run's operator and everyone who signed it 'performed'."""
        people = {self.operator_id} if self.operator_id else set()
        people.update(
            s.person_id
            for s in self.signatures
            if s.meaning == Meaning.PERFORMED and s.covers(step)
        )
        return people

    def signed(self, step: int, meaning: Meaning) -> list[Signature]:
        return [s for s in self.signatures if s.meaning == meaning and s.covers(step)]

    def outstanding_rii(self) -> list[int]:
        """RII steps without an inspector's signature yet."""
        return [step for step in sorted(self.rii_steps) if not self.signed(step, Meaning.INSPECTED)]


_KINDS_READ = frozenset(
    {
        "run_started",
        "attempt",
        "signature",
        "correction",
        "redline",
        "attachment",
        "teardown",
        "run_finished",
        "run_interrupted",
    }
)
