"""The flight computer outside the bench: a wire bench against the simulated FC running as a
device of its own (``hil device fc``), reached only through ptys and CAN over
python-can-remote, as a bench reaches hardware."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from card_outcome import assert_card_worked
from conftest import ROOT

from hil.bench import Bench
from hil.bench.check import run_check
from hil.cards import ScriptedOperator, card_files, load_card, run_card
from hil.cards.runner import bench_for
from hil.core.config import BenchConfig, load_bench
from hil.drivers.sim.external import ExternalFc
from hil.errors import ConfigError
from hil.flight.descent import DescentRun, descent_bench
from hil.flight.scenario import load_scenario

PROCEDURES = ROOT / "hil" / "data" / "procedures"
CI_ANSWERS = ROOT / "hil" / "data" / "answers" / "ci.toml"


def test_bench_check_passes_against_the_device(hil_external_bench_config: BenchConfig) -> None:
    with Bench(hil_external_bench_config) as bench:
        assert not bench.lockstep and bench.steppers == []  # nothing of the FC in here
        result = run_check(bench)
    assert result.ok, result.problems
    assert result.bit is not None and result.bit.passed


def test_lockstep_is_refused_against_the_device(hil_external_bench_config: BenchConfig) -> None:
    with pytest.raises(ConfigError, match="lockstep needs simulated devices"):
        descent_bench(hil_external_bench_config, realtime=False)


def _bench_cards() -> list[object]:
    params: list[object] = []
    for path in card_files(PROCEDURES):
        if load_card(path).card.lockstep:
            continue  # a whole descent in real time takes ~11 min: benchmarks/bench_realtime.py
        params.append(pytest.param(path, id=path.stem))
    return params


@pytest.mark.parametrize("path", _bench_cards())
def test_card_passes_against_the_device(
    path: object, hil_external_bench_config: BenchConfig
) -> None:
    loaded = load_card(path, hil_external_bench_config)  # type: ignore[arg-type]
    operator = ScriptedOperator(CI_ANSWERS)
    with bench_for(loaded.card, hil_external_bench_config) as bench:
        record = run_card(loaded, bench, operator, lander="HR-M3-SN002", operator_id="tech.ci")
    assert_card_worked(record, loaded)


@pytest.mark.slow
def test_a_real_time_descent_slice_flies_against_the_device(
    hil_external_bench_config: BenchConfig,
) -> None:
    """BIT, ARM, PDI and 4 s of powered flight in real time: the FC in the other process
    takes the bench's IMU frames and ranges and its engine commands close the loop."""
    scenario = load_scenario("nominal")
    scenario = dataclasses.replace(
        scenario, model=dataclasses.replace(scenario.model, max_duration_s=14.0)
    )
    with descent_bench(hil_external_bench_config, realtime=True) as bench:
        run = DescentRun(bench, scenario, seed=0)
        result = run.run()
        throttle = run.trajectory()[:, 17]  # cmd_throttle_pct
    texts = [text for _, text in result.events]
    assert result.stop_reason == "end of run", result.verdict
    assert "BIT passed" in texts and "FC armed" in texts
    assert any(text.startswith("powered descent initiated") for text in texts)
    assert throttle.max() > 20.0  # the FC fired the engine after PDI, over CAN
    assert result.timing["frames"] > 13_000


def test_a_device_killed_mid_descent_ends_the_run_on_a_link_error(tmp_path: Path) -> None:
    """SIGKILL the FC process 3 s into a real-time run: the run ends within 3 heartbeat
    periods, naming what went away, and everything recorded up to then is written."""
    killed_at_s: list[float] = []
    with ExternalFc(tmp_path / "fc") as external:
        config = load_bench(external.bench_path)
        scenario = load_scenario("nominal")
        scenario = dataclasses.replace(
            scenario, model=dataclasses.replace(scenario.model, max_duration_s=8.0)
        )

        def kill(run: DescentRun, time_s: float) -> None:
            if time_s >= 3.0 and not killed_at_s:
                external.device.process.kill()
                killed_at_s.append(time_s)

        out = tmp_path / "run"
        with descent_bench(config, realtime=True, out_dir=out) as bench:
            result = DescentRun(bench, scenario, out_dir=out, injections=[kill]).run()
    stopped_s = result.events[-1][0]
    # within 3 heartbeat periods (the first IMU frame after the kill fails to write), plus
    # slack for a loaded host: the times are the run's wall-clock times
    assert killed_at_s and stopped_s - killed_at_s[0] <= 3 * 0.1 + 0.5, result.events[-3:]
    assert "link error" in result.stop_reason or "heartbeat lost" in result.stop_reason
    if result.link_error is not None:
        assert str(tmp_path) in result.link_error or "ws://127.0.0.1" in result.link_error
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == result.stop_reason
    assert np.load(out / "trajectory.npz")["time_s"][-1] >= 2.9
