"""The LRF beam as the flight software knows it: its mounting and its direction in flight.

Frame: the navigation's landing-site ENU frame (x downrange along the track toward the site,
y crossrange, z up). The attitude is the thrust (pitch, yaw) pair with roll held at 0; the
body axes in ENU are then

* body z (thrust axis) ``(-sin p cos y, sin y, cos p cos y)``,
* body x ``(cos p, 0, sin p)``.

The FC is told that the LRF looks down the thrust axis (-body z), canted by ``cant`` toward
-body x (``NavParams.lrf_beam_cant_deg``): toward the local vertical while braking pitched
back. Navigation predicts the range along the beam of its *estimated* attitude; if the
mounting the FC was told differs from the real one, the prediction is wrong and the
navigation sees it, as a real FC would.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def beam_direction(pitch_rad: FloatArray, yaw_rad: FloatArray, cant_rad: float) -> FloatArray:
    """Unit LRF beam in ENU, shape (N, 3), for attitudes (N,) and the mounting cant (rad).

    ``beam = -cos(cant) * body_z - sin(cant) * body_x``.
    """
    sp, cp = np.sin(pitch_rad), np.cos(pitch_rad)
    sy, cy = np.sin(yaw_rad), np.cos(yaw_rad)
    cos_cant, sin_cant = math.cos(cant_rad), math.sin(cant_rad)
    east = cos_cant * sp * cy - sin_cant * cp
    north = -cos_cant * sy
    up = -cos_cant * cp * cy - sin_cant * sp
    return np.stack((east, north, up), axis=-1)
