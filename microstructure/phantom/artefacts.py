"""The realistic acquisition effects of the phantom (each off by default, each on its own switch).

All of them act in the acquired frame (z, y', x) and draw from their own random streams, so
switching one on leaves the geometry, the other artefacts and the default phantom unchanged:

* :func:`drift_jumps` - occasional jumps added to the random-walk drift;
* :func:`slice_positions` - jittered slice thickness: the true z position of each slice;
* :func:`shading_field` - multiplicative low-frequency shading plus a depth gradient along y;
* :func:`charging_field` - bright horizontal streaks trailing bright features along the
  fast scan axis x;
* :func:`dense_curtain_field` - dense, narrow, tilted curtains that start at pores/edges near
  the top of the face and fade down, with varying length and strength;
* band-limited noise is :func:`microstructure.phantom.acquisition.band_limit`.

The magnitudes of the ``realistic`` preset and where they come from are listed in
:data:`microstructure.phantom.params.PRESETS`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage, signal

from microstructure.phantom.acquisition import _gaussian_process
from microstructure.phantom.params import PhantomParams

__all__ = [
    "drift_jumps",
    "slice_positions",
    "shading_field",
    "charging_field",
    "dense_curtain_field",
]


def drift_jumps(nz: int, p: PhantomParams, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """(nz, 2) cumulative jump displacement (dy, dx) px and the slices where a jump happens.

    Each step between slices z-1 and z jumps with probability ``drift_jump_probability`` by a
    vector of random direction and an exponentially distributed length of mean
    ``drift_jump_px``.
    """
    out = np.zeros((nz, 2))
    if p.drift_jump_probability <= 0 or p.drift_jump_px <= 0 or nz < 2:
        return out, []
    hit = rng.random(nz - 1) < p.drift_jump_probability
    length = rng.exponential(p.drift_jump_px, nz - 1)
    angle = rng.uniform(0.0, 2.0 * math.pi, nz - 1)
    steps = np.where(hit[:, None], length[:, None] * np.c_[np.sin(angle), np.cos(angle)], 0.0)
    out[1:] = np.cumsum(steps, axis=0)
    return out, [int(i + 1) for i in np.flatnonzero(hit)]


def slice_positions(
    nz: int, nz_canvas: int, p: PhantomParams, rng: np.random.Generator
) -> np.ndarray:
    """True z positions (voxels of the nominal grid, slice 0 at 0) of the acquired slices.

    Slice thicknesses are ``1 + slice_jitter * N(0, 1)`` voxels (at least 0.2); the positions
    are their cumulative sum, kept inside the rendered canvas.
    """
    if p.slice_jitter <= 0:
        return np.arange(nz, dtype=np.float64)
    t = np.maximum(0.2, 1.0 + p.slice_jitter * rng.standard_normal(max(nz - 1, 0)))
    pos = np.concatenate([[0.0], np.cumsum(t)])
    return np.clip(pos, 0.0, nz_canvas - 1.0)


def _smooth_random(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Unit-std smooth random field of correlation length ``scale_px`` (periodic filtering)."""
    w = rng.standard_normal(shape)
    f = ndimage.gaussian_filter(w, max(scale_px, 0.5), mode="wrap")
    f -= f.mean()
    return f / max(float(f.std()), 1e-12)


def shading_field(ny: int, nx: int, p: PhantomParams, rng: np.random.Generator) -> np.ndarray:
    """(ny, nx) multiplicative shading: ``(1 + a s(y, x)) (1 - g (y / (ny - 1) - 1/2))``.

    ``s`` is a unit-std smooth random field of correlation length ``shading_scale`` times the
    larger image side, ``a`` = ``shading_amplitude`` and ``g`` = ``depth_gradient`` (the
    relative brightness drop from the top to the bottom of the face).
    """
    s = _smooth_random(rng, (ny, nx), p.shading_scale * max(ny, nx))
    yy = np.linspace(0.0, 1.0, ny)[:, None] if ny > 1 else np.zeros((1, 1))
    out = (1.0 + p.shading_amplitude * s) * (1.0 - p.depth_gradient * (yy - 0.5))
    return np.clip(out, 0.05, None).astype(np.float32)


def charging_field(img: np.ndarray, p: PhantomParams, rng: np.random.Generator) -> np.ndarray:
    """Additive charging streaks (z, y, x): bright features leave a decaying bright trail in +x.

    The excess of each pixel over the 80th grey percentile of the stack drives a one-sided
    exponential trail of length ``charging_length_px`` along the scan direction x; the trail
    gain varies from line to line (log-normal, so some scan lines streak strongly) and its
    maximum is ``charging_strength``.
    """
    thr = float(np.percentile(img, 80.0))
    a = math.exp(-1.0 / p.charging_length_px)
    gain = np.exp(rng.normal(0.0, 0.8, img.shape[:2])).astype(np.float32)  # per scan line
    gain /= max(float(np.percentile(gain, 99.0)), 1e-6)
    out = np.empty(img.shape, np.float32)
    for z in range(img.shape[0]):
        excess = np.clip(img[z] - thr, 0.0, None) / max(1.0 - thr, 1e-6)
        trail = signal.lfilter([0.0, 1.0 - a], [1.0, -a], excess, axis=1)  # strictly after
        out[z] = p.charging_strength * gain[z][:, None] * trail
    return out


