"""Terrain along the ground track: height profiles, features, fixtures, LRF ray casting.

A :class:`TerrainProfile` is a height grid ``h(x)`` on a uniform downrange grid (crossrange is
ignored: the track is a line along +x ending at the landing site x = 0, whose height is 0).
Features (craters with raised rims, cliffs/steps) are *baked* into the grid by methods that
return a new profile, so they compose on top of any base and evaluating the terrain stays one
interpolation. Profiles are generated from a seed (rolling hills + craters) or loaded from
``fixtures/terrain/<name>.npz`` (keys ``x0_m``, ``dx_m``, ``heights_m``).

:meth:`TerrainProfile.slant_range_m` casts N rays at once (coarse march, then bisection).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hil.errors import ConfigError

FloatArray = NDArray[np.float64]

#: Where ``TerrainProfile.load(name)`` looks for ``<name>.npz``.
FIXTURE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "terrain"


class TerrainProfile:
    """Terrain height along the track on a uniform grid; heights in m above the site level.

    Outside the grid the end heights continue flat. Treat the arrays as read-only (they are
    not flagged so, because ``np.interp`` copies read-only inputs on every call).
    """

    def __init__(self, x0_m: float, dx_m: float, heights_m: NDArray[np.floating]) -> None:
        heights = np.asarray(heights_m, dtype=np.float64)
        if heights.ndim != 1 or heights.size < 2 or not dx_m > 0:
            raise ValueError("TerrainProfile: heights_m must be 1-D with >= 2 points, dx_m > 0")
        self.x0_m = float(x0_m)
        self.dx_m = float(dx_m)
        self.heights_m = heights
        self.x_m = self.x0_m + self.dx_m * np.arange(heights.size)
        self._slope = np.gradient(heights, self.dx_m)
        self.max_height_m = float(heights.max())
        self.min_height_m = float(heights.min())

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def flat(
        cls, height_m: float = 0.0, x_start_m: float = -600e3, x_end_m: float = 50e3
    ) -> TerrainProfile:
        """A level plane (coarse grid)."""
        return cls(x_start_m, x_end_m - x_start_m, np.array([height_m, height_m]))

    @classmethod
    def generate(
        cls,
        seed: int,
        x_start_m: float = -560e3,
        x_end_m: float = 20e3,
        dx_m: float = 20.0,
        n_craters: int = 60,
        hill_amplitude_m: float = 150.0,
        site_flat_radius_m: float = 1500.0,
    ) -> TerrainProfile:
        """Rolling hills plus craters from ``seed``; flat and at height 0 around the site."""
        rng = np.random.default_rng(seed)
        x = np.arange(x_start_m, x_end_m + dx_m / 2, dx_m)
        h = np.zeros_like(x)
        for _ in range(8):
            wavelength = rng.uniform(3e3, 60e3)
            amp = hill_amplitude_m * rng.uniform(0.2, 1.0) * (wavelength / 60e3) ** 0.5
            h += amp * np.sin(2 * math.pi * x / wavelength + rng.uniform(0, 2 * math.pi))
        profile = cls(x_start_m, dx_m, h)
        for _ in range(n_craters):
            radius = float(np.exp(rng.uniform(math.log(150.0), math.log(6e3))))
            centre = float(rng.uniform(x_start_m, -4 * site_flat_radius_m - radius))
            profile = profile.with_crater(centre, radius, depth_m=0.2 * 2 * radius * 0.5)
        taper = 1.0 - np.exp(-((profile.x_m / site_flat_radius_m) ** 2))
        return cls(x_start_m, dx_m, profile.heights_m * taper)

    @classmethod
    def load(cls, name_or_path: str | Path) -> TerrainProfile:
        """Load a profile from an ``.npz`` path, or ``fixtures/terrain/<name>.npz`` by name.

        Raises ConfigError naming the file if it is missing or lacks a key.
        """
        path = Path(name_or_path)
        if path.suffix != ".npz":
            path = FIXTURE_DIR / f"{name_or_path}.npz"
        try:
            with np.load(path) as data:
                return cls(float(data["x0_m"]), float(data["dx_m"]), data["heights_m"])
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: terrain profile not found") from exc
        except KeyError as exc:
            raise ConfigError(f"{path}: terrain profile lacks key {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write the profile as a compressed ``.npz`` (heights stored as float32)."""
        np.savez_compressed(
            path,
            x0_m=np.float64(self.x0_m),
            dx_m=np.float64(self.dx_m),
            heights_m=self.heights_m.astype(np.float32),
        )

    # -- features (each returns a new profile) ----------------------------------------------
    def with_crater(
        self, centre_x_m: float, radius_m: float, depth_m: float, rim_height_m: float | None = None
    ) -> TerrainProfile:
        """Add a bowl crater: floor ``depth_m`` below the rim, rim raised, ejecta decaying ~r^-3.

        The rim height defaults to 4 % of the diameter.
        """
        rim = 0.04 * 2 * radius_m if rim_height_m is None else rim_height_m
        d = np.abs(self.x_m - centre_x_m) / radius_m
        inside = rim + depth_m * (d**2 - 1.0)
        outside = rim / np.maximum(d, 1.0) ** 3
        return TerrainProfile(
            self.x0_m, self.dx_m, self.heights_m + np.where(d < 1.0, inside, outside)
        )

    def with_step(self, x_m: float, drop_m: float, width_m: float = 200.0) -> TerrainProfile:
        """Add a cliff: terrain downrange of ``x_m`` is ``drop_m`` lower (smooth over width).

        A positive drop is a descending cliff (e.g. the ~3 km crater rim of DESIGN F1).
        """
        s = np.clip((self.x_m - x_m) / width_m + 0.5, 0.0, 1.0)
        smooth = s * s * (3.0 - 2.0 * s)
        return TerrainProfile(self.x0_m, self.dx_m, self.heights_m - drop_m * smooth)

    # -- queries ----------------------------------------------------------------------------
    def height_m(self, x_m: FloatArray | float) -> FloatArray:
        """Terrain height at downrange positions ``x_m`` (any shape), m."""
        return np.asarray(np.interp(x_m, self.x_m, self.heights_m))

    def slope(self, x_m: FloatArray | float) -> FloatArray:
        """Terrain slope dh/dx at ``x_m`` (dimensionless)."""
        return np.asarray(np.interp(x_m, self.x_m, self._slope))

    def slant_range_m(
        self,
        origin_m: FloatArray,
        direction: FloatArray,
        max_range_m: float,
        n_march: int = 96,
        n_bisect: int = 16,
    ) -> FloatArray:
        """Distance along unit rays ``direction`` (N, 3) from ``origin_m`` (N, 3) to the terrain.

        NaN where the ray does not meet the terrain within ``max_range_m``. 0 where the origin
        is at or below the terrain. Features thinner than ``max_range_m / n_march`` along the
        ray may be stepped over.
        """
        n = origin_m.shape[0]
        out = np.full(n, np.nan)
        dz = direction[:, 2]
        z = origin_m[:, 2]
        down = dz < -1e-9
        with np.errstate(divide="ignore", invalid="ignore"):
            s_lo = np.where(down, np.maximum((z - self.max_height_m) / -dz, 0.0), np.inf)
            s_hi = np.where(down, (z - self.min_height_m) / -dz, np.inf)
        s_hi = np.minimum(s_hi, max_range_m)
        todo = np.flatnonzero(s_lo <= s_hi)
        if todo.size == 0:
            return out
        ox, oz = origin_m[todo, 0], z[todo]
        dx, dzt = direction[todo, 0], dz[todo]
        lo, hi = s_lo[todo], s_hi[todo]
        frac = np.linspace(0.0, 1.0, n_march)
        s = lo[:, None] + (hi - lo)[:, None] * frac  # (M, n_march)
        f = oz[:, None] + s * dzt[:, None] - self.height_m(ox[:, None] + s * dx[:, None])
        below = f <= 0.0
        hit = below.any(axis=1)
        first = np.argmax(below, axis=1)
        rows = np.arange(todo.size)
        a = s[rows, np.maximum(first - 1, 0)]
        b = s[rows, first]
        for _ in range(n_bisect):
            mid = 0.5 * (a + b)
            fm = oz + mid * dzt - self.height_m(ox + mid * dx)
            under = fm <= 0.0
            b = np.where(under, mid, b)
            a = np.where(under, a, mid)
        rng = np.where(first == 0, lo, 0.5 * (a + b))
        out[todo] = np.where(hit, rng, np.nan)
        return out
