"""What every numba-compiled kernel shares: the array type its wrapper hands it.

Four loops are compiled (``numba.njit(cache=True)``), each owned by the package whose code it
is: truth propagation in the models, dead reckoning and the guidance law and thrust command
in the flight software. Each loops over the runs of a batch, so one run costs one call where
numpy needed one call per quantity; a single model-only descent runs about twice as fast.

numba compiles a kernel for each combination of argument types it meets (a read-only or
strided array is a different type), so the wrappers hand every array over as
:func:`kernel_array` makes it: one compiled version per kernel. The machine code is cached
in ``__pycache__`` next to the source (compiled on first use after an install or an edit,
1.3 s for all four; later processes load it in 0.15 s).

Each package that owns kernels has a ``warm_up()`` that compiles or loads them once per
process, to be called before anything runs on the wall clock, where a first call would show
as a stall of up to a second. Nothing here knows a kernel.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def kernel_array(a: ArrayLike) -> FloatArray:
    """``a`` as a writable C-contiguous float64 array (copied only when it is not one)."""
    out = np.ascontiguousarray(a, dtype=np.float64)
    return out if out.flags.writeable else out.copy()
