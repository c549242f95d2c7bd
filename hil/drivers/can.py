"""CAN link: one python-can bus, the cantools database, counters, CRCs and statistics.

``CanLink`` owns everything between a python-can ``Bus`` and the rest of the bench:

* **sending** - ``send`` and ``start_periodic`` encode a message by name with strict range
  checks, fill in the rolling ``Counter`` and the ``CRC`` byte (ICD, DESIGN section 4) and log
  the frame;
* **receiving** - one ``can.Listener`` (run by a ``can.Notifier`` thread, or by ``pump`` when
  ``threaded=False``) checks length, CRC and counter continuity, decodes as cantools does and
  publishes every signal into the ``SignalStore`` as ``"<Message>.<Signal>"`` with its DBC unit
  (frames the link sends are published too, unless ``receive_own_messages`` echoes them).
  Frames already queued on the bus are taken in batches (up to ``_RX_BATCH`` per wake-up,
  one store update per batch), each still checked, timestamped and dispatched on its own,
  in order; a lone frame is handled at once;
* **statistics** - per message (sent, received, decode errors, counter gaps, CRC failures, rate)
  and per link (unknown ids, malformed frames, error frames);
* **logging** - every frame, received and sent, to a BLF file when ``log_path`` is given.

Reception never raises: a malformed frame is logged on logger ``hil.can`` and counted, and a
raising subscriber is logged and counted (a ``Notifier`` thread dies for good when a listener
raises, DESIGN section 8).

CRC: CRC-8/SAE-J1850 (poly 0x1D, init 0xFF, xorout 0xFF, no reflection) over the frame's data
bytes with the CRC byte zeroed. Counter: 4 bits, +1 per frame of that message, 15 wraps to 0.
Both are found by signal name (``Counter``, ``CRC``); a message without them is sent and
received without those checks.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import can
import can.util
import cantools
import cantools.database
from cantools.database.can import Database
from cantools.database.can import Message as DbMessage

from hil.core.clock import Clock
from hil.core.signals import SignalStore
from hil.errors import ConfigError, DeviceTimeout, LinkError

__all__ = [
    "COUNTER_SIGNAL",
    "CRC_SIGNAL",
    "CanLink",
    "LinkStats",
    "MessageStats",
    "PeriodicSend",
    "crc8_sae_j1850",
    "load_database",
]

logger = logging.getLogger("hil.can")

COUNTER_SIGNAL = "Counter"
"""Name of the rolling-counter signal every ICD message carries."""
CRC_SIGNAL = "CRC"
"""Name of the CRC-8 signal every ICD message carries (its last byte)."""
RATE_WINDOW_S = 2.0
"""Receive rates are measured over the frames of the last 2 s."""
_RATE_HISTORY = 4096
"""At most this many receive times are kept per message for the rate estimate."""
_NOTIFIER_TIMEOUT_S = 0.1
"""How long the Notifier thread blocks in ``recv``; bounds how long ``close`` waits for it."""
_RX_BATCH = 64
"""At most this many already-queued frames are handled per receive wake-up (one store update
each batch); bounds how long the first frame of a burst waits for the rest to be decoded."""

SignalValues = Mapping[str, float | str]
Subscriber = Callable[[str, dict[str, float | str], float], None]


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1D) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def crc8_sae_j1850(data: bytes | bytearray) -> int:
    """CRC-8/SAE-J1850 (poly 0x1D, init 0xFF, xorout 0xFF, no reflection) of ``data``.

    ``crc8_sae_j1850(b"123456789") == 0x4B``.
    """
    table = _CRC8_TABLE
    crc = 0xFF
    for byte in data:
        crc = table[crc ^ byte]
    return crc ^ 0xFF


def _frame_crc(data: bytes | bytearray, crc_index: int) -> int:
    """The CRC-8/SAE-J1850 of ``data`` with the byte at ``crc_index`` taken as zero."""
    table = _CRC8_TABLE
    if crc_index == 7 and len(data) == 8:  # the ICD layout, unrolled: this runs per frame
        b0, b1, b2, b3, b4, b5, b6, _ = data
        crc = table[
            table[table[table[table[table[table[0xFF ^ b0] ^ b1] ^ b2] ^ b3] ^ b4] ^ b5] ^ b6
        ]
        return table[crc] ^ 0xFF
    crc = 0xFF
    for byte in data[:crc_index]:
        crc = table[crc ^ byte]
    crc = table[crc]
    for byte in data[crc_index + 1 :]:
        crc = table[crc ^ byte]
    return crc ^ 0xFF


def load_database(path: str | Path) -> Database:
    """Load a CAN database (DBC, KCD, ARXML, SYM) with cantools in strict mode.

    Strict mode refuses overlapping signals and signals that do not fit their message.
    Raises ``ConfigError`` naming the file when it is missing, unreadable, malformed, or
    not a CAN database.
    """
    path = Path(path)
    try:
        database = cantools.database.load_file(path, strict=True)
    except (OSError, cantools.database.Error, ValueError, KeyError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ConfigError(f"CAN database {str(path)!r}: {reason}") from err
    if not isinstance(database, Database):
        raise ConfigError(f"CAN database {str(path)!r}: not a CAN database")
    return database


@dataclass
class MessageStats:
    """Traffic of one message, both directions, since the link was created."""

    sent: int
    received: int
    """Frames that passed the length and CRC checks, were decoded and published."""
    decode_errors: int
    """Frames of this id with the wrong length, or that cantools could not decode."""
    counter_gaps: int
    """Frames missed according to the rolling counter (a repeated counter counts as 1)."""
    crc_failures: int
    rate_hz: float
    """Receive rate over the frames of the last ``RATE_WINDOW_S`` (2 s); 0 with < 2 frames."""


@dataclass
class LinkStats:
    """Traffic of the whole link since it was created.

    Every received frame is counted in ``frames_received`` and in exactly one of: a message's
    ``received``, ``malformed``, ``unknown_ids`` or ``error_frames``.
    """

    frames_received: int
    frames_sent: int
    unknown_ids: int
    """Frames whose id (or id type, or RTR flag) matches no message of the database."""
    malformed: int
    """Frames of a known id with a wrong length, a CRC mismatch or undecodable data."""
    error_frames: int
    callback_errors: int
    """Subscribers or periodic-signal providers that raised (logged, never propagated)."""
    bus_errors: int
    """Errors the bus raised in the receive thread (handed to ``on_error``)."""


@dataclass(frozen=True, slots=True)
class _Field:
    """One signal the caller provides, with its strict limits and (fast path) bit layout."""

    name: str
    lower: float
    upper: float
    minimum: float
    maximum: float
    unit: str
    choices: dict[str, int]
    start: int
    mask: int
    scale: float
    offset: float


def _fast_path_ok(message: DbMessage) -> bool:
    """True when the message's layout is plain enough for the built-in codec: no multiplexing,
    no containers, only little-endian integer signals. Anything else goes through cantools."""
    return (
        not message.is_container
        and not message.is_multiplexed()
        and all(
            signal.byte_order == "little_endian" and not signal.is_float
            for signal in message.signals
        )
    )


def _literal(value: float, constants: dict[str, Any]) -> str:
    """Source text for a number in generated code: a literal when it round-trips through
    ``repr`` (ints, finite floats), else a name bound in the generated code's namespace."""
    if isinstance(value, int) or math.isfinite(value):
        return repr(value)
    name = f"_k{len(constants)}"
    constants[name] = value
    return name


