"""JUnit XML a dashboard can read, opened with a real JUnit parser (junitparser): one testcase
per step with its value, unit, limits, marginal band, attempt and RII as properties; an
exception in a step is an error, not a failure; the teardown has a testcase of its own; and
``hil run --junit`` leaves a file even when the bench never opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LAB_BENCH, SIM_BENCH
from junitparser import Error, Failure, JUnitXml, Properties, Skipped, TestCase, TestSuite

from hil.bench import Bench
from hil.cards import Card, LoadedCard, StepContext, action, measurement, run_card
from hil.cards.record import junit_for_error
from hil.cli.exit_codes import EXIT_CONFIG, EXIT_LINK
from hil.cli.main import main

CARDS = Path(__file__).resolve().parent / "cards"
LANDER = "HR-M3-SN002"


class _Operator:
    def ask(self, *args: object) -> str:
        return "yes"


def _run(bench: Bench, *steps: object, teardown: object = None) -> JUnitXml:
    card = Card(
        number="LL-99-00-00-710-200",
        revision="B",
        title="JUnit test card",
        effectivity=("HR-M3",),
        steps=steps,  # type: ignore[arg-type]
        teardown=teardown,  # type: ignore[arg-type]
    )
    loaded = LoadedCard(card, Path(__file__), "0" * 64)
    record = run_card(loaded, bench, _Operator(), lander=LANDER, operator_id="tech.ci")  # type: ignore[arg-type]
    return record


def _suite(path: Path) -> TestSuite:
    xml = JUnitXml.fromfile(str(path))
    (suite,) = list(xml)
    return suite


def _properties(case: TestCase) -> dict[str, str]:
    element = case.child(Properties)
    return {} if element is None else {p.name: p.value for p in element}


def _results(case: TestCase) -> list[type]:
    return [type(result) for result in case.result]


def test_a_failing_card_reads_as_steps_with_properties_failures_errors_and_teardown(
    hil_sim_bench: Bench, tmp_path: Path
) -> None:
    readings = iter([12.0, 11.0])

    def divide(ctx: StepContext) -> None:
        _ = 1 / 0

    def teardown(ctx: StepContext) -> None:
        raise RuntimeError("could not put the FC SAFE")

    record = _run(
        hil_sim_bench,
        measurement(1, "Rate in band.", name="rate", unit="Hz", low=9.5, high=10.5,
                    marginal=0.2, measure=lambda ctx: 10.0, rii=True),
        measurement(2, "Rate too high.", name="rate2", unit="Hz", low=9.5, high=10.5,
                    measure=lambda ctx: next(readings), attempts=2, on_fail="continue"),
        action(3, "Divides by zero.", run=divide, on_fail="continue"),
        measurement(4, "Open high limit.", name="temp", unit="K", low=200.0,
                    measure=lambda ctx: 300.0),
        teardown=teardown,
    )  # fmt: skip
    suite = _suite(record.to_junit(tmp_path / "junit.xml"))
    cases = list(suite)
    assert [case.name for case in cases] == [
        "step 1: Rate in band.",
        "step 2: Rate too high.",
        "step 3: Divides by zero.",
        "step 4: Open high limit.",
        "teardown",
    ]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 2, 0)
    passed, failed, raised, open_limit, torn_down = cases

    assert passed.is_passed
    assert _properties(passed) == {
        "step": "1", "kind": "measurement", "outcome": "PASS", "attempt": "1", "attempts": "1",
        "rii": "true", "name": "rate", "value": "10.0", "unit": "Hz", "low": "9.5",
        "high": "10.5", "marginal": "0.2",
    }  # fmt: skip

    assert _results(failed) == [Failure]
    assert _properties(failed)["attempt"] == "2" and _properties(failed)["attempts"] == "2"
    assert _properties(failed)["value"] == "11.0" and _properties(failed)["rii"] == "false"
    assert "rate2 = 11 Hz outside limits 9.5 .. 10.5 Hz" in failed.result[0].message

    assert _results(raised) == [Error]
    assert raised.result[0].type == "ZeroDivisionError"
    assert "division by zero" in raised.result[0].message
    assert "value" not in _properties(raised) and _properties(raised)["kind"] == "action"

    assert "high" not in _properties(open_limit) and _properties(open_limit)["low"] == "200.0"

    assert _results(torn_down) == [Error]
    assert torn_down.result[0].type == "RuntimeError"
    assert "could not put the FC SAFE" in torn_down.result[0].message


def test_a_passing_teardown_is_its_own_passing_testcase_and_skipped_steps_are_skipped(
    hil_sim_bench: Bench, tmp_path: Path
) -> None:
    record = _run(
        hil_sim_bench,
        measurement(1, "Too low.", name="v", unit="V", low=27.0, high=29.0,
                    measure=lambda ctx: 3.0),
        action(2, "Never runs.", run=lambda ctx: None),
        teardown=lambda ctx: ctx.log("safe"),
    )  # fmt: skip
    suite = _suite(record.to_junit(tmp_path / "junit.xml"))
    failed, skipped, teardown = list(suite)
    assert _results(failed) == [Failure] and _results(skipped) == [Skipped]
    assert teardown.name == "teardown" and teardown.is_passed
    assert "safe" in (teardown.system_out or "")


def _run_args(tmp_path: Path, bench: Path) -> list[str]:
    return [
        "run", str(CARDS / "good_card.py"), "--bench", str(bench), "--lander", LANDER,
        "--operator", "tech.ci", "--answers", str(CARDS / "answers.toml"),
        "--out", str(tmp_path / "out"), "--junit", str(tmp_path / "junit.xml"),
    ]  # fmt: skip


def test_a_bench_file_not_found_still_leaves_a_junit_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_run_args(tmp_path, tmp_path / "none.toml")) == EXIT_CONFIG
    suite = _suite(tmp_path / "junit.xml")
    (case,) = list(suite)
    assert (suite.tests, suite.errors, suite.failures) == (1, 1, 0)
    assert _results(case) == [Error]
    assert case.result[0].message.endswith("none.toml: bench file not found")
    assert case.result[0].type == "ConfigError"
    assert capsys.readouterr().err.strip().endswith("none.toml: bench file not found")


def test_a_refused_link_still_leaves_a_junit_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "lab.toml"
    dbc = SIM_BENCH.parent.parent / "can" / "lander.dbc"
    bench.write_text(LAB_BENCH.read_text().replace('"../can/lander.dbc"', f'"{dbc}"'))
    assert main(_run_args(tmp_path, bench)) == EXIT_LINK
    (case,) = list(_suite(tmp_path / "junit.xml"))
    assert _results(case) == [Error] and case.result[0].type == "LinkError"
    assert "CAN interface 'socketcan' channel 'can0'" in case.result[0].message
    assert case.name.startswith("open bench")
    assert not (tmp_path / "out").exists()


def test_the_error_junit_is_well_formed_on_its_own(tmp_path: Path) -> None:
    path = junit_for_error(tmp_path / "sub" / "j.xml", "load card x.py", "x.py:3: bad", "CardError")
    suite = _suite(path)
    assert suite.name == "load card x.py" and suite.errors == 1
