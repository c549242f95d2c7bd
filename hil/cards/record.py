"""The as-run record of one card run, and its two file formats: JSON and JUnit XML (the
latter also for a run that could not start).

The record keeps every attempt of every step as it happened (a retry is a new entry; raw values
are never overwritten), the limits beside each value, monitor excursions, operator answers and
logs, the teardown's outcome, and what the run was bound to: the card's content hash, the lander,
the operator, the bench configuration (with its text) and the software version. The runner fills
it in; this module only stores and writes it.
"""

from __future__ import annotations

import json
import math
import platform
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hil.cards.model import limits_text


class Outcome(StrEnum):
    """Outcome of a step attempt, the teardown or a whole run."""

    PASS = "PASS"
    MARGINAL = "MARGINAL"
    """Within limits but inside the marginal band: a pass, flagged for attention."""
    FAIL = "FAIL"
    ERROR = "ERROR"
    """A device stopped answering or its link failed during the step."""
    SKIPPED = "SKIPPED"
    """Not performed: an earlier step failed with ``on_fail="stop"``."""
    ABORTED = "ABORTED"
    """Not completed: the operator aborted or the run was interrupted."""

    @property
    def passed(self) -> bool:
        return self in (Outcome.PASS, Outcome.MARGINAL)


@dataclass
class Excursion:
    """A monitored signal leaving its red or yellow band during a step."""

    signal: str
    band: str
    """``"red"`` (the step fails) or ``"yellow"`` (a warning)."""
    low: float | None
    high: float | None
    unit: str
    value: float
    """The first value outside the band."""
    timestamp_s: float
    """Bench-clock time of that value."""
    t_step_s: float
    """Seconds after the attempt started."""
    worst: float
    """The value farthest outside the band while it stayed outside."""
    samples: int = 1
    """How many consecutive samples were outside."""

    def describe(self) -> str:
        band = _band_text(self.low, self.high, self.unit)
        return (
            f"monitor {self.signal} left {self.band} band {band}: {self.value:g} {self.unit} "
            f"at t+{self.t_step_s:.2f} s (worst {self.worst:g}, {self.samples} samples)"
        )


def _band_text(low: float | None, high: float | None, unit: str) -> str:
    low_text = "-inf" if low is None else f"{low:g}"
    high_text = "+inf" if high is None else f"{high:g}"
    return f"[{low_text}, {high_text}] {unit}".rstrip()


@dataclass
class AttemptRecord:
    """One attempt at one step, as it ran."""

    step: int
    kind: str
    text: str
    attempt: int
    """1 for the first attempt; 0 for a step that never ran (SKIPPED or ABORTED)."""
    rii: bool = False
    started_utc: str | None = None
    finished_utc: str | None = None
    duration_s: float = 0.0
    outcome: Outcome = Outcome.SKIPPED
    error: str | None = None
    exception: str | None = None
    """The class name of the exception the step raised, if it raised one (JUnit ``<error>``)."""
    logs: list[dict[str, str]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    """Extra values recorded with ``ctx.record`` (no limits)."""
    excursions: list[Excursion] = field(default_factory=list)
    # measurement
    name: str | None = None
    value: float | None = None
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    marginal: float | None = None
    polled_values: list[float] = field(default_factory=list)
    """Every value a wait-until measurement read; the last one counts."""
    # prompt
    question: str | None = None
    answers: tuple[str, ...] | None = None
    expect: str | None = None
    answer: str | None = None
    # inspection
    criterion: str | None = None
    passed: bool | None = None
    comment: str | None = None
    evidence: str | None = None
    evidence_sha256: str | None = None

    def limits_text(self) -> str:
        """``9.5 .. 10.5 Hz`` style limits of a measurement ("" for other kinds)."""
        if self.kind != "measurement":
            return ""
        return limits_text(self.low, self.high, self.unit or "")

    def result_text(self) -> str:
        """What the step produced, for tables: a value with its limits, an answer, a verdict."""
        if self.kind == "measurement" and self.value is not None:
            unit = f" {self.unit}" if self.unit else ""
            return f"{self.value:.6g}{unit} ({self.limits_text()})"
        if self.kind == "prompt" and self.answer is not None:
            return f"answer {self.answer!r}" + (f" (expect {self.expect!r})" if self.expect else "")
        if self.kind == "inspection" and self.passed is not None:
            verdict = "satisfactory" if self.passed else "unsatisfactory"
            return verdict + (f": {self.comment}" if self.comment else "")
        return ""

    def failure_text(self) -> str:
        """Why the attempt did not pass, in one line ("" when it passed)."""
        if self.outcome.passed:
            return ""
        parts = []
        if self.kind == "measurement" and self.value is not None:
            parts.append(
                f"{self.name} = {self.value:.6g} {self.unit or ''} outside limits "
                f"{self.limits_text()}".replace("  ", " ")
            )
        if self.error:
            parts.append(self.error)
        if not parts:
            parts.append(self.result_text() or self.outcome.value)
        return "; ".join(dict.fromkeys(parts))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": self.step,
            "kind": self.kind,
            "text": self.text,
            "attempt": self.attempt,
            "rii": self.rii,
            "started_utc": self.started_utc,
            "finished_utc": self.finished_utc,
            "duration_s": round(self.duration_s, 6),
            "outcome": self.outcome.value,
        }
        if self.kind == "measurement":
            data.update(
                name=self.name,
                value=self.value,
                unit=self.unit,
                low=self.low,
                high=self.high,
                marginal=self.marginal,
            )
            if len(self.polled_values) > 1:
                data["polled_values"] = self.polled_values
        elif self.kind == "prompt":
            data.update(
                question=self.question,
                answers=list(self.answers or ()),
                expect=self.expect,
                answer=self.answer,
            )
        elif self.kind == "inspection":
            data.update(
                criterion=self.criterion,
                passed=self.passed,
                comment=self.comment,
                evidence=self.evidence,
                evidence_sha256=self.evidence_sha256,
            )
        data["excursions"] = [vars(item).copy() for item in self.excursions]
        data["values"] = self.values
        data["logs"] = self.logs
        data["error"] = self.error
        if self.exception is not None:
            data["exception"] = self.exception
        return data


