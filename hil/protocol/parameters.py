"""The FC parameter table the ICD defines (GET/SET on the maintenance port)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    """One FC parameter: its type, default, limits and whether SET may change it."""

    name: str
    default: str | float
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    writable: bool = True
    unit: str = ""

    def parse(self, text: str) -> str | float:
        """Check and convert ``text``; raises ``ValueError`` saying what is allowed."""
        if self.choices:
            value = text.lower()
            if value not in self.choices:
                raise ValueError(f"{self.name} must be one of {'/'.join(self.choices)}")
            return value
        if isinstance(self.default, str):
            return text
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(f"{self.name} must be a finite number")
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise ValueError(f"{self.name} must be within {self.minimum}..{self.maximum}")
        return number


PARAMETERS: dict[str, Parameter] = {
    item.name: item
    for item in (
        Parameter("SERIAL", "SIM-FC-0001", writable=False),
        Parameter("SW_VERSION", "fsw-sim-1.0", writable=False),
        Parameter("GATE_POLICY", "recover", choices=("latch", "recover")),
        Parameter("LRF_GATE_M", 100.0, 1.0, 10_000.0, unit="m"),
        Parameter("LRF_GATE_FRACTION", 0.1, 0.0, 1.0),
        Parameter("THROTTLE_MIN_PCT", 20.0, 0.0, 100.0, unit="%"),
        Parameter("TEST_THROTTLE_PCT", 0.0, 0.0, 100.0, unit="%"),
        Parameter("TEST_PITCH_DEG", 0.0, -30.0, 30.0, unit="deg"),
        Parameter("TEST_YAW_DEG", 0.0, -30.0, 30.0, unit="deg"),
        # "imu_echo": while ARMED, ACS_Cmd ThrustPitch (deg) follows the IMU's specific force
        # X (m/s^2) one to one, clipped to +-30: a sensor step the bench can time through
        # the FC to its first command that reacts (hil bench latency)
        Parameter("TEST_MODE", "off", choices=("off", "imu_echo")),
        Parameter("IMU_MIN_RATE_HZ", 360.0, 0.0, 1000.0, unit="Hz"),
        Parameter("TOUCHDOWN_RULE", "signature", choices=("signature", "altitude")),
        Parameter("TERRAIN_MAP", "nominal"),
        # load test: the share of every 20 ms flight-software cycle stolen from the flight
        # software, as interrupts would (F6; the FC's executive counts missed deadlines)
        Parameter("LOAD_TEST_PCT", 0.0, 0.0, 90.0, unit="%"),
        # guidance targets, uploaded before flight as a lander's own descent profile: the
        # braking burn's duration to the high gate, the high gate (downrange of the site,
        # negative = uprange; altitude above the site) and its velocity (downrange, vertical:
        # negative = descending), and the approach's planned duration from there to the low gate
        Parameter("BRAKING_TIME_S", 550.0, 60.0, 3000.0, unit="s"),
        Parameter("HIGH_GATE_X_M", -3000.0, -100_000.0, 0.0, unit="m"),
        Parameter("HIGH_GATE_ALT_M", 2000.0, 200.0, 20_000.0, unit="m"),
        Parameter("HIGH_GATE_VX_MPS", 60.0, -500.0, 500.0, unit="m/s"),
        Parameter("HIGH_GATE_VZ_MPS", -25.0, -500.0, 0.0, unit="m/s"),
        Parameter("APPROACH_TIME_S", 90.0, 10.0, 600.0, unit="s"),
    )
}


def format_value(value: str | float) -> str:
    return value if isinstance(value, str) else f"{value:g}"