def _compile(function: str, source: str, message: str, constants: dict[str, Any]) -> Any:
    namespace: dict[str, Any] = {"_NUMBER": (int, float), **constants}
    exec(compile(source, f"<hil.can {function} {message}>", "exec"), namespace)
    return namespace[function]


def _compile_pack(codec: _Codec) -> Callable[[SignalValues], int | None]:
    """Generate ``pack(signals) -> payload bits | None`` for a fast-path message.

    The same formulas as ``_Codec.prepare``'s checked loop, unrolled per signal with the
    limits, scales and bit positions as constants: a frame is built many thousand times a
    second, and the loop's per-signal tuple unpacking and lookups were most of its cost.
    """
    constants: dict[str, Any] = {}
    fields = list(codec.fields.values())
    lines = ["def pack(signals):", f"    if len(signals) != {len(fields)}:", "        return None"]
    if fields:
        lines.append("    try:")
        lines += [f"        v{i} = signals[{field.name!r}]" for i, field in enumerate(fields)]
        lines += ["    except KeyError:", "        return None"]
        checks = [
            f"isinstance(v{i}, _NUMBER) and {_literal(field.lower, constants)} <= v{i} "
            f"<= {_literal(field.upper, constants)}"
            for i, field in enumerate(fields)
        ]
        lines += [f"    if not ({' and '.join(checks)}):", "        return None"]
    terms = [
        f"((round((v{i} - {_literal(field.offset, constants)}) / "
        f"{_literal(field.scale, constants)}) & {field.mask:#x}) << {field.start})"
        for i, field in enumerate(fields)
    ]
    lines.append(f"    return {' | '.join(terms) or '0'}")
    return cast(
        "Callable[[SignalValues], int | None]",
        _compile("pack", "\n".join(lines), codec.name, constants),
    )


