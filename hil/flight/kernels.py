"""Loading every compiled kernel a descent runs, before its real-time loop (:func:`warm_up`).

A descent steps the truth models (the plant) and, model-only, the flight software; each
package warms its own kernels (:func:`hil.models.warm_up`, :func:`hil.fsw.warm_up`), and
this warms both. The simulated FC warms only the flight software's, when it opens.
"""

from __future__ import annotations

from hil import fsw, models


def warm_up() -> float:
    """Compile or load the models' and the flight software's kernels once per process; the
    seconds it took (0 once both are loaded)."""
    return models.warm_up() + fsw.warm_up()
