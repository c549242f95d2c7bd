"""Monte Carlo dispersions: what differs between the runs of a campaign, drawn per run.

A scenario's ``[dispersions]`` table (:class:`DispersionParams`) gives 1-sigma values; every
run draws its own values (:class:`RunDispersions`) from a generator seeded by its *run seed*
alone (stream ``STREAM_DISPERSION``), so run i gets the same lander whatever the batch it flies
in: model-only chunk of any size, any worker, or the N = 1 full-stack plant.

What is dispersed, and who knows it:

============================ =========================================== ==================
quantity                     truth                                       flight software
============================ =========================================== ==================
initial position, velocity   nominal start + Gaussian offset              truth + [uplink_error]
dry mass, propellant load    nominal + Gaussian (wet = dry + propellant)  nominal wet mass; the
                                                                         gauge reads the true
                                                                         propellant
max thrust, Isp              nominal x (1 + sigma z), nominal + sigma z   nominal thrust
IMU accel / gyro bias        Gaussian per axis, on top of ``[imu]``      calibrates accel bias
LRF range bias, noise scale  bias m; sigma x max(1 + sigma z, 0)          nominal noise model
terrain                      one of K variants of the truth terrain      its onboard map only
                             (extra unmapped craters) + vertical offset
============================ =========================================== ==================

The K terrain variants are generated once from ``terrain_seed`` (the same in every worker),
each with ``terrain_craters`` craters of radius up to ``terrain_crater_radius_m`` within
``terrain_crater_zone_m`` uprange of the site (outside the site's flat zone); a run picks one.
All sigmas zero (the default) means no dispersion: every run flies the nominal lander.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from hil.models.dynamics import LanderParams, RunLander
from hil.models.sensors import MG_MPS2, STREAM_DISPERSION, run_generators
from hil.models.terrain import RunTerrain, TerrainProfile

FloatArray = NDArray[np.float64]

#: Standard normals each run draws, in this order (fixed, so adding a sigma never shifts others)
_NORMALS = (
    "downrange_m",
    "crossrange_m",
    "altitude_m",
    "downrange_velocity_mps",
    "crossrange_velocity_mps",
    "vertical_velocity_mps",
    "dry_mass_kg",
    "propellant_kg",
    "thrust_fraction",
    "isp_s",
    "accel_bias_x",
    "accel_bias_y",
    "accel_bias_z",
    "gyro_bias_x",
    "gyro_bias_y",
    "gyro_bias_z",
    "lrf_bias_m",
    "lrf_noise_fraction",
    "terrain_offset_m",
)
_COLUMN = {name: i for i, name in enumerate(_NORMALS)}
#: keep the site's flat zone free of variant craters (TerrainProfile.generate's default)
SITE_FLAT_RADIUS_M = 1500.0


@dataclass(frozen=True)
class DispersionParams:
    """1-sigma dispersions of a campaign's runs (``[dispersions]``); all zero = none."""

    downrange_m: float = 0.0  #: initial position, m
    crossrange_m: float = 0.0
    altitude_m: float = 0.0
    downrange_velocity_mps: float = 0.0  #: initial velocity, m/s
    crossrange_velocity_mps: float = 0.0
    vertical_velocity_mps: float = 0.0
    dry_mass_kg: float = 0.0  #: structure mass the FC does not know, kg
    propellant_kg: float = 0.0  #: propellant load, kg (the gauge measures it)
    thrust_fraction: float = 0.0  #: max-thrust scale, fraction (0.01 = 1 %)
    isp_s: float = 0.0  #: specific impulse, s
    accel_bias_mg: float = 0.0  #: extra accelerometer bias per axis, milli-g
    gyro_bias_deg_per_h: float = 0.0  #: gyro bias per axis, deg/h
    lrf_bias_m: float = 0.0  #: constant LRF range bias, m
    lrf_noise_fraction: float = 0.0  #: LRF noise sigma scale, fraction (0.2 = 20 %)
    terrain_offset_m: float = 0.0  #: vertical offset of the truth terrain vs the map, m
    terrain_variants: int = 0  #: K truth-terrain variants with unmapped craters (0: none)
    terrain_craters: int = 3  #: craters per variant
    terrain_crater_radius_m: float = 300.0  #: largest crater radius, m
    terrain_crater_zone_m: float = 20_000.0  #: craters lie this far uprange of the site, m
    terrain_seed: int = 0  #: seed of the variants (the same in every worker)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "terrain_seed" and not value >= 0:
                raise ValueError(f"{item.name}: must be >= 0, got {value}")
        if self.terrain_variants and not self.terrain_crater_radius_m > 0:
            raise ValueError("terrain_crater_radius_m: must be > 0 with terrain variants")

    @property
    def any(self) -> bool:
        """True if anything is dispersed."""
        sigmas = [item.name for item in fields(self) if not item.name.startswith("terrain_")]
        return (
            any(getattr(self, name) > 0 for name in sigmas)
            or self.terrain_offset_m > 0
            or self.terrain_variants > 0
        )


