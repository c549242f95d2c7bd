"""Numpy physics of the bench: truth dynamics, engine, terrain, sensor models.

Every model is a pure function (or a small class holding a random generator) on arrays with a
leading batch axis of N runs, so one code path serves a real-time run (N = 1) and a batch.
Modules: :mod:`~hil.models.dynamics`, :mod:`~hil.models.engine`, :mod:`~hil.models.terrain`,
:mod:`~hil.models.sensors`, and :mod:`~hil.models.dispersions`; :func:`warm_up` loads the
compiled kernel (:mod:`~hil.models.kernels`).
"""

from __future__ import annotations

from hil.models.kernels import warm_up

__all__ = ["warm_up"]
