"""Real time with the FC outside the bench: the stall statistic of periodic CAN messages
versus counter gaps, the receive-side check behind the bench's FC watchdog, and the
``[realtime]`` options of bench and device files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import can
import pytest

from hil.core.config import load_bench
from hil.core.realtime import RealtimeOptions
from hil.drivers.can import CanLink, crc8_sae_j1850, load_database
from hil.drivers.sim.standalone import load_device
from hil.errors import ConfigError
from hil.flight.descent.run import DescentRun
from hil.protocol.icd import ICD_DATABASE

DATABASE = load_database(ICD_DATABASE)
PERIOD_S = 0.02  # ACS_Cmd's ICD period
VALUES = {"ThrustPitch": 1.0, "ThrustYaw": -1.0}


def _frame(counter: int, stamp_s: float) -> can.Message:
    definition = DATABASE.get_message_by_name("ACS_Cmd")
    data = bytearray(definition.encode({**VALUES, "Counter": counter, "CRC": 0}))
    data[7] = crc8_sae_j1850(bytes(data[:7]) + b"\x00")
    return can.Message(
        arbitration_id=definition.frame_id, data=data, is_extended_id=False, timestamp=stamp_s
    )


def _receive(link: CanLink, frames: list[tuple[int, float]]) -> None:
    for counter, stamp_s in frames:
        link.listener.on_message_received(_frame(counter, stamp_s))


def test_a_silence_longer_than_a_counter_lap_is_a_stall_not_lost_frames() -> None:
    link = CanLink(interface="virtual", channel="unused", database=DATABASE, threaded=False)
    # 0, 1 on time; then 20 periods silent and the counter goes on at 2: nothing was lost
    _receive(link, [(0, 0.0), (1, PERIOD_S), (2, 21 * PERIOD_S)])
    stats = link.stats["ACS_Cmd"]
    assert (stats.stalls, stats.counter_gaps) == (1, 0)
    assert stats.longest_stall_s == pytest.approx(20 * PERIOD_S)
    # a counter gap after a short silence is still frames lost
    _receive(link, [(5, 22 * PERIOD_S), (6, 23 * PERIOD_S)])
    assert link.stats["ACS_Cmd"].counter_gaps == 2
    # 30 periods silent, the counter on by 30 (6 -> 36, aliased to 4): 29 frames lost, as a
    # bus-off loses them; the frames' timestamps count the counter's laps
    _receive(link, [(4, 53 * PERIOD_S), (5, 54 * PERIOD_S)])
    stats = link.stats["ACS_Cmd"]
    assert (stats.stalls, stats.counter_gaps, stats.received) == (1, 2 + 29, 7)
    # and a later pause of 30 periods with the counter going on by one: a second stall
    _receive(link, [(6, 84 * PERIOD_S)])
    stats = link.stats["ACS_Cmd"]
    assert (stats.stalls, stats.counter_gaps) == (2, 31)
    assert stats.longest_stall_s == pytest.approx(30 * PERIOD_S)


def test_a_silence_of_a_whole_lap_is_judged_by_the_counter() -> None:
    link = CanLink(interface="virtual", channel="unused", database=DATABASE, threaded=False)
    # exactly 16 periods with 15 frames lost: counter gaps, not a stall
    _receive(link, [(0, 0.0), (0, 16 * PERIOD_S)])
    stats = link.stats["ACS_Cmd"]
    assert (stats.stalls, stats.counter_gaps) == (0, 1)


def test_frames_waiting_on_the_interface_say_the_bench_is_behind(channel: str) -> None:
    with (
        CanLink(interface="virtual", channel=channel, database=DATABASE, threaded=False) as rx,
        can.Bus(interface="virtual", channel=channel) as raw,
    ):
        assert not rx.frames_waiting()
        raw.send(_frame(0, 0.0))
        assert rx.frames_waiting()
        rx.pump()
        assert not rx.frames_waiting()
    assert not rx.frames_waiting()  # closed


def test_the_fc_watchdog_waits_while_frames_wait_unread() -> None:
    waiting = SimpleNamespace(frames_waiting=lambda: True)
    idle = SimpleNamespace(frames_waiting=lambda: False)
    on_time = SimpleNamespace(late_s=0.0)
    for can_link, stalled in ((waiting, True), (idle, False)):
        run = SimpleNamespace(
            _executive=on_time, realtime=True, bench=SimpleNamespace(can=can_link), _stalls=0
        )
        assert DescentRun._bench_stalled(run) is stalled  # type: ignore[arg-type]
        assert run._stalls == int(stalled)
    late = SimpleNamespace(
        _executive=SimpleNamespace(late_s=0.5), realtime=True, bench=None, _stalls=0
    )
    assert DescentRun._bench_stalled(late) is True  # type: ignore[arg-type]


def _bench_file(tmp_path: Path, realtime: str) -> Path:
    text = (load_bench("sim").path).read_text()
    text = text.replace('"../can/lander.dbc"', f'"{ICD_DATABASE}"')
    path = tmp_path / "bench.toml"
    path.write_text(text + "\n[realtime]\n" + realtime + "\n")
    return path


def test_realtime_options_of_a_bench_file(tmp_path: Path) -> None:
    assert load_bench("sim").realtime == RealtimeOptions("gen0", (), 10)
    path = _bench_file(tmp_path, 'gc = "off"\ncpus = [0]\nfifo_priority = 0')
    assert load_bench(path).realtime == RealtimeOptions("off", (0,), 0)


@pytest.mark.parametrize(
    ("lines", "key"),
    [
        ('gc = "sometimes"', "gc"),
        ("cpus = [4096]", "cpus"),
        ('cpus = ["zero"]', "cpus"),
        ("cpus = 0", "cpus"),
        ("fifo_priority = 100", "fifo_priority"),
        ("fifo_priority = true", "fifo_priority"),
        ("policy = 1", "policy"),
    ],
)
def test_bad_realtime_options_are_one_line_naming_file_and_key(
    tmp_path: Path, lines: str, key: str
) -> None:
    path = _bench_file(tmp_path, lines)
    with pytest.raises(ConfigError) as caught:
        load_bench(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message and f"[realtime] {key}" in message


def test_realtime_options_of_a_device_file(tmp_path: Path) -> None:
    path = tmp_path / "fc.toml"
    base = '[device]\n[can]\ninterface = "virtual"\nchannel = "x"\n'
    base += '[maintenance]\nurl = "pty"\n[imu]\nurl = "pty"\n'
    path.write_text(base)
    assert load_device(path).realtime == RealtimeOptions("gen0", (), 10)
    path.write_text(base + '[realtime]\ngc = "freeze"\ncpus = [1]\nfifo_priority = 0\n')
    assert load_device(path).realtime == RealtimeOptions("freeze", (1,), 0)
    path.write_text(base + "[realtime]\nfifo_priority = -1\n")
    with pytest.raises(ConfigError, match=r"\[realtime\] fifo_priority: must be 0"):
        load_device(path)
