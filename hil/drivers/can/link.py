"""The CAN link: one python-can bus with the cantools database, its receive thread and log.

``CanLink`` owns everything between a python-can ``Bus`` and the rest of the bench, and
assembles the package's parts around it:

* **sending** - ``send`` and ``start_periodic`` (``hil.drivers.can.periodic``) encode a message
  by name with strict range checks, fill in the rolling ``Counter`` and the ``CRC`` byte
  (``hil.drivers.can.codec``) and log the frame;
* **receiving** - one ``FrameListener`` (``hil.drivers.can.reception``), run by a
  ``can.Notifier`` thread, or by ``pump`` when ``threaded=False``, checks, decodes and
  publishes every frame into the ``SignalStore`` as ``"<Message>.<Signal>"`` with its DBC unit
  (frames the link sends are published too, unless ``receive_own_messages`` echoes them);
* **statistics** - per message and per link (``hil.drivers.can.stats``);
* **logging** - every frame, received and sent, to a BLF file when ``log_path`` is given. A
  failing write is logged on logger ``hil.can`` and counted, never raised.
"""

from __future__ import annotations

import copy
import logging
import select
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import can
import can.util
from cantools.database.can import Database

from hil.core.clock import Clock
from hil.core.signals import SignalStore
from hil.drivers.can.codec import MessageCodec, SignalValues
from hil.drivers.can.periodic import PeriodicSend
from hil.drivers.can.reception import RX_BATCH, FrameListener, Receiver, Subscriber
from hil.drivers.can.stats import LinkCounters, LinkStats, MessageCounters, MessageStats
from hil.errors import ConfigError, DeviceTimeout, LinkError

__all__ = ["CanLink"]

logger = logging.getLogger("hil.can")

_T = TypeVar("_T")

_NOTIFIER_TIMEOUT_S = 0.1
"""How long the Notifier thread blocks in ``recv``; bounds how long ``close`` waits for it."""


class _Outbound:
    """What the send path keeps about one message."""

    __slots__ = ("codec", "counters", "tx_counter")

    def __init__(self, codec: MessageCodec, counters: MessageCounters) -> None:
        self.codec = codec
        self.counters = counters
        self.tx_counter = 0
        """The ``Counter`` of the next frame sent."""


