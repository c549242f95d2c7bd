"""Serial links: COBS/CRC-16 IMU frames and checksummed ASCII lines over pyserial ports.

The public face of the package; its modules, one concern each:

* ``framing`` - COBS + CRC-16 frames, delimited by 0x00 (encoder, incremental decoder);
* ``messages`` - the IMU sample (``ImuFrame``) as the ICD defines it;
* ``lines`` - the maintenance port's ``$CMD args*HH`` line codec;
* ``transport`` - moving bytes through a file descriptor or a pyserial port object;
* ``link`` - ``SerialLink``: one port carrying frames or lines, with statistics.

``PtyPair`` lives in ``hil.drivers.sim.pty``: only the simulated devices use pseudo-terminals.
"""

from __future__ import annotations

from hil.drivers.serial.framing import (
    MAX_PAYLOAD_BYTES,
    FrameDecoder,
    FrameStats,
    crc16_ccitt_false,
    encode_frame,
)
from hil.drivers.serial.lines import (
    MAX_LINE_BYTES,
    Line,
    LineDecoder,
    LineStats,
    encode_line,
    nmea_checksum,
)
from hil.drivers.serial.link import SerialLink, SerialStats
from hil.drivers.serial.messages import IMU_FRAME_TYPE, IMU_PAYLOAD_BYTES, ImuFrame

__all__ = [
    "IMU_FRAME_TYPE",
    "IMU_PAYLOAD_BYTES",
    "MAX_LINE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "FrameDecoder",
    "FrameStats",
    "ImuFrame",
    "Line",
    "LineDecoder",
    "LineStats",
    "SerialLink",
    "SerialStats",
    "crc16_ccitt_false",
    "encode_frame",
    "encode_line",
    "nmea_checksum",
]
