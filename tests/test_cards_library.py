"""Every card in ``hil/data/procedures/`` runs and PASSes on the simulated bench, with the
scripted CI answers (``hil/data/answers/ci.toml``): one test per card.

The as-run record of each card is kept under ``artifacts/cards/`` (JSON and JUnit XML), so a CI
job can publish what ran. Cards that fly a closed-loop descent are marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from card_outcome import assert_card_worked

from hil.cards import Outcome, ScriptedOperator, card_files, load_card, run_card
from hil.cards.runner import bench_for
from hil.core.config import BenchConfig

ROOT = Path(__file__).resolve().parent.parent
PROCEDURES = ROOT / "hil" / "data" / "procedures"
CI_ANSWERS = ROOT / "hil" / "data" / "answers" / "ci.toml"
ARTIFACTS = ROOT / "artifacts" / "cards"
CI_LANDER = "HR-M3-SN002"
CI_OPERATOR = "tech.ci"


def _params() -> list[object]:
    params: list[object] = []
    for path in card_files(PROCEDURES):
        marks = [pytest.mark.slow] if load_card(path).card.lockstep else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", _params())
def test_card_passes_on_the_simulated_bench(path: Path, hil_sim_config: BenchConfig) -> None:
    loaded = load_card(path, hil_sim_config)
    operator = ScriptedOperator(CI_ANSWERS)
    operator.check(loaded.card)
    with bench_for(loaded.card, hil_sim_config) as bench:
        record = run_card(loaded, bench, operator, lander=CI_LANDER, operator_id=CI_OPERATOR)
        if loaded.card.lockstep:
            # a descent card flies the FC it was given: that FC took in the whole flight's
            # IMU frames (400 Hz over ~10 simulated minutes), not another FC of its own
            assert bench.lockstep
            assert int(bench.flight_computer.status()["IMU_FRAMES"]) > 100_000
    record.save(ARTIFACTS / f"{loaded.card.number}.json")
    record.to_junit(ARTIFACTS / f"{loaded.card.number}.xml")
    assert_card_worked(record, loaded)
    assert record.card["content_sha256"] == loaded.sha256


@pytest.mark.slow
def test_the_crater_rim_card_fails_an_fc_that_rejects_the_lrf_for_good_as_mission_1_did(
    hil_sim_config: BenchConfig,
) -> None:
    loaded = load_card(PROCEDURES / "crater_rim_regression.py", hil_sim_config)
    with bench_for(loaded.card, hil_sim_config) as bench:
        bench.flight_computer.set_param("GATE_POLICY", "latch")  # Mission 1's navigation
        record = run_card(
            loaded, bench, ScriptedOperator(CI_ANSWERS), lander=CI_LANDER, operator_id=CI_OPERATOR
        )
    assert record.outcome == Outcome.FAIL, record.summary()
    by_name = {a.name: a for a in record.final_attempts() if a.kind == "measurement"}
    rejected = by_name["lrf_rejected_for_good"]
    assert (rejected.value, rejected.outcome) == (1.0, Outcome.FAIL), record.summary()
    # flown with the FC's own setting, read and recorded in step 1
    step1 = next(a for a in record.final_attempts() if a.step == 1)
    assert {"name": "gate_policy", "value": "latch"}.items() <= step1.values[0].items()
