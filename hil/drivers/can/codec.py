"""Encoding and decoding of the CAN database's messages, with the ICD's Counter and CRC.

``load_database`` reads a CAN database with cantools (strict). A ``MessageCodec`` holds what
the per-frame paths need about one message, computed once: strict range checks of the
caller's values, the frame bytes with a given rolling ``Counter`` and a fresh ``CRC`` byte
(``hil.drivers.can.crc``), and the decoded values of a frame as published into the signal
store (``"<Message>.<Signal>"``). A codec is pure: it keeps no counters, statistics or
subscribers, so one codec may serve any number of links and threads.

Counter: an unsigned little-endian field, +1 per frame of that message, wrapping (4 bits in
the ICD: 15 wraps to 0). CRC: one whole byte. Both are found by signal name (``Counter``,
``CRC``); a message without them is encoded and decoded without them.

Messages with a plain layout (``fast_path_ok``: no multiplexing, no containers, only
little-endian integer signals) are packed and unpacked with integer shifts; the results equal
cantools' (same formulas: raw * scale + offset, and round((value - offset) / scale)), which
tests check for every message. Other layouts use cantools' encode/decode.

The shifts are functions generated per message (``hil.drivers.can.generated``): with plain
loops the link took 7 % more CPU a frame (``benchmarks/bench_links.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cantools
import cantools.database
from cantools.database.can import Database
from cantools.database.can import Message as DbMessage

from hil.drivers.can.crc import frame_crc
from hil.drivers.can.generated import (
    PackFunction,
    RxField,
    TxField,
    UnpackFunction,
    pack_function,
    unpack_function,
)
from hil.errors import ConfigError

__all__ = [
    "COUNTER_SIGNAL",
    "CRC_SIGNAL",
    "MessageCodec",
    "SignalValues",
    "fast_path_ok",
    "load_database",
]

COUNTER_SIGNAL = "Counter"
"""Name of the rolling-counter signal every ICD message carries."""
CRC_SIGNAL = "CRC"
"""Name of the CRC-8 signal every ICD message carries (its last byte)."""

SignalValues = Mapping[str, float | str]
"""Values of a message's signals by plain signal name: numbers, or choice names."""


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


def fast_path_ok(message: DbMessage) -> bool:
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


class MessageCodec:
    """Everything the per-frame paths need about one message, precomputed once; immutable.

    Raises ``ConfigError`` when the message's ``Counter`` or ``CRC`` layout is unusable.
    """

    __slots__ = (
        "counter_mask",
        "counter_shift",
        "crc_index",
        "cycle_time_s",
        "fast",
        "fields",
        "frame_id",
        "is_extended",
        "length",
        "message",
        "name",
        "pack",
        "payload_names",
        "publish_names",
        "rx_fields",
        "tx_fields",
        "tx_limits",
        "unpack",
    )

    def __init__(self, message: DbMessage) -> None:
        self.message = message
        self.name: str = message.name
        self.frame_id: int = message.frame_id
        self.is_extended: bool = bool(message.is_extended_frame)
        self.length: int = message.length
        self.fast = fast_path_ok(message)
        self.cycle_time_s = (message.cycle_time or 0) / 1000.0
        """The message's period from the database (GenMsgCycleTime), 0 if it has none."""
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
        self.tx_fields: tuple[TxField, ...] = tuple(
            (name, *limits) for name, limits in self.tx_limits.items()
        )
        self.publish_names = tuple(
            (signal.name, f"{self.name}.{signal.name}") for signal in message.signals
        )
        # Receiving (fast path): (published name, start bit, mask, sign bit or 0, scale, offset).
        self.rx_fields: tuple[RxField, ...] = tuple(
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
        self.pack: PackFunction | None = None
        """Generated strict check + pack of the usual case (fast path only)."""
        self.unpack: UnpackFunction | None = None
        """Generated ``decode`` of a frame of the right length (fast path only)."""
        if self.fast:
            self.pack = pack_function(self.name, self.tx_fields)
            self.unpack = unpack_function(self.name, self.rx_fields)

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
            data[crc_index] = frame_crc(data, crc_index)
        return data

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

    # -- receiving -------------------------------------------------------------------------

    def decode(self, data: bytes | bytearray) -> dict[str, float]:
        """Published values (``"<Message>.<Signal>"``) of one frame of the right length.

        Raises what cantools raises for undecodable data (other layouts than the fast path).
        """
        unpack = self.unpack
        if unpack is not None:
            return unpack(data)
        decoded = cast(
            "dict[str, float]",
            self.message.decode(bytes(data), decode_choices=False, scaling=True),
        )
        return {full: decoded[short] for short, full in self.publish_names}

    def by_signal(self, values: Mapping[str, float]) -> dict[str, float | str]:
        """``decode`` output keyed by plain signal name, as subscribers and ``wait_for`` get it."""
        return {short: values[full] for short, full in self.publish_names if full in values}

    def __repr__(self) -> str:
        return f"MessageCodec({self.name!r}, id=0x{self.frame_id:X})"
