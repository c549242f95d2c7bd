"""The flight software's onboard terrain map: heights along the track and the LRF's ray cast.

What the FC *believes* the terrain to be, which is not always what the lander flies over: a
height grid ``h(x)`` on a uniform downrange grid, x along the ground track with the landing
site at x = 0, heights in m above the site's terrain level (the level the navigation's z is
measured from; crossrange is not mapped). Outside the grid the end heights continue flat;
between nodes the terrain is linear. Navigation asks the map for two things: the terrain
height under the estimated position (:meth:`TerrainMap.height_m`) and the slant range the
LRF should read along the estimated beam (:meth:`TerrainMap.slant_range_m`).

A map is uploaded as an ``.npz`` file with keys ``x0_m`` (first node, m), ``dx_m`` (node
spacing, m) and ``heights_m`` (node heights, m); :meth:`TerrainMap.load` reads one by path or
by name from ``terrain/<name>.npz`` (workspace or package data). The map shares no code with
the bench's truth terrain: a ray-casting or beam error on the bench side shows up as a
navigation error instead of cancelling out.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hil.core.paths import data_path, resolve_named
from hil.errors import ConfigError

FloatArray = NDArray[np.float64]

#: Ray-cast resolution: points of the coarse march, bisection steps inside its bracket.
MARCH_POINTS = 96
BISECTION_STEPS = 16

#: From this many rays on, the march is evaluated in parts (see :meth:`TerrainMap._march`).
_MARCH_SPLIT_MIN_RAYS = 16
_MARCH_PARTS = 4


class TerrainMap:
    """Onboard terrain heights on a uniform downrange grid; m above the site level.

    The arrays are public and read-only by convention (not flagged so: ``np.interp`` copies
    read-only inputs on every call). Raises ValueError unless ``heights_m`` is 1-D with at
    least 2 nodes and ``dx_m > 0``.
    """

    def __init__(self, x0_m: float, dx_m: float, heights_m: NDArray[np.floating]) -> None:
        heights = np.asarray(heights_m, dtype=np.float64)
        if heights.ndim != 1 or heights.size < 2 or not dx_m > 0:
            raise ValueError("TerrainMap: heights_m must be 1-D with >= 2 nodes, dx_m > 0")
        self.x0_m = float(x0_m)
        self.dx_m = float(dx_m)
        self.heights_m = heights
        self.x_m = self.x0_m + self.dx_m * np.arange(heights.size)
        self.max_height_m = float(heights.max())
        self.min_height_m = float(heights.min())

    @classmethod
    def flat(
        cls, height_m: float = 0.0, x_start_m: float = -600e3, x_end_m: float = 50e3
    ) -> TerrainMap:
        """A level map at ``height_m`` (two nodes)."""
        return cls(x_start_m, x_end_m - x_start_m, np.array([height_m, height_m]))

    @classmethod
    def load(cls, name_or_path: str | Path) -> TerrainMap:
        """The map in an ``.npz`` file, by path or by name (``terrain/<name>.npz`` of the
        workspace or the package).

        Raises ConfigError naming the file if it is missing or lacks a key.
        """
        path = resolve_named(name_or_path, "terrain", ".npz")
        if path.suffix != ".npz":
            path = data_path("terrain", f"{name_or_path}.npz")
        try:
            with np.load(path) as data:
                return cls(float(data["x0_m"]), float(data["dx_m"]), data["heights_m"])
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: terrain map not found") from exc
        except KeyError as exc:
            raise ConfigError(f"{path}: terrain map lacks key {exc}") from exc

    # -- queries ----------------------------------------------------------------------------
    def height_m(self, x_m: FloatArray | float) -> FloatArray:
        """Mapped terrain height at downrange positions ``x_m`` (any shape), m."""
        return np.asarray(np.interp(x_m, self.x_m, self.heights_m))

    def slant_range_m(
        self,
        origin_m: FloatArray,
        direction: FloatArray,
        max_range_m: float | FloatArray,
        n_march: int = MARCH_POINTS,
        n_bisect: int = BISECTION_STEPS,
    ) -> FloatArray:
        """Distance (N,) along unit rays ``direction`` (N, 3) from ``origin_m`` (N, 3) to the map.

        NaN where the ray does not meet the mapped terrain within ``max_range_m`` (one for all
        rays, or one per ray: then a ray's range never depends on the others; or does not
        point down); 0 where the origin is at or below the terrain. Features thinner than
        ``max_range_m / n_march`` along the ray may be stepped over.

        Method: the ray can only meet the terrain between the distances where it passes the
        highest and the lowest mapped height; ``n_march`` points over that stretch bracket the
        first crossing. Inside the bracket the terrain is linear between the grid nodes it
        contains, so the crossing is found exactly, then reported as ``n_bisect`` bisection
        steps would: the midpoint of the final interval (resolution bracket / 2**n_bisect).
        """
        n = origin_m.shape[0]
        dz = direction[:, 2]
        z = origin_m[:, 2]
        down = dz < -1e-9
        neg_dz = np.where(down, -dz, 1.0)
        s_lo = np.maximum((z - self.max_height_m) / neg_dz, 0.0)
        s_hi = np.minimum((z - self.min_height_m) / neg_dz, max_range_m)
        out = np.full(n, np.nan)
        rays = np.flatnonzero(down & (s_lo <= s_hi))
        if rays.size == 0:
            return out
        ox, oz = origin_m[rays, 0], z[rays]
        dx, dzr = direction[rays, 0], dz[rays]
        lo, hi = s_lo[rays], s_hi[rays]
        s = (hi - lo)[:, None] * _fractions(n_march)
        s += lo[:, None]  # (M, n_march) distances of the march points
        f = self._march(ox, oz, dx, dzr, s)
        below = f <= 0.0
        first = np.argmax(below, axis=1)
        hit = below[np.arange(first.size), first]
        found = np.where(hit, lo, np.nan)  # first == 0: the origin is at or below the terrain
        inner = np.nonzero(hit & (first > 0))[0]
        if inner.size:
            j = first[inner]
            a, b = s[inner, j - 1], s[inner, j]
            fa, fb = f[inner, j - 1], f[inner, j]
            crossing = self._crossing(ox[inner], oz[inner], dx[inner], dzr[inner], a, b, fa, fb)
            # the midpoint of the bisection cell that holds the crossing
            cells = 2.0**n_bisect
            width = (b - a) / cells
            cell = np.ceil((crossing - a) / width)
            cell -= 1.0
            np.maximum(cell, 0.0, out=cell)
            np.minimum(cell, cells - 1.0, out=cell)
            cell += 0.5
            cell *= width
            found[inner] = a + cell
        out[rays] = found
        return out

    # -- ray casting ------------------------------------------------------------------------
    def _above(
        self, ox: FloatArray, oz: FloatArray, dx: FloatArray, dz: FloatArray, s: FloatArray
    ) -> FloatArray:
        """Height above the mapped terrain of the ray points at distances ``s``, m.

        Ray parameters are (M, 1) columns, ``s`` is (M, m).
        """
        f = s * dz
        f += oz
        f -= self.height_m(ox + s * dx)
        return f

    def _march(
        self, ox: FloatArray, oz: FloatArray, dx: FloatArray, dz: FloatArray, s: FloatArray
    ) -> FloatArray:
        """Height above the terrain at the march points ``s`` (M, n_march) of M rays.

        For many rays the march goes in ``_MARCH_PARTS`` consecutive parts, each only for the
        rays with no point at or below the terrain yet; the later points of the others are
        left +inf (never below), and the caller looks no further than the first such point.
        """
        m, n_march = s.shape
        if m < _MARCH_SPLIT_MIN_RAYS:
            return self._above(ox[:, None], oz[:, None], dx[:, None], dz[:, None], s)
        f = np.full(s.shape, np.inf)
        still = np.arange(m)  # rays with every point so far above the terrain
        edges = np.linspace(0, n_march, _MARCH_PARTS + 1).astype(np.intp)
        for c0, c1 in itertools.pairwise(edges):
            part = self._above(
                ox[still, None], oz[still, None], dx[still, None], dz[still, None], s[still, c0:c1]
            )
            f[still, c0:c1] = part
            still = still[~np.logical_or.reduce(part <= 0.0, axis=1)]
            if still.size == 0:
                break
        return f

    def _crossing(
        self,
        ox: FloatArray,
        oz: FloatArray,
        dx: FloatArray,
        dz: FloatArray,
        a: FloatArray,
        b: FloatArray,
        fa: FloatArray,
        fb: FloatArray,
    ) -> FloatArray:
        """First distance in (a, b] where each ray meets the terrain (above it at a).

        The bracket is cut at the grid nodes inside it; between two cuts the terrain and the
        ray are both linear, so the crossing is where their height difference goes to zero.
        """
        u_a = (ox + a * dx - self.x0_m) / self.dx_m  # grid coordinates of the bracket ends
        u_b = (ox + b * dx - self.x0_m) / self.dx_m
        i_lo = np.floor(np.minimum(u_a, u_b)) + 1.0
        i_hi = np.ceil(np.maximum(u_a, u_b)) - 1.0
        count = i_hi - i_lo + 1.0
        k = int(np.maximum.reduce(count, initial=0.0))
        if k > 0:
            j = np.arange(k, dtype=np.float64)
            safe_dx = np.where(dx == 0.0, 1.0, dx)  # rays with nodes inside have dx != 0
            node_s = (i_lo[:, None] + j) * self.dx_m
            node_s += (self.x0_m - ox)[:, None]
            node_s /= safe_dx[:, None]
            node_s = np.where(j < count[:, None], node_s, b[:, None])
            np.maximum(node_s, a[:, None], out=node_s)
            np.minimum(node_s, b[:, None], out=node_s)
            node_s.sort(axis=1)
            cuts = np.concatenate((a[:, None], node_s, b[:, None]), axis=1)
            f = self._above(ox[:, None], oz[:, None], dx[:, None], dz[:, None], cuts)
            f[:, 0] = fa
            f[:, -1] = fb
            i = np.argmax(f <= 0.0, axis=1)
            r = np.arange(i.size)
            a, b = cuts[r, i - 1], cuts[r, i]
            fa, fb = f[r, i - 1], f[r, i]
        return a + (b - a) * (fa / (fa - fb))


@lru_cache(maxsize=8)
def _fractions(n: int) -> FloatArray:
    """``linspace(0, 1, n)``, cached read-only."""
    frac = np.linspace(0.0, 1.0, n)
    frac.setflags(write=False)
    return frac
