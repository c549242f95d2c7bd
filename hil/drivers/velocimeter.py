"""Wire driver for the velocimeter emulator: ``VEL_Velocity`` frames on the bench CAN bus."""

from __future__ import annotations

from collections.abc import Mapping

from hil.drivers.velocimeter_role import Velocimeter


class VelocimeterEmulator(Velocimeter):
    """Sends ``VEL_Velocity`` through the bench's CAN link (counter and CRC filled by the link)."""

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def describe_link(self) -> str:
        can = self.context.bench.can
        return f"CAN {can.interface}:{can.channel} VEL_Velocity"

    def _send(self, signals: Mapping[str, float]) -> None:
        self.context.can.send("VEL_Velocity", signals)

    def statistics(self) -> dict[str, float]:
        stats = self.context.can.stats.get("VEL_Velocity")
        return {"frames_out": stats.sent} if stats else {}
