"""Loading the flight software's compiled kernels before real time (:func:`warm_up`).

The flight software owns three numba kernels (:mod:`hil.core.compiled` says why and how they
are compiled): dead reckoning (:meth:`hil.fsw.navigation.Navigation.propagate`), the ZEM/ZEV
law and the thrust command (:mod:`hil.fsw.guidance`). The first call of each in a process
compiles it or loads it from the cache, a stall of 0.1-1 s; :func:`warm_up` makes those first
calls on a dummy run, so the simulated FC pays them when it opens rather than inside its
real-time loop.
"""

from __future__ import annotations

import time

import numpy as np

from hil.fsw.guidance import thrust_command, zem_zev_accel
from hil.fsw.navigation import Navigation, NavParams
from hil.fsw.terrain_map import TerrainMap

_warm = False


def warm_up() -> float:
    """Compile or load every flight-software kernel once per process; the seconds it took
    (0 after the first call)."""
    global _warm
    if _warm:
        return 0.0
    started_s = time.perf_counter()
    position_m = np.array([[0.0, 0.0, 1000.0]])
    velocity_mps = np.array([[1.0, 0.0, 0.0]])
    nav = Navigation(
        NavParams(), position_m, velocity_mps, np.zeros(1), np.zeros(1), 0.0, TerrainMap.flat()
    )
    nav.propagate(np.array([0.0025]), np.zeros((1, 1, 3)), np.zeros((1, 1, 3)))
    accel = zem_zev_accel(
        position_m, velocity_mps, np.zeros(3), np.zeros(3), np.ones(1), np.ones(1)
    )
    thrust_command(accel, np.ones(1), 1000.0, 0.1)
    _warm = True
    return time.perf_counter() - started_s
