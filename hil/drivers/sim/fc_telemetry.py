"""What the simulated FC puts on the CAN bus: the signal values of each message it sends.

The heartbeat (mode, input health, BIT, LRF gate flags, CPU load, uptime, the executive's
missed deadlines, watchdog restarts and shed work), the engine and ACS
commands (the flight software's once it is loaded, else the test settings of the parameter
table while ARMED) and the navigation telemetry (``FC_Nav*``, from the flight software's
telemetry, zeros before it is loaded). Values are clipped to the DBC's signal ranges and
rounded to their resolution, so that the strict encoder never refuses one. When each message
is sent is the device's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hil.drivers.sim.fc_scheduler import Executive
from hil.fsw import Commands, Telemetry
from hil.protocol.icd import FC_MODES

NAV_MESSAGES = ("FC_NavAltitude", "FC_NavPosition", "FC_NavVelocity")

IDLE_NAV: Mapping[str, Mapping[str, Any]] = {
    "FC_NavAltitude": {"Altitude": 0.0, "TimeToGo": 0.0},
    "FC_NavPosition": {"Downrange": 0, "Crossrange": 0, "GuidancePhase": 0},
    "FC_NavVelocity": {
        "VelocityDownrange": 0.0,
        "VelocityCrossrange": 0.0,
        "VelocityVertical": 0.0,
        "VelOk": 0,
        "VelAccepted": 0,
    },
}
"""Navigation telemetry before the flight software is loaded."""

IDLE_CPU_LOAD_PCT = 5.0
"""CPU load reported before the flight software is loaded, %."""


def heartbeat_signals(
    mode: str,
    alive: Mapping[str, bool],
    bit_passed: bool,
    telemetry: Telemetry | None,
    uptime_s: float,
    executive: Executive | None = None,
) -> Mapping[str, Any]:
    """FC_Heartbeat: ``alive`` is :func:`~hil.drivers.sim.fc_health.inputs_alive`'s verdict,
    ``telemetry`` the flight software's (None before it is loaded), ``executive`` the FC's
    cycle accounting (counters saturate at the signals' maxima)."""
    t = telemetry
    cpu_load_pct = t.cpu_load_pct if t is not None else IDLE_CPU_LOAD_PCT
    return {
        "Mode": FC_MODES.index(mode),
        "ImuOk": int(alive["IMU"]),
        "LrfOk": int(alive["LRF"]),
        "EngineOk": int(alive["ENGINE"]),
        "NavOk": 1,
        "BitPassed": int(bit_passed),
        "LrfAccepted": int(bool(t is not None and t.lrf_accepted[0])),
        "LrfRejected": int(bool(t is not None and t.lrf_rejected[0])),
        "CpuLoad": clip_to_signal(cpu_load_pct, 0.0, 100.0, 0.5),
        "Uptime": round(min(uptime_s, 6553.5), 1),
        "MissedDeadlines": min(executive.missed_deadlines, 4095) if executive else 0,
        "Restarts": min(executive.restarts, 15) if executive else 0,
        "LoadShed": int(executive.shed) if executive else 0,
    }


def engine_command(
    commands: Commands | None, mode: str, parameters: Mapping[str, str | float]
) -> Mapping[str, Any]:
    """ENG_Cmd: the flight software's command once loaded; before that, while ARMED, the
    test throttle of the parameter table (the engine fires if it is above 0)."""
    if commands is not None:
        return {
            "ThrottleCmd": clip_to_signal(float(commands.throttle_pct[0]), 0.0, 100.0, 0.1),
            "Arm": int(commands.arm[0]),
            "Fire": int(commands.fire[0]),
        }
    testing = mode == "ARMED"
    throttle_pct = float(parameters["TEST_THROTTLE_PCT"]) if testing else 0.0
    return {
        "ThrottleCmd": throttle_pct,
        "Arm": int(testing),
        "Fire": int(testing and throttle_pct > 0),
    }


def acs_command(
    commands: Commands | None,
    mode: str,
    parameters: Mapping[str, str | float],
    echo_force_x_mps2: float = 0.0,
) -> Mapping[str, Any]:
    """ACS_Cmd: the flight software's thrust direction once loaded; before that, while ARMED,
    the test pitch and yaw of the parameter table, or (``TEST_MODE`` ``imu_echo``) a pitch
    that echoes the IMU's specific force X, ``echo_force_x_mps2``."""
    if commands is not None:
        return {
            "ThrustPitch": clip_to_signal(float(commands.pitch_deg[0]), -180.0, 180.0, 0.01),
            "ThrustYaw": clip_to_signal(float(commands.yaw_deg[0]), -180.0, 180.0, 0.01),
        }
    testing = mode == "ARMED"
    if testing and parameters["TEST_MODE"] == "imu_echo":
        return {
            "ThrustPitch": clip_to_signal(echo_force_x_mps2, -30.0, 30.0, 0.01),
            "ThrustYaw": 0.0,
        }
    return {
        "ThrustPitch": float(parameters["TEST_PITCH_DEG"]) if testing else 0.0,
        "ThrustYaw": float(parameters["TEST_YAW_DEG"]) if testing else 0.0,
    }


def nav_signals(
    telemetry: Telemetry | None, vel_ok: bool = False
) -> Mapping[str, Mapping[str, Any]]:
    """FC_NavAltitude, FC_NavPosition and FC_NavVelocity, by message name; ``vel_ok`` is the
    velocimeter's input health (:func:`~hil.drivers.sim.fc_health.inputs_alive`)."""
    if telemetry is None:
        return {**IDLE_NAV, "FC_NavVelocity": {**IDLE_NAV["FC_NavVelocity"], "VelOk": int(vel_ok)}}
    t = telemetry
    return {
        "FC_NavAltitude": {
            "Altitude": clip_to_signal(float(t.altitude_est_m[0]), -100_000.0, 800_000.0, 0.1),
            "TimeToGo": clip_to_signal(float(t.time_to_go_s[0]), 0.0, 6500.0, 0.1),
        },
        "FC_NavPosition": {
            "Downrange": clip_to_signal(float(t.downrange_m[0]), -8e6, 8e6, 1.0),
            "Crossrange": clip_to_signal(float(t.crossrange_m[0]), -32000.0, 32000.0, 1.0),
            "GuidancePhase": int(t.phase[0]),
        },
        "FC_NavVelocity": {
            "VelocityDownrange": clip_to_signal(
                float(t.velocity_downrange_mps[0]), -3000, 3000, 0.1
            ),
            "VelocityCrossrange": clip_to_signal(
                float(t.velocity_crossrange_mps[0]), -200, 200, 0.1
            ),
            "VelocityVertical": clip_to_signal(float(t.velocity_vertical_mps[0]), -300, 300, 0.01),
            "VelOk": int(vel_ok),
            "VelAccepted": int(bool(t.vel_accepted[0])),
        },
    }


def clip_to_signal(value: float, low: float, high: float, resolution: float) -> float:
    """Clip to a CAN signal's range and round to its resolution (strict encoding); a value
    that is not finite becomes 0."""
    if not np.isfinite(value):
        return 0.0
    return round(min(max(value, low), high) / resolution) * resolution
