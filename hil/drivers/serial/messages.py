"""The binary messages of the IMU line, as the ICD defines them: the IMU sample.

An IMU payload (:class:`ImuFrame`, 32 bytes) is little-endian: type u8 (``IMU_FRAME_TYPE``),
sequence u16, time µs u32, 3×f32 specific force (m/s²), 3×f32 angular rate (rad/s), status
u8. It travels in a COBS/CRC-16 frame (``hil.drivers.serial.framing``), which adds the CRC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hil.errors import FrameError

__all__ = ["IMU_FRAME_TYPE", "IMU_PAYLOAD_BYTES", "ImuFrame"]

IMU_FRAME_TYPE = 0x01
"""First payload byte of an IMU frame."""

_IMU_STRUCT = struct.Struct("<BHI3f3fB")
IMU_PAYLOAD_BYTES = _IMU_STRUCT.size
"""Length of an IMU payload without its CRC (32 bytes)."""


@dataclass(frozen=True, slots=True)
class ImuFrame:
    """One IMU sample as the IMU sends it to the FC at 400 Hz."""

    sequence: int
    """u16 frame counter; wraps at 65536."""
    time_us: int
    """u32 IMU time of the sample in microseconds; wraps."""
    specific_force_mps2: tuple[float, float, float]
    """Specific force in m/s², body frame."""
    angular_rate_radps: tuple[float, float, float]
    """Angular rate in rad/s, body frame."""
    status: int
    """u8 bit flags."""

    def pack(self) -> bytes:
        """The 32-byte payload (CRC not included; :func:`encode_frame` adds it).

        Sequence and time wrap to u16/u32. Raises ValueError if status is not a u8 or a value
        does not fit an f32.
        """
        try:
            return _IMU_STRUCT.pack(
                IMU_FRAME_TYPE,
                self.sequence & 0xFFFF,
                self.time_us & 0xFFFFFFFF,
                *self.specific_force_mps2,
                *self.angular_rate_radps,
                self.status,
            )
        except struct.error as err:
            raise ValueError(f"IMU frame {self.sequence}: cannot pack: {err}") from err

    @classmethod
    def unpack(cls, payload: bytes) -> ImuFrame:
        """Decode a payload from :meth:`pack`. Raises FrameError on a wrong type or length."""
        if len(payload) != IMU_PAYLOAD_BYTES:
            raise FrameError(
                f"IMU frame: payload is {len(payload)} bytes, expected {IMU_PAYLOAD_BYTES}"
            )
        kind, sequence, time_us, fx, fy, fz, wx, wy, wz, status = _IMU_STRUCT.unpack(payload)
        if kind != IMU_FRAME_TYPE:
            raise FrameError(f"IMU frame: type 0x{kind:02X}, expected 0x{IMU_FRAME_TYPE:02X}")
        return cls(sequence, time_us, (fx, fy, fz), (wx, wy, wz), status)
