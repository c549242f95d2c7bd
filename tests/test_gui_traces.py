"""The GUI's data path without Qt: the signal buffer a bench thread appends to, the trace store
the redraw timer drains it into, and the peak decimation that keeps spikes on screen."""

from __future__ import annotations

import threading

import numpy as np

from hil.core.signals import SignalStore
from hil.gui.plots import peak_decimate
from hil.services.traces import SignalBuffer, TraceStore, unit_from_name


def test_published_batches_reach_the_trace_store_in_order_from_several_threads() -> None:
    store = SignalStore()
    buffer = SignalBuffer()
    remove = store.add_listener(buffer.listener)

    def publish(offset: float) -> None:
        for i in range(2_000):
            store.publish_many({f"w{offset:g}.altitude_m": float(i)}, offset + i * 0.001)

    threads = [threading.Thread(target=publish, args=(float(k),)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    remove()
    traces = TraceStore()
    assert traces.drain(buffer) == 6_000
    assert traces.drain(buffer) == 0
    for k in range(3):
        times, values = traces.data(f"w{k}.altitude_m")
        assert values.tolist() == [float(i) for i in range(2_000)]
        assert np.all(np.diff(times) > 0)
    assert traces.unit("w0.altitude_m") == "m"


def test_trace_store_keeps_the_newest_samples_and_cuts_a_time_window() -> None:
    traces = TraceStore(capacity=1_000)
    for chunk in range(10):
        traces.extend([(chunk * 300 + i, {"x_mps": float(chunk * 300 + i)}) for i in range(300)])
    times, values = traces.data("x_mps")
    assert traces.count("x_mps") == 1_000
    assert values[0] == 2_000.0 and values[-1] == 2_999.0
    times, _ = traces.data("x_mps", since_s=2_990.0)
    assert times.tolist() == [float(t) for t in range(2_990, 3_000)]
    assert traces.latest("x_mps") == 2_999.0
    traces.reset()
    assert traces.names() == [] and np.isnan(traces.latest("x_mps"))


def test_units_come_from_the_bench_first_then_the_name() -> None:
    traces = TraceStore(unit_of=lambda name: "kPa" if name.startswith("ENG_") else "")
    assert traces.unit("ENG_Status.ChamberPressure") == "kPa"
    assert traces.unit("truth.vertical_speed_mps") == "m/s"
    assert unit_from_name("FC_Heartbeat.Mode") == ""


def test_peak_decimation_keeps_a_one_sample_spike() -> None:
    times = np.arange(24_000) * 0.001
    values = np.zeros(24_000)
    values[12_345] = 50.0
    short_t, short_v = peak_decimate(times, values, 2_000)
    assert short_v.size <= 2_000
    assert short_v.max() == 50.0
    assert short_t[-1] == times[-1]
    _, same_v = peak_decimate(times[:100], values[:100], 2_000)
    assert same_v.size == 100
