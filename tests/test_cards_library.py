"""Every card in ``hil/data/procedures/`` runs and PASSes on the simulated bench, with the
scripted CI answers (``hil/data/answers/ci.toml``): one test per card.

The as-run record of each card is kept under ``artifacts/cards/`` (JSON and JUnit XML), so a CI
job can publish what ran. Cards that fly a closed-loop descent are marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from card_outcome import assert_card_worked

from hil.cards import ScriptedOperator, card_files, load_card, run_card
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
