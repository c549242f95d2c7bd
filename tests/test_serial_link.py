"""Serial link: IMU frame codec, COBS/CRC framing, line protocol, links over ptys and loop://."""

from __future__ import annotations

import binascii
import contextlib
import fcntl
import itertools
import os
import select
import struct
import termios
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from cobs import cobs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hil.drivers.serial import (
    IMU_FRAME_TYPE,
    IMU_PAYLOAD_BYTES,
    FrameDecoder,
    ImuFrame,
    Line,
    LineDecoder,
    SerialLink,
    crc16_ccitt_false,
    encode_frame,
    encode_line,
    nmea_checksum,
)
from hil.drivers.sim.pty import PtyPair
from hil.errors import DeviceTimeout, FrameError, LinkError, ProtocolError

PROPERTY = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def imu_frame(sequence: int) -> ImuFrame:
    """A frame whose floats are exact in f32, so a round trip compares equal."""
    return ImuFrame(sequence, 2500 * sequence, (0.25, -1.5, 1.625), (0.0, 0.125, -0.5), 0x81)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


# -- IMU frame and CRC -------------------------------------------------------------------------


def test_imu_frame_round_trips_and_has_the_icd_layout() -> None:
    frame = imu_frame(513)
    payload = frame.pack()
    assert len(payload) == IMU_PAYLOAD_BYTES == 32
    assert payload[0] == IMU_FRAME_TYPE
    assert payload[1:3] == (513).to_bytes(2, "little")
    assert ImuFrame.unpack(payload) == frame


def test_imu_sequence_and_time_wrap_when_packed() -> None:
    frame = ImuFrame(65536 + 7, 2**32 + 99, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0)
    decoded = ImuFrame.unpack(frame.pack())
    assert (decoded.sequence, decoded.time_us) == (7, 99)


def test_imu_unpack_rejects_wrong_type_and_length() -> None:
    payload = imu_frame(1).pack()
    with pytest.raises(FrameError, match="payload is 31 bytes, expected 32"):
        ImuFrame.unpack(payload[:-1])
    with pytest.raises(FrameError, match="type 0x02, expected 0x01"):
        ImuFrame.unpack(b"\x02" + payload[1:])


def test_crc16_ccitt_false_known_vector() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1 == binascii.crc_hqx(b"123456789", 0xFFFF)


# -- framing -----------------------------------------------------------------------------------

PAYLOADS = [
    imu_frame(1).pack(),
    b"\x00",
    b"\x00" * 40,
    bytes(range(1, 251)),  # no zeros, longer than one COBS block
    b"\x11\x00\x00\x22\x00",
]


def test_encoded_frame_is_cobs_of_payload_and_big_endian_crc() -> None:
    payload = b"\x01\x00\x02"
    wire = encode_frame(payload)
    assert wire.endswith(b"\x00") and b"\x00" not in wire[:-1]
    assert cobs.decode(wire[:-1]) == payload + crc16_ccitt_false(payload).to_bytes(2, "big")
    with pytest.raises(ValueError, match="1 to 250"):
        encode_frame(b"")


def test_frames_round_trip_split_at_every_byte_boundary() -> None:
    stream = b"".join(encode_frame(payload) for payload in PAYLOADS)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) == PAYLOADS
        assert decoder.stats.frames_ok == len(PAYLOADS)
        assert decoder.bad_frames == 0
    decoder = FrameDecoder()
    one_by_one = [p for i in range(len(stream)) for p in decoder.feed(stream[i : i + 1])]
    assert one_by_one == PAYLOADS


def cobs_data_positions(wire: bytes | bytearray) -> list[int]:
    """Indexes of the bytes of an encoded frame that carry data (not COBS codes, not 0x00)."""
    codes, index = set(), 0
    while index < len(wire) - 1:
        codes.add(index)
        index += wire[index]
    return [i for i in range(len(wire) - 1) if i not in codes]


