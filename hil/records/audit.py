"""Verifying the whole store: every run, the people registry, and completeness against the
newest trusted checkpoint (``hil.records.checkpoint``).

``verify_store`` names every run the checkpoint saw that is now deleted, truncated or changed,
a registry that does not verify or lost events since, and every run that fails ``verify``.
Runs started after the checkpoint are verified as chains; what the witnesses cannot have seen
yet (the events after the newest checkpoint) no check can vouch for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hil.records.checkpoint import registry_problem
from hil.records.errors import StorageError
from hil.records.store import RecordStore
from hil.records.verify import VerifyContext, VerifyReport, verify


@dataclass
class StoreReport:
    """Per-run reports, problems of the store as a whole, and notes (what was not checked)."""

    runs: list[VerifyReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    """One line per run whose pages cannot be read (a damaged file): the run and the error."""
    checkpoint: str = ""
    """The checkpoint the store was checked against ("" when none could be trusted)."""

    @property
    def ok(self) -> bool:
        return not (self.problems or self.unreadable) and all(r.ok for r in self.runs)

    def lines(self) -> list[str]:
        lines = [report.describe() for report in self.runs] + list(self.unreadable)
        lines += [f"store: {problem}" for problem in self.problems]
        lines += [f"note: {note}" for note in self.notes]
        if self.checkpoint:
            lines.append(f"checked against {self.checkpoint}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "runs": [report.to_dict() for report in self.runs],
            "problems": list(self.problems),
            "notes": list(self.notes),
            "unreadable": list(self.unreadable),
            "checkpoint": self.checkpoint,
        }


def verify_store(store: RecordStore, *, check_attachments: bool = True) -> StoreReport:
    """Verify every run and the registry, and the store against the newest trusted checkpoint.
    Raises ``StorageError`` when the store cannot be read."""
    context = VerifyContext.of(store)
    registry = context.registry
    found = context.completeness
    report = StoreReport(notes=list(found.notes))
    if found.checkpoint is not None:
        report.checkpoint = f"{found.checkpoint.name}, signed by " + _signer(found.checkpoint.body)
    if registry.problem is not None:
        report.problems.append(registry.describe_problem())
    stored = store.people.registry_events()
    if not stored and store.trust.admins:
        report.problems.append(
            "the people registry is empty, but the trust file names administrators (deleted?)"
        )
    problem = registry_problem(found, stored)
    if problem:
        report.problems.append(problem)
    runs = store.runs()
    known = {info.run_id for info in runs}
    if found.checkpoint is not None:
        heads = store.heads()
        for run_id, (count, _head) in sorted(found.checkpoint.runs.items()):
            if run_id in known:
                continue
            if run_id in heads:
                report.problems.append(
                    f"run {run_id}: missing from the runs index, its events remain "
                    f"({found.checkpoint.name} saw {count} events)"
                )
            else:
                report.problems.append(
                    f"run {run_id}: deleted ({found.checkpoint.name} saw {count} events)"
                )
    for info in runs:
        try:
            report.runs.append(
                verify(store, info.run_id, check_attachments=check_attachments, context=context)
            )
        except StorageError as err:  # this run's pages are damaged: name it, go on
            report.unreadable.append(f"run {info.run_id}: UNREADABLE: {err}")
    return report


def _signer(body: dict[str, Any]) -> str:
    signer = body.get("signer") or {}
    return f"{signer.get('kind', '?')} {signer.get('id', '?')}"
