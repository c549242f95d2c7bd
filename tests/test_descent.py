"""Closed-loop descents over the links: the bench flies the simulated FC and judges it."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import LAB_BENCH, SIM_BENCH, private_bench_config

from hil.cli.main import main
from hil.core.config import load_bench
from hil.errors import ConfigError
from hil.flight.descent import DescentResult, DescentRun, descent_bench
from hil.flight.descent import fly as fly_descent
from hil.flight.faults import Injection
from hil.flight.scenario import Scenario, load_scenario

pytestmark = pytest.mark.slow


def short(scenario: Scenario, duration_s: float) -> Scenario:
    return dataclasses.replace(
        scenario, model=dataclasses.replace(scenario.model, max_duration_s=duration_s)
    )


def fly(
    channel: str, seed: int = 0, out: Path | None = None, scenario: Scenario | None = None, **kw
) -> DescentResult:
    config = private_bench_config(SIM_BENCH, channel)
    return fly_descent(config, scenario or load_scenario("nominal"), seed=seed, out_dir=out, **kw)


@pytest.fixture(scope="module")
def nominal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DescentResult, Path]]:
    out = tmp_path_factory.mktemp("nominal")
    yield fly("module-nominal", seed=0, out=out), out


def test_nominal_descent_lands_within_limits(nominal: tuple[DescentResult, Path]) -> None:
    result, _ = nominal
    assert result.passed, result.verdict
    assert result.stop_reason == "landed" and result.fc_final_mode == "LANDED"
    contact = result.contact
    assert contact is not None
    assert abs(contact.vertical_speed_mps) <= 2.0
    assert contact.horizontal_speed_mps <= 1.0
    assert contact.tilt_deg <= 10.0 and contact.propellant_kg > 0.0
    # The LRF came in at its specified range and pulled the estimate onto the truth.
    assert result.lrf_first_valid_range_m is not None
    # at most the specified 3000 m slant range plus 3 sigma of the range noise (6 m at 3 km)
    assert 2500.0 < result.lrf_first_valid_range_m <= 3020.0
    assert result.landed_altitude_error_m is not None and abs(result.landed_altitude_error_m) < 5
    # lockstep: the run never waited on the wall clock, so nothing in it was late
    assert result.mode == "lockstep" and result.timing["lateness_max_ms"] == 0.0
    assert result.timing["simulated_s"] == pytest.approx(result.events[-1][0], abs=0.1)


def test_each_run_writes_its_record(nominal: tuple[DescentResult, Path]) -> None:
    result, out = nominal
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == result.verdict and summary["passed"] is True
    trajectory = np.load(out / "trajectory.npz")
    time_s = trajectory["time_s"]
    assert time_s[-1] == pytest.approx(result.events[-1][0], abs=0.2)
    # Truth and the FC's estimate side by side, 10 Hz.
    assert np.median(np.diff(time_s)) == pytest.approx(0.1)
    error_m = trajectory["fc_altitude_m"] - trajectory["true_altitude_m"]
    assert abs(error_m[(time_s > 20) & (time_s < 30)].mean() - 300.0) < 100  # uplink error
    assert abs(error_m[-20:]).max() < 5.0
    csv_header = (out / "trajectory.csv").read_text().splitlines()[0]
    assert csv_header.startswith("time_s,true_x_m")
    import can

    frames = list(can.LogReader(str(out / "bus.blf")))
    ids = {frame.arbitration_id for frame in frames}
    assert {0x010, 0x100, 0x101, 0x102, 0x110, 0x200, 0x300} <= ids
    assert len(frames) > 100_000
    # A lockstep log still starts today, not on 1970-01-01 (tools read its absolute time).
    assert abs(frames[0].timestamp - time.time()) < 6 * 3600
    assert summary["bus_log_start_utc"][:4] == time.strftime("%Y", time.gmtime())
    assert frames[-1].timestamp - frames[0].timestamp == pytest.approx(time_s[-1], abs=1.0)
    png = (out / "profile.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_nominal_descent_is_within_apollo11s_tolerances(
    nominal: tuple[DescentResult, Path],
) -> None:
    """The full-stack flight of the fixture, measured from its record: the same figures as
    the model-only flight of tests/test_reference.py, within Apollo 11's tolerances."""
    from hil.flight.reference import compare, from_descent, load_reference

    result, _ = nominal
    flown = from_descent(result, load_scenario("nominal"))
    rows = compare(load_reference("apollo11"), flown)
    assert all(row.passed for row in rows), rows
    # as the model-only flight of the same seed measures them (tests/test_reference.py)
    assert flown.high_gate_time_s == pytest.approx(550.0, abs=0.2)
    assert flown.touchdown_time_s == pytest.approx(687.1, abs=0.5)
    assert flown.delta_v_mps == pytest.approx(1987.0, abs=2.0)