@dataclass(frozen=True)
class RunDispersions:
    """The dispersed values of N runs (arrays with a leading axis of N)."""

    position_m: FloatArray  #: (N, 3) offset of the initial position
    velocity_mps: FloatArray  #: (N, 3) offset of the initial velocity
    lander: RunLander  #: per-run dry mass, max thrust, Isp
    propellant_kg: FloatArray  #: (N,) propellant load
    accel_bias_mps2: FloatArray  #: (N, 3)
    gyro_bias_radps: FloatArray  #: (N, 3)
    lrf_bias_m: FloatArray  #: (N,)
    lrf_noise_scale: FloatArray  #: (N,)
    terrain_variant: NDArray[np.intp]  #: (N,) index into the K variants (0 without variants)
    terrain_offset_m: FloatArray  #: (N,)

    @property
    def wet_mass_kg(self) -> FloatArray:
        """True mass at the start, kg."""
        return self.lander.dry_mass_kg + self.propellant_kg


def draw(
    params: DispersionParams, lander: LanderParams, run_seeds: Sequence[int]
) -> RunDispersions:
    """Each run's dispersed values from its own seed (independent of the other runs)."""
    n = len(run_seeds)
    z = np.zeros((n, len(_NORMALS)))
    u = np.zeros(n)
    if params.any:
        for i, g in enumerate(run_generators(run_seeds, STREAM_DISPERSION)):
            g.standard_normal(out=z[i])
            u[i] = g.random()

    def col(name: str, sigma: float) -> FloatArray:
        return np.asarray(sigma * z[:, _COLUMN[name]])

    p = params
    position = np.stack(
        [
            col("downrange_m", p.downrange_m),
            col("crossrange_m", p.crossrange_m),
            col("altitude_m", p.altitude_m),
        ],
        axis=1,
    )
    velocity = np.stack(
        [
            col("downrange_velocity_mps", p.downrange_velocity_mps),
            col("crossrange_velocity_mps", p.crossrange_velocity_mps),
            col("vertical_velocity_mps", p.vertical_velocity_mps),
        ],
        axis=1,
    )
    run_lander = RunLander(
        dry_mass_kg=lander.dry_mass_kg + col("dry_mass_kg", p.dry_mass_kg),
        max_thrust_n=lander.max_thrust_n * (1.0 + col("thrust_fraction", p.thrust_fraction)),
        isp_s=lander.isp_s + col("isp_s", p.isp_s),
    )
    accel = np.stack([col(f"accel_bias_{a}", p.accel_bias_mg * MG_MPS2) for a in "xyz"], axis=1)
    gyro_sigma = math.radians(p.gyro_bias_deg_per_h) / 3600.0
    gyro = np.stack([col(f"gyro_bias_{a}", gyro_sigma) for a in "xyz"], axis=1)
    return RunDispersions(
        position_m=position,
        velocity_mps=velocity,
        lander=run_lander,
        propellant_kg=(lander.wet_mass_kg - lander.dry_mass_kg)
        + col("propellant_kg", p.propellant_kg),
        accel_bias_mps2=accel,
        gyro_bias_radps=gyro,
        lrf_bias_m=col("lrf_bias_m", p.lrf_bias_m),
        lrf_noise_scale=np.maximum(1.0 + col("lrf_noise_fraction", p.lrf_noise_fraction), 0.0),
        terrain_variant=np.minimum(
            (u * p.terrain_variants).astype(np.intp), max(p.terrain_variants - 1, 0)
        ),
        terrain_offset_m=col("terrain_offset_m", p.terrain_offset_m),
    )


def terrain_variants(base: TerrainProfile, params: DispersionParams) -> list[TerrainProfile]:
    """The K truth-terrain variants (``[base]`` without variants), from ``terrain_seed``."""
    if params.terrain_variants == 0:
        return [base]
    rng = np.random.default_rng([params.terrain_seed, STREAM_DISPERSION])
    r_max = params.terrain_crater_radius_m
    out = []
    for _ in range(params.terrain_variants):
        profile = base
        for _ in range(params.terrain_craters):
            radius = float(rng.uniform(0.25 * r_max, r_max))
            far = -max(params.terrain_crater_zone_m, SITE_FLAT_RADIUS_M + 2 * radius)
            centre = float(rng.uniform(far, -SITE_FLAT_RADIUS_M - radius))
            profile = profile.with_crater(centre, radius, depth_m=0.2 * radius)
        out.append(profile)
    return out


def run_terrain(base: TerrainProfile, params: DispersionParams, runs: RunDispersions) -> RunTerrain:
    """The per-run truth terrain of ``runs`` over ``base``."""
    return RunTerrain(terrain_variants(base, params), runs.terrain_variant, runs.terrain_offset_m)
