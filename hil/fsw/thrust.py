"""What the engine really gives: the flight software's estimate of its thrust efficiency.

The FC knows the engine's nominal maximum thrust, the throttle the engine reports
(ENG_Status), and its mass (nominal dry mass + propellant gauge). The IMU measures the
specific force the thrust produces. Their ratio, the *thrust efficiency*

    efficiency = |mean specific force| / (throttle_actual * max_thrust_n / mass_est_kg),

is 1 for the nominal engine and lander; it absorbs a maximum thrust off its nominal value
(a dispersion of a few %) and the gauge's scale error (the FC's mass). Guidance divides its
mass estimate by it, so a throttle command asks for the acceleration it means and the
approach is planned with the thrust there is (docs/architecture.md §5, "Guidance").

The estimate is learnt only where it is well measured: while ``learning`` (the braking burn,
long and at high throttle), over guidance cycles whose reported throttle is at least
``min_throttle`` and changed by at most ``max_throttle_step`` since the previous cycle (the
engine's lag makes the IMU's mean lag a moving throttle). It is a first-order filter with
time constant ``time_constant_s``, limited to ``1 +- max_correction``; after the burn it is
held. A sudden loss of thrust near the ground (an engine fault) is therefore not silently
absorbed: it stays a fault the FC flies into, as scenario F5 shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class ThrustEstimatorParams:
    """Tuning of the thrust-efficiency filter."""

    enabled: bool = True
    time_constant_s: float = 5.0
    min_throttle: float = 0.5
    max_throttle_step: float = 0.02
    max_correction: float = 0.15


class ThrustEstimator:
    """Thrust efficiency (achieved / predicted thrust acceleration) of N runs."""

    def __init__(self, params: ThrustEstimatorParams, n: int) -> None:
        self.params = params
        self.n = n
        self.efficiency = np.ones(n)
        self._force_sum = np.zeros((n, 3))
        self._samples = 0
        self._last_throttle = np.zeros(n)

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (in that order)."""
        self.efficiency = self.efficiency[rows]
        self._force_sum = self._force_sum[rows]
        self._last_throttle = self._last_throttle[rows]
        self.n = len(rows)

    def add(self, specific_force_mps2: FloatArray) -> None:
        """k IMU samples of every run, (N, k, 3) body axes, since the last guidance cycle."""
        if self.params.enabled:
            self._force_sum += specific_force_mps2.sum(axis=1)
            self._samples += specific_force_mps2.shape[1]

    def update(
        self,
        learning: BoolArray,
        throttle_actual: FloatArray,
        mass_est_kg: FloatArray,
        max_thrust_n: float,
        accel_bias_mps2: FloatArray,
        period_s: float,
    ) -> None:
        """One guidance cycle: learn from the IMU samples since the last one where ``learning``.

        ``throttle_actual`` is the engine's reported throttle (fraction), ``accel_bias_mps2``
        the navigation's accelerometer bias estimate (N, 3).
        """
        p = self.params
        samples = self._samples
        previous = self._last_throttle
        self._last_throttle = np.asarray(throttle_actual, dtype=np.float64).copy()
        if not p.enabled or samples == 0:
            return
        force = self._force_sum / samples - accel_bias_mps2
        self._force_sum[:] = 0.0
        self._samples = 0
        throttle = 0.5 * (previous + self._last_throttle)  # the block's mean, lag and all
        use = (
            learning
            & (self._last_throttle >= p.min_throttle)
            & (np.abs(self._last_throttle - previous) <= p.max_throttle_step)
        )
        if not use.any():
            return
        predicted = np.maximum(throttle, 1e-3) * max_thrust_n / mass_est_kg
        measured = np.sqrt(np.einsum("ij,ij->i", force, force)) / predicted
        use &= np.isfinite(measured)  # no gauge reading yet: nothing to learn from
        low, high = 1.0 - p.max_correction, 1.0 + p.max_correction
        measured = np.clip(np.where(use, measured, 1.0), low, high)
        gain = min(period_s / p.time_constant_s, 1.0)
        learnt = self.efficiency + gain * (measured - self.efficiency)
        self.efficiency = np.where(use, learnt, self.efficiency)