def _origins(ref: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(y0, x0) of ``n`` curtain origins at pores/edges, preferably near the top."""
    ny, nx = ref.shape
    sm = ndimage.gaussian_filter(ref.astype(np.float64), 1.0)
    grad = np.hypot(ndimage.sobel(sm, 0), ndimage.sobel(sm, 1))
    dark = sm < np.percentile(sm, 30.0)  # pores
    w = (grad / max(float(grad.max()), 1e-12) + 0.5 * dark) * np.exp(
        -np.arange(ny)[:, None] / (0.25 * ny)
    )
    w[0] += w.sum() / nx * 0.15  # some start at the top surface itself
    prob = w.ravel() / w.sum()
    k = rng.choice(prob.size, size=n, p=prob)
    return (k // nx).astype(np.float64), (k % nx).astype(np.float64)


def dense_curtain_field(
    ref: np.ndarray, nz: int, p: PhantomParams, rng: np.random.Generator
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Dense, narrow, tilted curtains (z, y, x) and their list.

    About ``dense_curtain_density`` stripes per 100 px of x, widths log-uniform in
    ``dense_curtain_width_px``, all tilted by ``curtain_tilt_deg`` (x grows with y by
    ``tan(tilt)``), each starting at a pore/edge of ``ref`` (a stripe-free slice) near the top
    and fading down exponentially over a random length (0.1-1.5 of the height); amplitude
    ``dense_curtain_strength * U(0.2, 1)`` with random sign (70 % bright), varying slowly with
    z; a third of them exist only for part of the stack.
    """
    ny, nx = ref.shape
    n = max(1, int(rng.poisson(p.dense_curtain_density * nx / 100.0)))
    y0, x0 = _origins(ref, n, rng)
    wmin, wmax = p.dense_curtain_width_px
    width = np.exp(rng.uniform(math.log(wmin), math.log(wmax), n))
    sign = np.where(rng.random(n) < 0.7, 1.0, -1.0)
    amp = p.dense_curtain_strength * rng.uniform(0.2, 1.0, n) * sign
    length = rng.uniform(0.1, 1.5, n) * ny
    tan_t = math.tan(math.radians(p.curtain_tilt_deg))
    u0 = x0 - tan_t * y0  # stripe position extrapolated to row 0
    g = _gaussian_process(rng, nz, p.curtain_z_correlation, 2 * n)
    amp_mod = np.exp(0.3 * g[:n])
    partial = rng.random(n) < 1.0 / 3.0
    z_a = rng.uniform(-0.3 * nz, 0.7 * nz, n)
    z_b = z_a + rng.uniform(0.3, 1.0, n) * nz
    zz = np.arange(nz)[None, :]
    present = np.where(partial[:, None], (zz >= z_a[:, None]) & (zz <= z_b[:, None]), True)
    yy = np.arange(ny, dtype=np.float64)[:, None]
    dy = yy - y0[None, :]
    fade = np.where(dy >= 0, np.exp(-np.clip(dy, 0, None) / length[None, :]), 0.0)
    fade *= 0.5 * (1.0 + np.tanh((dy + 1.0) / 1.0))  # soft start at the origin (ny, n)
    # stripes in the sheared frame u = x - tan(t) y, then shear back row by row
    pad = int(math.ceil(abs(tan_t) * ny)) + 4
    uu = np.arange(-pad, nx + pad, dtype=np.float64)[None, :]
    edge = 0.5
    prof = 0.5 * (
        np.tanh((uu - (u0[:, None] - width[:, None] / 2)) / edge)
        - np.tanh((uu - (u0[:, None] + width[:, None] / 2)) / edge)
    )  # (n, nu)
    rows = np.repeat(np.arange(ny, dtype=np.float64)[:, None], nx, axis=1)
    cols = np.arange(nx, dtype=np.float64)[None, :] - tan_t * np.arange(ny)[:, None] + pad
    out = np.empty((nz, ny, nx), np.float32)
    for z in range(nz):
        a = amp * amp_mod[:, z] * present[:, z]
        sheared = (fade * a[None, :]) @ prof  # (ny, nu)
        out[z] = ndimage.map_coordinates(sheared, [rows, cols], order=1, mode="nearest")
    stripes = [
        {
            "y0_px": round(float(y0[i]), 2),
            "x0_px": round(float(x0[i]), 2),
            "width_px": round(float(width[i]), 3),
            "amplitude": round(float(amp[i]), 5),
            "fade_length_px": round(float(length[i]), 2),
            "partial_in_z": bool(partial[i]),
        }
        for i in range(n)
    ]
    return out, stripes
