"""Synthetic FIB/SEM stack of a calendered battery cathode with exact ground truth.

The phantom is the reference the whole pipeline is tested against. It builds, in this order:

1. **Geometry** (true, undrifted frame, thickness axis y with the separator side at y = 0):
   polydisperse active-material (AM) secondary particles with log-normal diameters are packed
   by random sequential addition (largest first, a bounded pairwise overlap) in the
   *uncalendered* electrode, which is then compressed along y by ``calender_ratio``.
   Particles flatten less than the electrode (``flatten_exponent``) and bulge sideways to keep
   their volume, so neighbours overlap and flatten against each other as in a calendered
   electrode. Particle surfaces carry a low-order random roughness. A global radius scale is
   solved exactly (a quantile of the particle distance field) when ``target_am_fraction`` is
   given; gap-filling particles are added first if the packing cannot reach it.
   Some particles crack (radial, wavy cracks from the surface inward, mostly parallel to the
   load); closed pores sit well inside particles. The carbon-binder domain (CBD) fills the
   pore voxels with the highest local AM density (necks and crevices between particles,
   cracks and closed pores excluded) up to exactly ``cbd_fraction``.
2. **Ideal SEM rendering** ``clean`` (0..1 float): AM bright with per-particle channelling
   contrast and fine texture, CBD grey and textured, pores dark; edge brightening of AM at
   pore boundaries; **shine-through**: a pore pixel of slice z shows the first solid met along
   +z (material not yet milled), attenuated as ``exp(-depth / shine_depth_nm)``; a Gaussian PSF.
3. **Acquisition** (acquired frame): per-slice **drift** (Gaussian random walk plus an optional
   linear trend), optional **tilt foreshortening** of y by ``sin(tilt_angle_deg)``, additive
   **curtaining** (vertical stripes of random width/strength/sign starting at the top, part of
   them fading out part-way down, varying slowly and appearing/disappearing from slice to
   slice), then Poisson (shot) and Gaussian noise and 8-bit quantisation.

Every artefact has its own random stream, so switching one off (strength 0) leaves the
geometry and the other artefacts unchanged. The geometry is computed on a canvas larger than
the field of view (``canvas_margin_px``) so drifted slices show real structure at their edges
and the last slices get shine-through from material behind the stack.

Intensities are floats in 0..1 (``image`` is ``round(255 * value)``).
Coordinates in :attr:`Phantom.particles` are in micrometres in the truth frame: voxel
``(i, j, k)`` has its centre at ``((i + 0.5) vz, (j + 0.5) vy, (k + 0.5) vx)``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
from scipy import ndimage, special

from microstructure.volume import Phase, Volume, check_volume, parse_voxel_size

__all__ = [
    "PhantomParams",
    "Phantom",
    "generate_phantom",
    "save_phantom",
    "PHANTOM_FORMAT_VERSION",
    "DEFAULT_SHAPE",
    "DEFAULT_VOXEL_SIZE_NM",
]

#: Version of the phantom model and of truth.json (bump when the geometry/rendering changes).
PHANTOM_FORMAT_VERSION = 1
#: Shape of the bundled sample (z, y, x).
DEFAULT_SHAPE = (96, 192, 192)
#: Voxel edge of the bundled sample in nm (isotropic): 5.76 x 11.52 x 11.52 um.
DEFAULT_VOXEL_SIZE_NM = 60.0

# Largest global radius scale the distance field is computed for (particle boxes are
# evaluated up to this multiple of each radius).
_RHO_MAX = 1.3
# Gap filling starts when the target needs a radius scale above this.
_FILL_ABOVE_SCALE = 1.06


# --------------------------------------------------------------------------- parameters


def _check_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    bad_lo = v <= lo if lo_open else v < lo
    if bad_lo or v > hi:
        left = "(" if lo_open else "["
        raise ValueError(f"{name}: must be in {left}{lo}, {hi}], got {v}")
    return v


@dataclass(frozen=True)
class PhantomParams:
    """All parameters of the phantom (validated; out-of-range values raise ``ValueError``).

    Geometry
    --------
    mean_diameter_um, sigma_log
        Arithmetic mean (um) and log-standard deviation of the log-normal AM particle
        diameter distribution (before truncation).
    min_diameter_um, max_diameter_um
        Truncation of the diameter distribution (um).
    packing_fraction
        Summed sphere volume / domain volume of the random sequential packing in the
        uncalendered electrode.
    max_overlap
        Allowed overlap in that packing: centre distance >= (1 - max_overlap)(r_i + r_j).
    calender_ratio
        Final / initial electrode thickness (1 = uncalendered); compresses along y.
    flatten_exponent
        Particles flatten along y by ``calender_ratio ** flatten_exponent`` (0 = rigid,
        1 = as much as the electrode) and bulge in z and x to keep their volume.
    particle_roughness
        Standard deviation of the low-order surface roughness amplitudes (relative radius).
    target_am_fraction
        If not None (default 0.6, a calendered cathode), the AM volume fraction (closed
        pores and cracks excluded) of the labels
        is made exactly this by a global radius scale (and gap-filling particles if needed).
    crack_fraction, crack_width_nm
        Fraction of particles that are cracked; crack opening at the particle surface (nm).
    closed_porosity_am, closed_pore_diameter_um
        Volume fraction of the AM particles carved as closed internal pores; their mean
        diameter (um).
    cbd_fraction
        CBD volume fraction of the whole volume (exact, in the labels).
    cbd_neck_scale_um
        Smoothing length of the AM density that places the CBD (default: 0.08 x mean
        diameter). Larger values spread the CBD into wider necks.
    canvas_margin_px
        Extra voxels generated around the field of view (y and x on both sides, z behind);
        default ``clip(0.08 n, 8, 48)`` per axis. Drift larger than this shows edge values.

    Rendering (intensities 0..1)
    ----------------------------
    intensity_pore, intensity_cbd, intensity_am
        Mean grey values of the phases.
    am_particle_contrast, texture_strength
        Standard deviation of per-particle AM brightness; amplitude of the fine texture (CBD
        texture is twice as strong).
    edge_brightness
        Extra brightness of AM next to pores in the section plane (SEM edge effect).
    shine_through, shine_depth_nm
        Strength (0 = off, 1 = full contrast right behind the plane) and attenuation depth
        of the material behind the section plane seen through pores.
    psf_sigma_px
        Gaussian blur of the beam in the slice plane (pixels).

    Artefacts (acquired frame)
    --------------------------
    curtain_strength
        Typical amplitude of a curtain stripe (intensity units; 0 = off).
    curtain_density
        Mean number of stripes per 100 pixels of x.
    curtain_width_px
        (min, max) stripe width in pixels (log-uniform).
    curtain_fade_fraction
        Fraction of stripes that fade out part-way down the image (the rest run to the bottom).
    curtain_z_correlation
        Correlation length (slices) of the slow slice-to-slice variation of the stripes.
    noise_sigma
        Standard deviation of additive Gaussian noise (intensity units; 0 = off).
    poisson_counts
        Expected detector counts at intensity 1 for the shot noise (0 = no shot noise).
    drift_step_px
        Standard deviation (acquired pixels) of the per-slice random-walk step, one value or
        (dy, dx); 0 = no random drift.
    drift_trend_px
        Linear drift (dy, dx) in acquired pixels per slice (a structure tilt).
    tilt, tilt_angle_deg
        Foreshorten y by ``sin(tilt_angle_deg)`` in the acquired image (52 deg FIB/SEM).
    """

    # geometry
    mean_diameter_um: float = 3.0
    sigma_log: float = 0.3
    min_diameter_um: float = 1.0
    max_diameter_um: float = 6.0
    packing_fraction: float = 0.5
    max_overlap: float = 0.1
    calender_ratio: float = 0.75
    flatten_exponent: float = 0.5
    particle_roughness: float = 0.04
    target_am_fraction: float | None = 0.6
    crack_fraction: float = 0.3
    crack_width_nm: float = 120.0
    closed_porosity_am: float = 0.015
    closed_pore_diameter_um: float = 0.3
    cbd_fraction: float = 0.10
    cbd_neck_scale_um: float | None = None
    canvas_margin_px: int | None = None
    # rendering
    intensity_pore: float = 0.10
    intensity_cbd: float = 0.42
    intensity_am: float = 0.80
    am_particle_contrast: float = 0.03
    texture_strength: float = 0.03
    edge_brightness: float = 0.08
    shine_through: float = 0.5
    shine_depth_nm: float = 300.0
    psf_sigma_px: float = 0.7
    # artefacts
    curtain_strength: float = 0.08
    curtain_density: float = 6.0
    curtain_width_px: tuple[float, float] = (1.0, 8.0)
    curtain_fade_fraction: float = 0.6
    curtain_z_correlation: float = 15.0
    noise_sigma: float = 0.04
    poisson_counts: float = 150.0
    drift_step_px: float | tuple[float, float] = 0.5
    drift_trend_px: tuple[float, float] = (0.0, 0.0)
    tilt: bool = False
    tilt_angle_deg: float = 52.0

    def __post_init__(self) -> None:
        s = object.__setattr__
        inf = math.inf
        s(
            self,
            "mean_diameter_um",
            _check_range("mean_diameter_um", self.mean_diameter_um, 0, inf, lo_open=True),
        )
        s(self, "sigma_log", _check_range("sigma_log", self.sigma_log, 0.0, 2.0))
        s(
            self,
            "min_diameter_um",
            _check_range("min_diameter_um", self.min_diameter_um, 0, inf, lo_open=True),
        )
        s(
            self,
            "max_diameter_um",
            _check_range("max_diameter_um", self.max_diameter_um, 0, inf, lo_open=True),
        )
        if self.max_diameter_um <= self.min_diameter_um:
            raise ValueError(
                f"max_diameter_um: must exceed min_diameter_um ({self.min_diameter_um}), "
                f"got {self.max_diameter_um}"
            )
        s(
            self,
            "packing_fraction",
            _check_range("packing_fraction", self.packing_fraction, 0, 0.75, lo_open=True),
        )
        s(self, "max_overlap", _check_range("max_overlap", self.max_overlap, 0.0, 0.5))
        s(self, "calender_ratio", _check_range("calender_ratio", self.calender_ratio, 0.3, 1.0))
        s(
            self,
            "flatten_exponent",
            _check_range("flatten_exponent", self.flatten_exponent, 0.0, 1.0),
        )
        s(
            self,
            "particle_roughness",
            _check_range("particle_roughness", self.particle_roughness, 0.0, 0.1),
        )
        if self.target_am_fraction is not None:
            s(
                self,
                "target_am_fraction",
                _check_range("target_am_fraction", self.target_am_fraction, 0, 0.9, lo_open=True),
            )
        s(self, "crack_fraction", _check_range("crack_fraction", self.crack_fraction, 0.0, 1.0))
        s(
            self,
            "crack_width_nm",
            _check_range("crack_width_nm", self.crack_width_nm, 0, inf, lo_open=True),
        )
        s(
            self,
            "closed_porosity_am",
            _check_range("closed_porosity_am", self.closed_porosity_am, 0.0, 0.2),
        )
        s(
            self,
            "closed_pore_diameter_um",
            _check_range(
                "closed_pore_diameter_um", self.closed_pore_diameter_um, 0, inf, lo_open=True
            ),
        )
        s(self, "cbd_fraction", _check_range("cbd_fraction", self.cbd_fraction, 0.0, 0.6))
        if self.cbd_neck_scale_um is not None:
            s(
                self,
                "cbd_neck_scale_um",
                _check_range("cbd_neck_scale_um", self.cbd_neck_scale_um, 0, inf, lo_open=True),
            )
        if self.canvas_margin_px is not None:
            m = self.canvas_margin_px
            if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 0:
                raise ValueError(f"canvas_margin_px: expected an integer >= 0, got {m!r}")
            s(self, "canvas_margin_px", int(m))
        for name in ("intensity_pore", "intensity_cbd", "intensity_am"):
            s(self, name, _check_range(name, getattr(self, name), 0.0, 1.0))
        s(
            self,
            "am_particle_contrast",
            _check_range("am_particle_contrast", self.am_particle_contrast, 0.0, 0.3),
        )
        s(
            self,
            "texture_strength",
            _check_range("texture_strength", self.texture_strength, 0.0, 0.3),
        )
        s(self, "edge_brightness", _check_range("edge_brightness", self.edge_brightness, 0.0, 0.5))
        s(self, "shine_through", _check_range("shine_through", self.shine_through, 0.0, 2.0))
        s(
            self,
            "shine_depth_nm",
            _check_range("shine_depth_nm", self.shine_depth_nm, 0, inf, lo_open=True),
        )
        s(self, "psf_sigma_px", _check_range("psf_sigma_px", self.psf_sigma_px, 0.0, 10.0))
        s(
            self,
            "curtain_strength",
            _check_range("curtain_strength", self.curtain_strength, 0.0, 1.0),
        )
        s(
            self,
            "curtain_density",
            _check_range("curtain_density", self.curtain_density, 0, 100, lo_open=True),
        )
        w = _pair("curtain_width_px", self.curtain_width_px)
        if not (0 < w[0] <= w[1] <= 1000):
            raise ValueError(f"curtain_width_px: expected 0 < min <= max <= 1000 pixels, got {w}")
        s(self, "curtain_width_px", w)
        s(
            self,
            "curtain_fade_fraction",
            _check_range("curtain_fade_fraction", self.curtain_fade_fraction, 0.0, 1.0),
        )
        s(
            self,
            "curtain_z_correlation",
            _check_range("curtain_z_correlation", self.curtain_z_correlation, 0, 1e6, lo_open=True),
        )
        s(self, "noise_sigma", _check_range("noise_sigma", self.noise_sigma, 0.0, 1.0))
        s(self, "poisson_counts", _check_range("poisson_counts", self.poisson_counts, 0.0, 1e9))
        step = self.drift_step_px
        step_pair = (step, step) if isinstance(step, int | float | np.number) else step
        step_pair = _pair("drift_step_px", step_pair)
        if min(step_pair) < 0:
            raise ValueError(f"drift_step_px: must be >= 0 pixels, got {step}")
        s(self, "drift_step_px", step_pair)
        s(self, "drift_trend_px", _pair("drift_trend_px", self.drift_trend_px))
        if not isinstance(self.tilt, bool | np.bool_):
            raise ValueError(f"tilt: expected True or False, got {self.tilt!r}")
        s(self, "tilt", bool(self.tilt))
        s(
            self,
            "tilt_angle_deg",
            _check_range("tilt_angle_deg", self.tilt_angle_deg, 0.0, 90.0, lo_open=True),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of all parameters."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected two numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name}: expected finite numbers, got {value!r}")
    return (a, b)


# --------------------------------------------------------------------------- result


@dataclass
class Phantom:
    """A generated phantom: the acquired stack, its ground truth and the intermediate renderings.

    Attributes
    ----------
    image
        uint8 (z, y', x) stack as acquired: drift, tilt (if on), curtains and noise applied.
        ``y' = round(ny sin(tilt_angle))`` with tilt, else ``ny``.
    labels
        uint8 ground-truth phases (0 pore, 1 AM, 2 CBD) in the true (undrifted, untilted)
        geometry; closed pores inside AM and cracks are 0.
    clean
        float32 ideal rendering in 0..1 (shine-through, textures and PSF; no noise, curtains,
        drift or tilt), same geometry as ``labels``.
    stripe_free
        float32 0..1 rendering in the acquired frame (drift and tilt applied) without curtains
        and noise: the reference for curtain removal and alignment.
    curtain
        float32 additive curtain field in the acquired frame (intensity units).
    closed_pores, cracks
        bool masks (truth geometry): pore voxels not connected to any face of the volume
        through non-AM space; pore voxels of particle cracks.
    particle_ids
        int32 (truth geometry): index into :attr:`particles` + 1 of the particle owning each
        AM voxel, 0 elsewhere.
    shifts_px
        (nz, 2) float (dy, dx): displacement of the content of acquired slice z relative to
        the true geometry, in acquired pixels (slice 0 is (0, 0)). Undo by shifting by minus it.
    voxel_size_nm, acquired_voxel_size_nm
        (z, y, x) nm of the truth volumes and of the acquired image (as a microscope reports
        it: the y pitch is not corrected for the tilt; ``correct_tilt`` stretches y back).
    particles
        One dict per particle with voxels in the volume (see module docstring for the frame).
    params
        The :class:`PhantomParams` used.
    truth
        JSON-ready summary (what ``truth.json`` holds).
    """

    image: np.ndarray
    labels: np.ndarray
    clean: np.ndarray
    stripe_free: np.ndarray
    curtain: np.ndarray
    closed_pores: np.ndarray
    cracks: np.ndarray
    particle_ids: np.ndarray
    shifts_px: np.ndarray
    voxel_size_nm: tuple[float, float, float]
    acquired_voxel_size_nm: tuple[float, float, float]
    particles: list[dict[str, Any]]
    params: PhantomParams
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def noise_free(self) -> np.ndarray:
        """float32 acquired image without noise: ``clip(stripe_free + curtain, 0, 1)``."""
        return np.clip(self.stripe_free + self.curtain, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- numba kernels


@numba.njit(cache=True, inline="always", error_model="numpy")
def _shape_factor(dz, dy, dx, r, dirs, amps, orders):  # pragma: no cover - numba
    s = 1.0
    if r <= 0.0:
        return s
    inv_r = 1.0 / r
    for j in range(dirs.shape[0]):
        t = (dz * dirs[j, 0] + dy * dirs[j, 1] + dx * dirs[j, 2]) * inv_r
        n = orders[j]
        if n == 2:
            p = 0.5 * (3.0 * t * t - 1.0)
        elif n == 3:
            p = 0.5 * (5.0 * t * t * t - 3.0 * t)
        else:
            t2 = t * t
            p = (35.0 * t2 * t2 - 30.0 * t2 + 3.0) / 8.0
        s += amps[j] * p
    return s


def _raster_particle_py(
    rho,
    owner,
    pid,
    box,
    origin,
    vox,
    center,
    inv_scale,
    radius,
    dirs,
    amps,
    orders,
    rho_max,
    write,
):  # pragma: no cover - numba
    """Normalised distance |q| / (R s(u)) of one particle, min-merged into ``rho``.

    Returns (voxels with value <= 1, of which already had rho <= 1).
    """
    smax = 1.0
    for j in range(amps.shape[0]):
        smax += abs(amps[j])
    cut = radius * smax * rho_max
    inside = 0
    overlap = 0
    for iz in numba.prange(box[0], box[1]):
        dz = (origin[0] + (iz + 0.5) * vox[0] - center[0]) * inv_scale[0]
        n_in = 0
        n_ov = 0
        for iy in range(box[2], box[3]):
            dy = (origin[1] + (iy + 0.5) * vox[1] - center[1]) * inv_scale[1]
            for ix in range(box[4], box[5]):
                dx = (origin[2] + (ix + 0.5) * vox[2] - center[2]) * inv_scale[2]
                r = math.sqrt(dz * dz + dy * dy + dx * dx)
                if r >= cut:
                    continue
                val = r / (radius * _shape_factor(dz, dy, dx, r, dirs, amps, orders))
                if val <= 1.0:
                    n_in += 1
                    if rho[iz, iy, ix] <= 1.0:
                        n_ov += 1
                if write and val < rho[iz, iy, ix]:
                    rho[iz, iy, ix] = val
                    owner[iz, iy, ix] = pid
        inside += n_in
        overlap += n_ov
    return inside, overlap


def _crack_particle_py(
    rho,
    owner,
    crack,
    pid,
    box,
    origin,
    vox,
    center,
    inv_scale,
    radius,
    normals,
    tangents,
    extents,
    offsets,
    wavevecs,
    wave_amps,
    phases,
    half_width,
    rho_max,
):  # pragma: no cover - numba
    """Mark the voxels of one particle's cracks (in its undeformed frame) in ``crack``."""
    for iz in numba.prange(box[0], box[1]):
        dz = (origin[0] + (iz + 0.5) * vox[0] - center[0]) * inv_scale[0]
        for iy in range(box[2], box[3]):
            dy = (origin[1] + (iy + 0.5) * vox[1] - center[1]) * inv_scale[1]
            for ix in range(box[4], box[5]):
                if owner[iz, iy, ix] != pid or rho[iz, iy, ix] > rho_max:
                    continue
                dx = (origin[2] + (ix + 0.5) * vox[2] - center[2]) * inv_scale[2]
                rr = min(1.0, math.sqrt(dz * dz + dy * dy + dx * dx) / radius)
                hw = half_width * (0.45 + 0.55 * rr)
                for j in range(normals.shape[0]):
                    along = tangents[j, 0] * dz + tangents[j, 1] * dy + tangents[j, 2] * dx
                    if along < extents[j] * radius:
                        continue
                    d = normals[j, 0] * dz + normals[j, 1] * dy + normals[j, 2] * dx - offsets[j]
                    ph = wavevecs[j, 0] * dz + wavevecs[j, 1] * dy + wavevecs[j, 2] * dx
                    d += wave_amps[j] * math.sin(ph + phases[j])
                    if abs(d) <= hw:
                        crack[iz, iy, ix] = True
                        break


def _compile(func, parallel: bool):
    """A numba dispatcher of ``func``; serial and parallel variants get distinct cache names."""
    tag = "par" if parallel else "ser"
    func.__qualname__ = func.__name__ = f"{func.__name__}_{tag}"
    return numba.njit(parallel=parallel, cache=True, error_model="numpy")(func)


def _variants(func):
    import copy
    import types

    out = []
    for parallel in (False, True):
        clone = types.FunctionType(
            func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
        )
        clone.__dict__.update(copy.copy(func.__dict__))
        out.append(_compile(clone, parallel))
    return out


_raster_ser, _raster_par = _variants(_raster_particle_py)
_crack_ser, _crack_par = _variants(_crack_particle_py)
# boxes smaller than this run serially (thread start-up costs more than the work)
_PARALLEL_MIN_VOXELS = 200_000


def _raster_particle(*args):
    box = args[3]
    n = int((box[1] - box[0]) * (box[3] - box[2]) * (box[5] - box[4]))
    return (_raster_par if n >= _PARALLEL_MIN_VOXELS else _raster_ser)(*args)


def _crack_particle(*args):
    box = args[4]
    n = int((box[1] - box[0]) * (box[3] - box[2]) * (box[5] - box[4]))
    return (_crack_par if n >= _PARALLEL_MIN_VOXELS else _crack_ser)(*args)


@numba.njit(cache=True, error_model="numpy")
def _first_valid(cand, centers, radii, n, r, keep):  # pragma: no cover - numba
    """Index of the first candidate centre keeping distance >= keep (r_i + r) to all placed."""
    for c in range(cand.shape[0]):
        ok = True
        for i in range(n):
            d0 = cand[c, 0] - centers[i, 0]
            d1 = cand[c, 1] - centers[i, 1]
            d2 = cand[c, 2] - centers[i, 2]
            lim = keep * (radii[i] + r)
            if d0 * d0 + d1 * d1 + d2 * d2 < lim * lim:
                ok = False
                break
        if ok:
            return c
    return -1


# --------------------------------------------------------------------------- helpers


def _truncated_lognormal(rng: np.random.Generator, n: int, p: PhantomParams) -> np.ndarray:
    """``n`` diameters (um) from the truncated log-normal of ``p``."""
    s = p.sigma_log
    mu = math.log(p.mean_diameter_um) - 0.5 * s * s
    if s == 0:
        d = p.mean_diameter_um
        if not (p.min_diameter_um <= d <= p.max_diameter_um):
            raise ValueError(
                "mean_diameter_um: outside [min_diameter_um, max_diameter_um] with sigma_log 0"
            )
        return np.full(n, d)
    # inverse-CDF sampling restricted to the truncation interval (exact, no rejection loop)
    lo = special.ndtr((math.log(p.min_diameter_um) - mu) / s)
    hi = special.ndtr((math.log(p.max_diameter_um) - mu) / s)
    if hi - lo < 1e-4:
        raise ValueError(
            "min_diameter_um/max_diameter_um: the interval holds almost none of the log-normal "
            f"(mean {p.mean_diameter_um} um, sigma_log {s})"
        )
    u = rng.uniform(lo, hi, n)
    return np.exp(mu + s * special.ndtri(u))


def _deformation(p: PhantomParams) -> tuple[float, float]:
    """(flattening along y, lateral bulge) of a particle under calendering."""
    f = p.calender_ratio**p.flatten_exponent
    return f, 1.0 / math.sqrt(f)


def _random_unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _pack(
    p: PhantomParams, lo_um: np.ndarray, hi_um: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Random sequential addition (largest first) in the uncalendered frame.

    Returns final-frame centres (n, 3) um, undeformed radii (n,) um and packing statistics.
    """
    c = p.calender_ratio
    lo_u = lo_um.astype(float).copy()
    hi_u = hi_um.astype(float).copy()
    lo_u[1] /= c
    hi_u[1] /= c
    extent = hi_u - lo_u
    goal = p.packing_fraction * float(np.prod(extent))
    # draw diameters until their summed volume reaches the goal (same order for a seed)
    diam: list[np.ndarray] = []
    total = 0.0
    while total < goal:
        d = _truncated_lognormal(rng, 256, p)
        vol = np.pi / 6.0 * d**3
        cum = total + np.cumsum(vol)
        k = int(np.searchsorted(cum, goal)) + 1
        diam.append(d[:k])
        total = float(cum[min(k, d.size) - 1])
        if len(diam) > 4000:
            raise ValueError(
                "mean_diameter_um: particles are too small for this volume (more than a million)"
            )
    diameters = np.sort(np.concatenate(diam))[::-1]
    radii = diameters / 2.0
    keep = 1.0 - p.max_overlap
    centers = np.empty((radii.size, 3))
    placed_r = np.empty(radii.size)
    n = 0
    rejected = 0
    batch = 64
    for r in radii:
        ok = False
        for _ in range(40):
            cand = lo_u + rng.random((batch, 3)) * extent
            idx = int(_first_valid(cand, centers, placed_r, n, float(r), keep))
            if idx >= 0:
                centers[n] = cand[idx]
                placed_r[n] = r
                n += 1
                ok = True
                break
        if not ok:
            rejected += 1
    centers = centers[:n].copy()
    centers[:, 1] *= c
    placed_r = placed_r[:n].copy()
    stats = {
        "n_sampled": int(radii.size),
        "n_placed": int(n),
        "n_rejected": int(rejected),
        "packing_fraction_placed": float(np.sum(4.0 / 3.0 * np.pi * placed_r**3) / np.prod(extent)),
    }
    return centers, placed_r, stats


def _gaussian_process(rng: np.random.Generator, n: int, corr: float, k: int) -> np.ndarray:
    """(k, n) smooth standard-normal series with correlation length ``corr`` samples."""
    pad = int(4 * corr) + 1
    w = rng.normal(size=(k, n + 2 * pad))
    sm = ndimage.gaussian_filter1d(w, corr, axis=1, mode="wrap")[:, pad : pad + n]
    # std of white noise smoothed by a normalised Gaussian of width corr
    return sm / math.sqrt(1.0 / (2.0 * math.sqrt(math.pi) * corr))


def _smooth(arr: np.ndarray, sigma_vox: tuple[float, float, float]) -> np.ndarray:
    """float32 Gaussian smoothing; large sigmas on a block-averaged grid, upsampled linearly."""
    b = int(min(sigma_vox) / 1.5)
    if b < 2:
        return ndimage.gaussian_filter(arr.astype(np.float32), sigma_vox, mode="nearest")
    shape = arr.shape
    padded = tuple(-(-s // b) * b for s in shape)
    a = np.pad(arr, [(0, ps - s) for ps, s in zip(padded, shape, strict=True)], mode="edge")
    a = a.reshape(padded[0] // b, b, padded[1] // b, b, padded[2] // b, b)
    a = a.mean(axis=(1, 3, 5), dtype=np.float32)
    a = ndimage.gaussian_filter(a, [s / b for s in sigma_vox], mode="nearest")
    return _upsample(a, b, shape)


def _upsample(a: np.ndarray, b: int, shape: tuple[int, ...]) -> np.ndarray:
    out = ndimage.zoom(a, b, order=1, mode="nearest", grid_mode=True)
    return np.ascontiguousarray(out[: shape[0], : shape[1], : shape[2]])


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int, int], sigma_vox: tuple[float, ...]
) -> np.ndarray:
    """Unit-variance Gaussian random field with correlation length ``sigma_vox`` (float32)."""
    b = int(min(sigma_vox) / 1.5)
    if b < 2:
        out = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma_vox)
    else:
        coarse = tuple(-(-s // b) for s in shape)
        a = ndimage.gaussian_filter(
            rng.standard_normal(coarse, dtype=np.float32), [s / b for s in sigma_vox]
        )
        out = _upsample(a, b, shape)
    out /= max(1e-12, float(out.std()))
    return out


def _kth_threshold(values: np.ndarray, k: int) -> float:
    """The k-th smallest of ``values`` (1-based); partitions ``values`` in place."""
    if k <= 0:
        return -math.inf
    if k >= values.size:
        return float(values.max()) if k == values.size else math.inf
    values.partition(k - 1)
    return float(values[k - 1])


# --------------------------------------------------------------------------- generation


def generate_phantom(
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    *,
    voxel_size_nm: Any = DEFAULT_VOXEL_SIZE_NM,
    seed: int = 0,
    params: PhantomParams | None = None,
    **overrides: Any,
) -> Phantom:
    """Generate a synthetic FIB/SEM stack of a battery cathode with its ground truth.

    Parameters
    ----------
    shape
        (z, y, x) voxels of the truth volume, each >= 8. z is the FIB slice direction, y the
        electrode thickness (separator side at y = 0).
    voxel_size_nm
        Voxel size in nm, one value or (z, y, x). Default 60 nm (the bundled sample).
    seed
        Seed of every random choice; the same seed and parameters give identical arrays.
    params
        A :class:`PhantomParams`; keyword ``overrides`` replace individual fields
        (e.g. ``curtain_strength=0``, ``target_am_fraction=0.6``).

    Returns
    -------
    Phantom
        Acquired image, labels, intermediate renderings, masks, shifts and ``truth``.

    Raises
    ------
    ValueError
        For a bad shape, voxel size, seed or parameter (one line naming it).

    Notes
    -----
    Peak memory is about 26 bytes per canvas voxel (the canvas is the volume plus
    ``canvas_margin_px``): 4.5 GB measured for the 481 x 395 x 650 seed-scale volume.
    """
    try:
        shp = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape: expected three integers (z, y, x), got {shape!r}") from None
    if len(shp) != 3 or any(s != t for s, t in zip(shp, shape, strict=False)):
        raise ValueError(f"shape: expected three integers (z, y, x), got {shape!r}")
    if min(shp) < 8:
        raise ValueError(f"shape: every axis needs at least 8 voxels, got {shp}")
    vox_nm = parse_voxel_size(voxel_size_nm, name="voxel_size_nm")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if params is None:
        params = PhantomParams()
    elif not isinstance(params, PhantomParams):
        raise ValueError(f"params: expected a PhantomParams, got {type(params).__name__}")
    if overrides:
        known = {f.name for f in dataclasses.fields(PhantomParams)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown phantom parameter")
        params = dataclasses.replace(params, **overrides)
    p = params

    streams = np.random.SeedSequence(int(seed)).spawn(8)
    rng_pack, rng_part, rng_cbd, rng_tex, rng_curt, rng_drift, rng_noise, rng_fill = (
        np.random.default_rng(s) for s in streams
    )

    nz, ny, nx = shp
    vox_um = np.array(vox_nm) / 1000.0
    if p.canvas_margin_px is None:
        mz, my, mx = (int(np.clip(math.ceil(0.08 * n), 8, 48)) for n in shp)
    else:
        mz = my = mx = p.canvas_margin_px
    cshape = (nz + mz, ny + 2 * my, nx + 2 * mx)
    crop = (slice(0, nz), slice(my, my + ny), slice(mx, mx + nx))
    origin = np.array([0.0, -my * vox_um[1], -mx * vox_um[2]])
    n_total = nz * ny * nx

    # ---- geometry: packing in the uncalendered electrode, then calendering
    f_y, bulge = _deformation(p)
    inv_scale = np.array([1.0 / bulge, 1.0 / f_y, 1.0 / bulge])
    rough_max = min(0.35, 4.0 * p.particle_roughness)
    r_max_final = p.max_diameter_um / 2.0 * max(bulge, 1.0) * (1.0 + rough_max) * _RHO_MAX
    lo_um = origin - r_max_final
    hi_um = origin + np.array(cshape) * vox_um + r_max_final
    centers, radii, pack_stats = _pack(p, lo_um, hi_um, rng_pack)

    rho = np.full(cshape, np.inf, dtype=np.float32)
    owner = np.zeros(cshape, dtype=np.int32)
    shapes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    fillers: list[bool] = []

    def new_shape() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = 4
        dirs = _random_unit(rng_part, k)
        amps = rng_part.normal(0.0, p.particle_roughness, k)
        tot = np.abs(amps).sum()
        if tot > rough_max:
            amps *= rough_max / tot
        orders = rng_part.integers(2, 5, k).astype(np.int64)
        return dirs, amps, orders

    def box_of(center: np.ndarray, radius: float, amps: np.ndarray) -> np.ndarray:
        half = radius * (1.0 + np.abs(amps).sum()) * _RHO_MAX / inv_scale
        lo = np.floor((center - half - origin) / vox_um - 0.5).astype(np.int64)
        hi = np.ceil((center + half - origin) / vox_um + 0.5).astype(np.int64) + 1
        lo = np.clip(lo, 0, cshape)
        hi = np.clip(hi, 0, cshape)
        return np.array([lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]], dtype=np.int64)

    def raster(i: int, write: bool = True) -> tuple[int, int]:
        dirs, amps, orders = shapes[i]
        b = box_of(centers[i], radii[i], amps)
        if b[1] <= b[0] or b[3] <= b[2] or b[5] <= b[4]:
            return 0, 0
        return _raster_particle(
            rho,
            owner,
            i + 1,
            b,
            origin,
            vox_um,
            centers[i],
            inv_scale,
            float(radii[i]),
            dirs,
            amps,
            orders,
            _RHO_MAX,
            write,
        )

    for i in range(radii.size):
        shapes.append(new_shape())
        fillers.append(False)
        raster(i)

    # ---- exact AM fraction: global radius scale (a quantile of rho), gap filling if needed
    cp_loss = p.closed_porosity_am + 0.01 * p.crack_fraction
    n_fill = 0
    if p.target_am_fraction is not None:
        n_target = int(round(p.target_am_fraction * n_total))
        need = int(min(n_total, math.ceil(n_target / max(1e-6, 1.0 - cp_loss) * 1.02)))
        rho_c = rho[crop]
        if np.count_nonzero(rho_c <= _FILL_ABOVE_SCALE) < need:
            fails = 0
            centers_l, radii_l = list(centers), list(radii)
            while np.count_nonzero(rho_c <= _FILL_ABOVE_SCALE) < need:
                if fails > 2000:
                    break
                for _ in range(16):
                    for _ in range(1000):  # a random pore voxel of the field of view
                        j = tuple(int(rng_fill.integers(n)) for n in shp)
                        if rho_c[j] > 1.0:
                            break
                    cj = (np.array(j) + 0.5) * vox_um
                    dj = float(_truncated_lognormal(rng_fill, 1, p)[0])
                    centers_l.append(cj)
                    radii_l.append(dj / 2.0)
                    centers = np.asarray(centers_l)
                    radii = np.asarray(radii_l)
                    shapes.append(new_shape())
                    fillers.append(True)
                    i = radii.size - 1
                    inside, overlap = raster(i, write=False)
                    if inside > 0 and overlap <= 0.25 * inside:
                        raster(i)
                        n_fill += 1
                        fails = 0
                    else:
                        centers_l.pop()
                        radii_l.pop()
                        shapes.pop()
                        fillers.pop()
                        centers = np.asarray(centers_l)
                        radii = np.asarray(radii_l)
                        fails += 1
            rho_c = rho[crop]
        lam0 = min(_RHO_MAX, max(0.3, _kth_threshold(rho_c.flatten(), n_target)))
    else:
        lam0 = 1.0
    centers = np.asarray(centers)
    radii = np.asarray(radii)

    # ---- closed pores inside particles (deep inside: enclosed at any larger scale)
    pores = np.zeros(cshape, dtype=bool)
    n_pores = np.zeros(radii.size, dtype=np.int64)
    margin_um = 2.0 * float(vox_um.max())
    if p.closed_porosity_am > 0:
        rp_mean = p.closed_pore_diameter_um / 2.0
        for i in range(radii.size):
            dirs, amps, orders = shapes[i]
            R = radii[i] * lam0
            smin = 1.0 - np.abs(amps).sum()
            expected = p.closed_porosity_am * R**3 / (rp_mean**3 * 1.3)
            k = int(rng_part.poisson(expected))
            for _ in range(k):
                rp = rp_mean * float(rng_part.lognormal(0.0, 0.25))
                reach = R * smin - rp - margin_um / min(f_y, 1.0)
                if reach <= 0:
                    continue
                q = _random_unit(rng_part, 1)[0] * reach * rng_part.random() ** (1.0 / 3.0)
                cpos = centers[i] + q / inv_scale
                half = rp / inv_scale
                lo = np.clip(np.floor((cpos - half - origin) / vox_um).astype(int), 0, cshape)
                hi = np.clip(np.ceil((cpos + half - origin) / vox_um).astype(int) + 1, 0, cshape)
                if np.any(hi <= lo):
                    continue
                grids = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
                d2 = sum(
                    (((origin[a] + (grids[a] + 0.5) * vox_um[a] - cpos[a]) * inv_scale[a]) ** 2)
                    for a in range(3)
                )
                sub = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
                pores[sub] |= d2 <= rp * rp
                n_pores[i] += 1

    # ---- cracks (radial, from the surface inward, mostly parallel to the load along y)
    cracks = np.zeros(cshape, dtype=bool)
    cracked = np.zeros(radii.size, dtype=bool)
    half_width_um = p.crack_width_nm / 2000.0
    for i in range(radii.size):
        if fillers[i] or rng_part.random() >= p.crack_fraction:
            continue
        cracked[i] = True
        m = 1 + int(rng_part.poisson(0.8))
        phi = rng_part.uniform(0, 2 * np.pi, m)
        normals = np.stack([np.cos(phi), rng_part.normal(0, 0.25, m), np.sin(phi)], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        tangents = _random_unit(rng_part, m)
        tangents -= (tangents * normals).sum(axis=1, keepdims=True) * normals
        tangents /= np.maximum(np.linalg.norm(tangents, axis=1, keepdims=True), 1e-9)
        R = radii[i] * lam0
        extents = rng_part.uniform(-1.0, 0.2, m)
        offsets = rng_part.uniform(-0.3, 0.3, m) * R
        wavevecs = (
            _random_unit(rng_part, m) * (2 * np.pi / (R * rng_part.uniform(0.6, 1.5, m)))[:, None]
        )
        wave_amps = rng_part.uniform(0.03, 0.1, m) * R
        phases_ = rng_part.uniform(0, 2 * np.pi, m)
        b = box_of(centers[i], radii[i], shapes[i][1])
        if b[1] <= b[0] or b[3] <= b[2] or b[5] <= b[4]:
            continue
        _crack_particle(
            rho,
            owner,
            cracks,
            i + 1,
            b,
            origin,
            vox_um,
            centers[i],
            inv_scale,
            float(R),
            normals,
            tangents,
            extents,
            offsets,
            wavevecs,
            wave_amps,
            phases_,
            half_width_um,
            _RHO_MAX,
        )

    # ---- final radius scale: exact target with pores and cracks excluded
    carved = pores | cracks
    if p.target_am_fraction is not None:
        n_target = int(round(p.target_am_fraction * n_total))
        vals = rho[crop][~carved[crop]]
        lam = _kth_threshold(vals, n_target)
        if lam > _RHO_MAX:
            warnings.warn(
                f"target_am_fraction: {p.target_am_fraction} not reachable with these particles "
                "(raise packing_fraction or lower calender_ratio); see am_fraction_achieved",
                RuntimeWarning,
                stacklevel=2,
            )
            lam = _RHO_MAX
        # carving only removes voxels, so lam >= lam0 and the pores stay enclosed
        del vals
    else:
        lam = 1.0
    am = rho <= lam
    cracks &= am
    pores &= am
    am &= ~carved
    del carved
    rho = None  # free the distance field (closures hold the name)
    owner[~am] = 0

    # ---- CBD: pore voxels of highest local AM density (necks), exact fraction
    labels_c = am.astype(np.uint8)
    if p.cbd_fraction > 0:
        neck_um = p.cbd_neck_scale_um or 0.08 * p.mean_diameter_um
        sig = tuple(neck_um / v for v in vox_um)
        score = _smooth(am, sig)
        rough = _smooth_noise(rng_cbd, cshape, tuple(s * 0.5 + 1 for s in sig))
        rough *= 0.15
        score += rough
        del rough
        cand = ~am & ~pores & ~cracks
        vals = score[crop][cand[crop]]
        k = int(round(p.cbd_fraction * n_total))
        if k > vals.size:
            raise ValueError(
                f"cbd_fraction: {p.cbd_fraction} exceeds the free pore space "
                f"({vals.size / n_total:.3f} of the volume)"
            )
        if k > 0:
            # the k highest scores: at or above the (n - k)-th order statistic
            vals.partition(vals.size - k)
            thr = float(vals[vals.size - k])
            labels_c[cand & (score >= thr)] = Phase.CBD.value
        del vals, cand, score
    # ---- rendering of the ideal image on the canvas
    clean_c = _render(labels_c, owner, p, vox_nm, rng_tex)

    # ---- truth-frame arrays
    labels = np.ascontiguousarray(labels_c[crop])
    clean = np.ascontiguousarray(clean_c[crop])
    crack_mask = np.ascontiguousarray(cracks[crop] & (labels == 0))
    particle_ids = np.ascontiguousarray(owner[crop])
    del cracks, pores, am
    owner = None
    closed = _closed_pores(labels)

    # ---- acquisition: drift, tilt, curtains, noise
    sin_t = math.sin(math.radians(p.tilt_angle_deg)) if p.tilt else 1.0
    ny_acq = max(8, int(round(ny * sin_t))) if p.tilt else ny
    steps = rng_drift.normal(size=(max(nz - 1, 0), 2)) * np.array(p.drift_step_px)
    shifts = np.zeros((nz, 2))
    shifts[1:] = np.cumsum(steps, axis=0)
    shifts += np.arange(nz)[:, None] * np.array(p.drift_trend_px)[None, :]
    stripe_free, out_of_canvas = _acquire(clean_c, shifts, ny, ny_acq, (my, mx), sin_t)
    del clean_c
    curtain, stripes = _curtain_field(nz, ny_acq, nx, p, rng_curt)
    noisy_in = stripe_free + curtain
    np.clip(noisy_in, 0.0, 1.0, out=noisy_in)
    image = _add_noise(noisy_in, p, rng_noise)
    del noisy_in

    # ---- truth summary
    counts = np.bincount(labels.ravel(), minlength=4)
    fractions = {
        name: float(counts[v]) / n_total for v, name in ((0, "pore"), (1, "am"), (2, "cbd"))
    }
    ids_count = np.bincount(particle_ids.ravel(), minlength=radii.size + 1)
    f_scale = np.array([bulge, f_y, bulge]) * lam
    particles = []
    for i in range(radii.size):
        if ids_count[i + 1] == 0:
            continue
        particles.append(
            {
                "id": i + 1,
                "center_um": [round(float(v), 5) for v in centers[i]],
                "diameter_um": round(float(2 * radii[i]), 5),
                "radii_um": [round(float(radii[i] * s), 5) for s in f_scale],
                "cracked": bool(cracked[i]),
                "closed_pores": int(n_pores[i]),
                "filler": bool(fillers[i]),
                "voxels": int(ids_count[i + 1]),
            }
        )
    acq_vox = (vox_nm[0], vox_nm[1], vox_nm[2])  # the microscope's pixel pitch, uncorrected
    from microstructure import __version__

    truth: dict[str, Any] = {
        "version": PHANTOM_FORMAT_VERSION,
        "microstructure_version": __version__,
        "seed": int(seed),
        "shape": list(shp),
        "voxel_size_nm": list(vox_nm),
        "acquired_shape": [nz, ny_acq, nx],
        "acquired_voxel_size_nm": list(acq_vox),
        "axes": "zyx",
        "thickness_axis": "y",
        "top_at": 0,
        "intensity_scale": "image = round(255 * intensity), intensities 0..1",
        "phase_codes": {"pore": 0, "am": 1, "cbd": 2},
        "phase_fractions": fractions,
        "porosity": fractions["pore"],
        "closed_porosity": float(np.count_nonzero(closed)) / n_total,
        "crack_porosity": float(np.count_nonzero(crack_mask)) / n_total,
        "am_fraction_target": p.target_am_fraction,
        "am_fraction_achieved": fractions["am"],
        "cbd_fraction_target": p.cbd_fraction,
        "radius_scale": lam,
        "calendering": {
            "calender_ratio": p.calender_ratio,
            "particle_flattening_y": f_y,
            "particle_bulge_zx": bulge,
        },
        "packing": {**pack_stats, "n_filler": int(n_fill)},
        "n_particles": len(particles),
        "n_cracked": int(sum(1 for q in particles if q["cracked"])),
        "particles": particles,
        "shifts_px": np.round(shifts, 6).tolist(),
        "shifts_true_px": np.round(shifts / np.array([sin_t, 1.0]), 6).tolist(),
        "shift_convention": "content of acquired slice z is displaced by +(dy, dx) px "
        "relative to the true geometry; slice 0 is (0, 0)",
        "drift_exceeds_canvas": bool(out_of_canvas),
        "tilt": {
            "enabled": p.tilt,
            "angle_deg": p.tilt_angle_deg if p.tilt else None,
            "y_scale": sin_t,
            "corrected": False,
        },
        "curtain": {"n_stripes": len(stripes), "stripes": stripes},
        "canvas_margin_px": [mz, my, mx],
        "params": p.to_dict(),
    }
    return Phantom(
        image=image,
        labels=labels,
        clean=clean,
        stripe_free=stripe_free,
        curtain=curtain,
        closed_pores=closed,
        cracks=crack_mask,
        particle_ids=particle_ids,
        shifts_px=shifts,
        voxel_size_nm=vox_nm,
        acquired_voxel_size_nm=acq_vox,
        particles=particles,
        params=p,
        truth=truth,
    )


def _closed_pores(labels: np.ndarray) -> np.ndarray:
    """Pore voxels whose non-AM component (26-connected) touches no face of the volume."""
    free = labels != Phase.AM.value
    lab, n = ndimage.label(free, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return np.zeros(labels.shape, dtype=bool)
    open_ = np.zeros(n + 1, dtype=bool)
    for face in (lab[0], lab[-1], lab[:, 0], lab[:, -1], lab[:, :, 0], lab[:, :, -1]):
        open_[np.unique(face)] = True
    open_[0] = True
    closed = ~open_[lab]
    closed &= labels == Phase.PORE.value
    return closed


def _render(
    labels: np.ndarray,
    owner: np.ndarray,
    p: PhantomParams,
    vox_nm: tuple[float, float, float],
    rng: np.random.Generator,
    *,
    chunk: int = 32,
) -> np.ndarray:
    """Ideal SEM grey values (0..1 float32) of every canvas slice (z-chunked, bounded memory)."""
    nz = labels.shape[0]
    lut = np.array(
        [p.intensity_pore, p.intensity_am, p.intensity_cbd, p.intensity_pore], np.float32
    )
    offs = rng.normal(0.0, p.am_particle_contrast, int(owner.max()) + 1).astype(np.float32)
    offs[0] = 0.0
    # white noise of the texture drawn slice by slice from per-slice streams, so z-chunks
    # with halos see exactly the same field
    tex_seeds = rng.integers(0, 2**63, nz)
    halo = 4
    sig_tex = 1.2
    tex_norm = p.texture_strength * math.sqrt(8.0 * math.pi**1.5 * sig_tex**3)
    base = np.empty(labels.shape, np.float32)
    for z0 in range(0, nz, chunk):
        z1 = min(nz, z0 + chunk)
        lab = labels[z0:z1]
        b = lut[lab]
        is_am = lab == Phase.AM.value
        b += offs[owner[z0:z1]]
        if p.texture_strength > 0:
            h0, h1 = max(0, z0 - halo), min(nz, z1 + halo)
            white = np.stack(
                [
                    np.random.default_rng(int(s)).standard_normal(lab.shape[1:], np.float32)
                    for s in tex_seeds[h0:h1]
                ]
            )
            tex = ndimage.gaussian_filter(white, sig_tex)[z0 - h0 : z0 - h0 + (z1 - z0)]
            tex *= tex_norm  # unit variance of the smoothed white noise, times the strength
            tex[lab == Phase.CBD.value] *= 2.0
            tex[~is_am & (lab != Phase.CBD.value)] = 0.0
            b += tex
        if p.edge_brightness > 0:
            edge = ndimage.gaussian_filter((lab == Phase.PORE.value).astype(np.float32), (0, 1, 1))
            np.minimum(edge, 0.5, out=edge)
            edge *= 2.0 * p.edge_brightness
            b[is_am] += edge[is_am]
        base[z0:z1] = b
    # shine-through: first solid along +z behind each pore pixel, attenuated with depth
    if p.shine_through > 0:
        att = np.float32(math.exp(-vox_nm[0] / p.shine_depth_nm))
        behind = np.full(labels.shape[1:], p.intensity_pore, np.float32)
        weight = np.zeros(labels.shape[1:], np.float32)
        for z in range(nz - 1, -1, -1):
            solid = (labels[z] == Phase.AM.value) | (labels[z] == Phase.CBD.value)
            if z < nz - 1:  # pores of slice z show the surface met behind them
                pore = ~solid
                contrib = p.shine_through * weight * (behind - p.intensity_pore)
                contrib = ndimage.gaussian_filter(contrib, 1.0)
                base[z][pore] += contrib[pore]
            # slice z becomes the nearest layer behind slice z - 1
            weight = np.where(solid, att, weight * att)
            behind = np.where(solid, base[z], behind)
    for z in range(nz):
        if p.psf_sigma_px > 0:
            base[z] = ndimage.gaussian_filter(base[z], p.psf_sigma_px)
        np.clip(base[z], 0.0, 1.0, out=base[z])
    return base


def _acquire(
    clean_c: np.ndarray,
    shifts: np.ndarray,
    ny: int,
    ny_acq: int,
    margin: tuple[int, int],
    sin_t: float,
) -> tuple[np.ndarray, bool]:
    """Sample each canvas slice at the drifted (and foreshortened) acquisition grid."""
    nz = shifts.shape[0]
    nx = clean_c.shape[2] - 2 * margin[1]
    my, mx = margin
    out = np.empty((nz, ny_acq, nx), np.float32)
    rows = np.arange(ny_acq, dtype=np.float64)
    cols = np.arange(nx, dtype=np.float64)
    outside = False
    for z in range(nz):
        dy, dx = shifts[z]
        yy = (rows - dy + 0.5) / sin_t - 0.5 + my
        xx = cols - dx + mx
        if (
            yy.min() < 0
            or yy.max() > clean_c.shape[1] - 1
            or xx.min() < 0
            or xx.max() > clean_c.shape[2] - 1
        ):
            outside = True
        if dy == 0 and dx == 0 and sin_t == 1.0:
            out[z] = clean_c[z, my : my + ny, mx : mx + nx]
            continue
        # separable (diagonal) affine map: scipy's fast zoom/shift path
        ndimage.affine_transform(
            clean_c[z],
            np.array([1.0 / sin_t, 1.0]),
            offset=(yy[0], xx[0]),
            output_shape=(ny_acq, nx),
            output=out[z],
            order=3,
            mode="nearest",
        )
    np.clip(out, 0.0, 1.0, out=out)
    return out, outside


def _curtain_field(
    nz: int, ny: int, nx: int, p: PhantomParams, rng: np.random.Generator
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Additive vertical stripes (acquired frame) starting at y = 0, slowly varying with z."""
    field_ = np.zeros((nz, ny, nx), np.float32)
    if p.curtain_strength == 0:
        return field_, []
    n = max(1, int(rng.poisson(p.curtain_density * nx / 100.0)))
    x0 = rng.uniform(0, nx, n)
    wmin, wmax = p.curtain_width_px
    width = np.exp(rng.uniform(math.log(wmin), math.log(wmax), n))
    amp = p.curtain_strength * rng.uniform(0.4, 1.0, n) * rng.choice([-1.0, 1.0], n)
    fades = rng.random(n) < p.curtain_fade_fraction
    length = np.where(fades, rng.uniform(0.2, 0.9, n) * ny, np.inf)
    fade_w = np.maximum(2.0, rng.uniform(0.1, 0.3, n) * np.where(fades, length, ny))
    # presence along z: half of the stripes exist for part of the stack only
    partial = rng.random(n) < 0.5
    z_len = rng.uniform(0.3, 1.0, n) * nz
    z_start = rng.uniform(-0.2 * nz, nz, n)
    g = _gaussian_process(rng, nz, p.curtain_z_correlation, 3 * n)
    amp_mod = np.exp(0.35 * g[:n])  # (n, nz)
    len_mod = np.exp(0.12 * g[n : 2 * n])
    pos_mod = 0.6 * g[2 * n :]
    zz = np.arange(nz)
    ramp = 3.0
    present = np.where(
        partial[:, None],
        0.5
        * (special.erf((zz[None] - z_start[:, None]) / ramp) + 1.0)
        * 0.5
        * (special.erf((z_start[:, None] + z_len[:, None] - zz[None]) / ramp) + 1.0),
        1.0,
    )
    yy = np.arange(ny, dtype=np.float64)[:, None]
    xx = np.arange(nx, dtype=np.float64)[None, :]
    edge = 0.6
    for z in range(nz):
        a = amp * amp_mod[:, z] * present[:, z]  # (n,)
        L = length * len_mod[:, z]
        fade = 0.5 * special.erfc((yy - L[None, :]) / fade_w[None, :])  # (ny, n)
        fade = np.where(np.isinf(L)[None, :], 1.0, fade)
        c = x0 + pos_mod[:, z]
        prof = 0.5 * (
            np.tanh((xx - (c[:, None] - width[:, None] / 2)) / edge)
            - np.tanh((xx - (c[:, None] + width[:, None] / 2)) / edge)
        )  # (n, nx)
        field_[z] = (fade * a[None, :]) @ prof
    stripes = [
        {
            "x_px": round(float(x0[i]), 3),
            "width_px": round(float(width[i]), 3),
            "amplitude": round(float(amp[i]), 5),
            "fade_length_px": None if not fades[i] else round(float(length[i]), 2),
            "partial_in_z": bool(partial[i]),
        }
        for i in range(n)
    ]
    return field_, stripes


def _add_noise(
    x: np.ndarray, p: PhantomParams, rng: np.random.Generator, *, chunk: int = 16
) -> np.ndarray:
    """Poisson (shot) and Gaussian noise on ``x`` (0..1), then 8-bit quantisation."""
    out = np.empty(x.shape, np.uint8)
    for z0 in range(0, x.shape[0], chunk):
        y = x[z0 : z0 + chunk].astype(np.float32)
        if p.poisson_counts > 0:
            y = (rng.poisson(y * p.poisson_counts) / p.poisson_counts).astype(np.float32)
        if p.noise_sigma > 0:
            y += rng.normal(0.0, p.noise_sigma, y.shape).astype(np.float32)
        np.clip(y, 0.0, 1.0, out=y)
        out[z0 : z0 + chunk] = np.rint(y * 255.0)
    return out


# --------------------------------------------------------------------------- saving


def save_phantom(
    out_dir: str | os.PathLike, phantom: Phantom, *, renderings: bool = False
) -> dict[str, Path]:
    """Write ``fibsem.tif``, ``truth_labels.tif`` and ``truth.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created if missing).
    phantom
        The result of :func:`generate_phantom`.
    renderings
        Also write ``clean.tif``, ``stripe_free.tif``, ``noise_free.tif``, ``curtain.tif``
        (float32) and ``closed_pores.tif`` (uint8).

    Returns
    -------
    dict
        Name -> path of every file written. Files are written atomically (temporary file, then
        rename), so an interrupted run never leaves a truncated file.
    """
    from microstructure.io import write_volume
    from microstructure.io.tables import atomic_write_text

    if not isinstance(phantom, Phantom):
        raise ValueError(f"phantom: expected a Phantom, got {type(phantom).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_volume(phantom.image, name="phantom.image")
    meta = {
        "source": "microstructure.phantom",
        "seed": phantom.truth.get("seed"),
        "phantom_version": PHANTOM_FORMAT_VERSION,
        "tilt_angle_deg": phantom.params.tilt_angle_deg if phantom.params.tilt else None,
        "tilt_corrected": not phantom.params.tilt,  # nothing to undo without foreshortening
    }
    paths = {
        "fibsem": out / "fibsem.tif",
        "truth_labels": out / "truth_labels.tif",
        "truth": out / "truth.json",
    }
    write_volume(paths["fibsem"], Volume(phantom.image, phantom.acquired_voxel_size_nm, meta))
    label_meta = {
        "source": "microstructure.phantom",
        "seed": phantom.truth.get("seed"),
        "labels": "pore=0,am=1,cbd=2",
    }
    write_volume(paths["truth_labels"], Volume(phantom.labels, phantom.voxel_size_nm, label_meta))
    if renderings:
        extra = {
            "clean": (phantom.clean, phantom.voxel_size_nm),
            "stripe_free": (phantom.stripe_free, phantom.acquired_voxel_size_nm),
            "noise_free": (phantom.noise_free, phantom.acquired_voxel_size_nm),
            "curtain": (phantom.curtain, phantom.acquired_voxel_size_nm),
            "closed_pores": (phantom.closed_pores.astype(np.uint8), phantom.voxel_size_nm),
        }
        for name, (arr, vs) in extra.items():
            paths[name] = out / f"{name}.tif"
            write_volume(paths[name], Volume(arr, vs, {"source": "microstructure.phantom"}))
    atomic_write_text(paths["truth"], json.dumps(phantom.truth, indent=1) + "\n")
    return paths