def _compile_unpack(codec: _Codec) -> Callable[[bytes | bytearray], dict[str, float]]:
    """Generate ``unpack(data) -> {"<Message>.<Signal>": value}`` for a fast-path message:
    raw = the bit field (sign-extended as ``(raw ^ sign) - sign``), value = raw * scale +
    offset, exactly as cantools scales."""
    constants: dict[str, Any] = {}
    items = []
    for name, start, mask, sign, scale, offset in codec.rx_fields:
        raw = f"((bits >> {start}) & {mask:#x})"
        if sign:
            raw = f"(({raw} ^ {sign:#x}) - {sign:#x})"
        items.append(
            f"        {name!r}: {raw} * {_literal(scale, constants)} + "
            f"{_literal(offset, constants)},"
        )
    head = ["def unpack(data):", "    bits = int.from_bytes(data, 'little')", "    return {"]
    source = "\n".join([*head, *items, "    }"])
    return cast(
        "Callable[[bytes | bytearray], dict[str, float]]",
        _compile("unpack", source, codec.name, constants),
    )


class _Codec:
    """Everything the per-frame paths need about one message, precomputed once.

    Messages with a plain layout (``_fast_path_ok``) are packed and unpacked with integer
    shifts, by functions generated per message (``_compile_pack``, ``_compile_unpack``); the
    results equal cantools' (same formulas: raw * scale + offset, and
    round((value - offset) / scale)); tests check that against cantools for every message.
    Other layouts use cantools' encode/decode.
    """

    __slots__ = (
        "counter_gaps",
        "counter_mask",
        "counter_shift",
        "crc_failures",
        "crc_index",
        "cycle_time_s",
        "decode_errors",
        "fast",
        "fields",
        "frame_id",
        "is_extended",
        "last_counter",
        "last_stamp_s",
        "latest",
        "length",
        "message",
        "name",
        "pack",
        "payload_names",
        "publish_names",
        "received",
        "rx_fields",
        "rx_times",
        "sent",
        "subscribers",
        "tx_counter",
        "tx_limits",
        "unpack",
    )

    def __init__(self, message: DbMessage) -> None:
        self.message = message
        self.name: str = message.name
        self.frame_id: int = message.frame_id
        self.is_extended: bool = bool(message.is_extended_frame)
        self.length: int = message.length
        self.fast = _fast_path_ok(message)
        by_name = {signal.name: signal for signal in message.signals}

        crc = by_name.get(CRC_SIGNAL)
        self.crc_index: int | None = None
        if crc is not None:
            if crc.length != 8 or crc.start % 8 or crc.byte_order != "little_endian":
                raise ConfigError(
                    f"CAN message {self.name!r}: signal {CRC_SIGNAL!r} must be one whole byte "
                    f"(8 bits at a multiple of 8), got {crc.length} bits at bit {crc.start}"
                )
            self.crc_index = crc.start // 8
        counter = by_name.get(COUNTER_SIGNAL)
        self.counter_shift = 0
        self.counter_mask = 0
        if counter is not None:
            if counter.byte_order != "little_endian" or counter.is_signed:
                raise ConfigError(
                    f"CAN message {self.name!r}: signal {COUNTER_SIGNAL!r} must be an unsigned "
                    "little-endian field"
                )
            self.counter_shift = counter.start
            self.counter_mask = (1 << counter.length) - 1

        # Sending: what the caller must provide. Accepted values are the DBC's [min, max]
        # narrowed to what the bit field can hold, widened by cantools' strict tolerance.
        self.fields: dict[str, _Field] = {}
        for signal in message.signals:
            if signal.name in (COUNTER_SIGNAL, CRC_SIGNAL):
                continue
            if signal.is_signed:
                raw_low, raw_high = -(1 << (signal.length - 1)), (1 << (signal.length - 1)) - 1
            else:
                raw_low, raw_high = 0, (1 << signal.length) - 1
            scale, offset = signal.scale, signal.offset
            field_min, field_max = sorted((raw_low * scale + offset, raw_high * scale + offset))
            minimum = field_min if signal.minimum is None else max(signal.minimum, field_min)
            maximum = field_max if signal.maximum is None else min(signal.maximum, field_max)
            tolerance = abs(scale) * 1e-6
            self.fields[signal.name] = _Field(
                name=signal.name,
                lower=minimum - tolerance,
                upper=maximum + tolerance,
                minimum=minimum,
                maximum=maximum,
                unit=signal.unit or "",
                choices={str(text): int(raw) for raw, text in (signal.choices or {}).items()},
                start=signal.start,
                mask=(1 << signal.length) - 1,
                scale=scale,
                offset=offset,
            )
        self.payload_names = frozenset(self.fields)
        self.tx_limits = {
            name: (
                field.lower,
                field.upper,
                field.offset,
                field.scale,
                field.mask,
                field.start,
            )
            for name, field in self.fields.items()
        }
        self.publish_names = tuple(
            (signal.name, f"{self.name}.{signal.name}") for signal in message.signals
        )
        # Receiving (fast path): (published name, start bit, mask, sign bit or 0, scale, offset).
        self.rx_fields = tuple(
            (
                f"{self.name}.{signal.name}",
                signal.start,
                (1 << signal.length) - 1,
                (1 << (signal.length - 1)) if signal.is_signed else 0,
                signal.scale,
                signal.offset,
            )
            for signal in message.signals
        )
        self.pack: Callable[[SignalValues], int | None] | None = None
        """Compiled strict check + pack of the usual case (fast path only): all signals given
        as in-range numbers. Returns None for anything else, which ``prepare`` then handles
        (choice names, other number types) or reports (the precise error)."""
        self.unpack: Callable[[bytes | bytearray], dict[str, float]] | None = None
        """Compiled ``decode`` of a frame of the right length (fast path only)."""
        if self.fast:
            self.pack = _compile_pack(self)
            self.unpack = _compile_unpack(self)

        self.sent = 0
        self.tx_counter = 0
        self.received = 0
        self.decode_errors = 0
        self.counter_gaps = 0
        self.crc_failures = 0
        self.last_counter = -1
        self.rx_times: deque[float] = deque(maxlen=_RATE_HISTORY)
        self.last_stamp_s = 0.0
        self.cycle_time_s = (message.cycle_time or 0) / 1000.0
        """The message's period from the database (GenMsgCycleTime), 0 if it has none."""
        self.latest: dict[str, float] = {}
        """Published values (``"<Message>.<Signal>"``) of the last good frame."""
        self.subscribers: tuple[Subscriber, ...] = ()

    # -- sending ---------------------------------------------------------------------------

    def prepare(self, signals: SignalValues) -> int | dict[str, float | str]:
        """Check caller values strictly and pack them: payload bits (fast path) or a dict of
        numbers for cantools. Raises ``ValueError`` naming the message and the signal."""
        pack = self.pack
        if pack is not None:
            bits = pack(signals)
            if bits is not None:
                return bits
        limits = self.tx_limits
        if self.fast:
            bits = 0
            for name, value in signals.items():
                spec = limits.get(name)
                if spec is None:
                    raise self._unknown_signal(name)
                lower, upper, offset, scale, mask, start = spec
                if isinstance(value, str):
                    raw = self._choice(name, value)
                else:
                    self._check_range(name, value, lower, upper)
                    raw = round((value - offset) / scale)
                bits |= (raw & mask) << start
            if len(signals) != len(limits):
                raise self._missing(signals)
            return bits
        checked: dict[str, float | str] = {}
        for name, value in signals.items():
            spec = limits.get(name)
            if spec is None:
                raise self._unknown_signal(name)
            if isinstance(value, str):
                self._choice(name, value)
            else:
                self._check_range(name, value, spec[0], spec[1])
            checked[name] = value
        if len(checked) != len(limits):
            raise self._missing(checked)
        return checked

    def _check_range(self, name: str, value: float, lower: float, upper: float) -> None:
        try:
            if lower <= value <= upper:
                return
        except TypeError:
            raise ValueError(
                f"CAN message {self.name!r} signal {name!r}: {value!r} is not a number"
            ) from None
        raise self._out_of_range(name, value)

    def _missing(self, signals: SignalValues) -> ValueError:
        missing = ", ".join(sorted(self.payload_names - signals.keys()))
        return ValueError(f"CAN message {self.name!r} is missing signals: {missing}")

    def _unknown_signal(self, name: str) -> ValueError:
        if name in (COUNTER_SIGNAL, CRC_SIGNAL):
            return ValueError(
                f"CAN message {self.name!r}: signal {name!r} is filled in by the link; "
                "do not pass it"
            )
        return ValueError(f"CAN message {self.name!r} has no signal {name!r}")

    def _choice(self, name: str, value: str) -> int:
        choices = self.fields[name].choices
        raw = choices.get(value)
        if raw is None:
            allowed = ", ".join(choices) or "none, the signal is numeric"
            raise ValueError(
                f"CAN message {self.name!r} signal {name!r}: unknown choice {value!r} "
                f"(choices: {allowed})"
            )
        return raw

    def _out_of_range(self, name: str, value: float) -> ValueError:
        field = self.fields[name]
        unit = f" {field.unit}" if field.unit else ""
        return ValueError(
            f"CAN message {self.name!r} signal {field.name!r}: {value!r}{unit} is outside "
            f"{field.minimum}..{field.maximum}{unit}"
        )

    def frame_data(self, prepared: int | dict[str, float | str], counter: int) -> bytearray:
        """Frame data for ``prepare``-d values with ``counter`` and a fresh CRC."""
        crc_index = self.crc_index
        if isinstance(prepared, int):
            bits = prepared | ((counter & self.counter_mask) << self.counter_shift)
            data = bytearray(bits.to_bytes(self.length, "little"))
        else:
            values = dict(prepared)
            if self.counter_mask:
                values[COUNTER_SIGNAL] = counter
            if crc_index is not None:
                values[CRC_SIGNAL] = 0
            data = bytearray(self.message.encode(values, strict=False))
        if crc_index is not None:
            data[crc_index] = _frame_crc(data, crc_index)
        return data

    # -- receiving -------------------------------------------------------------------------

    def decode(self, data: bytearray) -> dict[str, float]:
        """Published values (``"<Message>.<Signal>"``) of one frame of the right length."""
        unpack = self.unpack
        if unpack is not None:
            return unpack(data)
        decoded = cast(
            "dict[str, float]",
            self.message.decode(bytes(data), decode_choices=False, scaling=True),
        )
        return {full: decoded[short] for short, full in self.publish_names}

    def by_signal(self, values: dict[str, float]) -> dict[str, float | str]:
        """``decode`` output keyed by plain signal name, as subscribers and ``wait_for`` get it."""
        return {short: values[full] for short, full in self.publish_names if full in values}

    def snapshot(self, now_s: float) -> MessageStats:
        return MessageStats(
            sent=self.sent,
            received=self.received,
            decode_errors=self.decode_errors,
            counter_gaps=self.counter_gaps,
            crc_failures=self.crc_failures,
            rate_hz=_rate_hz(tuple(self.rx_times), now_s),
        )


