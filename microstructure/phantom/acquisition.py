"""Acquisition of the ideal rendering: per-slice drift, tilt foreshortening, curtaining, noise;
optionally a fiducial (the protective cap with milled marks) at the top of the field
(:func:`with_fiducial`).

Everything here works in the acquired frame (z, y', x) and draws from its own random streams.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage, special

from microstructure.phantom.params import PhantomParams

if TYPE_CHECKING:
    from microstructure.phantom.result import Phantom

#: grey value of the protective (Pt) cap, of the milled marks and of their bright rims.
#: Calibrated on the real Helios slice (``helios_slices/..._001.tif``, columns 500-1100):
#: the cap face's row means are 191-201 (of 255) against the electrode's mean 96 and 95th
#: percentile 126, i.e. the cap is brighter than any phase of the sample; the phantom's
#: brightest phase (AM) renders at about 0.8, so the cap face sits near white
FIDUCIAL_CAP, FIDUCIAL_MARK, FIDUCIAL_RIM = 0.97, 0.12, 1.0
#: grey value of the cap's top surface, seen at the tilt above its cross-section face (the
#: Helios rows above the face: 144-177, 1.5-1.8x the electrode's mean)
FIDUCIAL_TOP = 0.80


def drift_shifts(nz: int, p: PhantomParams, rng: np.random.Generator) -> np.ndarray:
    """(nz, 2) per-slice displacement (dy, dx) in acquired pixels: random walk plus trend."""
    steps = rng.normal(size=(max(nz - 1, 0), 2)) * np.array(p.drift_step_px)
    shifts = np.zeros((nz, 2))
    shifts[1:] = np.cumsum(steps, axis=0)
    shifts += np.arange(nz)[:, None] * np.array(p.drift_trend_px)[None, :]
    return shifts


def _gaussian_process(rng: np.random.Generator, n: int, corr: float, k: int) -> np.ndarray:
    """(k, n) smooth standard-normal series with correlation length ``corr`` samples."""
    pad = int(4 * corr) + 1
    w = rng.normal(size=(k, n + 2 * pad))
    sm = ndimage.gaussian_filter1d(w, corr, axis=1, mode="wrap")[:, pad : pad + n]
    # std of white noise smoothed by a normalised Gaussian of width corr
    return sm / math.sqrt(1.0 / (2.0 * math.sqrt(math.pi) * corr))


def _acquire(
    clean_c: np.ndarray,
    shifts: np.ndarray,
    ny: int,
    ny_acq: int,
    margin: tuple[int, int],
    sin_t: float,
    positions: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """Sample each canvas slice at the drifted (and foreshortened) acquisition grid.

    ``positions`` (jittered slice thickness): true z of each slice in canvas voxels; the slice
    is linearly interpolated between the two rendered canvas slices around it.
    """
    nz = shifts.shape[0]
    nx = clean_c.shape[2] - 2 * margin[1]
    my, mx = margin
    out = np.empty((nz, ny_acq, nx), np.float32)
    rows = np.arange(ny_acq, dtype=np.float64)
    cols = np.arange(nx, dtype=np.float64)
    outside = False
    for z in range(nz):
        dy, dx = shifts[z]
        src = clean_c[z] if positions is None else _slice_at(clean_c, float(positions[z]))
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
            out[z] = src[my : my + ny, mx : mx + nx]
            continue
        # separable (diagonal) affine map: scipy's fast zoom/shift path
        ndimage.affine_transform(
            src,
            np.array([1.0 / sin_t, 1.0]),
            offset=(yy[0], xx[0]),
            output_shape=(ny_acq, nx),
            output=out[z],
            order=3,
            mode="nearest",
        )
    np.clip(out, 0.0, 1.0, out=out)
    return out, outside


def _slice_at(vol: np.ndarray, z: float) -> np.ndarray:
    """Slice of ``vol`` at fractional index ``z`` (linear interpolation along z)."""
    i = min(int(math.floor(z)), vol.shape[0] - 1)
    f = z - i
    if f <= 1e-9 or i + 1 >= vol.shape[0]:
        return vol[i]
    return ((1.0 - f) * vol[i] + f * vol[i + 1]).astype(np.float32)


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
    """Poisson (shot) and Gaussian noise on ``x`` (0..1), then 8-bit quantisation.

    With ``noise_psf_px`` > 0 the noise (the same draws) is filtered in-plane by the noise PSF
    and rescaled to its variance: band-limited, spatially correlated noise.
    """
    out = np.empty(x.shape, np.uint8)
    for z0 in range(0, x.shape[0], chunk):
        y = x[z0 : z0 + chunk].astype(np.float32)
        y_in = y.copy() if p.noise_psf_px > 0 else None
        if p.poisson_counts > 0:
            y = (rng.poisson(y * p.poisson_counts) / p.poisson_counts).astype(np.float32)
        if p.noise_sigma > 0:
            y += rng.normal(0.0, p.noise_sigma, y.shape).astype(np.float32)
        if y_in is not None:
            y = y_in + band_limit(y - y_in, p.noise_psf_px)
        np.clip(y, 0.0, 1.0, out=y)
        out[z0 : z0 + chunk] = np.rint(y * 255.0)
    return out


def band_limit(noise: np.ndarray, sigma_px: float) -> np.ndarray:
    """Filter a (z, y, x) noise field in-plane by a Gaussian PSF, keeping its variance."""
    delta = np.zeros((1, 33, 33), np.float64)
    delta[0, 16, 16] = 1.0
    gain = math.sqrt(float((ndimage.gaussian_filter(delta, (0, sigma_px, sigma_px)) ** 2).sum()))
    out = ndimage.gaussian_filter(noise, (0, sigma_px, sigma_px))
    out /= gain
    return out


def fiducial_cap(
    shifts: np.ndarray, ny: int, nx: int, rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """The protective cap over the first ``rows`` rows, moved by each slice's drift.

    In slice-and-view the region of interest lies under a deposited Pt cap; lines milled into
    the cap along the slicing direction cut every cross-section at the same place, so they do
    not change with depth (the fiducial). Modelled, all moved by the slice's drift: the cap's
    top surface seen at the tilt (grey ``FIDUCIAL_TOP``) down to row ``top = max(4, rows -
    16)``, its cross-section face (grey ``FIDUCIAL_CAP``) from there to the straight
    cap/electrode interface at ``rows``; ``max(2, nx // 40)`` milled marks (dark notches 3-8 px
    wide reaching 40-80 % of the face down, a bright rim on one side as the SE edge effect
    gives), the same in every slice up to a 0.2 px wobble of their edges; Pt grain texture
    (std 0.03, 1 px) drawn anew for every slice (the grains are smaller than a slice).
    Returns the cap values and its coverage (0..1, sub-pixel lower edge) per slice (nz, ny, nx)
    and the mark list.
    """
    nz = shifts.shape[0]
    top = max(4.0, rows - 16.0)
    n_marks = max(2, nx // 40)
    x0 = np.sort(rng.uniform(0.05 * nx, 0.95 * nx, n_marks))
    width = rng.uniform(3.0, 8.0, n_marks)
    depth = top + rng.uniform(0.4, 0.8, n_marks) * (rows - top)
    marks = [
        {"x_px": round(float(a), 3), "width_px": round(float(w), 3), "depth_px": round(float(d), 3)}
        for a, w, d in zip(x0, width, depth, strict=True)
    ]
    yy = np.arange(ny, dtype=np.float64)[:, None]
    xx = np.arange(nx, dtype=np.float64)[None, :]
    values = np.zeros((nz, ny, nx), np.float32)
    cover = np.zeros((nz, ny, nx), np.float32)
    for z in range(nz):
        dy, dx = (float(v) for v in shifts[z])
        y, x = yy - dy, xx - dx  # cap coordinates of each pixel
        # the cap's top surface (seen at the tilt) above its cross-section face
        img = FIDUCIAL_TOP + (FIDUCIAL_CAP - FIDUCIAL_TOP) * np.clip(y - top + 0.5, 0.0, 1.0)
        wob = rng.normal(0.0, 0.2, (n_marks, 2))
        for k in range(n_marks):
            lo, hi = x0[k] - width[k] / 2 + wob[k, 0], x0[k] + width[k] / 2 + wob[k, 1]
            across = np.clip(np.minimum(x - lo, hi - x) + 0.5, 0.0, 1.0)
            down = np.clip(depth[k] - y + 0.5, 0.0, 1.0)
            img = img + (FIDUCIAL_MARK - img) * across * down
            rim = np.clip(1.5 - np.abs(x - hi - 0.75), 0.0, 1.0) * down
            img = img + (FIDUCIAL_RIM - img) * rim * 0.6
        grain = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (ny, nx)), 1.0)
        img = img + 0.03 * grain / max(float(grain.std()), 1e-12)
        values[z] = img
        cover[z] = np.clip(rows - y + 0.5, 0.0, 1.0) * np.ones((1, nx))
    return values, cover, marks


def with_fiducial(phantom: Phantom, rows: int = 24, *, seed: int = 0) -> Phantom:
    """The phantom acquired with a fiducial cap over its first ``rows`` acquired rows.

    The cap (:func:`fiducial_cap`, moved by the phantom's drift, under its shading when the
    shading is on) covers the structure in those rows; the curtains are kept and the noise is
    drawn anew (stream ``seed``) with the phantom's noise parameters. The truth volumes are
    unchanged (the covered rows are not imaged); ``truth["fiducial"]`` records the cap.
    The cap is seen in every slice only where the drift leaves it in the field: to see it
    over ``r`` rows in every slice, give ``rows = r + max(0, -min(dy))``.

    References
    ----------
    Beuse, T. et al. (2021). Batteries 7, 70 (the FIB/SEM acquisition this phantom follows).
    doi:10.3390/batteries7040070
    """
    ok = isinstance(rows, int | np.integer) and not isinstance(rows, bool)
    if not ok or not (4 <= int(rows) <= phantom.image.shape[1] // 2):
        raise ValueError(
            f"rows: expected an integer from 4 to half the image height "
            f"({phantom.image.shape[1] // 2}), got {rows!r}"
        )
    rows = int(rows)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xF1D]))
    nz, ny, nx = phantom.image.shape
    values, cover, marks = fiducial_cap(np.asarray(phantom.shifts_px), ny, nx, rows, rng)
    if phantom.shading is not None:
        values *= phantom.shading[None]
    stripe_free = phantom.stripe_free + cover * (values - phantom.stripe_free)
    np.clip(stripe_free, 0.0, 1.0, out=stripe_free)
    noisy_in = np.clip(stripe_free + phantom.curtain, 0.0, 1.0)
    image = _add_noise(noisy_in, phantom.params, rng)
    truth = {**phantom.truth, "fiducial": {"rows": rows, "marks": marks, "seed": int(seed)}}
    return dataclasses.replace(phantom, image=image, stripe_free=stripe_free, truth=truth)
