"""The CRC byte of the ICD's CAN frames: CRC-8/SAE-J1850.

Poly 0x1D, init 0xFF, xorout 0xFF, no reflection, computed over the frame's data bytes with
the CRC byte itself taken as zero (``frame_crc``). Check value:
``crc8_sae_j1850(b"123456789") == 0x4B``.
"""

from __future__ import annotations

__all__ = ["crc8_sae_j1850", "frame_crc"]


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


def frame_crc(data: bytes | bytearray, crc_index: int) -> int:
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