@dataclass
class TeardownRecord:
    outcome: Outcome = Outcome.SKIPPED
    """PASS when the teardown returned, FAIL/ERROR when it raised, SKIPPED if the card has none."""
    started_utc: str | None = None
    finished_utc: str | None = None
    error: str | None = None
    exception: str | None = None
    """The class name of the exception the teardown raised, if it raised one."""
    logs: list[dict[str, str]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "outcome": self.outcome.value,
            "started_utc": self.started_utc,
            "finished_utc": self.finished_utc,
            "error": self.error,
            "logs": self.logs,
            "values": self.values,
        }
        if self.exception is not None:
            data["exception"] = self.exception
        return data


@dataclass
class AsRunRecord:
    """Everything about one run of one card revision. ``to_json``/``save``/``to_junit`` write it."""

    card: dict[str, Any]
    """number, revision, title, effectivity, interval, content_sha256, source."""
    lander: str
    operator_id: str
    bench: dict[str, Any]
    """name, config_path, config_text, can_channel."""
    software: dict[str, str]
    started_utc: str
    finished_utc: str | None = None
    outcome: Outcome = Outcome.ABORTED
    attempts: list[AttemptRecord] = field(default_factory=list)
    teardown: TeardownRecord = field(default_factory=TeardownRecord)
    aborted_reason: str | None = None

    @property
    def number(self) -> str:
        return str(self.card["number"])

    def final_attempts(self) -> list[AttemptRecord]:
        """The last attempt of every step, in step order."""
        last: dict[int, AttemptRecord] = {}
        for entry in self.attempts:
            last[entry.step] = entry
        return list(last.values())

    def attempts_of(self, step: int) -> list[AttemptRecord]:
        return [entry for entry in self.attempts if entry.step == step]

    def summary(self) -> str:
        """One line per step that did not pass, for assertion messages and the terminal."""
        lines = [f"card {self.number}: {self.outcome.value}"]
        for entry in self.final_attempts():
            if not entry.outcome.passed:
                lines.append(
                    f"  step {entry.step} attempt {entry.attempt} {entry.outcome.value}: "
                    f"{entry.failure_text()}"
                )
        if self.teardown.outcome not in (Outcome.PASS, Outcome.SKIPPED):
            lines.append(f"  teardown {self.teardown.outcome.value}: {self.teardown.error}")
        if self.aborted_reason:
            lines.append(f"  aborted: {self.aborted_reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "hil.cards.as-run/1",
            "card": self.card,
            "lander": self.lander,
            "operator_id": self.operator_id,
            "bench": self.bench,
            "software": self.software,
            "started_utc": self.started_utc,
            "finished_utc": self.finished_utc,
            "outcome": self.outcome.value,
            "aborted_reason": self.aborted_reason,
            "attempts": [entry.to_dict() for entry in self.attempts],
            "teardown": self.teardown.to_dict(),
        }

    def to_json(self) -> str:
        """Strict JSON: a non-finite number (a NaN reading) is written as the string "nan"."""
        return json.dumps(_finite(self.to_dict()), indent=2, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        """Write the JSON record (folders are created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    def default_name(self) -> str:
        """``<card number>-<UTC start, compact>.json``."""
        stamp = self.started_utc.replace("-", "").replace(":", "").split(".")[0]
        return f"{self.number}-{stamp}Z.json"

    def to_junit(self, path: str | Path) -> Path:
        """Write JUnit XML (folders are created); returns the path.

        One testcase per step (its last attempt) carrying properties a dashboard can plot:
        ``outcome``, ``attempt``, ``attempts``, ``rii`` and, for a measurement, ``name``,
        ``value``, ``unit``, ``low``, ``high`` and ``marginal`` (the band inside each limit that
        is flagged MARGINAL). A value outside its limits (or a wrong answer, an unsatisfactory
        inspection) is a ``<failure>``; an exception raised by the step or a link that failed is
        an ``<error>`` whose type is the exception class. A card with a teardown reports it as
        one more testcase, ``teardown``.
        """
        suite = ET.Element("testsuite")
        suite.set("name", f"{self.number} rev {self.card['revision']}: {self.card['title']}")
        suite.set("timestamp", self.started_utc)
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("card.number", self.number),
            ("card.revision", str(self.card["revision"])),
            ("card.content_sha256", str(self.card["content_sha256"])),
            ("lander", self.lander),
            ("operator_id", self.operator_id),
            ("outcome", self.outcome.value),
            ("hil.version", self.software.get("hil", "")),
        ):
            ET.SubElement(properties, "property", name=name, value=value)
        total_s = 0.0
        for entry in self.final_attempts():
            tries = self.attempts_of(entry.step)
            duration_s = sum(a.duration_s for a in tries)
            total_s += duration_s
            case = ET.SubElement(
                suite, "testcase", classname=self.number, name=f"step {entry.step}: {entry.text}"
            )
            case.set("time", f"{duration_s:.3f}")
            _junit_properties(case, _step_properties(entry, len(tries)))
            message = f"attempt {entry.attempt}: {entry.failure_text()}"
            _junit_result(case, entry.outcome, entry.exception, message)
            out = [f"{entry.outcome.value} {entry.result_text()}".rstrip()]
            out += [f"{line['utc']} {line['text']}" for line in entry.logs]
            out += [item.describe() for item in entry.excursions]
            ET.SubElement(case, "system-out").text = "\n".join(out)
        teardown = self.teardown
        if teardown.outcome != Outcome.SKIPPED:  # SKIPPED: the card has no teardown
            case = ET.SubElement(suite, "testcase", classname=self.number, name="teardown")
            _junit_properties(case, {"outcome": teardown.outcome.value})
            text = teardown.error or f"teardown {teardown.outcome.value}"
            # a teardown fails only by raising: every failure of it is an <error>
            _junit_result(case, teardown.outcome, teardown.exception or "TEARDOWN", text)
            if teardown.logs:
                logs = "\n".join(f"{line['utc']} {line['text']}" for line in teardown.logs)
                ET.SubElement(case, "system-out").text = logs
        return _write_junit(suite, path, total_s)


def junit_for_error(
    path: str | Path, name: str, message: str, error_type: str, classname: str = "hil"
) -> Path:
    """Write a JUnit file holding one ``<error>`` testcase ``name``: a run that could not start
    (the bench file was not found, a link was refused, the card did not load) still leaves a
    report a pipeline reads. Returns the path."""
    suite = ET.Element("testsuite", name=name)
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    case.set("time", "0.000")
    ET.SubElement(case, "error", message=message, type=error_type).text = message
    return _write_junit(suite, path, 0.0)


def _step_properties(entry: AttemptRecord, attempts: int) -> dict[str, object]:
    properties: dict[str, object] = {
        "step": entry.step,
        "kind": entry.kind,
        "outcome": entry.outcome.value,
        "attempt": entry.attempt,
        "attempts": attempts,
        "rii": entry.rii,
    }
    if entry.kind == "measurement":
        properties.update(
            name=entry.name,
            value=entry.value,
            unit=entry.unit,
            low=entry.low,
            high=entry.high,
            marginal=entry.marginal,
        )
    return properties


def _junit_properties(case: ET.Element, values: dict[str, object]) -> None:
    """``<properties>`` of a testcase; a missing value (an open limit) is left out."""
    element = ET.SubElement(case, "properties")
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value) if math.isfinite(value) else str(value)
        else:
            text = str(value)
        ET.SubElement(element, "property", name=name, value=text)


def _junit_result(case: ET.Element, outcome: Outcome, exception: str | None, message: str) -> None:
    """The result element of a testcase: none for a pass, ``<error>`` when something raised or
    a link failed, ``<failure>`` for a judged failure, ``<skipped>`` for steps not performed."""
    if outcome == Outcome.ERROR or (outcome == Outcome.FAIL and exception is not None):
        kind = exception or "ERROR"
        ET.SubElement(case, "error", message=message, type=kind).text = message
    elif outcome == Outcome.FAIL:
        ET.SubElement(case, "failure", message=message, type="FAIL").text = message
    elif outcome == Outcome.ABORTED and exception is not None:
        ET.SubElement(case, "error", message=message, type=exception).text = message
    elif outcome in (Outcome.SKIPPED, Outcome.ABORTED):
        ET.SubElement(case, "skipped", message=outcome.value)


def _write_junit(suite: ET.Element, path: str | Path, total_s: float) -> Path:
    """Count the testcases' results into ``suite``, wrap it in ``<testsuites>`` and write it."""
    cases = suite.findall("testcase")
    counts = {
        kind: sum(case.find(kind) is not None for case in cases)
        for kind in ("failure", "error", "skipped")
    }
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{total_s:.3f}")
    suites = ET.Element("testsuites", name="hil cards")
    for name in ("tests", "failures", "errors", "skipped", "time"):
        suites.set(name, suite.get(name, ""))
    suites.append(suite)
    ET.indent(suites)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _finite(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return repr(data)
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def software_versions() -> dict[str, str]:
    """The bench software that ran the card: ``hil`` and Python versions."""
    from hil import __version__

    return {"hil": __version__, "python": platform.python_version()}
