"""The CAN link's receive path: check, decode, publish and dispatch every received frame.

A ``Receiver`` owns what the link knows of the frames it receives: for each message the
rolling-counter state, the latest decoded values and the subscribers; for the link the
condition ``CanLink.wait_for`` waits on. It updates the link's counters
(``hil.drivers.can.stats``). A ``FrameListener`` is the ``can.Listener`` that feeds it, from
the Notifier thread or from ``CanLink.pump``.

Each frame is logged, checked (length, CRC, counter continuity), decoded as cantools does and
published into the ``SignalStore`` as ``"<Message>.<Signal>"``. Frames already queued on the
bus are taken in batches (up to ``RX_BATCH`` per wake-up, one store update per batch), each
still checked, timestamped and dispatched on its own, in order; a lone frame is handled at
once.

Reception never raises: a malformed frame is logged on logger ``hil.can`` and counted, and a
raising subscriber is logged and counted (a ``can.Notifier`` thread dies for good when a
listener raises).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import can

from hil.core.clock import Clock
from hil.core.signals import SignalStore
from hil.drivers.can.codec import MessageCodec
from hil.drivers.can.crc import frame_crc
from hil.drivers.can.stats import LinkCounters, MessageCounters

__all__ = ["RX_BATCH", "FrameListener", "Receiver", "Subscriber"]

logger = logging.getLogger("hil.can")

RX_BATCH = 64
"""At most this many already-queued frames are handled per receive wake-up (one store update
each batch); bounds how long the first frame of a burst waits for the rest to be decoded."""

Subscriber = Callable[[str, dict[str, float | str], float], None]
"""``callback(message_name, decoded, timestamp_s)``; see ``CanLink.subscribe``."""


class _Inbound:
    """What the receive path keeps about one message."""

    __slots__ = ("codec", "counters", "last_counter", "last_stamp_s", "latest", "subscribers")

    def __init__(self, codec: MessageCodec, counters: MessageCounters) -> None:
        self.codec = codec
        self.counters = counters
        self.last_counter = -1
        """Counter of the last good frame; -1 before the first."""
        self.last_stamp_s = 0.0
        """Timestamp of the last good frame (the sender's or the interface's), s."""
        self.latest: dict[str, float] = {}
        """Published values (``"<Message>.<Signal>"``) of the last good frame."""
        self.subscribers: tuple[Subscriber, ...] = ()


class Receiver:
    """The receive path of one link (see the module docstring).

    ``codecs`` and ``message_counters`` are keyed by message name (the same names);
    ``store`` (may be None) receives the decoded values; ``clock`` (may be None: monotonic
    time) stamps them. ``log_frame``, when set, is called with every received frame.
    """

    def __init__(
        self,
        name: str,
        codecs: Mapping[str, MessageCodec],
        message_counters: Mapping[str, MessageCounters],
        counters: LinkCounters,
        store: SignalStore | None,
        clock: Clock | None,
    ) -> None:
        self.name = name
        self.counters = counters
        self.failure: str | None = None
        """The first error the bus raised in the receive thread (the bus has gone away)."""
        self._store = store
        self._clock = clock
        self._inbound = {
            message: _Inbound(codec, message_counters[message]) for message, codec in codecs.items()
        }
        self._by_id = {inbound.codec.frame_id: inbound for inbound in self._inbound.values()}
        self.log_frame: Callable[[can.Message], None] | None = None
        self._sub_lock = threading.Lock()
        self.arrived = threading.Condition()
        """Notified after a batch with good frames while ``waiters`` > 0, and by ``wake``."""
        self.waiters = 0
        """Threads waiting on ``arrived`` (changed with ``arrived`` held)."""

    def subscribe(self, message: str, callback: Subscriber) -> Callable[[], None]:
        """Add ``callback`` for the good frames of ``message`` (a known name); returns a
        function that removes it."""
        inbound = self._inbound[message]
        with self._sub_lock:
            inbound.subscribers = (*inbound.subscribers, callback)

        def remove() -> None:
            with self._sub_lock:
                inbound.subscribers = tuple(cb for cb in inbound.subscribers if cb is not callback)

        return remove

    def latest(self, message: str) -> dict[str, float | str]:
        """The values of the last good frame of ``message`` by plain signal name ({} if none)."""
        inbound = self._inbound[message]
        return inbound.codec.by_signal(inbound.latest)

    def wake(self) -> None:
        """Wake every thread waiting on ``arrived`` (the link is closing)."""
        with self.arrived:
            self.arrived.notify_all()

    def on_frames(self, frames: list[can.Message]) -> None:
        """Check, decode, publish and dispatch received frames, in order. Runs for every
        frame: keep lean.

        Every frame is logged, checked (length, CRC, counter) and decoded with its own
        receive time; the good ones are then published into the store in one
        ``publish_batch`` (store listeners called per frame, in order), then handed to their
        subscribers and counted frame by frame, in order (a frame is counted, and so seen by
        ``wait_for``, only after its subscribers ran); waiters are woken once, at the end.
        """
        counters = self.counters
        counters.frames_received += len(frames)
        log_frame = self.log_frame
        by_id = self._by_id
        clock = self._clock
        now = clock.now_s if clock is not None else time.monotonic
        good: list[tuple[_Inbound, dict[str, float], float, float]] = []
        for msg in frames:
            if log_frame is not None:
                log_frame(msg)
            if msg.is_error_frame:
                counters.error_frames += 1
                logger.warning("CAN link %r: error frame %s", self.name, msg)
                continue
            inbound = by_id.get(msg.arbitration_id)
            if (
                inbound is None
                or msg.is_extended_id != inbound.codec.is_extended
                or msg.is_remote_frame
            ):
                counters.unknown_ids += 1
                logger.debug("CAN link %r: frame of unknown id %s", self.name, msg)
                continue
            codec = inbound.codec
            data = msg.data
            if len(data) != codec.length:
                self._bad_frame(inbound, msg, f"{len(data)} data bytes, expected {codec.length}")
                continue
            crc_index = codec.crc_index
            if crc_index is not None:
                expected = frame_crc(data, crc_index)
                if data[crc_index] != expected:
                    inbound.counters.crc_failures += 1
                    counters.malformed += 1
                    logger.warning(
                        "CAN link %r: %s CRC 0x%02X, expected 0x%02X: %s",
                        self.name,
                        codec.name,
                        data[crc_index],
                        expected,
                        data.hex(" "),
                    )
                    continue
            try:
                values = codec.decode(data)
            except Exception as err:  # cantools raises DecodeError, ValueError, bitstruct.Error
                self._bad_frame(inbound, msg, f"cannot decode: {err}")
                continue
            now_s = now()
            if codec.counter_mask:
                self._check_counter(inbound, data, msg.timestamp)
            good.append((inbound, values, now_s, now_s if clock is not None else msg.timestamp))
        if not good:
            return

        store = self._store
        if store is not None:
            try:
                store.publish_batch([(timestamp_s, values) for _, values, _, timestamp_s in good])
            except ExceptionGroup as group:  # store listeners raised; the samples are stored
                counters.callback_errors += len(group.exceptions)
                logger.error(
                    "CAN link %r: signal store listeners raised",
                    self.name,
                    exc_info=group,
                )
        for inbound, values, now_s, timestamp_s in good:
            inbound.latest = values
            message_counters = inbound.counters
            message_counters.rx_times.append(now_s)
            subscribers = inbound.subscribers
            if subscribers:
                codec = inbound.codec
                decoded = codec.by_signal(values)
                for subscriber in subscribers:
                    try:
                        subscriber(codec.name, decoded, timestamp_s)
                    except Exception:
                        counters.callback_errors += 1
                        logger.exception(
                            "CAN link %r: subscriber of %s raised", self.name, codec.name
                        )
            # counted once its subscribers ran: wait_for never returns before them
            message_counters.received += 1
        if self.waiters:
            with self.arrived:
                self.arrived.notify_all()

    def _check_counter(self, inbound: _Inbound, data: bytearray, stamp_s: float) -> None:
        """Count the frames of ``inbound`` missed before this one (``data``, sent at
        ``stamp_s``) according to its rolling counter.

        A periodic message silent for more than a whole lap of its counter (16 periods of a
        4-bit counter) whose counter then goes on by one is a stall, counted in ``stalls``,
        not as lost frames: the sender (or a relay) paused and nothing was lost on the bus. If
        the counter moved on by more, frames were lost (a bus-off, a cut cable): past a lap the
        counter aliases, so the frames' own timestamps (the sender's, or the interface's) say
        how many laps were lost. Indistinguishable, and counted as a stall: a loss of exactly
        a multiple of 16 frames. Receive stalls on this side do not matter either way.
        """
        codec = inbound.codec
        mask = codec.counter_mask
        counter = (int.from_bytes(data, "little") >> codec.counter_shift) & mask
        last = inbound.last_counter
        inbound.last_counter = counter
        previous_s, inbound.last_stamp_s = inbound.last_stamp_s, stamp_s
        if last < 0:
            return
        period_s = codec.cycle_time_s
        silent_s = stamp_s - previous_s
        step = (counter - last) & mask
        if period_s and silent_s > (mask + 1) * period_s and step == 1:
            counters = inbound.counters
            counters.stalls += 1
            counters.longest_stall_s = max(counters.longest_stall_s, silent_s)
            logger.info(
                "CAN link %r: %s silent for %.0f ms (%.1f periods): a stall, not counted as "
                "lost frames",
                self.name,
                codec.name,
                1000 * silent_s,
                silent_s / period_s,
            )
            return
        if period_s and step != 0:
            laps = (silent_s / period_s - step) / (mask + 1)
            if laps > 0.5:  # round(laps) >= 1
                step += round(laps) * (mask + 1)
        if step != 1:
            missed = 1 if step == 0 else step - 1
            inbound.counters.counter_gaps += missed
            logger.info(
                "CAN link %r: %s counter %d after %d (%d frames missed)",
                self.name,
                codec.name,
                counter,
                last,
                missed,
            )

    def _bad_frame(self, inbound: _Inbound, msg: can.Message, reason: str) -> None:
        inbound.counters.decode_errors += 1
        self.counters.malformed += 1
        logger.warning(
            "CAN link %r: malformed %s (%s): %s", self.name, inbound.codec.name, reason, msg
        )


class FrameListener(can.Listener):
    """The one receive path, shared by the Notifier thread, ``CanLink.pump`` and
    ``CanLink.listener``: hands frames to a ``Receiver``, never raises.

    Given a ``bus`` (the Notifier's listener), each frame the Notifier hands over is handled
    together with the frames already queued behind it on that bus (``recv(timeout=0)``, up
    to ``RX_BATCH``): one thread wake-up and one store update per batch instead of per
    frame, and no added delay for a lone frame.
    """

    def __init__(self, receiver: Receiver, bus: can.BusABC | None = None) -> None:
        self._receiver = receiver
        self._bus = bus

    def on_message_received(self, msg: can.Message) -> None:
        frames = [msg]
        error: Exception | None = None
        bus = self._bus
        if bus is not None:
            recv = bus.recv
            try:
                while len(frames) < RX_BATCH and (more := recv(0)) is not None:
                    frames.append(more)
            except Exception as err:  # handled after the frames already taken
                error = err
        self.handle(frames)
        if error is not None:
            self.on_error(error)

    def handle(self, frames: list[can.Message]) -> None:
        receiver = self._receiver
        try:
            receiver.on_frames(frames)
        except Exception:  # the Notifier thread must never die
            receiver.counters.callback_errors += 1
            logger.exception(
                "CAN link %r: unexpected error handling %d frame(s) from %s",
                receiver.name,
                len(frames),
                frames[0],
            )

    def on_error(self, exc: Exception) -> None:
        receiver = self._receiver
        receiver.counters.bus_errors += 1
        if receiver.failure is None:
            receiver.failure = " ".join(str(exc).split()) or type(exc).__name__
            logger.error("CAN link %r: bus error in receive thread: %s", receiver.name, exc)
