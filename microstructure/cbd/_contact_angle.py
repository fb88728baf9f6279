"""The contact-angle insertion method: morphological equilibrium of a wetting CBD.

With ``d`` the Euclidean distance of each pore voxel to the nearest solid voxel, the gas for a
ball radius ``r`` is the union of balls of radius ``r`` centred on pore voxels where the ball
meets the nearest wall at ``theta`` or less steeply; the CBD is the rest of the pore space.
The radius is found by a scan and a safeguarded regula falsi (:class:`_RadiusSearch`), on
large volumes first on every second voxel (:func:`_coarse_bracket`); the target is then hit
exactly by removing the CBD voxels nearest to the gas balls (:func:`_select`).

References
----------
.. [1] Hilpert, M.; Miller, C. T. Pore-morphology-based simulation of drainage in totally
   wetting porous media. Adv. Water Resour. 2001, 24, 243-255.
   https://doi.org/10.1016/S0309-1708(00)00056-7
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from scipy import ndimage as ndi

from microstructure.cbd._voxels import _edt, _mean_voxel, _take_ranked, _tie_key

#: Volumes with at least this many voxels search the contact-angle ball radius on every second
#: voxel first (``_contact_angle_fill``).
COARSE_SEARCH_VOXELS = 8_000_000


def _wall_curvature(
    pore: np.ndarray,
    vs: tuple[float, float, float],
    flat_pore: np.ndarray,
    *,
    sigma_voxels: float = 1.0,
    patch_blocks: int = 5,
) -> np.ndarray:
    """Mean curvature (1/nm) of the solid wall nearest to each pore voxel (``flat_pore``).

    1. The solid indicator is smoothed by a Gaussian of ``sigma_voxels``; on the solid voxels
       that touch the pore (the wall), the mean curvature of its level set is
       ``H = -div(grad g / |grad g|) / 2`` (central differences; ``1/R`` on a sphere of
       radius ``R``, 0 on a plane).
    2. Concave values are set to 0 (a concave crease where two particles meet carries no
       curvature of either particle, so the wall is treated as flat there) and ``H`` is
       capped at one over half a voxel.
    3. ``H`` is averaged over wall patches: 2x2x2 blocks, then a ``patch_blocks``-block box
       (about 10 voxels), so the estimate has the scale of the contact circle, not of the
       voxel staircase.
    4. Each pore voxel takes the patch value of the nearest wall block (feature transform
       on the 2x2x2 block grid, ``scipy.ndimage.distance_transform_edt(return_indices=True)``).

    On voxelised spheres of radius 16-24 voxels the patch value is ``1/R`` within about 10 %
    (mean) with a spread of about 20 % (``docs/validation_cbd.md``).
    """
    solid = ~pore
    h_mean = _mean_voxel(vs)
    sig = [sigma_voxels * h_mean / v for v in vs]
    g = ndi.gaussian_filter(solid.astype(np.float32), sig, truncate=3.0, mode="nearest")
    del solid
    # wall voxels (solid with a pore face neighbour): curvature, summed per 2x2x2 block
    cshape = tuple((n + 1) // 2 for n in pore.shape)
    ksum = np.zeros(cshape, dtype=np.float64)
    cnt = np.zeros(cshape, dtype=np.float64)
    _wall_curvature_blocks(
        g, pore, float(vs[0]), float(vs[1]), float(vs[2]), 2.0 / min(vs), ksum, cnt
    )
    del g
    ksum = ksum.astype(np.float32)
    cnt = cnt.astype(np.float32)
    has = cnt > 0
    num = ndi.uniform_filter(ksum, patch_blocks, mode="nearest")
    den = ndi.uniform_filter(cnt, patch_blocks, mode="nearest")
    k_blk = np.where(has, num / np.maximum(den, 1e-12), 0.0).astype(np.float32)
    del num, den, ksum, cnt
    ft = ndi.distance_transform_edt(
        ~has,
        sampling=tuple(2.0 * v for v in vs),
        return_distances=False,
        return_indices=True,
    )
    # curvature of the nearest wall block, for every block
    k_near = k_blk[ft[0], ft[1], ft[2]]
    del ft, k_blk
    return _lookup_blocks(k_near, flat_pore, pore.shape[1], pore.shape[2])


@numba.njit(cache=True)
def _wall_curvature_blocks(g, pore, v0, v1, v2, kmax, ksum, cnt):  # pragma: no cover - numba
    """Mean curvature -div(grad g/|grad g|)/2 of the smoothed solid ``g`` on the wall voxels
    (solid, with a pore face neighbour), clipped to [0, kmax], summed per 2x2x2 block.

    Central first differences; second differences with the doubled stencil (the central
    difference applied twice); indices clamped at the faces (edge padding).
    """
    nz, ny, nx = g.shape
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if pore[z, y, x]:
                    continue
                wall = (
                    (z > 0 and pore[z - 1, y, x])
                    or (z < nz - 1 and pore[z + 1, y, x])
                    or (y > 0 and pore[z, y - 1, x])
                    or (y < ny - 1 and pore[z, y + 1, x])
                    or (x > 0 and pore[z, y, x - 1])
                    or (x < nx - 1 and pore[z, y, x + 1])
                )
                if not wall:
                    continue
                zm, zp = max(z - 1, 0), min(z + 1, nz - 1)
                ym, yp = max(y - 1, 0), min(y + 1, ny - 1)
                xm, xp = max(x - 1, 0), min(x + 1, nx - 1)
                zmm, zpp = max(z - 2, 0), min(z + 2, nz - 1)
                ymm, ypp = max(y - 2, 0), min(y + 2, ny - 1)
                xmm, xpp = max(x - 2, 0), min(x + 2, nx - 1)
                g0 = np.float64(g[z, y, x])
                gz = (np.float64(g[zp, y, x]) - g[zm, y, x]) / (2.0 * v0)
                gy = (np.float64(g[z, yp, x]) - g[z, ym, x]) / (2.0 * v1)
                gx = (np.float64(g[z, y, xp]) - g[z, y, xm]) / (2.0 * v2)
                hzz = (np.float64(g[zpp, y, x]) - 2.0 * g0 + g[zmm, y, x]) / (4.0 * v0 * v0)
                hyy = (np.float64(g[z, ypp, x]) - 2.0 * g0 + g[z, ymm, x]) / (4.0 * v1 * v1)
                hxx = (np.float64(g[z, y, xpp]) - 2.0 * g0 + g[z, y, xmm]) / (4.0 * v2 * v2)
                hzy = (np.float64(g[zp, yp, x]) - g[zp, ym, x] - g[zm, yp, x] + g[zm, ym, x]) / (
                    4.0 * v0 * v1
                )
                hzx = (np.float64(g[zp, y, xp]) - g[zp, y, xm] - g[zm, y, xp] + g[zm, y, xm]) / (
                    4.0 * v0 * v2
                )
                hyx = (np.float64(g[z, yp, xp]) - g[z, yp, xm] - g[z, ym, xp] + g[z, ym, xm]) / (
                    4.0 * v1 * v2
                )
                n2 = gz * gz + gy * gy + gx * gx
                k = 0.0
                if n2 > 1e-30:
                    lap = hzz + hyy + hxx
                    nhn = (
                        gz * gz * hzz
                        + gy * gy * hyy
                        + gx * gx * hxx
                        + 2.0 * (gz * gy * hzy + gz * gx * hzx + gy * gx * hyx)
                    ) / n2
                    # g rises into the solid: the outward normal is -grad g; sphere: 1/R
                    k = -(lap - nhn) / math.sqrt(n2) / 2.0
                    k = min(max(k, 0.0), kmax)
                ksum[z // 2, y // 2, x // 2] += k
                cnt[z // 2, y // 2, x // 2] += 1.0


@numba.njit(cache=True)
def _lookup_blocks(k_near, flat_pore, ny, nx):  # pragma: no cover - numba
    """Value of the 2x2x2 block of every flat index (C order, shape (., ny, nx))."""
    out = np.empty(flat_pore.size, dtype=np.float32)
    for i in range(flat_pore.size):
        f = flat_pore[i]
        z = f // (ny * nx)
        r = f - z * ny * nx
        y = r // nx
        x = r - y * nx
        out[i] = k_near[z // 2, y // 2, x // 2]
    return out


def _centre_distance(rho: float, cos_t: float, kappa: np.ndarray) -> np.ndarray:
    """Wall distance of a ball centre at which a ball of radius ``rho`` meets the wall at theta.

    A ball of radius ``rho`` whose centre is ``w`` from a sphere of radius ``R = 1/kappa``
    cuts it along a circle; the ball and sphere normals there make the angle ``pi - theta``
    (``theta`` measured through the CBD) when ``(R + w)^2 = R^2 + rho^2 + 2 R rho cos(theta)``
    (law of cosines in the triangle of the two centres and a point of the circle), i.e.
    ``2 w + kappa (w^2 - rho^2) = 2 rho cos(theta)``. The root, written without cancellation,
    is ``c / (1 + sqrt(1 + kappa c))`` with ``c = kappa rho^2 + 2 rho cos(theta)``; it is
    ``rho cos(theta)`` on a flat wall (``kappa = 0``) and ``rho`` for ``theta = 0``.
    """
    c = kappa * np.float32(rho * rho) + np.float32(2.0 * rho * cos_t)
    return c / (1.0 + np.sqrt(1.0 + kappa * c))


def _top_radius(w: np.ndarray, k: np.ndarray, cos_t: float) -> float:
    """Largest rho with a centre left: solve w = w*(rho, kappa) for rho, per voxel."""
    b = 2.0 * w + k * w * w
    return float(np.max(b / (cos_t + np.sqrt(cos_t * cos_t + k * b)))) * (1.0 - 1e-6)


def _allowed(rho: float, w: np.ndarray, k: np.ndarray, cos_t: float) -> np.ndarray:
    """Which of the voxels with wall distance w, curvature k may hold a ball centre."""
    # kappa >= 0, so rho cos(theta) <= w* <= rho: decide the band in between per voxel
    ok = w >= np.float32(rho)
    band = np.flatnonzero(~ok & (w >= np.float32(rho * cos_t)))
    if band.size:
        ok[band] = w[band] >= _centre_distance(rho, cos_t, k[band])
    return ok


Count = Callable[[float], int]
Bracket = tuple[float, int, float, int]


def _geometry_key(
    pore: np.ndarray, vs: tuple[float, float, float], curvature: bool
) -> tuple[Any, ...]:
    """Identity of a pore space for the geometry cache of :class:`_RadiusSearch`."""
    import hashlib

    digest = hashlib.blake2b(np.packbits(pore, axis=None).tobytes(), digest_size=16).hexdigest()
    return (pore.shape, tuple(float(v) for v in vs), curvature, digest)


class _RadiusSearch:
    """The CBD amount as a function of the ball radius, and the search for ``n_add`` voxels.

    One Euclidean distance transform of the whole volume per radius tried (``amount``,
    memoised in ``cache``); ``kept`` holds the distances to the centres of the smallest
    radius found so far that holds ``n_add`` voxels (the final selection needs them; keeping
    them saves one transform).
    """

    def __init__(
        self,
        pore: np.ndarray,
        vs: tuple[float, float, float],
        n_add: int,
        cos_t: float,
        *,
        curvature: bool,
        theta_deg: float,
        n_scan: int,
        max_iter: int,
        rel_tol: float,
        geometry_cache: dict[str, Any] | None = None,
    ) -> None:
        self.pore, self.vs, self.n_add, self.cos_t = pore, vs, n_add, cos_t
        self.n_scan, self.max_iter, self.rel_tol = n_scan, max_iter, rel_tol
        self.h = min(vs)
        # Discretisation: a voxel is gas when a ball of radius rho reaches within half a voxel
        # of its centre, i.e. when its centre lies within rho + h/2 of the ball centre (this
        # leaves no spurious one-voxel film on flat walls). Distances d are to solid voxel
        # centres; the solid surface lies h/2 closer, so the wall distance is w = d - h/2. A
        # centre is allowed when w >= w*(rho, kappa), the distance at which the ball meets
        # the wall at theta, measured through the CBD (_centre_distance): rho cos(theta) on a
        # flat wall, more on a convex particle of mean curvature kappa (nearest wall,
        # _wall_curvature). With the flat-wall condition alone a ball meets a sphere of
        # radius R at theta_eff, cos(theta_eff) = cos(theta) - rho sin(theta)^2 / (2 R): too
        # steep when rho ~ R.
        self.half = 0.5 * _mean_voxel(vs)
        use_kappa = bool(curvature and theta_deg > 0.0)
        key = _geometry_key(pore, vs, use_kappa) if geometry_cache is not None else None
        if key is not None and geometry_cache.get("key") == key:
            self.flat_pore = geometry_cache["flat_pore"]
            self.w_pore = geometry_cache["w_pore"]
            self.kappa = geometry_cache["kappa"]
        else:
            d_in = _edt(pore, vs)
            self.flat_pore = np.flatnonzero(pore)
            self.w_pore = d_in.ravel()[self.flat_pore] - np.float32(self.half)
            del d_in
            if use_kappa:
                self.kappa = _wall_curvature(pore, vs, self.flat_pore)
            else:
                self.kappa = np.zeros(self.w_pore.size, dtype=np.float32)
            if geometry_cache is not None:
                geometry_cache.clear()
                geometry_cache.update(
                    key=key, flat_pore=self.flat_pore, w_pore=self.w_pore, kappa=self.kappa
                )
        # gas voxels with every allowed centre open, per (radius, cos theta): independent
        # of the amount, so a calibration that varies only the CBD porosity and the
        # nanopores reuses it (one distance transform less per simulation)
        self.open_counts: dict[tuple[float, float], int] | None = (
            geometry_cache.setdefault("open_counts", {}) if geometry_cache is not None else None
        )
        self.rho_top = _top_radius(self.w_pore, self.kappa, cos_t)
        self.cache: dict[float, int] = {}
        self.kept: dict[float, np.ndarray] = {}

    def amount(self, rho: float, keep: bool = False) -> int:
        """CBD voxel count at ball radius rho (-1: no centre left)."""
        cache, kept = self.cache, self.kept
        if rho in cache and (not keep or rho in kept or cache[rho] < 0):
            return cache[rho]
        ok = _allowed(rho, self.w_pore, self.kappa, self.cos_t)
        if not ok.any():
            # no ball fits: everything would be CBD, which is not a wetting equilibrium
            cache[rho] = -1
            return -1
        centres = np.ones(self.pore.shape, dtype=np.uint8)
        centres.ravel()[self.flat_pore[ok]] = 0
        # distance of every voxel to the nearest centre (centres are the zeros)
        dist_c = _edt(centres, self.vs).ravel()[self.flat_pore]
        del centres
        n = int(np.count_nonzero(dist_c > rho + self.half))
        cache[rho] = n
        if keep or (n >= self.n_add and all(rho < r for r in kept)):
            kept.clear()
            kept[rho] = dist_c
        return n

    def search(self, count: Count, r_first: float, r_last: float) -> Bracket | None:
        """Bracket (r_lo, n_lo, r_hi, n_hi) of n_add by a geometric scan and regula falsi."""
        radii = np.geomspace(r_first, max(r_last, r_first * 1.01), self.n_scan)
        counts = []
        for r in radii:  # the amount grows with the radius: stop at the first hit
            counts.append(count(float(r)))
            if counts[-1] >= self.n_add:
                break
        if counts[-1] < self.n_add:
            return None
        i = len(counts) - 1
        if i == 0:
            r_lo, n_lo = 0.0, 0
        else:
            r_lo, n_lo = float(radii[i - 1]), counts[i - 1]
        r_hi, n_hi = float(radii[i]), counts[i]
        return self.refine(count, r_lo, n_lo, r_hi, n_hi)

    def refine(self, count: Count, r_lo: float, n_lo: int, r_hi: float, n_hi: int) -> Bracket:
        """Safeguarded regula falsi / bisection on r: stop when the bracket is tight in voxels."""
        n_add = self.n_add
        tol = max(1, int(self.rel_tol * n_add))
        for _ in range(self.max_iter):
            # the amount is a step function of r: below 1/20 voxel the bracket cannot improve
            if n_hi - n_add <= tol or r_hi - r_lo <= 0.05 * self.h:
                break
            span = r_hi - r_lo
            t = (n_add - n_lo) / max(n_hi - n_lo, 1)
            r_mid = r_lo + span * min(max(t, 0.25), 0.75)
            n_mid = count(r_mid)
            if n_mid >= n_add:
                r_hi, n_hi = r_mid, n_mid
            else:
                r_lo, n_lo = r_mid, n_mid
        return r_lo, n_lo, r_hi, n_hi


def _coarse_amount(s: _RadiusSearch) -> tuple[Count, float, dict[float, int]]:
    """The amount on every second voxel (the sub-grid's own distance transform, the
    full-resolution wall distance and curvature of its voxels), counts scaled to the full
    grid; also the sub-grid's top radius and its memo."""
    sub = np.zeros(s.pore.shape, dtype=bool)
    sub[::2, ::2, ::2] = True
    on_sub = sub.ravel()[s.flat_pore]
    del sub
    sub_pore = s.pore[::2, ::2, ::2]
    flat_sub = np.flatnonzero(sub_pore)
    w_sub, k_sub = s.w_pore[on_sub], s.kappa[on_sub]
    scale = s.flat_pore.size / max(flat_sub.size, 1)
    vs2 = tuple(2.0 * v for v in s.vs)
    coarse_cache: dict[float, int] = {}

    def coarse_amount(rho: float) -> int:
        if rho not in coarse_cache:
            ok = _allowed(rho, w_sub, k_sub, s.cos_t)
            if not ok.any():
                coarse_cache[rho] = -1
            else:
                centres = np.ones(sub_pore.shape, dtype=np.uint8)
                centres.ravel()[flat_sub[ok]] = 0
                dist_c = _edt(centres, vs2).ravel()[flat_sub]
                coarse_cache[rho] = int(round(scale * np.count_nonzero(dist_c > rho + s.half)))
        return coarse_cache[rho]

    return coarse_amount, _top_radius(w_sub, k_sub, s.cos_t), coarse_cache