class CanLink:
    """One CAN bus plus the cantools database: encode, send, receive, check, publish.

    A context manager; ``close`` twice is harmless. ``threaded=True`` receives in a python-can
    ``Notifier`` thread; ``threaded=False`` receives only when ``pump`` (or ``wait_for``) runs.
    """

    def __init__(
        self,
        *,
        interface: str,
        channel: str,
        bitrate: int = 1_000_000,
        database: Database,
        signals: SignalStore | None = None,
        clock: Clock | None = None,
        name: str = "can",
        threaded: bool = True,
        log_path: Path | None = None,
        receive_own_messages: bool = False,
    ) -> None:
        """Prepare the link (nothing is opened until ``open``).

        Raises ``ConfigError`` when a message's ``Counter``/``CRC`` layout is unusable or a
        ``.db`` log is requested (python-can's SQLite writer drops frames).
        """
        self.name = name
        self.interface = interface
        self.channel = channel
        self.bitrate = bitrate
        self.database = database
        self.threaded = threaded
        self.log_path = None if log_path is None else Path(log_path)
        self.log_time_offset_s = 0.0
        """Added to each frame's timestamp in the log (simulated clock: to today's time)."""
        self.log_start_epoch_s: float | None = None
        """Wall time (Unix epoch s) when the log opened; None without a log."""
        self.receive_own_messages = receive_own_messages
        if self.log_path is not None and self.log_path.suffix.lower() == ".db":
            raise ConfigError(
                f"CAN log {str(self.log_path)!r}: SQLite logs drop frames; use a .blf file"
            )
        self._store = signals
        self._clock = clock

        self._codecs: dict[str, MessageCodec] = {}
        self._message_counters: dict[str, MessageCounters] = {}
        self._outbound: dict[str, _Outbound] = {}
        for message in database.messages:
            codec = MessageCodec(message)
            counters = MessageCounters()
            self._codecs[codec.name] = codec
            self._message_counters[codec.name] = counters
            self._outbound[codec.name] = _Outbound(codec, counters)
        self._counters = LinkCounters()
        self._receiver = Receiver(
            name, self._codecs, self._message_counters, self._counters, signals, clock
        )
        if signals is not None:
            for message in database.messages:
                for signal in message.signals:
                    signals.declare(f"{message.name}.{signal.name}", signal.unit or "")

        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._writer: can.Listener | None = None
        self._listener = FrameListener(self._receiver)
        self._tx_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._periodic: list[PeriodicSend] = []
        self.tx_fault: Callable[[str, bytearray], bytearray | None] | None = None
        """Fault injection on transmit: ``tx_fault(message, data)`` returns the data to put on
        the wire (possibly corrupted) or None to lose the frame. The counter still advances,
        as for a frame lost on a real bus. None (the default) sends every frame as encoded."""

    # -- lifetime ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._bus is not None

    @property
    def listener(self) -> can.Listener:
        """The receive path as a ``can.Listener`` (what the Notifier and ``pump`` call).
        Never raises; every frame it is given is counted in ``link_stats``."""
        return self._listener

    @property
    def signals(self) -> SignalStore | None:
        """The store received signals are published into (None: not published)."""
        return self._store

    def open(self) -> CanLink:
        """Open the bus (and the log and the receive thread). Opening twice is harmless.

        Raises ``LinkError`` naming interface and channel when python-can cannot open it, or
        listing python-can's interfaces when ``interface`` is not one of them.
        """
        if self._bus is not None:
            return self
        if self.interface not in can.VALID_INTERFACES:
            known = ", ".join(sorted(can.VALID_INTERFACES))
            raise LinkError(
                f"CAN interface {self.interface!r} is not known to python-can (available: {known})"
            )
        try:
            # python-can's virtual bus stamps frames with the wall clock unless told to keep
            # the sender's time; the bench's frames carry simulated time in lockstep.
            extra: dict[str, Any] = (
                {"preserve_timestamps": True} if self.interface == "virtual" else {}
            )
            bus = can.Bus(
                interface=self.interface,
                channel=self.channel,
                bitrate=self.bitrate,
                receive_own_messages=self.receive_own_messages,
                **extra,
            )
        except Exception as err:  # drivers raise anything from OSError to ImportError
            reason = " ".join(str(err).split()) or type(err).__name__
            raise LinkError(
                f"CAN interface {self.interface!r} channel {self.channel!r}: {reason}"
            ) from err
        try:
            if self.log_path is not None:
                try:
                    self._writer = can.Logger(self.log_path)
                except OSError as err:
                    raise LinkError(f"CAN log {str(self.log_path)!r}: {err}") from err
                clock = self._clock
                if clock is not None and clock.is_simulated:
                    # frames carry simulated seconds (0 at the start): the log gets the wall
                    # time of this moment plus the simulated offset, so tools that read a
                    # BLF file's absolute start (Vector's, python-can's) see today
                    self.log_time_offset_s = time.time() - clock.now_s()
                self.log_start_epoch_s = time.time()
                self._receiver.log_frame = self._log
            self._bus = bus
            if self.threaded:
                self._notifier = can.Notifier(
                    bus, [FrameListener(self._receiver, bus)], timeout=_NOTIFIER_TIMEOUT_S
                )
        except BaseException:
            self._bus = None
            bus.shutdown()
            raise
        return self

    def close(self) -> None:
        """Stop periodic sends and the receive thread, close the log and the bus. Idempotent."""
        periodics, self._periodic = self._periodic, []
        for periodic in periodics:
            periodic._halt()
        for periodic in periodics:
            periodic._join()
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            notifier.stop(timeout=_NOTIFIER_TIMEOUT_S + 5.0)
        bus, self._bus = self._bus, None
        if bus is not None:
            try:
                bus.shutdown()
            except (can.CanError, OSError) as err:  # the far end is already gone
                logger.warning("CAN link %r: shutting the bus down: %s", self.name, err)
                # python-can-remote fails before marking itself shut down, and would try
                # again (and fail noisily) when collected: the base class marks it
                can.BusABC.shutdown(bus)
        self._receiver.log_frame = None
        with self._log_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
        self._receiver.wake()

    def __enter__(self) -> CanLink:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._bus is not None else "closed"
        return f"CanLink({self.name!r}, {self.interface}:{self.channel}, {state})"

    # -- sending -----------------------------------------------------------------------------

    def send(self, message: str, signals: SignalValues) -> None:
        """Encode ``message`` from ``signals`` (all but Counter/CRC; numbers or choice names)
        and send it with the next Counter and its CRC.

        Raises ``ConfigError`` for an unknown message, ``ValueError`` naming message and signal
        for an unknown, missing or out-of-range signal, ``LinkError`` if the bus is closed or
        refuses the frame.
        """
        outbound = self._outbound.get(message)
        if outbound is None:
            outbound = self._known(self._outbound, message)  # raises, naming the messages
        codec = outbound.codec
        prepared = codec.prepare(signals)
        bus = self._bus
        if bus is None:
            bus = self._require_bus()  # raises
        clock = self._clock
        with self._tx_lock:
            counter = outbound.tx_counter
            data: bytearray | None = codec.frame_data(prepared, counter)
            tx_fault = self.tx_fault
            if tx_fault is not None:
                data = tx_fault(message, data)  # type: ignore[arg-type]
                if data is None:  # lost on the wire
                    outbound.tx_counter = (counter + 1) & codec.counter_mask
                    return
            frame = can.Message(
                arbitration_id=codec.frame_id,
                is_extended_id=codec.is_extended,
                data=data,
                is_rx=False,
                # as _stamp_s, inlined: this runs per frame
                timestamp=clock.now_s()
                if clock is not None and clock.is_simulated
                else time.time(),
            )
            try:
                bus.send(frame)
            except (can.CanError, OSError) as err:  # a plug-in's socket fails as OSError
                reason = " ".join(str(err).split()) or type(err).__name__
                raise LinkError(
                    f"CAN interface {self.interface!r} channel {self.channel!r}: sending "
                    f"{message}: {reason}"
                ) from err
            outbound.tx_counter = (counter + 1) & codec.counter_mask
            outbound.counters.sent += 1
            self._counters.frames_sent += 1
        if self._writer is not None or (self._store is not None and not self.receive_own_messages):
            self._after_send(codec, frame)

    def start_periodic(
        self,
        message: str,
        period_s: float,
        signals: SignalValues | Callable[[], SignalValues],
    ) -> PeriodicSend:
        """Send ``message`` every ``period_s`` s via python-can's ``send_periodic``.

        ``signals`` is a mapping (checked now, sent unchanged) or a callable asked for fresh
        values before every frame. Each frame gets the next Counter and a fresh CRC. If the
        callable raises or returns bad values the error is logged and counted, that frame is
        not sent and the task stops. Raises like ``send`` for a bad static mapping, and
        ``ValueError`` for a non-positive period.
        """
        outbound = self._known(self._outbound, message)
        codec = outbound.codec
        if not period_s > 0:
            raise ValueError(f"CAN message {message!r}: period must be > 0 s, got {period_s!r}")
        provider: Callable[[], SignalValues] | None = None
        static: int | dict[str, float | str] = 0
        if callable(signals):
            provider = signals
        else:
            static = codec.prepare(signals)
        bus = self._require_bus()
        handle = PeriodicSend(message, period_s, on_stop=self._forget)
        template = can.Message(
            arbitration_id=codec.frame_id,
            is_extended_id=codec.is_extended,
            data=bytes(codec.length),
            is_rx=False,
        )

        def fill(frame: can.Message) -> None:
            prepared = static if provider is None else codec.prepare(provider())
            with self._tx_lock:
                counter = outbound.tx_counter
                frame.data = codec.frame_data(prepared, counter)
                frame.timestamp = self._stamp_s()
                outbound.tx_counter = (counter + 1) & codec.counter_mask
                outbound.counters.sent += 1
                self._counters.frames_sent += 1
            self._after_send(codec, frame)

        def on_failure(err: Exception) -> None:
            self._counters.callback_errors += 1
            logger.error("CAN link %r: periodic %s stopped: %s", self.name, message, err)

        handle._prepare(bus, template, fill, on_failure)
        self._periodic.append(handle)
        handle._start()
        return handle

    def _after_send(self, codec: MessageCodec, frame: can.Message) -> None:
        """Log a sent frame, and publish its values unless the bus echoes it back to us
        (``receive_own_messages``), so the store shows what the bench put on the bus too."""
        if self._writer is not None:
            self._log(frame)
        store = self._store
        if store is not None and not self.receive_own_messages:
            clock = self._clock
            store.publish_many(
                codec.decode(frame.data), clock.now_s() if clock is not None else frame.timestamp
            )

    def _forget(self, periodic: PeriodicSend) -> None:
        if periodic in self._periodic:
            self._periodic.remove(periodic)

    def _log(self, frame: can.Message) -> None:
        """Write one frame to the bus log. A failing write is logged and counted, never raised."""
        if self.log_time_offset_s:
            frame = copy.copy(frame)
            frame.timestamp += self.log_time_offset_s
        if frame.channel is not None:
            number = can.util.channel2int(frame.channel)
            if number is None or not 0 <= number <= 0xFFFF:  # BLF holds a 16-bit channel
                frame = copy.copy(frame)
                frame.channel = None
        with self._log_lock:
            writer = self._writer
            if writer is None:
                return
            try:
                writer.on_message_received(frame)
            except Exception as err:  # a full disk must not stop reception
                self._counters.callback_errors += 1
                logger.error(
                    "CAN link %r: cannot log frame to %s: %s", self.name, self.log_path, err
                )

    # -- receiving ---------------------------------------------------------------------------

    def subscribe(self, message: str, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(message_name, decoded, timestamp_s)`` for every good frame of
        ``message`` (in the receiving thread; ``decoded`` holds numbers, do not mutate it).
        A raising callback is logged and counted. Returns a function that unsubscribes.
        """
        self._codec(message)
        return self._receiver.subscribe(message, callback)

    def pump(self) -> int:
        """Receive and handle every frame already waiting (``threaded=False`` mode); returns
        how many. Returns 0 in threaded mode, where the Notifier thread receives.
        Raises ``LinkError`` if the link is not open.
        """
        bus = self._require_bus()
        if self.threaded:
            return 0
        listener = self._listener
        handled = 0
        frames: list[can.Message] = []
        try:
            while (msg := bus.recv(timeout=0)) is not None:
                frames.append(msg)
                if len(frames) == RX_BATCH:
                    listener.handle(frames)
                    handled += len(frames)
                    frames = []
        finally:  # a raising bus still hands on what it gave
            if frames:
                listener.handle(frames)
                handled += len(frames)
        return handled

    def frames_waiting(self) -> bool:
        """True when frames have arrived on the bus that the receive path has not taken in
        yet (the bench's own receive is behind, so silence is not yet the sender's): bytes
        waiting on the interface's socket, or frames in a virtual bus's queue. False when
        nothing waits, or the interface cannot say."""
        bus = self._bus
        if bus is None:
            return False
        try:
            descriptor = bus.fileno()
        except (NotImplementedError, OSError, AttributeError):
            queue = getattr(bus, "queue", None)
            return bool(queue is not None and not queue.empty())
        if not isinstance(descriptor, int) or descriptor < 0:
            return False
        try:
            readable, _, _ = select.select([descriptor], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)

    def received_count(self, message: str) -> int:
        """Good frames of ``message`` received so far (take it *before* commanding)."""
        return self._known(self._message_counters, message).received

    def wait_for(self, message: str, after_count: int, timeout_s: float) -> dict[str, float | str]:
        """Wait until more than ``after_count`` good frames of ``message`` arrived; return the
        latest decoded values. Pumps while waiting in ``threaded=False`` mode.

        Raises ``DeviceTimeout`` naming the message and channel.
        """
        counters = self._known(self._message_counters, message)
        receiver = self._receiver
        deadline_s = time.monotonic() + timeout_s
        if not self.threaded:
            bus = self._require_bus()
            while counters.received <= after_count:
                remaining_s = deadline_s - time.monotonic()
                if remaining_s <= 0:
                    self._timeout(message, counters, after_count, timeout_s)
                msg = bus.recv(timeout=min(remaining_s, 0.05))
                if msg is not None:
                    self._listener(msg)
                    self.pump()
            return receiver.latest(message)
        arrived = receiver.arrived
        with arrived:
            receiver.waiters += 1
            try:
                while counters.received <= after_count:
                    remaining_s = deadline_s - time.monotonic()
                    if remaining_s <= 0 or self._bus is None:
                        self._timeout(message, counters, after_count, timeout_s)
                    arrived.wait(remaining_s)
            finally:
                receiver.waiters -= 1
        return receiver.latest(message)

    def _timeout(
        self, message: str, counters: MessageCounters, after_count: int, timeout_s: float
    ) -> None:
        state = "" if self._bus is not None else ", link closed"
        raise DeviceTimeout(
            f"CAN message {message!r} on {self.interface} channel {self.channel!r}: "
            f"no frame after #{after_count} within {timeout_s:g} s "
            f"({counters.received} received{state})"
        )

    # -- statistics --------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, MessageStats]:
        """Per message name (every message of the database), both directions."""
        now_s = self._now_s()
        return {name: counters.snapshot(now_s) for name, counters in self._message_counters.items()}

    @property
    def link_stats(self) -> LinkStats:
        return self._counters.snapshot()

    def raise_if_failed(self) -> None:
        """Raise ``LinkError`` naming the interface and channel when the bus failed in the
        receive thread (a CAN server that dropped the connection, an adapter unplugged)."""
        failure = self._receiver.failure
        if failure is not None:
            raise LinkError(f"CAN interface {self.interface!r} channel {self.channel!r}: {failure}")

    # -- internals ---------------------------------------------------------------------------

    def _stamp_s(self) -> float:
        """A sent frame's timestamp: simulated time in lockstep (so bus logs and receivers see
        the simulated schedule), else the epoch time python-can uses."""
        clock = self._clock
        return clock.now_s() if clock is not None and clock.is_simulated else time.time()

    def _now_s(self) -> float:
        return self._clock.now_s() if self._clock is not None else time.monotonic()

    def _codec(self, message: str) -> MessageCodec:
        return self._known(self._codecs, message)

    def _known(self, table: Mapping[str, _T], message: str) -> _T:
        """``table[message]``; raises ``ConfigError`` naming the known messages."""
        item = table.get(message)
        if item is None:
            raise ConfigError(
                f"CAN message {message!r} is not in the database "
                f"(known: {', '.join(sorted(self._codecs))})"
            )
        return item

    def _require_bus(self) -> can.BusABC:
        bus = self._bus
        if bus is None:
            raise LinkError(f"CAN link {self.name!r} channel {self.channel!r} is not open")
        return bus
