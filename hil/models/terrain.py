"""Terrain along the ground track: height profiles, features, LRF ray casting.

A :class:`TerrainProfile` is a height grid ``h(x)`` on a uniform downrange grid (crossrange is
ignored: the track is a line along +x ending at the landing site x = 0, whose height is 0).
Features (craters with raised rims, cliffs/steps) are *baked* into the grid by methods that
return a new profile, so they compose on top of any base and evaluating the terrain stays one
interpolation. Profiles are generated from a seed (rolling hills + craters) or loaded from
``terrain/<name>.npz`` (workspace or package data) (keys ``x0_m``, ``dx_m``, ``heights_m``).

:meth:`TerrainProfile.slant_range_m` casts N rays at once (coarse march, then bisection).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hil.core.paths import data_path, resolve_named
from hil.errors import ConfigError

FloatArray = NDArray[np.float64]


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
        """Load a profile from an ``.npz`` path, or ``terrain/<name>.npz`` of the workspace or
        the package by name.

        Raises ConfigError naming the file if it is missing or lacks a key.
        """
        path = resolve_named(name_or_path, "terrain", ".npz")
        if path.suffix != ".npz":
            path = data_path("terrain", f"{name_or_path}.npz")
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

        A positive drop is a descending cliff (e.g. the ~3 km crater rim of
        scenario F1, docs/architecture.md §6).
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

        Method: a march of ``n_march`` points brackets the first crossing; inside the bracket
        the result is what ``n_bisect`` bisection steps return (the midpoint of the final
        interval, resolution bracket / 2**n_bisect), computed in closed form: the terrain is
        linear between grid nodes, so the crossing is found exactly from the few nodes inside
        the bracket and then quantised to the bisection grid.
        """
        return _cast_rays(
            _RayTerrain(
                self.x0_m,
                self.dx_m,
                self.max_height_m,
                self.min_height_m,
                lambda x_m, rows: self.height_m(x_m),
            ),
            origin_m,
            direction,
            max_range_m,
            n_march,
            n_bisect,
        )


class _RayTerrain:
    """What :func:`_cast_rays` needs of the terrain under N rays (one profile or one per ray).

    ``top_m`` / ``bottom_m``: highest / lowest terrain under each ray (float or (N,));
    ``height(x_m, rows)``: terrain heights at ``x_m`` (leading axis = rays ``rows``).
    """

    def __init__(
        self,
        x0_m: float,
        dx_m: float,
        top_m: float | FloatArray,
        bottom_m: float | FloatArray,
        height: Callable[[FloatArray, NDArray[np.intp] | slice], FloatArray],
    ) -> None:
        self.x0_m = x0_m
        self.dx_m = dx_m
        self.top_m = top_m
        self.bottom_m = bottom_m
        self.height = height

    def above(
        self,
        rows: NDArray[np.intp] | slice,
        oz: FloatArray,
        ox: FloatArray,
        dz: FloatArray,
        dx: FloatArray,
        s: FloatArray,
    ) -> FloatArray:
        """Height of the ray point at distance ``s`` above the terrain, m."""
        f = s * dz
        f += oz
        f -= self.height(ox + s * dx, rows)
        return f