def _coarse_bracket(s: _RadiusSearch, r_lo_scan: float) -> tuple[Bracket | None, int]:
    """Full-resolution bracket started from the radius found on every second voxel.

    Returns the bracket (None if none was found) and the number of coarse evaluations.
    """
    coarse_amount, coarse_top, coarse_cache = _coarse_amount(s)
    found = s.search(coarse_amount, r_lo_scan, coarse_top)
    coarse_evaluations = len(coarse_cache)
    if found is None:
        return None, coarse_evaluations
    c_lo, _, c_hi, _ = found
    r_c = c_hi
    # full resolution: widen a bracket around the coarse radius until it holds n_add
    n_add, amount = s.n_add, s.amount
    step = max(2.0 * (c_hi - c_lo), 0.02 * r_c, s.h)
    n_c = amount(r_c)
    if n_c >= n_add:
        r_hi, n_hi = r_c, n_c
        r_lo, n_lo = r_c, n_c
        while n_lo >= n_add and r_lo > 0.0:
            r_lo = max(r_lo - step, 0.0)
            n_lo = amount(r_lo) if r_lo > 0.0 else 0
            if n_lo >= n_add:
                r_hi, n_hi = r_lo, n_lo
            step *= 2.0
    else:
        r_lo, n_lo = r_c, n_c
        r_hi, n_hi = r_c, n_c
        while 0 <= n_hi < n_add and r_hi < s.rho_top:
            r_hi = min(r_hi + step, s.rho_top)
            n_hi = amount(r_hi)
            if 0 <= n_hi < n_add:
                r_lo, n_lo = r_hi, n_hi
            step *= 2.0
    if n_hi >= n_add and n_lo < n_add:
        return s.refine(amount, r_lo, max(n_lo, 0), r_hi, n_hi), coarse_evaluations
    return None, coarse_evaluations