def test_corrupted_byte_is_a_crc_error_and_neighbours_survive() -> None:
    wires = [encode_frame(imu_frame(sequence).pack()) for sequence in range(3)]
    bad = bytearray(wires[1])
    for position in cobs_data_positions(wires[1])[::5]:
        bad[position] ^= 0x40 if bad[position] != 0x40 else 0x01  # never becomes 0x00
    decoder = FrameDecoder()
    payloads = decoder.feed(wires[0] + bytes(bad) + wires[2])
    assert [ImuFrame.unpack(p).sequence for p in payloads] == [0, 2]
    assert decoder.stats.crc_errors == 1
    assert decoder.bad_frames == 1


def test_garbage_between_frames_is_skipped_and_counted() -> None:
    garbage = b"\xff\x13 line noise \x00\x07\x00"
    decoder = FrameDecoder()
    payloads = decoder.feed(encode_frame(b"A") + garbage + b"\x00\x00" + encode_frame(b"B"))
    assert payloads == [b"A", b"B"]
    assert decoder.stats.cobs_errors == 2  # neither b"\xff\x13 line noise " nor b"\x07" is COBS
    assert decoder.bad_frames == 2
    assert decoder.stats.bytes_discarded == len(garbage) - 2


def test_endless_bytes_without_delimiter_are_dropped_and_counted_once() -> None:
    decoder = FrameDecoder()
    for _ in range(100):
        assert decoder.feed(b"\x55" * 1000) == []
    assert decoder.feed(b"\x55\x00" + encode_frame(b"ok")) == [b"ok"]
    assert decoder.stats.length_errors == 1
    assert decoder.stats.bytes_discarded == 100_001


# -- line protocol -----------------------------------------------------------------------------


def test_nmea_checksum_known_vectors() -> None:
    assert nmea_checksum("GPGLL,5300.97914,N,00259.98174,E,125926,A") == "28"
    # by hand: 'P' 0x50 ^ 'I' 0x49 ^ 'N' 0x4E ^ 'G' 0x47 = 0x10
    assert encode_line("PING") == b"$PING*10\r\n"
    body = "OK MODE ARMED"
    assert encode_line("OK", "MODE", "ARMED") == f"${body}*{nmea_checksum(body)}\r\n".encode()


def test_encode_line_rejects_fields_that_cannot_be_sent() -> None:
    for command, args in [("", ()), ("MO DE", ()), ("$X", ()), ("SET", ("A*B",)), ("SET", ("",))]:
        with pytest.raises(ValueError, match="must be"):
            encode_line(command, *args)
    with pytest.raises(ValueError, match="SET argument 'é'"):
        encode_line("SET", "é")


def test_line_decoder_splits_checks_and_counts() -> None:
    decoder = LineDecoder()
    good = encode_line("OK", "MODE", "ARMED")
    stream = (
        good[:5]
        + good[5:]
        + b"$OK MODE ARMED*00\r\n"  # bad checksum
        + b"OK MODE*12\r\n"  # no '$'
        + b"$OK MODE\r\n"  # no checksum
        + b"$OK \xe9*E9\r\n"  # not ASCII
        + b"\r\n"  # empty: ignored
        + b"$BIT*5f\r\n"  # lower-case hex digits accepted
        + b"$"
        + b"X" * 400
        + b"*00\r\n"  # too long
        + b"$STATUS*"  # incomplete: kept for the next feed
    )
    lines = [line for i in range(0, len(stream), 7) for line in decoder.feed(stream[i : i + 7])]
    assert lines == [Line("OK", ("MODE", "ARMED")), Line("BIT")]
    assert decoder.stats.checksum_errors == 1
    assert decoder.stats.format_errors == 4
    assert decoder.bad_lines == 5
    assert decoder.feed(f"{nmea_checksum('STATUS')}\n".encode()) == [Line("STATUS")]


# -- links over a pty --------------------------------------------------------------------------


@pytest.fixture
def pty_links() -> Iterator[tuple[SerialLink, SerialLink]]:
    """(bench end opened by path like any serial port, device end on the pty master)."""
    with (
        PtyPair() as pty,
        SerialLink(pty.slave_path, baudrate=921600, name="imu") as bench,
        SerialLink.on_fd(pty.master_fd, name="device") as device,
    ):
        yield bench, device


