"""Wire driver for the velocimeter emulator: ``VEL_Velocity`` frames on the bench CAN bus."""

from __future__ import annotations

from hil.drivers.can_emulator import CanMessageEmulator
from hil.drivers.velocimeter_role import Velocimeter


class VelocimeterEmulator(CanMessageEmulator, Velocimeter):
    """Sends ``VEL_Velocity`` through the bench's CAN link (counter and CRC filled by the link)."""

    MESSAGE = "VEL_Velocity"