def _select(
    s: _RadiusSearch, bracket: Bracket | None, r_lo_scan: float, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """The CBD mask at the bracket's upper radius, trimmed to exactly ``n_add`` voxels; without
    a bracket, the largest amount any radius holds (``fallback``)."""
    half, flat_pore, kept = s.half, s.flat_pore, s.kept
    if bracket is None:
        radii = np.geomspace(r_lo_scan, max(s.rho_top, r_lo_scan * 1.01), s.n_scan)
        counts = [s.amount(float(r)) for r in radii]
        i_best = int(np.argmax(counts))
        r_best = float(radii[i_best])
        n_best = s.amount(r_best, keep=True)
        dist_c = kept[r_best]
        mask = np.zeros(s.pore.shape, dtype=bool)
        mask.ravel()[flat_pore[dist_c > r_best + half]] = True
        return mask, {"ball_radius_nm": r_best, "fallback": True, "contact_angle_voxels": n_best}
    r_hi = bracket[2]
    s.amount(r_hi, keep=True)
    dist_c = kept[r_hi]
    sel = np.flatnonzero(dist_c > r_hi + half)
    # keep the n_add voxels farthest from the gas balls: the meniscus recedes uniformly
    keep = _take_ranked(flat_pore[sel], -dist_c[sel], s.n_add, _tie_key(rng))
    mask = np.zeros(s.pore.shape, dtype=bool)
    mask.ravel()[keep] = True
    return mask, {"ball_radius_nm": r_hi, "fallback": False, "contact_angle_voxels": s.n_add}


def _contact_angle_fill(
    pore: np.ndarray,
    vs: tuple[float, float, float],
    n_add: int,
    theta_deg: float,
    rng: np.random.Generator,
    *,
    curvature: bool = True,
    n_scan: int = 8,
    max_iter: int = 14,
    rel_tol: float = 0.01,
    coarse_min_voxels: int = COARSE_SEARCH_VOXELS,
    max_void_diameter_nm: float | None = None,
    distribution: str = "contact",
    tick: Callable[[], None] | None = None,
    geometry_cache: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Boolean mask of ``n_add`` pore voxels forming the CBD at contact angle ``theta_deg``.

    The ball radius is searched by a scan and a safeguarded regula falsi, one Euclidean
    distance transform of the whole volume per radius tried. On volumes of at least
    ``coarse_min_voxels`` the search first runs on every second voxel along each axis (the
    same centre condition, evaluated with the full-resolution wall distance and curvature of
    those voxels; 1/8 of the cost) and the full-resolution search then starts from a bracket
    around that radius (typically 3-5 full-resolution transforms instead of 12-16).

    With ``max_void_diameter_nm``, an equilibrium that needs gas balls wider than that keeps
    balls of that diameter on a subset of the allowed centres, ordered by ``distribution``
    (:func:`microstructure.cbd._void_fill.void_filling_gas`): the CBD fills the voids.

    ``geometry_cache``: a dict kept by the caller across calls on the same pore space (a
    calibration); the wall distances and curvatures, which do not depend on the angle or
    the amount, are computed once (the pore mask is checked by a digest).
    """
    cos_t = math.cos(math.radians(theta_deg))
    s = _RadiusSearch(
        pore,
        vs,
        n_add,
        cos_t,
        curvature=curvature,
        theta_deg=theta_deg,
        n_scan=n_scan,
        max_iter=max_iter,
        rel_tol=rel_tol,
        geometry_cache=geometry_cache,
    )
    if max_void_diameter_nm is not None:
        filled = _void_regime(s, 0.5 * float(max_void_diameter_nm), distribution, rng, tick)
        if filled is not None:
            return filled
    r_lo_scan = 0.5 * s.h
    bracket = None
    coarse_evaluations = 0
    if pore.size >= coarse_min_voxels and min(pore.shape) >= 8:
        bracket, coarse_evaluations = _coarse_bracket(s, r_lo_scan)
    if bracket is None:
        # coarse geometric scan from half a voxel up to the last radius with centres
        bracket = s.search(s.amount, r_lo_scan, s.rho_top)
    mask, info = _select(s, bracket, r_lo_scan, rng)
    info["void_filling"] = False
    info["evaluations"] = len(s.cache)
    info["coarse_evaluations"] = coarse_evaluations
    return mask, info


def _void_regime(
    s: _RadiusSearch,
    rho_cap: float,
    distribution: str,
    rng: np.random.Generator,
    tick: Callable[[], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The void-filling CBD when the equilibrium needs balls wider than ``2 rho_cap``
    (None when the equilibrium radius is at most ``rho_cap``: the usual search applies)."""
    from microstructure.cbd._void_fill import void_filling_gas

    key = (float(rho_cap), float(s.cos_t))
    known = s.open_counts.get(key) if s.open_counts is not None else None
    if known is not None and 0 <= known < s.n_add:
        n_cap = known  # the void regime again: the count alone is needed
    else:
        n_cap = s.amount(rho_cap)
        if s.open_counts is not None:
            s.open_counts[key] = n_cap
    if n_cap < 0 or n_cap >= s.n_add:
        return None
    ok = _allowed(rho_cap, s.w_pore, s.kappa, s.cos_t)
    gas_indices, vinfo = void_filling_gas(
        s.pore,
        s.vs,
        flat_pore=s.flat_pore,
        allowed=ok,
        w_pore=s.w_pore,
        rho_nm=rho_cap,
        half_nm=s.half,
        n_gas=s.flat_pore.size - s.n_add,
        n_all=s.flat_pore.size - n_cap,
        distribution=distribution,
        tie_key=_tie_key(rng),
        tick=tick,
    )
    mask = s.pore.copy()
    mask.ravel()[gas_indices] = False
    info = {
        "ball_radius_nm": rho_cap,
        "fallback": False,
        "contact_angle_voxels": s.n_add,
        "void_filling": True,
        "evaluations": len(s.cache),
        "coarse_evaluations": 0,
        **vinfo,
    }
    return mask, info