@contextlib.contextmanager
def answering(device: SerialLink, reply: Callable[[Line], tuple[str, ...]]) -> Iterator[None]:
    """Run a device thread that answers each line it reads with ``reply(line)``."""
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                line = device.read_line(0.02)
            except DeviceTimeout:
                continue
            device.write_line(*reply(line))

    thread = threading.Thread(target=serve, name="test-device")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2.0)


def wait_until_received(slave_path: str, n_bytes: int, timeout_s: float = 2.0) -> None:
    """Wait until the pty's bench end holds ``n_bytes`` unread (the kernel may lag a write)."""
    fd = os.open(slave_path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        deadline_s = time.monotonic() + timeout_s
        while True:
            waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
            if waiting >= n_bytes:
                return
            assert time.monotonic() < deadline_s, f"only {waiting} of {n_bytes} bytes arrived"
            select.select([fd], [], [], 0.01)
    finally:
        os.close(fd)


def test_frames_cross_a_pty_both_ways(pty_links: tuple[SerialLink, SerialLink]) -> None:
    bench, device = pty_links
    for payload in PAYLOADS:
        bench.write_frame(payload)
    received: list[bytes] = []
    while len(received) < len(PAYLOADS):
        received += device.read_frames(timeout_s=1.0)
    assert received == PAYLOADS
    device.write_frames([b"\x00up", b"down\x00"])
    received = []
    while len(received) < 2:
        received += bench.read_frames(timeout_s=1.0)
    assert received == [b"\x00up", b"down\x00"]
    assert bench.stats.frames_out == device.stats.frames_in == len(PAYLOADS)
    assert bench.stats.frames_in == 2
    assert bench.stats.bytes_out == device.stats.bytes_in > 0


def test_lines_cross_a_pty_both_ways(pty_links: tuple[SerialLink, SerialLink]) -> None:
    bench, device = pty_links
    bench.write_line("MODE", "ARMED")
    assert device.read_line(1.0) == Line("MODE", ("ARMED",))
    device.write_line("OK", "MODE", "ARMED")
    assert bench.read_line(1.0) == Line("OK", ("MODE", "ARMED"))
    assert (bench.stats.lines_out, bench.stats.lines_in) == (1, 1)


def test_bad_line_is_counted_and_the_next_one_read(
    pty_links: tuple[SerialLink, SerialLink],
) -> None:
    bench, device = pty_links
    bench.write_raw(b"$PING*11\r\n" + encode_line("PING"))
    assert device.read_line(1.0) == Line("PING")
    assert device.stats.bad_lines == 1


def test_read_until_sequence_returns_frames_in_order_and_keeps_the_rest(
    pty_links: tuple[SerialLink, SerialLink],
) -> None:
    bench, device = pty_links
    bench.write_frames([imu_frame(sequence).pack() for sequence in range(65534, 65536)])
    bench.write_frames([imu_frame(sequence).pack() for sequence in range(4)])
    frames = device.read_until_sequence(1, timeout_s=1.0)  # across the u16 wrap
    assert [frame.sequence for frame in frames] == [65534, 65535, 0, 1]
    assert frames[-1] == imu_frame(1)
    assert [frame.sequence for frame in device.read_until_sequence(3, 1.0)] == [2, 3]


def test_read_until_sequence_stops_at_a_later_frame_when_the_awaited_one_was_lost(
    pty_links: tuple[SerialLink, SerialLink],
) -> None:
    bench, device = pty_links
    wire = bytearray(encode_frame(imu_frame(5).pack()))
    wire[cobs_data_positions(wire)[3]] ^= 0x80  # frame 5 corrupted on the line
    bench.write_raw(encode_frame(imu_frame(4).pack()) + bytes(wire))
    bench.write_frame(imu_frame(6).pack())
    frames = device.read_until_sequence(5, timeout_s=1.0)
    assert [frame.sequence for frame in frames] == [4, 6]
    assert device.stats.bad_frames == 1


def test_read_until_sequence_counts_frames_that_are_not_imu_frames(
    pty_links: tuple[SerialLink, SerialLink],
) -> None:
    bench, device = pty_links
    bench.write_frames([b"\x02other", imu_frame(9).pack()])
    assert [frame.sequence for frame in device.read_until_sequence(9, 1.0)] == [9]
    assert device.stats.bad_frames == 1


def test_timeouts_raise_quickly_and_name_the_port(
    pty_links: tuple[SerialLink, SerialLink],
) -> None:
    bench, device = pty_links
    started_s = time.monotonic()
    with pytest.raises(DeviceTimeout, match=r"imu port '/dev/pts/\d+': no line"):
        bench.read_line(0.05)
    with pytest.raises(DeviceTimeout, match=r"device port 'fd:\d+': IMU frame with sequence 42"):
        device.read_until_sequence(42, timeout_s=0.05)
    assert bench.read_frames(timeout_s=0.05) == []
    assert time.monotonic() - started_s < 10.0  # a guard against hanging, not a speed check


def test_write_to_a_device_that_never_reads_times_out() -> None:
    with PtyPair() as pty, SerialLink.on_fd(pty.master_fd, name="dev", read_timeout_s=0.05) as dev:
        started_s = time.monotonic()
        with pytest.raises(DeviceTimeout, match="is the other end reading"):
            for _ in range(1000):
                dev.write_raw(b"\x55" * 4096)
        assert time.monotonic() - started_s < 30.0  # a guard against hanging


def test_transact_returns_ok_and_raises_on_err(pty_links: tuple[SerialLink, SerialLink]) -> None:
    bench, device = pty_links

    def reply(line: Line) -> tuple[str, ...]:
        if line.command == "PING":
            return ("OK", "PING", "PONG")
        if line.command == "HELLO":
            return ("HELLO",)
        return ("ERR", "3", "NOT_ALLOWED:SAFE_TO_BRAKING")

    device.write_line("OK", "STALE")  # a late reply to some earlier command, ...
    wait_until_received(bench.url, len(encode_line("OK", "STALE")))  # ... already received
    with answering(device, reply):
        assert bench.transact("PING", timeout_s=1.0) == Line("OK", ("PING", "PONG"))
        with pytest.raises(ProtocolError) as raised:
            bench.transact("MODE", "BRAKING", timeout_s=1.0)
        assert str(raised.value) == (
            f"imu port '{bench.url}': MODE -> ERR 3 NOT_ALLOWED:SAFE_TO_BRAKING"
        )
        with pytest.raises(ProtocolError, match="HELLO -> unexpected reply 'HELLO'"):
            bench.transact("HELLO", timeout_s=1.0)


def test_transact_without_answer_times_out(pty_links: tuple[SerialLink, SerialLink]) -> None:
    bench, _device = pty_links
    with pytest.raises(DeviceTimeout, match=r"no reply to PING within 0\.050 s"):
        bench.transact("PING", timeout_s=0.05)


def test_missing_port_is_a_one_line_link_error() -> None:
    link = SerialLink("/dev/ttyNOPE", baudrate=921600)
    with pytest.raises(LinkError) as raised:
        link.open()
    message = str(raised.value)
    assert message == "serial port '/dev/ttyNOPE': No such file or directory"
    assert isinstance(raised.value, OSError)
    with pytest.raises(LinkError, match="not open"):
        link.write_line("PING")
    link.close()
    link.close()


def test_closing_twice_is_harmless() -> None:
    pty = PtyPair()
    link = SerialLink(pty.slave_path).open()
    device = SerialLink.on_fd(pty.master_fd, name="dev")
    for _ in range(2):
        link.close()
        device.close()
        pty.close()
    assert not link.is_open and pty.closed


def test_loop_url_carries_frames_and_lines() -> None:
    with SerialLink("loop://", name="loop", read_timeout_s=0.2) as link:
        link.write_frame(imu_frame(3).pack())
        assert [ImuFrame.unpack(p) for p in link.read_frames()] == [imu_frame(3)]
        link.write_line("PING")
        assert link.read_line() == Line("PING")
        with pytest.raises(DeviceTimeout, match="loop port 'loop://'"):
            link.read_line(0.02)


# -- properties --------------------------------------------------------------------------------

cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


@PROPERTY
@given(data=st.binary(max_size=2000), cut_points=cuts)
def test_random_bytes_never_break_the_decoders(data: bytes, cut_points: list[int]) -> None:
    frames, lines = FrameDecoder(), LineDecoder()
    for chunk in chunked(data, cut_points):
        frames.feed(chunk)
        lines.feed(chunk)
    # after any garbage, the next delimiter resynchronises
    assert frames.feed(b"\x00" + encode_frame(b"ok")) == [b"ok"]
    assert lines.feed(b"\n" + encode_line("PING")) == [Line("PING")]


garbage_segment = st.binary(max_size=300).map(lambda junk: junk + b"\x00")


@PROPERTY
@given(
    payloads=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=8),
    garbage=st.lists(garbage_segment, min_size=9, max_size=9),
    cut_points=cuts,
)
def test_valid_frames_embedded_in_garbage_are_all_recovered(
    payloads: list[bytes], garbage: list[bytes], cut_points: list[int]
) -> None:
    garbage = garbage[: len(payloads) + 1]
    alone = FrameDecoder()
    assume(not alone.feed(b"".join(garbage)))  # garbage that happens to be a valid frame
    stream = garbage[0] + b"".join(
        encode_frame(payload) + junk for payload, junk in zip(payloads, garbage[1:], strict=False)
    )
    decoder = FrameDecoder()
    recovered = [p for chunk in chunked(stream, cut_points) for p in decoder.feed(chunk)]
    assert recovered == payloads
    assert decoder.bad_frames == alone.bad_frames  # every bad chunk counted, nothing else


