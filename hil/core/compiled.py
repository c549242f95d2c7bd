"""The numba-compiled kernels of the models and the flight software: their input type, warm-up.

Four loops are compiled (``numba.njit(cache=True)``): truth propagation
(:func:`hil.models.dynamics.propagate`), dead reckoning
(:meth:`hil.fsw.navigation.Navigation.propagate`), the ZEM/ZEV law and the thrust command
(:mod:`hil.fsw.guidance`). Each loops over the runs of a batch, so one run costs one call where
numpy needed one call per quantity; a single model-only descent runs about twice as fast.

numba compiles a kernel for each combination of argument types it meets (a read-only or
strided array is a different type), so the wrappers hand every array over as
:func:`kernel_array` makes it: one compiled version per kernel. The machine code is cached
in ``__pycache__`` next to the source (compiled on first use after an install or an edit,
1.3 s for all four; later processes load it in 0.15 s).

:func:`warm_up` compiles or loads every kernel once per process, before anything runs on the
wall clock: when a simulated FC opens (its flight software steps in the FC's threads) and
before every descent (the plant). Neither cost then lands inside a real-time loop, where it
would show as a stall of up to a second.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

_warm = False


def kernel_array(a: ArrayLike) -> FloatArray:
    """``a`` as a writable C-contiguous float64 array (copied only when it is not one)."""
    out = np.ascontiguousarray(a, dtype=np.float64)
    return out if out.flags.writeable else out.copy()


def warm_up() -> float:
    """Compile or load every kernel once per process; returns the seconds it took (0 after)."""
    global _warm
    if _warm:
        return 0.0
    from hil.fsw.guidance import thrust_command, zem_zev_accel
    from hil.fsw.navigation import Navigation, NavParams
    from hil.models import dynamics as dyn
    from hil.models.terrain import TerrainProfile

    started_s = time.perf_counter()
    lander = dyn.LanderParams()
    state = dyn.initial_state(1, (0.0, 0.0, 1000.0), (1.0, 0.0, 0.0), lander.wet_mass_kg)
    dyn.propagate(state, np.array([[0.5, 0.1, 0.0]]), lander, n_steps=2)
    nav = Navigation(
        NavParams(),
        state[:, dyn.POS],
        state[:, dyn.VEL],
        np.zeros(1),
        np.zeros(1),
        0.0,
        TerrainProfile.flat(),
    )
    nav.propagate(np.array([0.0025]), np.zeros((1, 1, 3)), np.zeros((1, 1, 3)))
    accel = zem_zev_accel(
        state[:, dyn.POS], state[:, dyn.VEL], np.zeros(3), np.zeros(3), np.ones(1), np.ones(1)
    )
    thrust_command(accel, np.ones(1), lander.max_thrust_n, 0.1)
    _warm = True
    return time.perf_counter() - started_s
