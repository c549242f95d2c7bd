"""Loading the models' compiled kernel before real time (:func:`warm_up`).

The models own one numba kernel, truth propagation (:func:`hil.models.dynamics.propagate`;
:mod:`hil.core.compiled` says why and how it is compiled). Its first call in a process
compiles it or loads it from the cache, a stall of 0.1-1 s; :func:`warm_up` makes that call
on a dummy run, so a descent pays it before its real-time loop starts.
"""

from __future__ import annotations

import time

import numpy as np

from hil.models import dynamics as dyn

_warm = False


def warm_up() -> float:
    """Compile or load every model kernel once per process; the seconds it took (0 after the
    first call)."""
    global _warm
    if _warm:
        return 0.0
    started_s = time.perf_counter()
    lander = dyn.LanderParams()
    state = dyn.initial_state(1, (0.0, 0.0, 1000.0), (1.0, 0.0, 0.0), lander.wet_mass_kg)
    dyn.propagate(state, np.array([[0.5, 0.1, 0.0]]), lander, n_steps=2)
    _warm = True
    return time.perf_counter() - started_s
