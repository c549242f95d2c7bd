"""Wire driver for the laser range finder emulator: ``LRF_Range`` frames on the bench CAN bus."""

from __future__ import annotations

from hil.drivers.can_emulator import CanMessageEmulator
from hil.drivers.roles import RangeFinder


class LrfEmulator(CanMessageEmulator, RangeFinder):
    """Sends ``LRF_Range`` through the bench's CAN link (counter and CRC filled by the link)."""

    MESSAGE = "LRF_Range"
