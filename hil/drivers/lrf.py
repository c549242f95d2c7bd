"""Wire driver for the laser range finder emulator: ``LRF_Range`` frames on the bench CAN bus."""

from __future__ import annotations

from collections.abc import Mapping

from hil.drivers.roles import RangeFinder


class LrfEmulator(RangeFinder):
    """Sends ``LRF_Range`` through the bench's CAN link (counter and CRC filled by the link)."""

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def describe_link(self) -> str:
        can = self.context.bench.can
        return f"CAN {can.interface}:{can.channel} LRF_Range"

    def _send(self, signals: Mapping[str, float]) -> None:
        self.context.can.send("LRF_Range", signals)

    def statistics(self) -> dict[str, float]:
        stats = self.context.can.stats.get("LRF_Range")
        return {"frames_out": stats.sent} if stats else {}