@PROPERTY
@given(
    payloads=st.lists(st.binary(min_size=1, max_size=60), min_size=2, max_size=10),
    corruptions=st.data(),
    cut_points=cuts,
)
def test_each_corrupted_frame_is_counted_and_the_others_recovered(
    payloads: list[bytes], corruptions: st.DataObject, cut_points: list[int]
) -> None:
    wires = [bytearray(encode_frame(payload)) for payload in payloads]
    hit = corruptions.draw(st.sets(st.sampled_from(range(len(wires))), min_size=1))
    for index in hit:
        wire = wires[index]
        position = corruptions.draw(st.integers(0, len(wire) - 2))  # not the delimiter
        others = [value for value in range(1, 256) if value != wire[position]]
        wire[position] = corruptions.draw(st.sampled_from(others))
    decoder = FrameDecoder()
    stream = b"".join(wires)
    recovered = [p for chunk in chunked(stream, cut_points) for p in decoder.feed(chunk)]
    assert recovered == [payload for i, payload in enumerate(payloads) if i not in hit]
    assert decoder.bad_frames >= len(hit)


garbage_line = st.binary(max_size=300).map(lambda junk: junk + b"\n")
words = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-", min_size=1, max_size=12)


@PROPERTY
@given(
    commands=st.lists(st.lists(words, min_size=1, max_size=5), min_size=1, max_size=6),
    garbage=st.lists(garbage_line, min_size=7, max_size=7),
    cut_points=cuts,
)
def test_valid_lines_embedded_in_garbage_are_all_recovered(
    commands: list[list[str]], garbage: list[bytes], cut_points: list[int]
) -> None:
    garbage = garbage[: len(commands) + 1]
    alone = LineDecoder()
    assume(not alone.feed(b"".join(garbage)))
    stream = garbage[0] + b"".join(
        encode_line(*fields) + junk for fields, junk in zip(commands, garbage[1:], strict=False)
    )
    decoder = LineDecoder()
    lines = [line for chunk in chunked(stream, cut_points) for line in decoder.feed(chunk)]
    assert lines == [Line(fields[0], tuple(fields[1:])) for fields in commands]
    assert decoder.bad_lines == alone.bad_lines
