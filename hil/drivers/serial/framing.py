"""Binary frames on a serial byte stream: COBS with a CRC-16, delimited by 0x00.

On the wire a frame is ``COBS(payload + CRC-16/CCITT-FALSE as big-endian u16) + b"\\x00"``;
the CRC is ``binascii.crc_hqx(payload, 0xFFFF)``. :func:`encode_frame` writes one;
:class:`FrameDecoder` finds frames in any chunks by their delimiter, never by inter-byte
timeouts (which pyserial does not honour on Linux), and counts malformed ones
(:class:`FrameStats`) without ever raising. What a payload means is the business of
``hil.drivers.serial.messages``.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from cobs import cobs

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "FrameDecoder",
    "FrameStats",
    "crc16_ccitt_false",
    "encode_frame",
]

MAX_PAYLOAD_BYTES = 250
"""Largest frame payload :func:`encode_frame` writes and :class:`FrameDecoder` accepts."""

_crc_hqx = binascii.crc_hqx
_cobs_encode = cobs.encode
_cobs_decode = cobs.decode
_CobsDecodeError = cobs.DecodeError


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout)."""
    return _crc_hqx(data, 0xFFFF)


def encode_frame(payload: bytes) -> bytes:
    """Wire bytes for one frame: COBS(payload + big-endian CRC-16) + 0x00.

    Raises ValueError for an empty payload or one longer than MAX_PAYLOAD_BYTES.
    """
    if not payload or len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"frame payload is {len(payload)} bytes; must be 1 to {MAX_PAYLOAD_BYTES}")
    crc = _crc_hqx(payload, 0xFFFF)
    encoded: bytes = _cobs_encode(payload + crc.to_bytes(2, "big"))
    return encoded + b"\x00"


@dataclass(slots=True)
class FrameStats:
    """Counters of a :class:`FrameDecoder` (running totals)."""

    frames_ok: int = 0
    cobs_errors: int = 0
    """Chunks between delimiters that are not valid COBS."""
    crc_errors: int = 0
    length_errors: int = 0
    """Frames too short to hold a payload and CRC, or longer than the decoder allows."""
    bytes_discarded: int = 0
    """Bytes of rejected frames (delimiters not counted)."""

    @property
    def bad_frames(self) -> int:
        """All rejected frames."""
        return self.cobs_errors + self.crc_errors + self.length_errors


class FrameDecoder:
    """Incremental COBS/CRC-16 frame decoder: feed any chunks, get complete valid payloads.

    Bytes before the first delimiter of a stream joined mid-frame form one bad frame, which
    is counted; consecutive delimiters (idle fill) are ignored. Memory is bounded: a frame
    longer than ``max_payload_bytes`` is dropped as it arrives and counted once.
    """

    __slots__ = ("_max_encoded", "_overflow", "_pending", "stats")

    def __init__(self, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> None:
        raw = max_payload_bytes + 2
        self._max_encoded = raw + raw // 254 + 1
        self._pending = b""
        self._overflow = False
        self.stats = FrameStats()

    @property
    def bad_frames(self) -> int:
        """All rejected frames so far."""
        return self.stats.bad_frames

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; returns the payloads (CRC stripped) of frames now complete."""
        if b"\x00" not in data:
            if data:
                self._pending += data
                if len(self._pending) > self._max_encoded:
                    self._drop_overflow()
            return []
        chunks = (self._pending + data).split(b"\x00")
        tail = chunks.pop()
        stats = self.stats
        payloads: list[bytes] = []
        if self._overflow:
            stats.bytes_discarded += len(chunks[0])
            stats.length_errors += 1
            self._overflow = False
            chunks[0] = b""
        for chunk in chunks:
            if not chunk:
                continue
            if len(chunk) > self._max_encoded:
                stats.length_errors += 1
                stats.bytes_discarded += len(chunk)
                continue
            try:
                decoded = _cobs_decode(chunk)
            except _CobsDecodeError:
                stats.cobs_errors += 1
                stats.bytes_discarded += len(chunk)
                continue
            if len(decoded) < 3:
                stats.length_errors += 1
                stats.bytes_discarded += len(chunk)
            elif _crc_hqx(decoded, 0xFFFF):  # CRC over payload + its big-endian CRC is 0
                stats.crc_errors += 1
                stats.bytes_discarded += len(chunk)
            else:
                payloads.append(decoded[:-2])
        stats.frames_ok += len(payloads)
        self._pending = tail
        if len(tail) > self._max_encoded:
            self._drop_overflow()
        return payloads

    def _drop_overflow(self) -> None:
        self.stats.bytes_discarded += len(self._pending)
        self._pending = b""
        self._overflow = True
