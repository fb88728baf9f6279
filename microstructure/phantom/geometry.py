"""True geometry of the phantom (undrifted frame, thickness axis y, separator side at y = 0).

Polydisperse active-material (AM) particles with log-normal diameters are packed by random
sequential addition in the uncalendered electrode, compressed along y, given a low-order
surface roughness and scaled to the exact AM fraction; cracks and closed pores are carved, and
the carbon-binder domain (CBD) fills the necks between particles up to its exact fraction.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage, special

from microstructure.phantom._kernels import _crack_particle, _first_valid, _raster_particle
from microstructure.phantom.params import PhantomParams
from microstructure.volume import Phase

__all__ = ["Canvas", "Geometry", "make_canvas", "build_geometry"]

# Largest global radius scale the distance field is computed for (particle boxes are
# evaluated up to this multiple of each radius).
_RHO_MAX = 1.3
# Gap filling starts when the target needs a radius scale above this.
_FILL_ABOVE_SCALE = 1.06


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


# --------------------------------------------------------------------------- canvas and particles


@dataclass(frozen=True)
class Canvas:
    """The truth volume and the larger canvas the geometry is computed on.

    The canvas extends the field of view by ``margin`` voxels (y and x on both sides, z behind);
    ``crop`` selects the field of view in it and ``origin`` is the position (um) of the canvas
    corner in the truth frame.
    """

    shape: tuple[int, int, int]
    vox_um: np.ndarray
    margin: tuple[int, int, int]
    cshape: tuple[int, int, int]
    crop: tuple[slice, slice, slice]
    origin: np.ndarray
    n_total: int


def make_canvas(
    shp: tuple[int, int, int],
    vox_nm: tuple[float, float, float],
    p: PhantomParams,
    *,
    drift_px: float = 0.0,
) -> Canvas:
    """The canvas of a ``shp`` truth volume of ``vox_nm`` voxels (margins from ``p``).

    ``drift_px`` (the largest drift, truth pixels) widens the automatic y/x margins to hold it.
    """
    nz, ny, nx = shp
    vox_um = np.array(vox_nm) / 1000.0
    if p.canvas_margin_px is None:
        mz, my, mx = (int(np.clip(math.ceil(0.08 * n), 8, 48)) for n in shp)
        if drift_px > 0:
            need = int(math.ceil(drift_px)) + 4
            my, mx = max(my, need), max(mx, need)
    else:
        mz = my = mx = p.canvas_margin_px
    return Canvas(
        shape=shp,
        vox_um=vox_um,
        margin=(mz, my, mx),
        cshape=(nz + mz, ny + 2 * my, nx + 2 * mx),
        crop=(slice(0, nz), slice(my, my + ny), slice(mx, mx + nx)),
        origin=np.array([0.0, -my * vox_um[1], -mx * vox_um[2]]),
        n_total=nz * ny * nx,
    )


class _Particles:
    """The particles placed so far and their normalised distance field ``rho`` on the canvas.

    ``rho`` is ``|q| / (R s(u))`` of the nearest particle (min over particles) and ``owner``
    its 1-based index; a radius scale ``lam`` makes ``rho <= lam`` the AM.
    """

    def __init__(self, p: PhantomParams, cv: Canvas, rng_part: np.random.Generator) -> None:
        self.p = p
        self.cv = cv
        self.rng = rng_part
        self.f_y, self.bulge = _deformation(p)
        self.inv_scale = np.array([1.0 / self.bulge, 1.0 / self.f_y, 1.0 / self.bulge])
        self.rough_max = min(0.35, 4.0 * p.particle_roughness)
        self.rho: np.ndarray | None = np.full(cv.cshape, np.inf, dtype=np.float32)
        self.owner = np.zeros(cv.cshape, dtype=np.int32)
        self.centers = np.empty((0, 3))
        self.radii = np.empty(0)
        self.shapes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.fillers: list[bool] = []

    def packing_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) um of the packing domain: the canvas plus the largest particle reach."""
        p, cv = self.p, self.cv
        r_max_final = (
            p.max_diameter_um / 2.0 * max(self.bulge, 1.0) * (1.0 + self.rough_max) * _RHO_MAX
        )
        lo_um = cv.origin - r_max_final
        hi_um = cv.origin + np.array(cv.cshape) * cv.vox_um + r_max_final
        return lo_um, hi_um

    def new_shape(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Random low-order surface roughness: (directions, amplitudes, Legendre orders)."""
        k = 4
        dirs = _random_unit(self.rng, k)
        amps = self.rng.normal(0.0, self.p.particle_roughness, k)
        tot = np.abs(amps).sum()
        if tot > self.rough_max:
            amps *= self.rough_max / tot
        orders = self.rng.integers(2, 5, k).astype(np.int64)
        return dirs, amps, orders

    def box_of(self, center: np.ndarray, radius: float, amps: np.ndarray) -> np.ndarray:
        """Canvas voxel box (z0, z1, y0, y1, x0, x1) a particle can reach."""
        cv = self.cv
        half = radius * (1.0 + np.abs(amps).sum()) * _RHO_MAX / self.inv_scale
        lo = np.floor((center - half - cv.origin) / cv.vox_um - 0.5).astype(np.int64)
        hi = np.ceil((center + half - cv.origin) / cv.vox_um + 0.5).astype(np.int64) + 1
        lo = np.clip(lo, 0, cv.cshape)
        hi = np.clip(hi, 0, cv.cshape)
        return np.array([lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]], dtype=np.int64)

    def raster(self, i: int, write: bool = True) -> tuple[int, int]:
        """Min-merge particle ``i`` into ``rho`` (if ``write``); (voxels inside, overlapping)."""
        dirs, amps, orders = self.shapes[i]
        b = self.box_of(self.centers[i], self.radii[i], amps)
        if b[1] <= b[0] or b[3] <= b[2] or b[5] <= b[4]:
            return 0, 0
        return _raster_particle(
            self.rho,
            self.owner,
            i + 1,
            b,
            self.cv.origin,
            self.cv.vox_um,
            self.centers[i],
            self.inv_scale,
            float(self.radii[i]),
            dirs,
            amps,
            orders,
            _RHO_MAX,
            write,
        )


# --------------------------------------------------------------------------- geometry steps


def _place_particles(parts: _Particles, rng_pack: np.random.Generator) -> dict[str, Any]:
    """Pack the particles (uncalendered frame, then calendered) and rasterise them."""
    lo_um, hi_um = parts.packing_bounds()
    parts.centers, parts.radii, pack_stats = _pack(parts.p, lo_um, hi_um, rng_pack)
    for i in range(parts.radii.size):
        parts.shapes.append(parts.new_shape())
        parts.fillers.append(False)
        parts.raster(i)
    return pack_stats


def _fill_gaps(parts: _Particles, need: int, rng_fill: np.random.Generator) -> int:
    """Add gap-filling particles at random pore voxels until ``need`` voxels have
    ``rho <= _FILL_ABOVE_SCALE`` (a candidate overlapping the others by more than a quarter
    is dropped); returns the number added."""
    p, cv = parts.p, parts.cv
    rho_c = parts.rho[cv.crop]
    n_fill = 0
    fails = 0
    centers_l, radii_l = list(parts.centers), list(parts.radii)
    while np.count_nonzero(rho_c <= _FILL_ABOVE_SCALE) < need:
        if fails > 2000:
            break
        for _ in range(16):
            for _ in range(1000):  # a random pore voxel of the field of view
                j = tuple(int(rng_fill.integers(n)) for n in cv.shape)
                if rho_c[j] > 1.0:
                    break
            cj = (np.array(j) + 0.5) * cv.vox_um
            dj = float(_truncated_lognormal(rng_fill, 1, p)[0])
            centers_l.append(cj)
            radii_l.append(dj / 2.0)
            parts.centers = np.asarray(centers_l)
            parts.radii = np.asarray(radii_l)
            parts.shapes.append(parts.new_shape())
            parts.fillers.append(True)
            i = parts.radii.size - 1
            inside, overlap = parts.raster(i, write=False)
            if inside > 0 and overlap <= 0.25 * inside:
                parts.raster(i)
                n_fill += 1
                fails = 0
            else:
                centers_l.pop()
                radii_l.pop()
                parts.shapes.pop()
                parts.fillers.pop()
                parts.centers = np.asarray(centers_l)
                parts.radii = np.asarray(radii_l)
                fails += 1
    return n_fill


def _first_scale(parts: _Particles, rng_fill: np.random.Generator) -> tuple[float, int]:
    """Radius scale reaching the AM target before carving (gap filling if needed).

    Returns (scale, number of filler particles).
    """
    p, cv = parts.p, parts.cv
    if p.target_am_fraction is None:
        return 1.0, 0
    cp_loss = p.closed_porosity_am + 0.01 * p.crack_fraction
    n_fill = 0
    n_target = int(round(p.target_am_fraction * cv.n_total))
    need = int(min(cv.n_total, math.ceil(n_target / max(1e-6, 1.0 - cp_loss) * 1.02)))
    rho_c = parts.rho[cv.crop]
    if np.count_nonzero(rho_c <= _FILL_ABOVE_SCALE) < need:
        n_fill = _fill_gaps(parts, need, rng_fill)
        rho_c = parts.rho[cv.crop]
    lam0 = min(_RHO_MAX, max(0.3, _kth_threshold(rho_c.flatten(), n_target)))
    return lam0, n_fill


def _carve_closed_pores(parts: _Particles, lam0: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed pores deep inside the particles (enclosed at any larger scale).

    Returns the canvas mask and the number of pores per particle.
    """
    p, cv, rng = parts.p, parts.cv, parts.rng
    origin, vox_um, cshape, inv_scale = cv.origin, cv.vox_um, cv.cshape, parts.inv_scale
    pores = np.zeros(cshape, dtype=bool)
    n_pores = np.zeros(parts.radii.size, dtype=np.int64)
    margin_um = 2.0 * float(vox_um.max())
    if p.closed_porosity_am <= 0:
        return pores, n_pores
    rp_mean = p.closed_pore_diameter_um / 2.0
    for i in range(parts.radii.size):
        dirs, amps, orders = parts.shapes[i]
        R = parts.radii[i] * lam0
        smin = 1.0 - np.abs(amps).sum()
        expected = p.closed_porosity_am * R**3 / (rp_mean**3 * 1.3)
        k = int(rng.poisson(expected))
        for _ in range(k):
            rp = rp_mean * float(rng.lognormal(0.0, 0.25))
            reach = R * smin - rp - margin_um / min(parts.f_y, 1.0)
            if reach <= 0:
                continue
            q = _random_unit(rng, 1)[0] * reach * rng.random() ** (1.0 / 3.0)
            cpos = parts.centers[i] + q / inv_scale
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
    return pores, n_pores


def _carve_cracks(parts: _Particles, lam0: float) -> tuple[np.ndarray, np.ndarray]:
    """Radial cracks from the surface inward, mostly parallel to the load along y.

    Returns the canvas mask and which particles are cracked.
    """
    p, cv, rng = parts.p, parts.cv, parts.rng
    radii = parts.radii
    cracks = np.zeros(cv.cshape, dtype=bool)
    cracked = np.zeros(radii.size, dtype=bool)
    half_width_um = p.crack_width_nm / 2000.0
    for i in range(radii.size):
        if parts.fillers[i] or rng.random() >= p.crack_fraction:
            continue
        cracked[i] = True
        m = 1 + int(rng.poisson(0.8))
        phi = rng.uniform(0, 2 * np.pi, m)
        normals = np.stack([np.cos(phi), rng.normal(0, 0.25, m), np.sin(phi)], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        tangents = _random_unit(rng, m)
        tangents -= (tangents * normals).sum(axis=1, keepdims=True) * normals
        tangents /= np.maximum(np.linalg.norm(tangents, axis=1, keepdims=True), 1e-9)
        R = radii[i] * lam0
        extents = rng.uniform(-1.0, 0.2, m)
        offsets = rng.uniform(-0.3, 0.3, m) * R
        wavevecs = _random_unit(rng, m) * (2 * np.pi / (R * rng.uniform(0.6, 1.5, m)))[:, None]
        wave_amps = rng.uniform(0.03, 0.1, m) * R
        phases_ = rng.uniform(0, 2 * np.pi, m)
        b = parts.box_of(parts.centers[i], radii[i], parts.shapes[i][1])
        if b[1] <= b[0] or b[3] <= b[2] or b[5] <= b[4]:
            continue
        _crack_particle(
            parts.rho,
            parts.owner,
            cracks,
            i + 1,
            b,
            cv.origin,
            cv.vox_um,
            parts.centers[i],
            parts.inv_scale,
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
    return cracks, cracked


def _final_am(parts: _Particles, pores: np.ndarray, cracks: np.ndarray) -> tuple[np.ndarray, float]:
    """AM mask at the radius scale giving the exact target with pores and cracks excluded.

    Restricts ``pores`` and ``cracks`` to the AM (in place), clears ``owner`` outside it and
    frees ``rho``. Returns (AM mask, scale).
    """
    p, cv = parts.p, parts.cv
    carved = pores | cracks
    if p.target_am_fraction is not None:
        n_target = int(round(p.target_am_fraction * cv.n_total))
        vals = parts.rho[cv.crop][~carved[cv.crop]]
        lam = _kth_threshold(vals, n_target)
        if lam > _RHO_MAX:
            warnings.warn(
                f"target_am_fraction: {p.target_am_fraction} not reachable with these particles "
                "(raise packing_fraction or lower calender_ratio); see am_fraction_achieved",
                RuntimeWarning,
                stacklevel=4,  # the caller of generate_phantom
            )
            lam = _RHO_MAX
        # carving only removes voxels, so lam >= lam0 and the pores stay enclosed
        del vals
    else:
        lam = 1.0
    am = parts.rho <= lam
    cracks &= am
    pores &= am
    am &= ~carved
    del carved
    parts.rho = None  # free the distance field
    parts.owner[~am] = 0
    return am, lam


def _place_cbd(
    am: np.ndarray,
    pores: np.ndarray,
    cracks: np.ndarray,
    p: PhantomParams,
    cv: Canvas,
    rng_cbd: np.random.Generator,
) -> np.ndarray:
    """Canvas labels: the CBD fills the pore voxels of highest local AM density (necks) up to
    exactly ``cbd_fraction``; cracks and closed pores stay empty."""
    labels_c = am.astype(np.uint8)
    if p.cbd_fraction <= 0:
        return labels_c
    neck_um = p.cbd_neck_scale_um or 0.08 * p.mean_diameter_um
    sig = tuple(neck_um / v for v in cv.vox_um)
    score = _smooth(am, sig)
    rough = _smooth_noise(rng_cbd, cv.cshape, tuple(s * 0.5 + 1 for s in sig))
    rough *= 0.15
    score += rough
    del rough
    cand = ~am & ~pores & ~cracks
    vals = score[cv.crop][cand[cv.crop]]
    k = int(round(p.cbd_fraction * cv.n_total))
    if k > vals.size:
        raise ValueError(
            f"cbd_fraction: {p.cbd_fraction} exceeds the free pore space "
            f"({vals.size / cv.n_total:.3f} of the volume)"
        )
    if k > 0:
        # the k highest scores: at or above the (n - k)-th order statistic
        vals.partition(vals.size - k)
        thr = float(vals[vals.size - k])
        labels_c[cand & (score >= thr)] = Phase.CBD.value
    return labels_c


@dataclass
class Geometry:
    """The true geometry on the canvas and what the truth summary reports about it."""

    canvas: Canvas
    labels: np.ndarray  # canvas uint8 phases (0 pore, 1 AM, 2 CBD)
    owner: np.ndarray  # canvas int32 1-based particle index of each AM voxel
    cracks: np.ndarray  # canvas bool crack voxels (inside the AM envelope)
    centers: np.ndarray
    radii: np.ndarray
    fillers: list[bool]
    cracked: np.ndarray
    n_pores: np.ndarray
    radius_scale: float
    flattening_y: float
    bulge_zx: float
    pack_stats: dict[str, Any] = field(default_factory=dict)
    n_filler: int = 0


def build_geometry(
    cv: Canvas,
    p: PhantomParams,
    rngs: dict[str, np.random.Generator],
) -> Geometry:
    """Particles, radius scale, closed pores, cracks and CBD of the phantom on canvas ``cv``.

    ``rngs`` holds the streams ``pack``, ``part``, ``fill`` and ``cbd``.
    """
    parts = _Particles(p, cv, rngs["part"])
    pack_stats = _place_particles(parts, rngs["pack"])
    lam0, n_fill = _first_scale(parts, rngs["fill"])
    parts.centers = np.asarray(parts.centers)
    parts.radii = np.asarray(parts.radii)
    pores, n_pores = _carve_closed_pores(parts, lam0)
    cracks, cracked = _carve_cracks(parts, lam0)
    am, lam = _final_am(parts, pores, cracks)
    labels_c = _place_cbd(am, pores, cracks, p, cv, rngs["cbd"])
    return Geometry(
        canvas=cv,
        labels=labels_c,
        owner=parts.owner,
        cracks=cracks,
        centers=parts.centers,
        radii=parts.radii,
        fillers=parts.fillers,
        cracked=cracked,
        n_pores=n_pores,
        radius_scale=lam,
        flattening_y=parts.f_y,
        bulge_zx=parts.bulge,
        pack_stats=pack_stats,
        n_filler=n_fill,
    )