def test_cli_prints_the_reference_check_after_the_verdict(
    nominal: tuple[DescentResult, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import hil.flight.descent

    result, _ = nominal
    monkeypatch.setattr(hil.flight.descent, "fly", lambda *args, **kwargs: result)
    argv = ["descent", "--bench", str(SIM_BENCH), "--out", str(tmp_path / "run")]
    assert main([*argv, "--reference", "apollo11"]) == 0
    out = capsys.readouterr().out
    assert out.index(result.verdict) < out.index("Reference check: Apollo 11")
    table = out[out.index("Reference check") :]
    assert table.count("PASS") == 6 and "MISS" not in table
    assert "reference apollo11: all 6 figures within tolerance" in out
    # a reference the descent misses fails the command, though it landed
    from hil.flight.reference import load_reference

    wrong = tmp_path / "wrong.toml"
    wrong.write_text(load_reference("apollo11").path.read_text().replace("755.0", "1510.0"))
    assert main([*argv, "--reference", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert "reference apollo11: MISS (touchdown after PDI)" in out


def test_cli_refuses_an_unknown_reference_before_flying(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hil.flight.descent

    def fly(*args: object, **kwargs: object) -> DescentResult:
        raise AssertionError("flew with an unknown reference")

    monkeypatch.setattr(hil.flight.descent, "fly", fly)
    assert main(["descent", "--bench", str(SIM_BENCH), "--reference", "apollo12"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hil: unknown reference 'apollo12'; references: apollo11")
    assert "\n" not in err


@pytest.mark.parametrize("seed", [1])  # dispersed full-stack runs: tests/test_campaign.py
def test_nominal_lands_on_other_seeds(channel: str, seed: int) -> None:
    result = fly(channel, seed=seed)
    assert result.passed, result.verdict


def test_same_seed_same_flight(channel: str) -> None:
    scenario = short(load_scenario("nominal"), 40.0)
    first = fly(channel + "a", seed=7, scenario=scenario)
    second = fly(channel + "b", seed=7, scenario=scenario)
    other = fly(channel + "c", seed=8, scenario=scenario)
    assert first.events == second.events
    assert first.stop_reason == "end of run"

    def trace(channel_suffix: str, seed: int) -> np.ndarray:
        config = private_bench_config(SIM_BENCH, channel + channel_suffix)
        with descent_bench(config, realtime=False) as bench:
            run = DescentRun(bench, scenario, seed=seed)
            run.run()
        return run.trajectory()

    a, b, c = trace("d", 7), trace("e", 7), trace("f", 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert other.events[0] == first.events[0]


def test_cutting_the_lrf_link_changes_what_the_fc_estimates(
    channel: str, nominal: tuple[DescentResult, Path]
) -> None:
    """Proof the loop is closed over the wire: without LRF frames the FC never corrects its
    300 m uplink error, and it touches down believing it is still far up."""

    # Unplugged after BIT (which would catch a dead LRF) and PDI.
    scenario = dataclasses.replace(
        load_scenario("nominal"),
        injections=(Injection("unplug", at_s=20.0, device="range_finder"),),
    )
    result = fly(channel, seed=0, scenario=scenario)
    nominal_result, _ = nominal
    assert result.lrf_first_valid_range_m is None
    assert not result.passed
    assert nominal_result.passed
    assert "did not declare LANDED" in result.verdict or "vertical speed" in result.verdict
    assert result.landed_altitude_error_m is None or abs(result.landed_altitude_error_m) > 100


def test_a_silent_fc_is_detected_within_three_periods(channel: str, tmp_path: Path) -> None:
    hang_at_s = 5.0

    def hang(run: DescentRun, time_s: float) -> None:
        device = run.bench.flight_computer.device  # type: ignore[attr-defined]
        if time_s >= hang_at_s and not device.hung:
            device.hang()
            run.event("fault injected: FC hung")

    result = fly(
        channel, out=tmp_path, scenario=short(load_scenario("nominal"), 30), injections=[hang]
    )
    assert result.stop_reason.startswith("FC stopped commanding the engine")
    stopped_s = result.events[-1][0]
    assert hang_at_s < stopped_s <= hang_at_s + 3 * 0.02 + 0.021
    # What was recorded up to the fault is kept.
    trajectory = np.load(tmp_path / "trajectory.npz")
    assert trajectory["time_s"][-1] >= hang_at_s - 0.1
    assert json.loads((tmp_path / "summary.json").read_text())["passed"] is False


def test_real_time_run_keeps_its_deadlines(channel: str) -> None:
    result = fly(channel, scenario=short(load_scenario("nominal"), 2.5), realtime=True)
    assert result.stop_reason == "end of run"
    timing = result.timing
    assert timing["frames"] == pytest.approx(2500, abs=2)
    # This checks that real time works, not how well (benchmarks/bench_descent.py and
    # bench_realtime.py measure that): the run took at least its simulated time on the wall
    # clock, measured every frame's lateness, and no frame ran early.
    assert timing["wall_s"] >= 2.5 - 0.01
    assert timing["lateness_p50_ms"] >= 0.0 and timing["lateness_max_ms"] >= 0.0
    assert any("BIT passed" in text for _, text in result.events)
    assert any(text.startswith("FC armed") for _, text in result.events)


def test_lockstep_is_refused_on_hardware_and_unknown_scenarios_are_named() -> None:
    with pytest.raises(ConfigError, match=r"has hardware devices .*lockstep needs simulated"):
        descent_bench(load_bench(LAB_BENCH), realtime=False)
    with pytest.raises(ConfigError, match=r"unknown scenario 'moonwalk'; scenarios: .*nominal"):
        load_scenario("moonwalk")


def test_cli_refuses_unknown_scenario_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["descent", "--scenario", "moonwalk", "--bench", str(SIM_BENCH)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hil: unknown scenario 'moonwalk'") and "\n" not in err


def test_an_fc_that_flew_another_profile_flies_the_scenarios_own(channel: str) -> None:
    # F2's guidance targets left in an FC that stays up between flights (a device of its own,
    # the GUI's bench) must not fly the nominal scenario, whose model-only run uses defaults
    scenario = short(load_scenario("nominal"), 2.0)
    with descent_bench(private_bench_config(SIM_BENCH, channel), realtime=False) as bench:
        fc = bench.flight_computer
        fc.set_param("BRAKING_TIME_S", "750")
        fc.set_param("HIGH_GATE_ALT_M", "3000")
        DescentRun(bench, scenario, seed=0).run()
        assert float(fc.get_param("BRAKING_TIME_S")) == 550.0
        assert float(fc.get_param("HIGH_GATE_ALT_M")) == 2000.0


def test_an_fc_whose_navigation_fails_says_so_in_the_verdict(channel: str) -> None:
    imu_gone_mad: list[float] = []

    def poison(run: DescentRun, time_s: float) -> None:
        # from 15 s the IMU line carries NaN specific force, which the FC's navigation integrates
        if time_s >= 15.0 and not imu_gone_mad:
            imu_gone_mad.append(time_s)
            imu = run.bench.imu
            send = imu.send_samples
            imu.send_samples = lambda t, f, w, status=0: send(t, np.full_like(f, np.nan), w, status)  # type: ignore[method-assign]
            run.event("fault injected: IMU specific force NaN")

    result = fly(channel, scenario=short(load_scenario("nominal"), 17.0), injections=[poison])
    assert "FC mode ABORT" in " ".join(text for _, text in result.events)
    assert "FC aborted: navigation state not finite in BRAKING" in result.verdict, result.verdict
