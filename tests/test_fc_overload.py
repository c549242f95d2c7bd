"""F6, the FC overloaded: stolen cycles, missed deadlines, the watchdog's restart, the verdict."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import SIM_BENCH, private_bench_config

from hil.core.paths import data_path
from hil.drivers.can import load_database
from hil.drivers.sim.fc_scheduler import Executive
from hil.drivers.sim.fc_telemetry import heartbeat_signals
from hil.errors import ConfigError
from hil.flight.descent import DescentResult
from hil.flight.descent import fly as fly_descent
from hil.flight.descent.result import FC_DEADLINES_MISSED, FC_OVERLOAD, FC_RESTART
from hil.flight.faults import Injection
from hil.flight.scenario import load_scenario
from hil.protocol.parameters import PARAMETERS


def test_an_unloaded_fc_meets_every_deadline() -> None:
    executive = Executive()
    for _ in range(500):
        outcome = executive.cycle(0.0)
        assert not outcome.missed and not outcome.guidance_late
    assert executive.missed_deadlines == 0 and executive.restarts == 0
    assert executive.load_pct == pytest.approx(65.0)


def test_stolen_cycles_queue_low_priority_work_until_the_watchdog_sheds_it() -> None:
    executive = Executive()
    outcomes = [executive.cycle(0.45) for _ in range(500)]
    # 11 ms left of 20: guidance (8 ms) fits, telemetry (5 ms) falls 2 ms behind each cycle
    assert not any(o.guidance_late for o in outcomes)
    restarts = [i for i, o in enumerate(outcomes) if o.restarted]
    assert restarts == [5]  # the queue holds 10 ms: overflow at the sixth cycle
    assert executive.missed_deadlines == 6 and executive.restarts == 1 and executive.shed
    # shed, the work fits again: no deadline missed after the restart
    assert not any(o.missed for o in outcomes[6:])
    assert executive.load_pct == pytest.approx(45.0 + 40.0 + 5.0)


def test_a_load_that_starves_guidance_makes_it_late_every_cycle() -> None:
    executive = Executive()
    outcomes = [executive.cycle(0.7) for _ in range(100)]
    assert all(o.guidance_late and o.missed for o in outcomes)
    assert executive.missed_deadlines == 100
    assert executive.restarts > 5  # restarts cannot help: counted, guidance goes on late
    assert executive.load_pct == 100.0


def test_the_heartbeat_carries_the_executive_counters_as_the_dbc_defines_them() -> None:
    database = load_database(data_path("can", "lander.dbc"))
    message = database.get_message_by_name("FC_Heartbeat")
    executive = Executive()
    for _ in range(30):
        executive.cycle(0.7)
    alive = {"IMU": True, "LRF": True, "ENGINE": True}
    signals = dict(heartbeat_signals("APPROACH", alive, True, None, 12.0, executive))
    assert signals["MissedDeadlines"] == 30 and signals["Restarts"] == executive.restarts
    assert signals["LoadShed"] == 1
    for _ in range(5000):
        executive.cycle(0.7)
    saturated = dict(heartbeat_signals("APPROACH", alive, True, None, 12.0, executive))
    assert saturated["MissedDeadlines"] == 4095 and saturated["Restarts"] == 15
    data = message.encode({**saturated, "Counter": 0, "CRC": 0})
    decoded = message.decode(data)
    assert decoded["MissedDeadlines"] == 4095 and decoded["Restarts"] == 15
    assert PARAMETERS["LOAD_TEST_PCT"].parse("45") == 45.0
    with pytest.raises(ValueError, match="LOAD_TEST_PCT must be within"):
        PARAMETERS["LOAD_TEST_PCT"].parse("95")


def test_an_overload_injection_is_checked_when_the_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[scenario]\nname = "bad"\n[[injection]]\nkind = "fc_overload"\nat_s = 1.0\n'
        "load_pct = 95.0\n"
    )
    with pytest.raises(ConfigError, match=r"load_pct: must be within 0 \.\. 90"):
        load_scenario(path)


def _fly(channel: str) -> DescentResult:
    """18 s of F6 with the overload from t = 12 s (braking), lockstep."""
    scenario = load_scenario("f6-fc-overload")
    scenario = dataclasses.replace(
        scenario,
        model=dataclasses.replace(scenario.model, max_duration_s=18.0),
        injections=(Injection("fc_overload", at_s=12.0, load_pct=45.0),),
    )
    return fly_descent(private_bench_config(SIM_BENCH, channel), scenario, seed=0)


@pytest.mark.slow
def test_the_fc_counts_missed_deadlines_restarts_and_the_verdict_says_so(channel: str) -> None:
    result = _fly(channel)
    texts = [text for _, text in result.events]
    assert "FC load test set: LOAD_TEST_PCT 45 %" in texts
    missed = result.finding(FC_DEADLINES_MISSED)
    restart = result.finding(FC_RESTART)
    overload = result.finding(FC_OVERLOAD)
    assert missed is not None and restart is not None and overload is not None
    assert 12.0 <= missed.time_s <= restart.time_s <= 12.5  # within a few heartbeats
    assert restart.values["restarts"] == 1
    assert "low-priority work shed, guidance kept" in restart.text
    # STATUS over the run: the six missed deadlines before the restart, none after
    assert result.fault_counts["detected_missed_deadlines"] == 6
    assert result.fault_counts["detected_restarts"] == 1
    assert overload.text == (
        f"FC overload: 6 missed deadlines from t={missed.time_s:.1f} s, 1 watchdog restart "
        f"(first at t={restart.time_s:.1f} s) shed low-priority work and kept guidance flying"
    )
    assert overload.text in result.verdict
    assert result.stop_reason == "end of run"  # the FC flew on: still braking at 18 s
    # lockstep: the overload is cycles stolen from the FC's schedule, the same every run
    again = _fly(channel + "-again")
    assert [(f.kind, f.time_s, f.text) for f in again.findings] == [
        (f.kind, f.time_s, f.text) for f in result.findings
    ]