def _rate_hz(times_s: tuple[float, ...], now_s: float) -> float:
    """Frames per second among ``times_s`` that fall in the last ``RATE_WINDOW_S``."""
    cutoff_s = now_s - RATE_WINDOW_S
    first = len(times_s)
    while first > 0 and times_s[first - 1] > cutoff_s:
        first -= 1
    count = len(times_s) - first
    if count < 2:
        return 0.0
    span_s = times_s[-1] - times_s[first]
    return (count - 1) / span_s if span_s > 0 else 0.0


class PeriodicSend:
    """Handle of a periodic transmission started by ``CanLink.start_periodic``."""

    def __init__(self, link: CanLink, message: str, period_s: float) -> None:
        self.message = message
        self.period_s = period_s
        self._link = link
        self._task: can.broadcastmanager.CyclicSendTaskABC | None = None
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """True once ``stop`` was called or a signal provider raised."""
        return self._stopped

    def stop(self) -> None:
        """Stop sending. Returns once no further frame will be sent; calling twice is harmless."""
        self._halt()
        self._join()
        self._link._forget(self)

    def _halt(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.stop()

    def _join(self) -> None:
        task, self._task = self._task, None
        thread = getattr(task, "thread", None)
        if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
            thread.join(timeout=self.period_s + 1.0)

    def __enter__(self) -> PeriodicSend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _FrameListener(can.Listener):
    """The one receive path, shared by the Notifier thread, ``CanLink.pump`` and
    ``CanLink.listener``.

    Given a ``bus`` (the Notifier's listener), each frame the Notifier hands over is handled
    together with the frames already queued behind it on that bus (``recv(timeout=0)``, up
    to ``_RX_BATCH``): one thread wake-up and one store update per batch instead of per
    frame, and no added delay for a lone frame.
    """

    def __init__(self, link: CanLink, bus: can.BusABC | None = None) -> None:
        self._link = link
        self._bus = bus

    def on_message_received(self, msg: can.Message) -> None:
        frames = [msg]
        error: Exception | None = None
        bus = self._bus
        if bus is not None:
            recv = bus.recv
            try:
                while len(frames) < _RX_BATCH and (more := recv(0)) is not None:
                    frames.append(more)
            except Exception as err:  # handled after the frames already taken
                error = err
        self.handle(frames)
        if error is not None:
            self.on_error(error)

    def handle(self, frames: list[can.Message]) -> None:
        try:
            self._link._on_frames(frames)
        except Exception:  # the Notifier thread must never die (DESIGN 8)
            self._link._callback_errors += 1
            logger.exception(
                "CAN link %r: unexpected error handling %d frame(s) from %s",
                self._link.name,
                len(frames),
                frames[0],
            )

    def on_error(self, exc: Exception) -> None:
        self._link._bus_errors += 1
        logger.error("CAN link %r: bus error in receive thread: %s", self._link.name, exc)


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
        ``.db`` log is requested (python-can's SQLite writer drops frames, DESIGN section 8).
        """
        self.name = name
        self.interface = interface
        self.channel = channel
        self.bitrate = bitrate
        self.database = database
        self.threaded = threaded
        self.log_path = None if log_path is None else Path(log_path)
        self.receive_own_messages = receive_own_messages
        if self.log_path is not None and self.log_path.suffix.lower() == ".db":
            raise ConfigError(
                f"CAN log {str(self.log_path)!r}: SQLite logs drop frames; use a .blf file"
            )
        self._store = signals
        self._clock = clock

        self._codecs: dict[str, _Codec] = {}
        self._by_id: dict[int, _Codec] = {}
        for message in database.messages:
            codec = _Codec(message)
            self._codecs[codec.name] = codec
            self._by_id[codec.frame_id] = codec
        if signals is not None:
            for message in database.messages:
                for signal in message.signals:
                    signals.declare(f"{message.name}.{signal.name}", signal.unit or "")

        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._writer: can.Listener | None = None
        self._listener = _FrameListener(self)
        self._tx_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._sub_lock = threading.Lock()
        self._arrived = threading.Condition()
        self._waiters = 0
        self._periodic: list[PeriodicSend] = []

        self._frames_received = 0
        self._frames_sent = 0
        self.tx_fault: Callable[[str, bytearray], bytearray | None] | None = None
        """Fault injection on transmit: ``tx_fault(message, data)`` returns the data to put on
        the wire (possibly corrupted) or None to lose the frame. The counter still advances,
        as for a frame lost on a real bus. None (the default) sends every frame as encoded."""
        self._unknown_ids = 0
        self._malformed = 0
        self._error_frames = 0
        self._callback_errors = 0
        self._bus_errors = 0

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
            self._bus = bus
            if self.threaded:
                self._notifier = can.Notifier(
                    bus, [_FrameListener(self, bus)], timeout=_NOTIFIER_TIMEOUT_S
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
            bus.shutdown()
        with self._log_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
        with self._arrived:
            self._arrived.notify_all()

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
        codec = self._codecs.get(message)
        if codec is None:
            codec = self._codec(message)  # raises, naming the known messages
        prepared = codec.prepare(signals)
        bus = self._bus
        if bus is None:
            bus = self._require_bus()  # raises
        clock = self._clock
        with self._tx_lock:
            counter = codec.tx_counter
            data: bytearray | None = codec.frame_data(prepared, counter)
            tx_fault = self.tx_fault
            if tx_fault is not None:
                data = tx_fault(message, data)  # type: ignore[arg-type]
                if data is None:  # lost on the wire
                    codec.tx_counter = (counter + 1) & codec.counter_mask
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
            except can.CanError as err:
                raise LinkError(
                    f"CAN link {self.name!r} channel {self.channel!r}: sending {message}: {err}"
                ) from err
            codec.tx_counter = (counter + 1) & codec.counter_mask
            codec.sent += 1
            self._frames_sent += 1
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
        codec = self._codec(message)
        if not period_s > 0:
            raise ValueError(f"CAN message {message!r}: period must be > 0 s, got {period_s!r}")
        provider: Callable[[], SignalValues] | None = None
        static: int | dict[str, float | str] = 0
        if callable(signals):
            provider = signals
        else:
            static = codec.prepare(signals)
        bus = self._require_bus()
        handle = PeriodicSend(self, message, period_s)
        template = can.Message(
            arbitration_id=codec.frame_id,
            is_extended_id=codec.is_extended,
            data=bytes(codec.length),
            is_rx=False,
        )

        def modify(frame: can.Message) -> None:
            if handle.stopped:
                raise RuntimeError(f"periodic {message} stopped")  # ends the task's thread
            prepared = static if provider is None else codec.prepare(provider())
            with self._tx_lock:
                counter = codec.tx_counter
                frame.data = codec.frame_data(prepared, counter)
                frame.timestamp = self._stamp_s()
                codec.tx_counter = (counter + 1) & codec.counter_mask
                codec.sent += 1
                self._frames_sent += 1
            self._after_send(codec, frame)

        def on_task_error(err: Exception) -> bool:
            if not handle.stopped:
                self._callback_errors += 1
                logger.error("CAN link %r: periodic %s stopped: %s", self.name, message, err)
                handle._stopped = True
            return False  # stop the task

        task = bus.send_periodic(template, period_s, autostart=False, modifier_callback=modify)
        if hasattr(task, "on_error"):
            task.on_error = on_task_error
        handle._task = task
        self._periodic.append(handle)
        if isinstance(task, can.RestartableCyclicTaskABC):
            task.start()
        return handle

    def _after_send(self, codec: _Codec, frame: can.Message) -> None:
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
                self._callback_errors += 1
                logger.error(
                    "CAN link %r: cannot log frame to %s: %s", self.name, self.log_path, err
                )

    # -- receiving ---------------------------------------------------------------------------

    def subscribe(self, message: str, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(message_name, decoded, timestamp_s)`` for every good frame of
        ``message`` (in the receiving thread; ``decoded`` holds numbers, do not mutate it).
        A raising callback is logged and counted. Returns a function that unsubscribes.
        """
        codec = self._codec(message)
        with self._sub_lock:
            codec.subscribers = (*codec.subscribers, callback)

        def remove() -> None:
            with self._sub_lock:
                codec.subscribers = tuple(cb for cb in codec.subscribers if cb is not callback)

        return remove

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
                if len(frames) == _RX_BATCH:
                    listener.handle(frames)
                    handled += len(frames)
                    frames = []
        finally:  # a raising bus still hands on what it gave
            if frames:
                listener.handle(frames)
                handled += len(frames)
        return handled

    def received_count(self, message: str) -> int:
        """Good frames of ``message`` received so far (take it *before* commanding)."""
        return self._codec(message).received

    def wait_for(self, message: str, after_count: int, timeout_s: float) -> dict[str, float | str]:
        """Wait until more than ``after_count`` good frames of ``message`` arrived; return the
        latest decoded values. Pumps while waiting in ``threaded=False`` mode.

        Raises ``DeviceTimeout`` naming the message and channel.
        """
        codec = self._codec(message)
        deadline_s = time.monotonic() + timeout_s
        if not self.threaded:
            bus = self._require_bus()
            while codec.received <= after_count:
                remaining_s = deadline_s - time.monotonic()
                if remaining_s <= 0:
                    self._timeout(codec, after_count, timeout_s)
                msg = bus.recv(timeout=min(remaining_s, 0.05))
                if msg is not None:
                    self._listener(msg)
                    self.pump()
            return codec.by_signal(codec.latest)
        with self._arrived:
            self._waiters += 1
            try:
                while codec.received <= after_count:
                    remaining_s = deadline_s - time.monotonic()
                    if remaining_s <= 0 or self._bus is None:
                        self._timeout(codec, after_count, timeout_s)
                    self._arrived.wait(remaining_s)
            finally:
                self._waiters -= 1
        return codec.by_signal(codec.latest)

    def _timeout(self, codec: _Codec, after_count: int, timeout_s: float) -> None:
        state = "" if self._bus is not None else ", link closed"
        raise DeviceTimeout(
            f"CAN message {codec.name!r} on {self.interface} channel {self.channel!r}: "
            f"no frame after #{after_count} within {timeout_s:g} s "
            f"({codec.received} received{state})"
        )

    # -- statistics --------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, MessageStats]:
        """Per message name (every message of the database), both directions."""
        now_s = self._now_s()
        return {name: codec.snapshot(now_s) for name, codec in self._codecs.items()}

    @property
    def link_stats(self) -> LinkStats:
        return LinkStats(
            frames_received=self._frames_received,
            frames_sent=self._frames_sent,
            unknown_ids=self._unknown_ids,
            malformed=self._malformed,
            error_frames=self._error_frames,
            callback_errors=self._callback_errors,
            bus_errors=self._bus_errors,
        )

    # -- internals ---------------------------------------------------------------------------

    def _stamp_s(self) -> float:
        """A sent frame's timestamp: simulated time in lockstep (so bus logs and receivers see
        the simulated schedule), else the epoch time python-can uses."""
        clock = self._clock
        return clock.now_s() if clock is not None and clock.is_simulated else time.time()

    def _now_s(self) -> float:
        return self._clock.now_s() if self._clock is not None else time.monotonic()

    def _codec(self, message: str) -> _Codec:
        codec = self._codecs.get(message)
        if codec is None:
            raise ConfigError(
                f"CAN message {message!r} is not in the database "
                f"(known: {', '.join(sorted(self._codecs))})"
            )
        return codec

    def _require_bus(self) -> can.BusABC:
        bus = self._bus
        if bus is None:
            raise LinkError(f"CAN link {self.name!r} channel {self.channel!r} is not open")
        return bus

    def _on_frames(self, frames: list[can.Message]) -> None:
        """Check, decode, publish and dispatch received frames, in order. Runs for every
        frame: keep lean.

        Every frame is logged, checked (length, CRC, counter) and decoded with its own
        receive time; the good ones are then published into the store in one
        ``publish_batch`` (store listeners called per frame, in order), then handed to their
        subscribers and counted frame by frame, in order (a frame is counted, and so seen by
        ``wait_for``, only after its subscribers ran); waiters are woken once, at the end.
        """
        self._frames_received += len(frames)
        writer = self._writer
        by_id = self._by_id
        clock = self._clock
        now = clock.now_s if clock is not None else time.monotonic
        good: list[tuple[_Codec, dict[str, float], float, float]] = []
        for msg in frames:
            if writer is not None:
                self._log(msg)
            if msg.is_error_frame:
                self._error_frames += 1
                logger.warning("CAN link %r: error frame %s", self.name, msg)
                continue
            codec = by_id.get(msg.arbitration_id)
            if codec is None or msg.is_extended_id != codec.is_extended or msg.is_remote_frame:
                self._unknown_ids += 1
                logger.debug("CAN link %r: frame of unknown id %s", self.name, msg)
                continue
            data = msg.data
            if len(data) != codec.length:
                self._bad_frame(codec, msg, f"{len(data)} data bytes, expected {codec.length}")
                continue
            crc_index = codec.crc_index
            if crc_index is not None:
                expected = _frame_crc(data, crc_index)
                if data[crc_index] != expected:
                    codec.crc_failures += 1
                    self._malformed += 1
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
                unpack = codec.unpack
                values = unpack(data) if unpack is not None else codec.decode(data)
            except Exception as err:  # cantools raises DecodeError, ValueError, bitstruct.Error
                self._bad_frame(codec, msg, f"cannot decode: {err}")
                continue
            now_s = now()
            if codec.counter_mask:
                self._check_counter(codec, data, msg.timestamp)
            good.append((codec, values, now_s, now_s if clock is not None else msg.timestamp))
        if not good:
            return

        store = self._store
        if store is not None:
            try:
                store.publish_batch([(timestamp_s, values) for _, values, _, timestamp_s in good])
            except ExceptionGroup as group:  # store listeners raised; the samples are stored
                self._callback_errors += len(group.exceptions)
                logger.error(
                    "CAN link %r: signal store listeners raised",
                    self.name,
                    exc_info=group,
                )
        for codec, values, now_s, timestamp_s in good:
            codec.latest = values
            codec.rx_times.append(now_s)
            subscribers = codec.subscribers
            if subscribers:
                decoded = codec.by_signal(values)
                for subscriber in subscribers:
                    try:
                        subscriber(codec.name, decoded, timestamp_s)
                    except Exception:
                        self._callback_errors += 1
                        logger.exception(
                            "CAN link %r: subscriber of %s raised", self.name, codec.name
                        )
            # counted once its subscribers ran: wait_for never returns before them
            codec.received += 1
        if self._waiters:
            with self._arrived:
                self._arrived.notify_all()

    def _check_counter(self, codec: _Codec, data: bytearray, stamp_s: float) -> None:
        """Count the frames of ``codec`` missed before this one (``data``, sent at
        ``stamp_s``) according to its rolling counter."""
        mask = codec.counter_mask
        counter = (int.from_bytes(data, "little") >> codec.counter_shift) & mask
        last = codec.last_counter
        if last >= 0:
            step = (counter - last) & mask
            period_s = codec.cycle_time_s
            if period_s and step != 0:
                # A rolling counter aliases after 16 lost frames: past that, the frames'
                # own timestamps (the sender's, or the interface's) say how many laps of
                # the counter were lost. Receive stalls on this side do not matter.
                elapsed_periods = (stamp_s - codec.last_stamp_s) / period_s
                laps = (elapsed_periods - step) / (mask + 1)
                if laps > 0.5:  # round(laps) >= 1
                    step += round(laps) * (mask + 1)
            if step != 1:
                missed = 1 if step == 0 else step - 1
                codec.counter_gaps += missed
                logger.info(
                    "CAN link %r: %s counter %d after %d (%d frames missed)",
                    self.name,
                    codec.name,
                    counter,
                    last,
                    missed,
                )
        codec.last_counter = counter
        codec.last_stamp_s = stamp_s

    def _bad_frame(self, codec: _Codec, msg: can.Message, reason: str) -> None:
        codec.decode_errors += 1
        self._malformed += 1
        logger.warning("CAN link %r: malformed %s (%s): %s", self.name, codec.name, reason, msg)
