"""The signal store: history, units, listeners, and waiting on conditions."""

from __future__ import annotations

import threading

import pytest

from hil.core.signals import SignalStore
from hil.errors import DeviceTimeout


def test_history_keeps_the_newest_samples_in_order() -> None:
    store = SignalStore(capacity=4)
    for i in range(6):
        store.publish("LRF_Range.SlantRange", float(i), timestamp_s=i * 0.1, unit="m")
    times, values = store.history("LRF_Range.SlantRange")
    assert values.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert times.tolist() == pytest.approx([0.2, 0.3, 0.4, 0.5])
    assert store.unit("LRF_Range.SlantRange") == "m"
    assert store.count("LRF_Range.SlantRange") == 6
    latest = store.latest("LRF_Range.SlantRange")
    assert latest is not None and latest.value == 5.0 and latest.index == 5


def test_wait_for_ignores_samples_before_the_index_taken() -> None:
    store = SignalStore()
    store.publish("ENG_Status.ThrottleActual", 80.0, 0.0)
    index = store.count("ENG_Status.ThrottleActual")
    with pytest.raises(
        DeviceTimeout,
        match=r"'ENG_Status.ThrottleActual': above 50 % not met "
        r"within 0.05 s \(last value 80\)",
    ):
        store.wait_for("ENG_Status.ThrottleActual", lambda v: v > 50, 0.05, index, "above 50 %")
    timer = threading.Timer(0.02, store.publish, ("ENG_Status.ThrottleActual", 60.0, 1.0))
    timer.start()
    sample = store.wait_for("ENG_Status.ThrottleActual", lambda v: v > 50, 2.0, index)
    timer.join()
    assert sample.value == 60.0 and sample.timestamp_s == 1.0


def test_listeners_receive_batches_until_removed() -> None:
    store = SignalStore()
    batches: list[dict[str, float]] = []
    remove = store.add_listener(lambda t, values: batches.append(dict(values)))
    store.publish_many({"a": 1.0, "b": 2.0}, 0.5)
    remove()
    store.publish("a", 3.0, 0.6)
    assert batches == [{"a": 1.0, "b": 2.0}]


@pytest.mark.parametrize("published", [1, 3, 4, 5, 8, 11])
@pytest.mark.parametrize("since", [0, 2, 6, 10])
def test_history_from_any_index_across_the_ring_wrap(published: int, since: int) -> None:
    store = SignalStore(capacity=4)
    for i in range(published):
        store.publish("x", float(i), timestamp_s=float(i))
    times, values = store.history("x", since_index=since)
    expected = [float(i) for i in range(max(since, published - 4), published)]
    assert values.tolist() == expected and times.tolist() == expected


def test_a_batch_is_stored_and_delivered_per_instant_in_order() -> None:
    store = SignalStore(capacity=8)
    store.declare("ENG_Cmd.ThrottleCmd", "%")
    calls: list[tuple[float, dict[str, float]]] = []
    store.add_listener(lambda t, values: calls.append((t, dict(values))))
    batch = [
        (0.01 * i, {"ENG_Cmd.ThrottleCmd": float(i), "ENG_Cmd.Counter": float(i % 16)})
        for i in range(20)
    ]
    store.publish_batch(batch)
    assert calls == [(t, dict(values)) for t, values in batch]
    times, values = store.history("ENG_Cmd.ThrottleCmd")
    assert values.tolist() == [float(i) for i in range(12, 20)]
    assert times.tolist() == pytest.approx([0.01 * i for i in range(12, 20)])
    assert store.count("ENG_Cmd.Counter") == 20
    assert store.unit("ENG_Cmd.ThrottleCmd") == "%"
    store.publish_batch([])  # nothing to do
    assert len(calls) == 20


def test_a_batch_wakes_a_waiter_with_the_first_matching_sample() -> None:
    store = SignalStore()
    batch = [(float(i), {"LRF_Range.SlantRange": 3000.0 - 100.0 * i}) for i in range(10)]
    timer = threading.Timer(0.02, store.publish_batch, (batch,))
    timer.start()
    sample = store.wait_for("LRF_Range.SlantRange", lambda v: v < 2750.0, 2.0, 0)
    timer.join()
    assert (sample.value, sample.timestamp_s, sample.index) == (2700.0, 3.0, 3)


def test_a_raising_listener_does_not_stop_the_rest_of_the_batch() -> None:
    store = SignalStore()
    seen: list[float] = []

    def broken(timestamp_s: float, values: object) -> None:
        raise ValueError(f"listener bug at {timestamp_s}")

    store.add_listener(broken)
    store.add_listener(lambda t, values: seen.append(t))
    with pytest.raises(ExceptionGroup) as raised:
        store.publish_batch([(1.0, {"a": 1.0}), (2.0, {"a": 2.0}), (3.0, {"a": 3.0})])
    assert [str(err) for err in raised.value.exceptions] == [
        "listener bug at 1.0",
        "listener bug at 2.0",
        "listener bug at 3.0",
    ]
    assert seen == [1.0, 2.0, 3.0]
    assert store.count("a") == 3