def _cast_rays(
    terrain: _RayTerrain,
    origin_m: FloatArray,
    direction: FloatArray,
    max_range_m: float,
    n_march: int,
    n_bisect: int,
) -> FloatArray:
    """:meth:`TerrainProfile.slant_range_m` for any terrain (one profile or one per ray)."""
    n = origin_m.shape[0]
    dz = direction[:, 2]
    z = origin_m[:, 2]
    down = dz < -1e-9
    neg_dz = np.where(down, -dz, 1.0)
    s_lo = np.maximum((z - terrain.top_m) / neg_dz, 0.0)
    s_hi = np.minimum((z - terrain.bottom_m) / neg_dz, max_range_m)
    todo = s_lo <= s_hi
    todo &= down
    out = np.full(n, np.nan)
    if not np.logical_or.reduce(todo):
        return out
    if np.logical_and.reduce(todo):
        ox, oz, dx, dzt, lo, hi = origin_m[:, 0], z, direction[:, 0], dz, s_lo, s_hi
        rows_todo: slice | NDArray[np.intp] = slice(None)
    else:
        rows_todo = np.nonzero(todo)[0]
        ox, oz = origin_m[rows_todo, 0], z[rows_todo]
        dx, dzt = direction[rows_todo, 0], dz[rows_todo]
        lo, hi = s_lo[rows_todo], s_hi[rows_todo]
    s = (hi - lo)[:, None] * _fractions(n_march)
    s += lo[:, None]  # (M, n_march)
    f = _march(terrain, np.arange(n)[rows_todo], oz, ox, dzt, dx, s)
    below = f <= 0.0
    first = np.argmax(below, axis=1)
    hit = below[np.arange(first.size), first]
    rng = np.where(hit, lo, np.nan)  # first == 0: the origin is already at/below ground
    inner = np.nonzero(hit & (first > 0))[0]
    if inner.size:
        rows_inner = np.arange(n)[rows_todo][inner]
        j = first[inner]
        a, b = s[inner, j - 1], s[inner, j]
        fa, fb = f[inner, j - 1], f[inner, j]
        crossing = _crossing(
            terrain, rows_inner, oz[inner], ox[inner], dzt[inner], dx[inner], a, b, fa, fb
        )
        # quantise to the bisection grid: midpoint of the final bisection interval
        cells = 2.0**n_bisect
        width = (b - a) / cells
        q = np.ceil((crossing - a) / width)
        q -= 1.0
        np.maximum(q, 0.0, out=q)
        np.minimum(q, cells - 1.0, out=q)
        q += 0.5
        q *= width
        rng[inner] = a + q
    out[rows_todo] = rng
    return out


#: Rays from which on :func:`_march` evaluates the march in parts.
_MARCH_SPLIT_MIN_RAYS = 16
_MARCH_PARTS = 4


def _march(
    terrain: _RayTerrain,
    rows: NDArray[np.intp],
    oz: FloatArray,
    ox: FloatArray,
    dz: FloatArray,
    dx: FloatArray,
    s: FloatArray,
) -> FloatArray:
    """Height above the terrain at the march points ``s`` (M, n_march) of rays ``rows``.

    For many rays the march is evaluated in ``_MARCH_PARTS`` consecutive parts, each only for
    the rays that have no point at or below the terrain yet; later points of the others are
    +inf (never below), which is all the caller looks at beyond the first such point.
    """
    m, n_march = s.shape
    if m < _MARCH_SPLIT_MIN_RAYS:
        return terrain.above(rows, oz[:, None], ox[:, None], dz[:, None], dx[:, None], s)
    f = np.full(s.shape, np.inf)
    still = np.arange(m)  # rays with every point so far above the terrain
    edges = np.linspace(0, n_march, _MARCH_PARTS + 1).astype(np.intp)
    for c0, c1 in itertools.pairwise(edges):
        part = terrain.above(
            rows[still],
            oz[still, None],
            ox[still, None],
            dz[still, None],
            dx[still, None],
            s[still, c0:c1],
        )
        f[still, c0:c1] = part
        still = still[~np.logical_or.reduce(part <= 0.0, axis=1)]
        if still.size == 0:
            break
    return f


