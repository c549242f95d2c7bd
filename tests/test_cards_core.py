"""The test-card core: limits and outcomes, retries, teardown, monitors, operators, load errors,
records (JSON, JUnit) and the ``hil run`` / ``hil cards list`` commands.

Runs on the simulated bench (free-running, wall clock). Cards built inside a test are wrapped
in a ``LoadedCard`` directly; the card files in ``tests/cards/`` exercise the loader and CLI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

import hil
import hil.cli.main
from hil.bench import Bench
from hil.cards import (
    AsRunRecord,
    Card,
    CardError,
    ConsoleOperator,
    InspectionResult,
    InspectionStep,
    LoadedCard,
    Monitor,
    Outcome,
    RunListener,
    ScriptedOperator,
    Step,
    StepContext,
    action,
    inspection,
    judge,
    load_card,
    measurement,
    prompt,
    run_card,
    step,
)
from hil.cli.cards import add_commands
from hil.core.config import BenchConfig

CARDS = Path(__file__).resolve().parent / "cards"
GOOD_CARD = CARDS / "good_card.py"
GOOD_ANSWERS = CARDS / "answers.toml"
LANDER = "HR-M3-SN002"


class StubOperator:
    """Answers every prompt with ``answer``, every inspection with ``passed``; records the
    decisions it was asked for."""

    def __init__(
        self, answer: str = "yes", passed: bool = True, decisions: Sequence[str] = ()
    ) -> None:
        self.answer = answer
        self.passed = passed
        self.decisions = list(decisions)
        self.asked_on_failure: list[tuple[int, int]] = []

    def ask(self, step: Step, question: str, answers: tuple[str, ...]) -> str:
        return self.answer

    def inspect(self, step: InspectionStep) -> InspectionResult:
        return InspectionResult(self.passed, "looked at it")

    def on_failure(self, step: Step, attempt: int) -> str:
        self.asked_on_failure.append((step.number, attempt))
        return self.decisions.pop(0)


class Keeper(RunListener):
    """Keeps the finished record (also when the run is interrupted)."""

    def __init__(self) -> None:
        self.record: AsRunRecord | None = None
        self.lines: list[str] = []

    def attempt_finished(self, entry: object) -> None:
        self.lines.append(str(entry))

    def finished(self, record: AsRunRecord) -> None:
        self.record = record


def make_card(*steps: Step, teardown: Callable[[StepContext], None] | None = None) -> LoadedCard:
    card = Card(
        number="LL-99-00-00-710-100",
        revision="A",
        title="Runner test card",
        effectivity=("HR-M3",),
        steps=steps,
        teardown=teardown,
    )
    return LoadedCard(card, Path(__file__), "0" * 64)


def run(
    loaded: LoadedCard,
    bench: Bench,
    operator: object | None = None,
    listener: RunListener | None = None,
    pause_on_failure: bool = False,
) -> AsRunRecord:
    return run_card(
        loaded,
        bench,
        operator or StubOperator(),  # type: ignore[arg-type]
        lander=LANDER,
        operator_id="tech.test",
        listener=listener,
        pause_on_failure=pause_on_failure,
    )


def constant(value: float) -> Callable[[StepContext], float]:
    return lambda ctx: value


def sequence(*values: float) -> Callable[[StepContext], float]:
    """Returns the values in turn, then repeats the last one."""
    remaining = list(values)

    def measure(ctx: StepContext) -> float:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return measure


# -- limits ----------------------------------------------------------------------------------


def test_judge_gives_pass_marginal_and_fail_from_limits() -> None:
    assert judge(10.0, 9.5, 10.5, 0.1) == Outcome.PASS
    assert judge(10.45, 9.5, 10.5, 0.1) == Outcome.MARGINAL
    assert judge(9.55, 9.5, 10.5, 0.1) == Outcome.MARGINAL
    assert judge(10.6, 9.5, 10.5, 0.1) == Outcome.FAIL
    assert judge(9.4, 9.5, 10.5, 0.1) == Outcome.FAIL
    assert judge(1e9, None, None) == Outcome.PASS
    assert judge(float("nan"), None, 1.0) == Outcome.FAIL
    assert judge(5.0, None, 5.0) == Outcome.PASS  # limits are inclusive


def test_measurement_outcomes_come_from_limits_and_marginal_passes(hil_sim_bench: Bench) -> None:
    loaded = make_card(
        measurement(1, "In the middle.", name="a", unit="Hz", low=9.5, high=10.5,
                    marginal=0.1, measure=constant(10.0), on_fail="continue"),
        measurement(2, "Near the top.", name="b", unit="Hz", low=9.5, high=10.5,
                    marginal=0.1, measure=constant(10.45), on_fail="continue"),
        measurement(3, "Above the top.", name="c", unit="Hz", low=9.5, high=10.5,
                    marginal=0.1, measure=constant(10.51), on_fail="continue"),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    outcomes = [entry.outcome for entry in record.attempts]
    assert outcomes == [Outcome.PASS, Outcome.MARGINAL, Outcome.FAIL]
    assert record.outcome == Outcome.FAIL
    assert "10.51" in record.attempts[2].failure_text()
    assert "9.5 .. 10.5 Hz" in record.attempts[2].failure_text()


def test_all_marginal_card_passes(hil_sim_bench: Bench) -> None:
    loaded = make_card(
        measurement(1, "Near the bottom.", name="a", unit="V", low=27.0, high=29.0,
                    marginal=0.2, measure=constant(27.1)),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    assert record.attempts[0].outcome == Outcome.MARGINAL
    assert record.outcome == Outcome.PASS


def test_wait_until_remeasures_until_inside_limits(hil_sim_bench: Bench) -> None:
    loaded = make_card(
        measurement(1, "Wait for the throttle to settle.", name="throttle", unit="%",
                    low=49.5, high=50.5, measure=sequence(0.0, 20.0, 45.0, 50.1),
                    wait_until_s=5.0, poll_s=0.01),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    entry = record.attempts[0]
    assert entry.outcome == Outcome.PASS
    assert entry.value == 50.1
    assert entry.polled_values == [0.0, 20.0, 45.0, 50.1]
    assert record.to_dict()["attempts"][0]["polled_values"] == [0.0, 20.0, 45.0, 50.1]


def test_wait_until_times_out_and_the_last_value_counts(hil_sim_bench: Bench) -> None:
    loaded = make_card(
        measurement(1, "Wait for a value that never comes.", name="x", unit="m",
                    low=10.0, high=20.0, measure=sequence(1.0, 2.0, 3.0),
                    wait_until_s=0.1, poll_s=0.02),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    entry = record.attempts[0]
    assert entry.outcome == Outcome.FAIL
    assert entry.value == 3.0
    assert len(entry.polled_values) >= 3
    assert any("not within limits after 0.1 s" in line["text"] for line in entry.logs)


# -- attempts, on_fail, teardown -------------------------------------------------------------


def test_retry_is_a_new_attempt_and_keeps_the_old_value(hil_sim_bench: Bench) -> None:
    loaded = make_card(
        measurement(1, "Measure twice if needed.", name="v", unit="V", low=27.0, high=29.0,
                    measure=sequence(31.0, 28.0), attempts=2),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    assert [(e.attempt, e.value, e.outcome) for e in record.attempts] == [
        (1, 31.0, Outcome.FAIL),
        (2, 28.0, Outcome.PASS),
    ]
    assert record.outcome == Outcome.PASS
    assert [a["value"] for a in record.to_dict()["attempts"]] == [31.0, 28.0]


def test_on_fail_continue_runs_the_next_step_and_the_card_fails(hil_sim_bench: Bench) -> None:
    ran: list[int] = []
    loaded = make_card(
        action(1, "Fail.", run=lambda ctx: (_ for _ in ()).throw(RuntimeError("valve stuck")),
               on_fail="continue"),
        action(2, "Carry on.", run=lambda ctx: ran.append(2)),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    assert ran == [2]
    assert [e.outcome for e in record.attempts] == [Outcome.FAIL, Outcome.PASS]
    assert "RuntimeError: valve stuck" in (record.attempts[0].error or "")
    assert record.outcome == Outcome.FAIL


def test_on_fail_stop_skips_the_remaining_steps(hil_sim_bench: Bench) -> None:
    ran: list[int] = []
    loaded = make_card(
        measurement(1, "Out of limits.", name="x", unit="A", high=1.0, measure=constant(2.0)),
        action(2, "Never runs.", run=lambda ctx: ran.append(2)),
        action(3, "Never runs either.", run=lambda ctx: ran.append(3)),
    )
    record = run(loaded, hil_sim_bench)
    assert ran == []
    assert [(e.step, e.attempt, e.outcome) for e in record.attempts] == [
        (1, 1, Outcome.FAIL),
        (2, 0, Outcome.SKIPPED),
        (3, 0, Outcome.SKIPPED),
    ]
    assert record.outcome == Outcome.FAIL


def _teardown_log(events: list[str]) -> Callable[[StepContext], None]:
    def teardown(ctx: StepContext) -> None:
        events.append(f"teardown saw {sorted(ctx.state)}")
        ctx.log("streams stopped")

    return teardown


def test_teardown_runs_after_a_failure(hil_sim_bench: Bench) -> None:
    events: list[str] = []
    loaded = make_card(
        action(1, "Remember something.", run=lambda ctx: ctx.state.update(armed=True)),
        measurement(2, "Fail.", name="x", unit="A", high=1.0, measure=constant(2.0)),
        teardown=_teardown_log(events),
    )
    record = run(loaded, hil_sim_bench)
    assert events == ["teardown saw ['armed']"]
    assert record.teardown.outcome == Outcome.PASS
    assert record.teardown.logs[0]["text"] == "streams stopped"


def test_teardown_runs_after_an_exception_and_a_device_timeout_is_an_error(
    hil_sim_bench: Bench,
) -> None:
    events: list[str] = []

    def wait_for_silence(ctx: StepContext) -> None:
        ctx.signals.wait_for("NoSuch_Message.Value", lambda v: True, timeout_s=0.05)

    loaded = make_card(
        action(1, "Wait for a frame nobody sends.", run=wait_for_silence),
        teardown=_teardown_log(events),
    )
    record = run(loaded, hil_sim_bench)
    assert record.attempts[0].outcome == Outcome.ERROR
    assert "DeviceTimeout" in (record.attempts[0].error or "")
    assert events == ["teardown saw []"]
    assert record.outcome == Outcome.FAIL


def test_teardown_runs_after_keyboard_interrupt_which_is_reraised(hil_sim_bench: Bench) -> None:
    events: list[str] = []

    def interrupt(ctx: StepContext) -> None:
        raise KeyboardInterrupt

    loaded = make_card(
        action(1, "Fine.", run=lambda ctx: None),
        action(2, "Ctrl-C here.", run=interrupt),
        action(3, "Never runs.", run=lambda ctx: events.append("step 3")),
        teardown=_teardown_log(events),
    )
    keeper = Keeper()
    with pytest.raises(KeyboardInterrupt):
        run(loaded, hil_sim_bench, listener=keeper)
    assert events == ["teardown saw []"]
    record = keeper.record
    assert record is not None and record.finished_utc is not None
    assert record.outcome == Outcome.ABORTED
    assert [(e.step, e.outcome) for e in record.attempts] == [
        (1, Outcome.PASS),
        (2, Outcome.ABORTED),
        (3, Outcome.ABORTED),
    ]
    assert record.teardown.outcome == Outcome.PASS


def test_a_failing_teardown_fails_the_card(hil_sim_bench: Bench) -> None:
    def broken(ctx: StepContext) -> None:
        raise RuntimeError("SAFE refused")

    record = run(
        make_card(action(1, "Fine.", run=lambda ctx: None), teardown=broken), hil_sim_bench
    )
    assert record.attempts[0].outcome == Outcome.PASS
    assert record.teardown.outcome == Outcome.FAIL
    assert "SAFE refused" in (record.teardown.error or "")
    assert record.outcome == Outcome.FAIL


def test_pause_on_failure_asks_the_operator(hil_sim_bench: Bench) -> None:
    operator = StubOperator(decisions=["retry", "retry", "abort"])
    ran: list[int] = []
    loaded = make_card(
        measurement(1, "Keeps failing.", name="x", unit="A", high=1.0, measure=constant(2.0)),
        action(2, "Never runs.", run=lambda ctx: ran.append(2)),
    )
    record = run(loaded, hil_sim_bench, operator=operator, pause_on_failure=True)
    assert operator.asked_on_failure == [(1, 1), (1, 2), (1, 3)]
    assert [(e.step, e.attempt) for e in record.attempts] == [(1, 1), (1, 2), (1, 3), (2, 0)]
    assert record.attempts[-1].outcome == Outcome.ABORTED
    assert record.outcome == Outcome.ABORTED
    assert ran == []


# -- monitors ----------------------------------------------------------------------------------


def _publishing(values: Sequence[float]) -> Callable[[StepContext], float]:
    """A measurement that drives a monitored signal through ``values`` while it runs."""

    def measure(ctx: StepContext) -> float:
        for index, value in enumerate(values):
            ctx.signals.publish_many({"Test.Temperature": value}, 100.0 + index)
        return 1.0

    return measure


def test_a_red_monitor_excursion_fails_the_step(hil_sim_bench: Bench) -> None:
    monitor = Monitor("Test.Temperature", red=(-10, 60), yellow=(0, 40), unit="degC")
    loaded = make_card(
        measurement(1, "Measure while the temperature is watched.", name="x", unit="V",
                    low=0.0, high=2.0, measure=_publishing([20, 45, 75, 80, 20]),
                    monitors=(monitor,)),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    entry = record.attempts[0]
    assert entry.value == 1.0
    assert entry.outcome == Outcome.FAIL
    red = [e for e in entry.excursions if e.band == "red"]
    assert len(red) == 1
    assert (red[0].value, red[0].worst, red[0].samples, red[0].timestamp_s) == (75, 80, 2, 102.0)
    assert "monitor Test.Temperature left red band [-10, 60] degC: 75" in (entry.error or "")
    dumped = record.to_dict()["attempts"][0]["excursions"]
    assert {item["band"] for item in dumped} == {"red", "yellow"}


def test_a_yellow_excursion_is_a_warning_and_the_step_passes(hil_sim_bench: Bench) -> None:
    monitor = Monitor("Test.Temperature", red=(-10, 60), yellow=(0, 40), unit="degC")
    loaded = make_card(
        measurement(1, "Measure.", name="x", unit="V", low=0.0, high=2.0,
                    measure=_publishing([20, 45, 20]), monitors=(monitor,)),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    entry = record.attempts[0]
    assert entry.outcome == Outcome.PASS
    assert [(e.band, e.value) for e in entry.excursions] == [("yellow", 45)]


def test_the_monitor_only_watches_while_its_step_runs(hil_sim_bench: Bench) -> None:
    monitor = Monitor("Test.Temperature", red=(None, 60), unit="degC")

    def overheat(ctx: StepContext) -> None:
        _publishing([90])(ctx)

    loaded = make_card(
        measurement(1, "Watched.", name="x", unit="V", high=2.0, measure=_publishing([20]),
                    monitors=(monitor,)),
        action(2, "Unwatched.", run=overheat),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    assert [e.outcome for e in record.attempts] == [Outcome.PASS, Outcome.PASS]


# -- operators -------------------------------------------------------------------------------


def _answers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return path


def _operator_card() -> LoadedCard:
    return make_card(
        prompt(1, "Is the fan running?", answers=("yes", "no"), expect="yes", attempts=2),
        inspection(2, "Inspect J1.", criterion="No bent pins", rii=True),
        prompt(3, "Which connector?", answers=("J1", "J2")),
    )


def test_scripted_answers_drive_prompts_and_inspections(
    hil_sim_bench: Bench, tmp_path: Path
) -> None:
    evidence = tmp_path / "j1.txt"
    evidence.write_text("photo")
    path = _answers(
        tmp_path,
        '["LL-99-00-00-710-100"]\n'
        '"1" = ["no", "yes"]\n'
        '"2" = { passed = true, comment = "pins OK", evidence = "j1.txt" }\n'
        '"3" = "J2"\n',
    )
    record = run(_operator_card(), hil_sim_bench, operator=ScriptedOperator(path))
    assert [(e.step, e.attempt, e.outcome) for e in record.attempts] == [
        (1, 1, Outcome.FAIL),
        (1, 2, Outcome.PASS),
        (2, 1, Outcome.PASS),
        (3, 1, Outcome.PASS),
    ]
    first, _, inspected, chosen = record.to_dict()["attempts"]
    assert (first["answer"], first["expect"]) == ("no", "yes")
    assert inspected["comment"] == "pins OK" and inspected["rii"] is True
    assert inspected["evidence_sha256"] == hashlib.sha256(b"photo").hexdigest()
    assert chosen["answer"] == "J2"


def test_a_failed_inspection_fails_the_step(hil_sim_bench: Bench, tmp_path: Path) -> None:
    path = _answers(
        tmp_path,
        '["LL-99-00-00-710-100"]\n"1" = "yes"\n"2" = { passed = false, comment = "pin 4 bent" }\n',
    )
    record = run(_operator_card(), hil_sim_bench, operator=ScriptedOperator(path))
    assert record.attempts[1].outcome == Outcome.FAIL
    assert "pin 4 bent" in (record.attempts[1].error or "")


def test_a_missing_scripted_answer_names_card_and_step(
    hil_sim_bench: Bench, tmp_path: Path
) -> None:
    path = _answers(tmp_path, '["LL-99-00-00-710-100"]\n"1" = "yes"\n')
    operator = ScriptedOperator(path)
    with pytest.raises(CardError, match=r"answers.toml: no scripted answer .* steps 2, 3"):
        operator.check(_operator_card().card)
    events: list[str] = []
    loaded = make_card(*_operator_card().card.steps, teardown=_teardown_log(events))
    keeper = Keeper()
    with pytest.raises(CardError, match=r"no scripted answer for card LL-99-00-00-710-100 step 2"):
        run(loaded, hil_sim_bench, operator=operator, listener=keeper)
    assert events == ["teardown saw []"]
    assert keeper.record is not None and keeper.record.outcome == Outcome.ABORTED
    assert keeper.record.attempts[1].outcome == Outcome.ABORTED


def test_console_operator_reads_answers() -> None:
    replies = iter(["maybe", "y", "no", "J1 pin 3 bent", "", "a"])
    out: list[str] = []

    class Out:
        def write(self, text: str) -> int:
            out.append(text)
            return len(text)

        def flush(self) -> None: ...

    operator = ConsoleOperator(read=lambda _: next(replies), out=Out())  # type: ignore[arg-type]
    card = _operator_card().card
    assert operator.ask(card.steps[0], "Is the fan running?", ("yes", "no")) == "yes"
    result = operator.inspect(card.steps[1])  # type: ignore[arg-type]
    assert result == InspectionResult(False, "J1 pin 3 bent", None)
    assert operator.on_failure(card.steps[0], 1) == "abort"
    assert any("please answer one of: yes, no" in line for line in out)


# -- model and loader --------------------------------------------------------------------------


def _marked_lines(path: Path) -> list[int]:
    return [n for n, line in enumerate(path.read_text().splitlines(), 1) if "# error" in line]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_kind", "step 2: unknown step kind 'calibration'"),
        ("bad_unit", "step 1: measurement 'heartbeat_rate' has limits but no unit"),
        ("bad_duplicate", "step 2: duplicate step number (first at tests/cards/bad_duplicate"),
        ("bad_role", "unknown role 'star_tracker'"),
        ("bad_number", "bad card number 'LL-31-10-710-801'"),
        ("bad_import", "cannot load card: ZeroDivisionError"),
    ],
)
def test_load_errors_name_file_and_line(
    name: str, message: str, hil_sim_config: BenchConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CARDS.parent.parent)
    path = CARDS / f"{name}.py"
    (line,) = _marked_lines(path)
    with pytest.raises(CardError) as caught:
        load_card(path, hil_sim_config)
    text = str(caught.value)
    assert text.startswith(f"tests/cards/{name}.py:{line}: "), text
    assert message in text
    if name == "bad_duplicate":
        assert text.endswith(f"bad_duplicate.py:{line - 1})")


def test_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    lines = GOOD_CARD.read_text().splitlines()
    broken = next(n for n, line in enumerate(lines) if "def ping_ms" in line)
    lines[broken] = "def ping_ms(ctx: StepContext) -> float"  # the colon is missing
    path = tmp_path / "broken.py"
    path.write_text("\n".join(lines))
    with pytest.raises(CardError, match=rf"broken.py:{broken + 1}: syntax error"):
        load_card(path)


def test_generic_step_and_bad_fields() -> None:
    made = step("prompt", 4, "Fan running?", answers=("yes", "no"), expect="yes")
    assert made.kind == "prompt" and made.number == 4
    here = Path(__file__).name
    with pytest.raises(CardError, match=rf"{here}:\d+: step 4: prompt: .*'colour'"):
        step("prompt", 4, "Fan running?", answers=("yes", "no"), colour="red")
    with pytest.raises(CardError, match=r"expect 'maybe' is not one of answers"):
        prompt(5, "Fan running?", answers=("yes", "no"), expect="maybe")
    with pytest.raises(CardError, match=r"monitor 'X.Y' has limits but no unit"):
        Monitor("X.Y", red=(0, 1))
    with pytest.raises(CardError, match=r"step 0: |step number must be a positive integer"):
        action(0, "Zero.", run=lambda ctx: None)


def test_effectivity() -> None:
    def card(*effectivity: str) -> Card:
        go = action(1, "Go.", run=lambda ctx: None)
        return Card(
            number="LL-99-00-00-710-101",
            revision="A",
            title="E",
            effectivity=effectivity,
            steps=(go,),
        )

    assert card("*").applies_to("anything")
    assert card("HR-M3").applies_to("HR-M3-SN002")
    assert not card("HR-M4").applies_to("HR-M3-SN002")
    ranged = card("HR-M3 SN001-SN010", "HR-M4 SN020")
    assert ranged.applies_to("HR-M3-SN010") and ranged.applies_to("HR-M4-SN020")
    assert not ranged.applies_to("HR-M3-SN011") and not ranged.applies_to("HR-M4-SN021")
    with pytest.raises(CardError, match="effectivity 'HR-M3 serials 1-10'"):
        card("HR-M3 serials 1-10")


def test_a_card_not_effective_for_the_lander_does_not_run(hil_sim_bench: Bench) -> None:
    ran: list[int] = []
    loaded = make_card(action(1, "Go.", run=lambda ctx: ran.append(1)))
    with pytest.raises(CardError, match="not effective for lander 'HR-M4-SN001'"):
        run_card(loaded, hil_sim_bench, StubOperator(), lander="HR-M4-SN001", operator_id="t")
    assert ran == []


def test_the_content_hash_changes_when_the_card_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "card.py"
    shutil.copy(GOOD_CARD, path)
    first = load_card(path)
    assert first.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_card(path).sha256 == first.sha256
    path.write_text(path.read_text().replace("high=200.0", "high=150.0"))
    second = load_card(path)
    assert second.sha256 != first.sha256
    assert second.card.steps[1].high == 150.0  # type: ignore[attr-defined]


# -- records -----------------------------------------------------------------------------------


def test_json_record_binds_card_bench_software_and_keeps_values_beside_limits(
    hil_sim_bench: Bench, hil_sim_config: BenchConfig, tmp_path: Path
) -> None:
    loaded = load_card(GOOD_CARD, hil_sim_config)
    record = run(loaded, hil_sim_bench, operator=ScriptedOperator(GOOD_ANSWERS))
    assert record.outcome == Outcome.PASS, record.summary()
    data = json.loads(record.save(tmp_path / record.default_name()).read_text())
    assert data["card"]["number"] == "LL-99-00-00-710-001"
    assert data["card"]["revision"] == "A"
    assert data["card"]["content_sha256"] == hashlib.sha256(GOOD_CARD.read_bytes()).hexdigest()
    assert data["card"]["source"].endswith("good_card.py")
    assert (data["lander"], data["operator_id"]) == (LANDER, "tech.test")
    assert data["bench"]["config_path"] == str(hil_sim_config.path)
    assert data["bench"]["config_text"] == Path(hil_sim_config.path).read_text()
    assert data["software"]["hil"] == hil.__version__
    assert data["outcome"] == "PASS"
    started = datetime.fromisoformat(data["started_utc"])
    assert started <= datetime.fromisoformat(data["finished_utc"])
    steps = {a["step"]: a for a in data["attempts"]}
    ping = steps[2]
    assert ping["name"] == "ping_round_trip" and ping["unit"] == "ms"
    assert (ping["low"], ping["high"], ping["marginal"]) == (0.0, 200.0, 0.0)
    assert 0.0 <= ping["value"] <= 200.0 and ping["attempt"] == 1
    assert datetime.fromisoformat(ping["started_utc"]) <= datetime.fromisoformat(
        ping["finished_utc"]
    )
    assert steps[3]["values"][0]["name"] == "fc_mode"
    assert steps[1]["logs"][0]["text"].startswith("PING round trip")
    assert steps[4]["answer"] == "yes" and steps[5]["passed"] is True
    assert data["teardown"]["outcome"] == "PASS"
    assert data["teardown"]["logs"][0]["text"] == "FC SAFE"


def test_junit_xml_parses_with_one_testcase_per_step_and_the_right_failures(
    hil_sim_bench: Bench, tmp_path: Path
) -> None:
    def vanish(ctx: StepContext) -> float:
        ctx.signals.wait_for("NoSuch_Message.Value", lambda v: True, timeout_s=0.02)
        return 0.0

    loaded = make_card(
        measurement(1, "Passes.", name="a", unit="Hz", low=9.5, high=10.5, measure=constant(10)),
        measurement(2, "Fails.", name="rate", unit="Hz", low=9.5, high=10.5,
                    measure=constant(8.25), on_fail="continue"),
        measurement(3, "Errors.", name="c", unit="Hz", measure=vanish, on_fail="continue"),
        action(4, "Runs.", run=lambda ctx: None),
    )  # fmt: skip
    record = run(loaded, hil_sim_bench)
    suite = ET.parse(record.to_junit(tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "step 1: Passes."
    failure = cases[1].find("failure")
    assert failure is not None
    assert "rate = 8.25 Hz outside limits 9.5 .. 10.5 Hz" in (failure.get("message") or "")
    error = cases[2].find("error")
    assert error is not None and "DeviceTimeout" in (error.get("message") or "")
    assert cases[0].find("failure") is None and cases[3].find("failure") is None


# -- command line ------------------------------------------------------------------------------


@pytest.fixture
def hil_main(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str]], int]]:
    """``hil.cli.main.main`` with ``run`` and ``cards`` present (added here until the lead wires
    ``add_commands`` into ``hil.cli.main._parser``)."""
    original = hil.cli.main._parser

    def parser() -> argparse.ArgumentParser:
        built = original()
        commands = next(a for a in built._actions if isinstance(a, argparse._SubParsersAction))
        if "run" not in commands.choices:
            add_commands(commands)
        return built

    monkeypatch.setattr(hil.cli.main, "_parser", parser)
    monkeypatch.chdir(CARDS.parent.parent)
    yield hil.cli.main.main


def _bench_file(tmp_path: Path, channel: str) -> Path:
    """The sim bench file on a private CAN channel (the CLI reads a file)."""
    root = CARDS.parent.parent
    text = (root / "hil/data/benches/sim.toml").read_text()
    text = text.replace('channel = "hil-sim"', f'channel = "{channel}"')
    text = text.replace('"../can/lander.dbc"', f'"{root / "hil/data/can/lander.dbc"}"')
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def _run_args(tmp_path: Path, channel: str, card: Path, answers: Path) -> list[str]:
    return [
        "run", str(card), "--bench", str(_bench_file(tmp_path, channel)),
        "--lander", LANDER, "--operator", "tech.ci", "--answers", str(answers),
        "--out", str(tmp_path / "out"), "--junit", str(tmp_path / "junit.xml"),
    ]  # fmt: skip


def test_hil_run_exits_0_on_pass_and_writes_the_records(
    hil_main: Callable[[list[str]], int],
    tmp_path: Path,
    channel: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert hil_main(_run_args(tmp_path, channel, GOOD_CARD, GOOD_ANSWERS)) == 0
    out = capsys.readouterr().out
    assert "LL-99-00-00-710-001 rev A" in out and "WARNING: Test card only" in out
    assert re.search(r"^\s+2\s+measurement\s+Measure the maintenance-port.*PASS$", out, re.M)
    (written,) = (tmp_path / "out").glob("LL-99-00-00-710-001-*Z.json")
    assert json.loads(written.read_text())["outcome"] == "PASS"
    assert ET.parse(tmp_path / "junit.xml").getroot().find("testsuite") is not None


def test_hil_run_exits_non_zero_on_fail(
    hil_main: Callable[[list[str]], int],
    tmp_path: Path,
    channel: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = tmp_path / "no.toml"
    answers.write_text(GOOD_ANSWERS.read_text().replace('"4" = "yes"', '"4" = "no"'))
    assert hil_main(_run_args(tmp_path, channel, GOOD_CARD, answers)) == hil.cli.main.EXIT_FAILED
    out = capsys.readouterr().out
    assert "answered 'no', expected 'yes'" in out
    (written,) = (tmp_path / "out").glob("*.json")
    assert json.loads(written.read_text())["outcome"] == "FAIL"


def test_hil_run_on_a_bad_card_is_one_line_and_runs_nothing(
    hil_main: Callable[[list[str]], int],
    tmp_path: Path,
    channel: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_bench(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bench must not be opened for a card that does not load")

    monkeypatch.setattr("hil.bench.assembly.Bench", no_bench)
    code = hil_main(_run_args(tmp_path, channel, CARDS / "bad_unit.py", GOOD_ANSWERS))
    assert code == hil.cli.main.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "hil: tests/cards/bad_unit.py:10: step 1: measurement 'heartbeat_rate' has limits "
        "but no unit"
    ]
    assert not (tmp_path / "out").exists()
    missing = tmp_path / "missing.toml"
    missing.write_text('["LL-99-00-00-710-001"]\n"4" = "yes"\n')
    code = hil_main(_run_args(tmp_path, channel, GOOD_CARD, missing))
    assert code == hil.cli.main.EXIT_CONFIG
    assert "no scripted answer for card LL-99-00-00-710-001 step 5" in capsys.readouterr().err


def test_hil_cards_list(
    hil_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hil_main(["cards", "list", "--dir", "tests/cards"]) == hil.cli.main.EXIT_CONFIG
    captured = capsys.readouterr()
    short = hashlib.sha256(GOOD_CARD.read_bytes()).hexdigest()[:12]
    row = next(line for line in captured.out.splitlines() if "LL-99-00-00-710-001" in line)
    assert short in row and "On demand (tests)" in row and "good_card.py" in row
    assert len(captured.err.strip().splitlines()) == 6  # one line per bad card


def test_a_nan_reading_fails_and_the_json_stays_strict(hil_sim_bench: Bench) -> None:
    loaded = make_card(
        measurement(1, "Read a dead sensor.", name="x", unit="K", measure=constant(float("nan")))
    )
    record = run(loaded, hil_sim_bench)
    assert record.attempts[0].outcome == Outcome.FAIL
    assert json.loads(record.to_json())["attempts"][0]["value"] == "nan"


def test_content_hash_covers_helpers_the_card_imports(tmp_path: Path) -> None:
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "_shared.py").write_text("LIMIT_M = 100.0\n")
    (folder / "card.py").write_text(
        "from hil.cards import Card, action\n"
        "from procedures._shared import LIMIT_M\n"
        "CARD = Card(number='LL-31-10-00-740-999', revision='A', title='Helper hash',\n"
        "            steps=(action(1, 'Do nothing.', run=lambda ctx: None),))\n"
    )
    first = load_card(folder / "card.py")
    assert first.helpers == ((folder / "_shared.py").resolve(),)
    (folder / "_shared.py").write_text("LIMIT_M = 150.0\n")
    second = load_card(folder / "card.py")
    assert second.sha256 != first.sha256
