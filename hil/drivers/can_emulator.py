"""The wire side shared by sensor emulators that send one ICD message on the bench CAN bus.

The LRF (``LRF_Range``) and the velocimeter (``VEL_Velocity``) emulators differ only in their
role and message: opening and closing are the CAN link's, a frame is one ``CanLink.send``
(counter and CRC filled by the link), and the statistics are that message's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from hil.drivers.roles import DeviceContext


class CanMessageEmulator:
    """Mixin, listed before the role's base: ``MESSAGE`` is the ICD message it sends."""

    MESSAGE: ClassVar[str]
    context: DeviceContext

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def describe_link(self) -> str:
        can = self.context.bench.can
        return f"CAN {can.interface}:{can.channel} {self.MESSAGE}"

    def _send(self, signals: Mapping[str, float]) -> None:
        self.context.can.send(self.MESSAGE, signals)

    def statistics(self) -> dict[str, float]:
        stats = self.context.can.stats.get(self.MESSAGE)
        return {"frames_out": stats.sent} if stats else {}