def _crossing(
    terrain: _RayTerrain,
    rows: NDArray[np.intp],
    oz: FloatArray,
    ox: FloatArray,
    dz: FloatArray,
    dx: FloatArray,
    a: FloatArray,
    b: FloatArray,
    fa: FloatArray,
    fb: FloatArray,
) -> FloatArray:
    """First point in (a, b] where the ray meets the piecewise-linear terrain (f(a) > 0).

    Splits the bracket at the grid nodes inside it; the crossing is then linear.
    """
    x0_m, dx_m = terrain.x0_m, terrain.dx_m
    u_a = (ox + a * dx - x0_m) / dx_m  # grid coordinates of the bracket ends
    u_b = (ox + b * dx - x0_m) / dx_m
    i_lo = np.floor(np.minimum(u_a, u_b)) + 1.0
    i_hi = np.ceil(np.maximum(u_a, u_b)) - 1.0
    count = i_hi - i_lo + 1.0
    k = int(np.maximum.reduce(count, initial=0.0))
    if k > 0:
        j = np.arange(k, dtype=np.float64)
        safe_dx = np.where(dx == 0.0, 1.0, dx)  # rows with nodes inside have dx != 0
        node_s = (i_lo[:, None] + j) * dx_m
        node_s += (x0_m - ox)[:, None]
        node_s /= safe_dx[:, None]
        node_s = np.where(j < count[:, None], node_s, b[:, None])
        np.maximum(node_s, a[:, None], out=node_s)
        np.minimum(node_s, b[:, None], out=node_s)
        node_s.sort(axis=1)
        pts = np.concatenate((a[:, None], node_s, b[:, None]), axis=1)
        fp = terrain.above(rows, oz[:, None], ox[:, None], dz[:, None], dx[:, None], pts)
        fp[:, 0] = fa
        fp[:, -1] = fb
        i = np.argmax(fp <= 0.0, axis=1)
        r = np.arange(i.size)
        a, b = pts[r, i - 1], pts[r, i]
        fa, fb = fp[r, i - 1], fp[r, i]
    return a + (b - a) * (fa / (fa - fb))


def _fractions(n: int) -> FloatArray:
    """``linspace(0, 1, n)``, cached read-only."""
    frac = _FRACTIONS.get(n)
    if frac is None:
        frac = np.linspace(0.0, 1.0, n)
        frac.setflags(write=False)
        _FRACTIONS[n] = frac
    return frac


_FRACTIONS: dict[int, FloatArray] = {}


