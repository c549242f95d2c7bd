"""Wire driver for the engine and ACS emulator on the bench CAN bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hil.core.config import DeviceConfig
from hil.drivers.roles import DeviceContext, Engine, EngineStatus


class EngineEmulator(Engine):
    """Reads ``ENG_Cmd``/``ACS_Cmd``, reports ``ENG_Status``/``ENG_Propellant`` over CAN.

    When free-running (no executive), it reports a first-order lag of the commanded throttle,
    so a technician's throttle sweep sees the valve follow the command.
    """

    throttle_lag_s = 0.1
    tank_pressure_kpa = 1800.0
    chamber_pressure_full_kpa = 1000.0

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        super().__init__(config, context)
        self._throttle_actual_pct = 0.0
        self._last_tick_s: float | None = None
        self.follow_commands(self._lagged_status)

    def _lagged_status(self, now_s: float) -> EngineStatus:
        command = self.command()
        target_pct = command.throttle_pct if (command.arm and command.fire) else 0.0
        if self._last_tick_s is not None:
            dt_s = max(0.0, now_s - self._last_tick_s)
            alpha = min(1.0, dt_s / self.throttle_lag_s)
            self._throttle_actual_pct += alpha * (target_pct - self._throttle_actual_pct)
        self._last_tick_s = now_s
        actual = self._throttle_actual_pct
        return EngineStatus(
            throttle_actual_pct=actual,
            valve_position_pct=actual,
            chamber_pressure_kpa=self.chamber_pressure_full_kpa * actual / 100.0,
            tank_pressure_kpa=self.tank_pressure_kpa,
        )

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def describe_link(self) -> str:
        can = self.context.bench.can
        return f"CAN {can.interface}:{can.channel} ENG_Status/ENG_Propellant"

    def _send(self, message: str, signals: Mapping[str, Any]) -> None:
        self.context.can.send(message, signals)

    def statistics(self) -> dict[str, float]:
        stats = self.context.can.stats
        sent = sum(stats[name].sent for name in ("ENG_Status", "ENG_Propellant") if name in stats)
        received = sum(stats[name].received for name in ("ENG_Cmd", "ACS_Cmd") if name in stats)
        return {"frames_out": sent, "commands_in": received}
