"""The typed messages between a descent process and the GUI process: each kind is relayed by
its type, an unknown message is counted and logged without stopping the relay, a descent in a
process streams and stops when asked, and a child that cannot fly reports one line. (A full
descent in a process, through the GUI, is flown by ``tests/test_gui.py``.)"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import pickle
from collections.abc import Mapping
from pathlib import Path

import pytest

from hil.core.config import BenchConfig
from hil.errors import HilError
from hil.flight.scenario import load_scenario
from hil.services.descent_process import (
    DescentProcess,
    Event,
    Failure,
    SignalBatches,
    Units,
    _PipeSender,
)
from hil.services.events import DescentProgress, SessionEvent, StatusSnapshot


class Sink:
    def __init__(self) -> None:
        self.signals: list[tuple[float, dict[str, float]]] = []
        self.units: dict[str, str] = {}
        self.events: list[SessionEvent] = []

    def on_signals(self, timestamp_s: float, values: Mapping[str, float]) -> None:
        self.signals.append((timestamp_s, dict(values)))

    def process(self, config: BenchConfig) -> DescentProcess:
        return DescentProcess(
            config,
            load_scenario("nominal"),
            seed=0,
            realtime=True,
            out_dir=None,
            on_signals=self.on_signals,
            on_units=self.units.update,
            post=self.events.append,
        )


def test_each_message_is_relayed_by_its_type(hil_sim_config: BenchConfig) -> None:
    sink = Sink()
    process = sink.process(hil_sim_config)
    progress = DescentProgress(1.5, 120.0, "BRAKING")
    process.dispatch(SignalBatches(((0.02, {"truth.altitude_m": 500.0}), (0.04, {"a": 1.0}))))
    process.dispatch(Units({"truth.altitude_m": "m"}))
    process.dispatch(Event(progress))
    assert sink.signals == [(0.02, {"truth.altitude_m": 500.0}), (0.04, {"a": 1.0})]
    assert sink.units == {"truth.altitude_m": "m"}
    assert sink.events == [progress]
    process.dispatch(Failure("descent process: LinkError: vcan9 is gone"))
    with pytest.raises(HilError, match=r"^descent process: LinkError: vcan9 is gone$"):
        process.result()


def test_an_unknown_message_is_counted_and_logged_not_fatal(
    hil_sim_config: BenchConfig, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    process = sink.process(hil_sim_config)
    with caplog.at_level(logging.WARNING, logger="hil.gui"):
        process.dispatch(("signals", [(0.0, {"a": 1.0})]))  # the old string-tagged form
        process.dispatch(("signals", [(0.0, {"a": 1.0})]))
        process.dispatch(Units({"a": "m"}))
    assert process.unknown_messages == 2
    assert sink.signals == [] and sink.units == {"a": "m"}
    assert [r.getMessage() for r in caplog.records] == [
        "descent process sent an unknown message (tuple); ignored"
    ]
    process.exitcode = 1
    with pytest.raises(HilError, match=r"without a result \(exit code 1\)"):
        process.result()


def test_the_child_side_sends_typed_messages_that_survive_the_pipe() -> None:
    receiver, connection = multiprocessing.Pipe(duplex=False)
    sender = _PipeSender(connection)
    sender.listener(0.02, {"truth.altitude_m": 500.0})
    sender.listener(0.04, {"truth.altitude_m": 499.5})
    sender.flush(force=True)
    sender.flush(force=True)  # nothing new: nothing sent
    sender.post(DescentProgress(0.04, 499.5, "BRAKING"))
    sender.post(StatusSnapshot(timing={"frames": 2.0}))  # no bench attached: no units
    assert receiver.recv() == SignalBatches(
        ((0.02, {"truth.altitude_m": 500.0}), (0.04, {"truth.altitude_m": 499.5}))
    )
    assert receiver.recv() == Event(DescentProgress(0.04, 499.5, "BRAKING"))
    assert receiver.recv() == Event(StatusSnapshot(timing={"frames": 2.0}))
    assert not receiver.poll(0)
    assert pickle.loads(pickle.dumps(Failure("x"))) == Failure("x")


def test_a_child_that_cannot_load_its_bench_reports_one_line(
    hil_sim_config: BenchConfig, tmp_path: Path
) -> None:
    sink = Sink()
    missing = dataclasses.replace(hil_sim_config, path=tmp_path / "gone.toml")
    process = sink.process(missing)
    process.run(lambda: False)
    with pytest.raises(HilError) as caught:
        process.result()
    message = str(caught.value)
    assert message.startswith("descent process: ") and "gone.toml" in message
    assert "\n" not in message
    assert sink.events == [] and sink.signals == []


def test_a_descent_in_a_process_streams_and_stops_when_asked(hil_sim_config: BenchConfig) -> None:
    sink = Sink()
    process = sink.process(hil_sim_config)
    # stop once the child has streamed signals and a status snapshot (one at t = 0)
    process.run(
        lambda: bool(sink.signals) and any(isinstance(e, StatusSnapshot) for e in sink.events)
    )
    assert "truth.altitude_m" in sink.units  # sent with each snapshot
    assert process.unknown_messages == 0
    result = process.result()  # the run ends with a result, stopped by the operator
    assert not result.passed and "stopped by the operator" in result.stop_reason
    assert isinstance(sink.events[-1], StatusSnapshot)  # the final one, after the run
    assert sink.events[-1].devices[0][3] == "closed"