class RunTerrain:
    """Truth terrain per run: one of K profiles on a common grid plus a vertical offset.

    Run i flies over ``profiles[variant[i]]`` raised by ``offset_m[i]`` (Monte Carlo terrain
    dispersion, :mod:`hil.models.dispersions`). Queries take arrays whose leading axis is the
    run (``(N,)`` or ``(N, m)``) and evaluate each group of runs on its profile, so a run
    costs what it costs on a single profile. With one profile and no offsets every query is
    exactly the single profile's.
    """

    def __init__(
        self,
        profiles: list[TerrainProfile],
        variant: NDArray[np.intp],
        offset_m: FloatArray,
    ) -> None:
        if not profiles:
            raise ValueError("RunTerrain: needs at least one profile")
        self.profiles = profiles
        self.variant = np.asarray(variant, dtype=np.intp)
        self.offset_m = np.asarray(offset_m, dtype=np.float64)
        if self.variant.shape != self.offset_m.shape or self.variant.ndim != 1:
            raise ValueError("RunTerrain: variant and offset_m must both be (N,)")
        if self.variant.size and not 0 <= int(self.variant.max()) < len(profiles):
            raise ValueError(f"RunTerrain: variant index outside 0..{len(profiles) - 1}")
        self._offset_any = bool(np.any(self.offset_m != 0.0))
        used = np.unique(self.variant)
        self._groups = [(profiles[int(k)], np.flatnonzero(self.variant == k)) for k in used]
        self._single: TerrainProfile | None = None
        if len(used) <= 1:
            self._single = profiles[int(used[0])] if len(used) else profiles[0]
        lo = self.offset_m.min(initial=0.0)
        hi = self.offset_m.max(initial=0.0)
        self._used = [(int(k), profiles[int(k)]) for k in used]
        grid = {(p.x0_m, p.dx_m, p.heights_m.size) for _, p in self._used}
        self._common_grid = len(grid) <= 1
        # highest / lowest terrain under each run, offsets not included (ray casting)
        tops = np.array([p.max_height_m for p in profiles])
        bottoms = np.array([p.min_height_m for p in profiles])
        self._top_m = tops[self.variant]
        self._bottom_m = bottoms[self.variant]
        used_profiles = [p for p, _ in self._groups] or profiles[:1]
        self.max_height_m = max(p.max_height_m for p in used_profiles) + float(hi)
        self.min_height_m = min(p.min_height_m for p in used_profiles) + float(lo)

    @classmethod
    def uniform(cls, profile: TerrainProfile, n: int) -> RunTerrain:
        """N runs over the same ``profile``, no offsets."""
        return cls([profile], np.zeros(n, dtype=np.intp), np.zeros(n))

    def take(self, rows: NDArray[np.intp]) -> RunTerrain:
        """The terrain of runs ``rows`` only."""
        return RunTerrain(self.profiles, self.variant[rows], self.offset_m[rows])

    def profile_of(self, run: int) -> TerrainProfile:
        """Run ``run``'s terrain as a single profile (its offset baked into the heights)."""
        base = self.profiles[int(self.variant[run])]
        offset = float(self.offset_m[run])
        if offset == 0.0:
            return base
        return TerrainProfile(base.x0_m, base.dx_m, base.heights_m + offset)

    def _per_run(self, x_m: FloatArray, query: str) -> FloatArray:
        if self._single is not None:
            return np.asarray(getattr(self._single, query)(x_m))
        out = np.empty(np.shape(x_m))
        for profile, rows in self._groups:
            out[rows] = getattr(profile, query)(x_m[rows])
        return out

    def height_m(self, x_m: FloatArray) -> FloatArray:
        """Terrain height of each run at ``x_m`` (leading axis = run), m."""
        h = self._per_run(x_m, "height_m")
        if self._offset_any:
            h += self.offset_m.reshape((-1,) + (1,) * (h.ndim - 1))
        return h

    def slope(self, x_m: FloatArray) -> FloatArray:
        """Terrain slope dh/dx of each run at ``x_m`` (leading axis = run)."""
        return self._per_run(x_m, "slope")

    def slant_range_m(
        self, origin_m: FloatArray, direction: FloatArray, max_range_m: float
    ) -> FloatArray:
        """Per-run :meth:`TerrainProfile.slant_range_m` (N rays, one per run)."""
        # runs whose ray cannot reach the highest terrain of any run within range miss it
        # (the bound is loose by a metre, so a run it drops is also dropped by the exact test)
        dz = direction[:, 2]
        reach = (origin_m[:, 2] - self.max_height_m) - 1.0 <= max_range_m * -dz
        reach &= dz < -1e-9
        if not np.logical_or.reduce(reach):
            return np.full(origin_m.shape[0], np.nan)
        if self._offset_any:
            origin_m = origin_m.copy()
            origin_m[:, 2] -= self.offset_m
        if self._single is not None:
            return self._single.slant_range_m(origin_m, direction, max_range_m)
        if not self._common_grid:
            out = np.full(origin_m.shape[0], np.nan)
            for profile, rows in self._groups:
                out[rows] = profile.slant_range_m(origin_m[rows], direction[rows], max_range_m)
            return out
        # one ray cast for every run, each on its own profile (same grid, same arithmetic
        # per ray as casting each group on its own profile)
        first = self.profiles[0]
        ray_terrain = _RayTerrain(
            first.x0_m, first.dx_m, self._top_m, self._bottom_m, self._height_of_rows
        )
        return _cast_rays(ray_terrain, origin_m, direction, max_range_m, 96, 16)

    def _height_of_rows(self, x_m: FloatArray, rows: NDArray[np.intp] | slice) -> FloatArray:
        """Heights (offsets not included) at ``x_m`` of runs ``rows`` (leading axis)."""
        variant = self.variant[rows]
        out = np.empty(np.shape(x_m))
        for k, profile in self._used:
            mine = variant == k
            if np.logical_or.reduce(mine, axis=None):
                out[mine] = profile.height_m(x_m[mine])
        return out
