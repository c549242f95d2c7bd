"""The loop's transport delay, measured over the links: a slower FC is measured slower by
what it adds (the FC's configured processing delay), and the shares add up."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np
import pytest

from hil.bench import Bench
from hil.bench.latency import LatencyReport, measure_latency
from hil.core.clock import SimulatedClock
from hil.core.config import BenchConfig
from hil.errors import ConfigError, ProtocolError


def with_delay(config: BenchConfig, delay_s: float, suffix: str) -> BenchConfig:
    fc = dataclasses.replace(
        config.devices["flight_computer"],
        options=MappingProxyType({"processing_delay_s": delay_s}),
    )
    return dataclasses.replace(
        config,
        devices=MappingProxyType({**config.devices, "flight_computer": fc}),
        can=dataclasses.replace(config.can, channel=config.can.channel + suffix),
    )


def measured(config: BenchConfig) -> LatencyReport:
    with Bench(config) as bench:
        report = measure_latency(bench, trials=15)
        assert bench.flight_computer.heartbeat() is not None
        assert bench.flight_computer.get_param("TEST_MODE") == "off"  # left as found
    return report


def test_a_60_ms_slower_fc_measures_60_ms_slower(hil_sim_config: BenchConfig) -> None:
    fast = measured(with_delay(hil_sim_config, 0.0, "-fast"))
    slow = measured(with_delay(hil_sim_config, 0.060, "-slow"))
    assert fast.lost == 0 and slow.lost == 0
    difference_ms = slow.percentiles_ms("total")[0] - fast.percentiles_ms("total")[0]
    # within one FC command period (20 ms): the FC answers at its next ACS_Cmd
    assert difference_ms == pytest.approx(60.0, abs=20.0)
    for report in (fast, slow):
        for trial in report.trials:
            assert trial.due_s <= trial.written_s <= trial.reacted_s
            assert trial.total_s == pytest.approx(trial.bench_s + trial.fc_s)
        totals = np.array([trial.total_s for trial in report.trials])
        assert totals.min() > 0.0


def test_a_negative_delay_is_refused_in_one_line(hil_sim_config: BenchConfig) -> None:
    bench = Bench(with_delay(hil_sim_config, -0.01, "-neg"))
    with pytest.raises(ConfigError, match=r"processing_delay_s: must be >= 0 s") as caught:
        bench.open()
    assert "\n" not in str(caught.value)


def test_latency_is_refused_in_lockstep(hil_sim_config: BenchConfig) -> None:
    with (
        Bench(hil_sim_config, clock=SimulatedClock()) as bench,
        pytest.raises(ProtocolError, match="real time"),
    ):
        measure_latency(bench, trials=1)


def test_an_fc_whose_bit_keeps_failing_is_not_armed(hil_sim_config: BenchConfig) -> None:
    # the FC asks more of its IMU than the ICD's 400 Hz: its BIT fails however often it runs
    with Bench(with_delay(hil_sim_config, 0.0, "-bit")) as bench:
        bench.flight_computer.set_param("IMU_MIN_RATE_HZ", "1000")
        with pytest.raises(ProtocolError, match=r"BIT failed \(IMU\) 3 times: cannot arm"):
            measure_latency(bench, trials=1)
        assert bench.flight_computer.status()["MODE"] == "SAFE"
