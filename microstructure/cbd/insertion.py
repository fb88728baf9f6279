"""Insert a carbon-binder domain (CBD) into the pore space of a labels volume.

The CBD cannot be segmented from FIB/SEM data at the resolution needed for the active material
(seed 000, section 2), so it is modelled geometrically after segmentation. Three methods share
one interface, :func:`insert_cbd`:

``"contact-angle"`` (default)
    Morphological equilibrium of a wetting liquid (the CBD) and a non-wetting "gas" in the
    pore space. With ``d`` the Euclidean distance of each pore voxel to the nearest solid
    voxel, the gas for a ball radius ``r`` is the union of balls of radius ``r`` centred on
    pore voxels where the ball meets the nearest wall at ``theta`` or less steeply, restricted
    to the pore space; the CBD is the rest of the pore space. On a flat wall that is
    ``d >= r cos(theta)``; on a wall of mean curvature ``kappa`` (estimated from the solid
    and looked up at the nearest wall) it is ``2 d + kappa (d^2 - r^2) >= 2 r cos(theta)``,
    the two-sphere law of cosines, so the angle is right on particles of any size. The angle
    is measured through the CBD: ``theta = 0`` gives pendular bridges tangent to the active
    material and larger angles flatter bridges. The CBD amount rises with
    ``r``; ``r`` is found by a safeguarded bisection and the target is then hit exactly by
    removing the CBD voxels nearest to the gas balls (the meniscus recedes uniformly: no
    random trimming, no specks).
``"bridge"``
    Fill the pore space by increasing local pore size (radius of the largest inscribed ball
    that contains the voxel, evaluated on a one-voxel radius ladder), the way NREL MATBOX's
    distance-based "bridge" additive generation favours the narrowest gaps; inside the last
    size class, voxels closest to the solid go first.
``"deposition"``
    Weighted random surface growth (after Mistry et al. 2018): pore voxels that touch a solid
    face are candidates, weighted by ``(1 - w) n_am + w n_cbd`` (face neighbours of active
    material and of CBD). ``w`` near 0 coats the active material as a film, near 1 grows
    agglomerates.

The target comes from the recipe through :func:`cbd_envelope_fraction` (seed 000 Table 1) or
is given directly as a fraction of the whole volume.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import edt
import numba
import numpy as np
from scipy import ndimage as ndi

from microstructure.volume import Phase, check_labels, parse_voxel_size

__all__ = [
    "CbdFallbackWarning",
    "cbd_envelope_fraction",
    "insert_cbd",
    "INSERTION_METHODS",
]

#: Names accepted by ``insert_cbd(method=...)``.
INSERTION_METHODS: tuple[str, ...] = ("contact-angle", "bridge", "deposition")

_EDT_THREADS = 2

#: Volumes with at least this many voxels search the contact-angle ball radius on every second
#: voxel first (``_contact_angle_fill``).
COARSE_SEARCH_VOXELS = 8_000_000


class CbdFallbackWarning(UserWarning):
    """The contact-angle method could not reach the target and surface deposition finished it."""


def cbd_envelope_fraction(
    am_fraction: float,
    *,
    cbd_to_am_volume_ratio: float,
    cbd_porosity: float = 0.502,
) -> float:
    """CBD envelope volume fraction implied by the recipe and the segmented active material.

    ``V_cbd_solid = V_am * cbd_to_am_volume_ratio`` and the envelope (solid plus its
    nanopores) is ``V_cbd_solid / (1 - cbd_porosity)``.

    Parameters
    ----------
    am_fraction
        Active-material volume fraction of the whole volume (0..1), e.g. ``(labels == 1).mean()``.
    cbd_to_am_volume_ratio
        Solid volume of CBD per solid volume of active material from the recipe, e.g. seed 000
        Table 1: ``11.46 / 88.54``.
    cbd_porosity
        Porosity of the CBD (0..1); 0.502 in seed 000.

    Returns
    -------
    float
        CBD envelope volume as a fraction of the whole volume.

    Raises
    ------
    ValueError
        For values outside their ranges.
    """
    am = _finite_float(am_fraction, "am_fraction")
    ratio = _finite_float(cbd_to_am_volume_ratio, "cbd_to_am_volume_ratio")
    eps = _finite_float(cbd_porosity, "cbd_porosity")
    if not 0.0 <= am <= 1.0:
        raise ValueError(f"am_fraction: must be in [0, 1], got {am}")
    if ratio < 0.0:
        raise ValueError(f"cbd_to_am_volume_ratio: must be >= 0, got {ratio}")
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"cbd_porosity: must be in [0, 1), got {eps}")
    return am * ratio / (1.0 - eps)


def insert_cbd(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    volume_fraction: float,
    contact_angle_deg: float = 40.0,
    method: Literal["contact-angle", "bridge", "deposition"] = "contact-angle",
    seed: int = 0,
    morphology_w: float = 0.5,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Distribute a non-porous CBD (label 2) in the pore space (label 0).

    Parameters
    ----------
    labels
        Labels volume (z, y, x): 0 pore, 1 AM, 2 CBD, 3 CBD pore. Voxels already labelled 2 or
        3 count towards the target and act as solid.
    voxel_size_nm
        Voxel size (z, y, x) in nm (scalar for cubic voxels).
    volume_fraction
        Target CBD envelope (labels 2 + 3) as a fraction of the whole volume, in (0, 1).
    contact_angle_deg
        Contact angle between CBD and active material in degrees, in [0, 90) (method
        ``"contact-angle"`` only; 40 deg in seed 000).
    method
        ``"contact-angle"``, ``"bridge"`` or ``"deposition"`` (see the module docstring).
    seed
        Seed of the random tie-breaking (and of the growth for ``"deposition"``).
    morphology_w
        Weight of CBD neighbours against AM neighbours for ``"deposition"`` (0..1).
    return_info
        Also return a JSON-ready dict: method used, ball radius, whether a fallback happened.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, dict)
        New uint8 labels volume (the input is not modified) with exactly
        ``round(volume_fraction * labels.size)`` voxels labelled 2 or 3.

    Raises
    ------
    ValueError
        No pore space, a target larger than the pore space or smaller than the CBD already
        present, an angle outside [0, 90), an unknown method.

    Warns
    -----
    CbdFallbackWarning
        When a large contact angle cannot hold the requested amount: the reachable amount is
        inserted with the contact angle and surface deposition adds the rest.
    """
    lab = check_labels(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    frac = _finite_float(volume_fraction, "volume_fraction")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"volume_fraction: must be in (0, 1), got {frac}")
    theta = _finite_float(contact_angle_deg, "contact_angle_deg")
    if not 0.0 <= theta < 90.0:
        raise ValueError(
            f"contact_angle_deg: must be in [0, 90) degrees for a wetting CBD, got {theta}"
        )
    if method not in INSERTION_METHODS:
        raise ValueError(f"method: expected one of {', '.join(INSERTION_METHODS)}, got {method!r}")
    w = _finite_float(morphology_w, "morphology_w")
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"morphology_w: must be in [0, 1], got {w}")

    pore = lab == Phase.PORE
    n_pore = int(np.count_nonzero(pore))
    if n_pore == 0:
        raise ValueError("labels: no pore space (phase 0) to put the CBD into")
    n_target = int(round(frac * lab.size))
    n_existing = int(np.count_nonzero((lab == Phase.CBD) | (lab == Phase.CBD_PORE)))
    n_add = n_target - n_existing
    if n_add < 0:
        raise ValueError(
            f"volume_fraction: {frac:.4f} is below the CBD already present "
            f"({n_existing / lab.size:.4f}); remove it first"
        )
    if n_add > n_pore:
        raise ValueError(
            f"volume_fraction: {frac:.4f} exceeds the pore space available for CBD "
            f"({(n_pore + n_existing) / lab.size:.4f} of the volume)"
        )
    if not np.any(lab == Phase.AM) and method != "bridge" and n_existing == 0:
        raise ValueError("labels: no active material (phase 1) for the CBD to attach to")

    rng = np.random.default_rng(seed)
    info: dict[str, Any] = {
        "method": method,
        "contact_angle_deg": theta if method == "contact-angle" else None,
        "target_voxels": n_target,
        "added_voxels": n_add,
        "fallback": False,
    }
    out = lab.copy()
    if n_add > 0:
        if method == "contact-angle":
            add_mask, cinfo = _contact_angle_fill(pore, vs, n_add, theta, rng)
            info.update(cinfo)
            if cinfo["fallback"]:
                out[add_mask] = Phase.CBD
                _deposit(out, n_add - int(cinfo["contact_angle_voxels"]), w, rng)
                warnings.warn(
                    f"contact angle {theta:g} deg holds at most "
                    f"{cinfo['contact_angle_voxels'] / lab.size:.4f} of the volume as CBD; "
                    f"surface deposition added the rest to reach {frac:.4f}",
                    CbdFallbackWarning,
                    stacklevel=2,
                )
                add_mask = None
        elif method == "bridge":
            add_mask, binfo = _bridge_fill(pore, vs, n_add, rng)
            info.update(binfo)
        else:
            _deposit(out, n_add, w, rng)
            info["morphology_w"] = w
            add_mask = None
        if add_mask is not None:
            out[add_mask] = Phase.CBD
    if return_info:
        return out, info
    return out


# ----------------------------------------------------------------------------- helpers


def _finite_float(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return v


def _mean_voxel(vs: tuple[float, float, float]) -> float:
    """Geometric-mean voxel edge (nm), the half-voxel wall offset for anisotropic voxels."""
    return float(np.prod(vs) ** (1.0 / 3.0))


def _edt(mask: np.ndarray, vs: tuple[float, float, float]) -> np.ndarray:
    """Distance (nm) of every nonzero voxel to the nearest zero voxel (outside = nonzero)."""
    return edt.edt(
        np.ascontiguousarray(mask, dtype=np.uint8),
        anisotropy=vs,
        black_border=False,
        parallel=_EDT_THREADS,
    )


def _take_ranked(candidates: np.ndarray, key: np.ndarray, n: int, rng: np.random.Generator):
    """Flat indices of the ``n`` candidates with the smallest ``key``; ties broken at random.

    ``candidates`` are flat indices, ``key`` their keys (same length).
    """
    if n >= candidates.size:
        return candidates
    if n <= 0:
        return candidates[:0]
    kth = np.partition(key, n - 1)[n - 1]
    below = candidates[key < kth]
    tied = candidates[key == kth]
    need = n - below.size
    pick = rng.choice(tied.size, size=need, replace=False) if need < tied.size else slice(None)
    return np.concatenate([below, tied[pick]])


# ------------------------------------------------------------------- contact-angle method


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
) -> tuple[np.ndarray, dict[str, Any]]:
    """Boolean mask of ``n_add`` pore voxels forming the CBD at contact angle ``theta_deg``.

    The ball radius is searched by a scan and a safeguarded regula falsi, one Euclidean
    distance transform of the whole volume per radius tried. On volumes of at least
    ``coarse_min_voxels`` the search first runs on every second voxel along each axis (the
    same centre condition, evaluated with the full-resolution wall distance and curvature of
    those voxels; 1/8 of the cost) and the full-resolution search then starts from a bracket
    around that radius (typically 3-5 full-resolution transforms instead of 12-16).
    """
    cos_t = math.cos(math.radians(theta_deg))
    h = min(vs)
    # Discretisation: a voxel is gas when a ball of radius rho reaches within half a voxel of
    # its centre, i.e. when its centre lies within rho + h/2 of the ball centre (this leaves
    # no spurious one-voxel film on flat walls). Distances d are to solid voxel centres; the
    # solid surface lies h/2 closer, so the wall distance is w = d - h/2. A centre is allowed
    # when w >= w*(rho, kappa), the distance at which the ball meets the wall at theta,
    # measured through the CBD (_centre_distance): rho cos(theta) on a flat wall, more on a
    # convex particle of mean curvature kappa (nearest wall, _wall_curvature). With the
    # flat-wall condition alone a ball meets a sphere of radius R at theta_eff,
    # cos(theta_eff) = cos(theta) - rho sin(theta)^2 / (2 R): too steep when rho ~ R.
    half = 0.5 * _mean_voxel(vs)
    d_in = _edt(pore, vs)
    flat_pore = np.flatnonzero(pore)
    w_pore = d_in.ravel()[flat_pore] - np.float32(half)
    del d_in
    if curvature and theta_deg > 0.0:
        kappa = _wall_curvature(pore, vs, flat_pore)
    else:
        kappa = np.zeros(w_pore.size, dtype=np.float32)

    def top_radius(w: np.ndarray, k: np.ndarray) -> float:
        """Largest rho with a centre left: solve w = w*(rho, kappa) for rho, per voxel."""
        b = 2.0 * w + k * w * w
        return float(np.max(b / (cos_t + np.sqrt(cos_t * cos_t + k * b)))) * (1.0 - 1e-6)

    rho_top = top_radius(w_pore, kappa)

    cache: dict[float, int] = {}
    # distances to the centres of the smallest radius found so far that holds n_add voxels
    # (the final selection needs them; keeping them saves one transform)
    kept: dict[float, np.ndarray] = {}

    def allowed(rho: float, w: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Which of the voxels with wall distance w, curvature k may hold a ball centre."""
        # kappa >= 0, so rho cos(theta) <= w* <= rho: decide the band in between per voxel
        ok = w >= np.float32(rho)
        band = np.flatnonzero(~ok & (w >= np.float32(rho * cos_t)))
        if band.size:
            ok[band] = w[band] >= _centre_distance(rho, cos_t, k[band])
        return ok

    def amount(rho: float, keep: bool = False) -> int:
        """CBD voxel count at ball radius rho (-1: no centre left)."""
        if rho in cache and (not keep or rho in kept or cache[rho] < 0):
            return cache[rho]
        ok = allowed(rho, w_pore, kappa)
        if not ok.any():
            # no ball fits: everything would be CBD, which is not a wetting equilibrium
            cache[rho] = -1
            return -1
        centres = np.ones(pore.shape, dtype=np.uint8)
        centres.ravel()[flat_pore[ok]] = 0
        # distance of every voxel to the nearest centre (centres are the zeros)
        dist_c = _edt(centres, vs).ravel()[flat_pore]
        del centres
        n = int(np.count_nonzero(dist_c > rho + half))
        cache[rho] = n
        if keep or (n >= n_add and all(rho < r for r in kept)):
            kept.clear()
            kept[rho] = dist_c
        return n

    def search(count, r_first: float, r_last: float) -> tuple[float, int, float, int] | None:
        """Bracket (r_lo, n_lo, r_hi, n_hi) of n_add by a geometric scan and regula falsi."""
        radii = np.geomspace(r_first, max(r_last, r_first * 1.01), n_scan)
        counts = []
        for r in radii:  # the amount grows with the radius: stop at the first hit
            counts.append(count(float(r)))
            if counts[-1] >= n_add:
                break
        if counts[-1] < n_add:
            return None
        i = len(counts) - 1
        if i == 0:
            r_lo, n_lo = 0.0, 0
        else:
            r_lo, n_lo = float(radii[i - 1]), counts[i - 1]
        r_hi, n_hi = float(radii[i]), counts[i]
        return refine(count, r_lo, n_lo, r_hi, n_hi)

    def refine(count, r_lo: float, n_lo: int, r_hi: float, n_hi: int):
        # safeguarded regula falsi / bisection on r: stop when the bracket is tight in voxels
        tol = max(1, int(rel_tol * n_add))
        for _ in range(max_iter):
            # the amount is a step function of r: below 1/20 voxel the bracket cannot improve
            if n_hi - n_add <= tol or r_hi - r_lo <= 0.05 * h:
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

    r_lo_scan = 0.5 * h
    bracket = None
    coarse_evaluations = 0
    if pore.size >= coarse_min_voxels and min(pore.shape) >= 8:
        # the same search on every second voxel (the sub-grid's own distance transform,
        # the full-resolution wall distance and curvature of its voxels), counts scaled
        sub = np.zeros(pore.shape, dtype=bool)
        sub[::2, ::2, ::2] = True
        on_sub = sub.ravel()[flat_pore]
        del sub
        sub_pore = pore[::2, ::2, ::2]
        flat_sub = np.flatnonzero(sub_pore)
        w_sub, k_sub = w_pore[on_sub], kappa[on_sub]
        scale = flat_pore.size / max(flat_sub.size, 1)
        vs2 = tuple(2.0 * v for v in vs)
        coarse_cache: dict[float, int] = {}

        def coarse_amount(rho: float) -> int:
            if rho not in coarse_cache:
                ok = allowed(rho, w_sub, k_sub)
                if not ok.any():
                    coarse_cache[rho] = -1
                else:
                    centres = np.ones(sub_pore.shape, dtype=np.uint8)
                    centres.ravel()[flat_sub[ok]] = 0
                    dist_c = _edt(centres, vs2).ravel()[flat_sub]
                    coarse_cache[rho] = int(
                        round(scale * np.count_nonzero(dist_c > rho + half))
                    )
            return coarse_cache[rho]

        found = search(coarse_amount, r_lo_scan, top_radius(w_sub, k_sub))
        coarse_evaluations = len(coarse_cache)
        if found is not None:
            c_lo, _, c_hi, _ = found
            r_c = c_hi
            # full resolution: widen a bracket around the coarse radius until it holds n_add
            step = max(2.0 * (c_hi - c_lo), 0.02 * r_c, h)
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
                while 0 <= n_hi < n_add and r_hi < rho_top:
                    r_hi = min(r_hi + step, rho_top)
                    n_hi = amount(r_hi)
                    if 0 <= n_hi < n_add:
                        r_lo, n_lo = r_hi, n_hi
                    step *= 2.0
            if n_hi >= n_add and n_lo < n_add:
                bracket = refine(amount, r_lo, max(n_lo, 0), r_hi, n_hi)
    if bracket is None:
        # coarse geometric scan from half a voxel up to the last radius with centres
        bracket = search(amount, r_lo_scan, rho_top)
    if bracket is None:
        radii = np.geomspace(r_lo_scan, max(rho_top, r_lo_scan * 1.01), n_scan)
        counts = [amount(float(r)) for r in radii]
        i_best = int(np.argmax(counts))
        r_best = float(radii[i_best])
        n_best = amount(r_best, keep=True)
        dist_c = kept[r_best]
        mask = np.zeros(pore.shape, dtype=bool)
        mask.ravel()[flat_pore[dist_c > r_best + half]] = True
        return mask, {
            "ball_radius_nm": r_best,
            "fallback": True,
            "contact_angle_voxels": n_best,
            "evaluations": len(cache),
            "coarse_evaluations": coarse_evaluations,
        }
    r_hi = bracket[2]
    amount(r_hi, keep=True)
    dist_c = kept[r_hi]
    sel = np.flatnonzero(dist_c > r_hi + half)
    # keep the n_add voxels farthest from the gas balls: the meniscus recedes uniformly
    keep = _take_ranked(flat_pore[sel], -dist_c[sel], n_add, rng)
    mask = np.zeros(pore.shape, dtype=bool)
    mask.ravel()[keep] = True
    return mask, {
        "ball_radius_nm": r_hi,
        "fallback": False,
        "contact_angle_voxels": n_add,
        "evaluations": len(cache),
        "coarse_evaluations": coarse_evaluations,
    }


# ------------------------------------------------------------------------- bridge method


def _bridge_fill(
    pore: np.ndarray,
    vs: tuple[float, float, float],
    n_add: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fill the ``n_add`` pore voxels of smallest local pore size (ties: closest to solid)."""
    h = min(vs)
    d = _edt(pore, vs)
    d_max = float(d.max())
    flat_pore = np.flatnonzero(pore)
    d_pore = d.ravel()[flat_pore]
    del d

    def small_pores(r: float) -> np.ndarray:
        """Boolean over pore voxels: local pore radius < r (not inside any ball of radius r)."""
        centres = np.ones(pore.shape, dtype=np.uint8)
        centres.ravel()[flat_pore[d_pore >= r]] = 0
        dist_c = _edt(centres, vs).ravel()[flat_pore]
        return dist_c > r

    # one-voxel radius ladder; find the first rung holding at least n_add voxels
    ladder = np.arange(1, int(math.ceil(d_max / h)) + 2) * h
    lo, hi = -1, ladder.size - 1
    small_hi = None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        s = small_pores(float(ladder[mid]))
        if np.count_nonzero(s) >= n_add:
            hi, small_hi = mid, s
        else:
            lo = mid
    if small_hi is None:
        small_hi = small_pores(float(ladder[hi]))
    small_lo = small_pores(float(ladder[lo])) if lo >= 0 else np.zeros(flat_pore.size, dtype=bool)
    chosen = flat_pore[small_lo]
    shell = np.flatnonzero(small_hi & ~small_lo)
    extra = _take_ranked(flat_pore[shell], d_pore[shell], n_add - chosen.size, rng)
    mask = np.zeros(pore.shape, dtype=bool)
    mask.ravel()[chosen] = True
    mask.ravel()[extra] = True
    return mask, {"pore_radius_class_nm": float(ladder[hi])}


# --------------------------------------------------------------------- deposition method


def _face_neighbour_count(mask: np.ndarray) -> np.ndarray:
    """Number of the six face neighbours of each voxel that are in ``mask`` (uint8)."""
    m = mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8)
    n = np.zeros(mask.shape, dtype=np.uint8)
    n[1:] += m[:-1]
    n[:-1] += m[1:]
    n[:, 1:] += m[:, :-1]
    n[:, :-1] += m[:, 1:]
    n[:, :, 1:] += m[:, :, :-1]
    n[:, :, :-1] += m[:, :, 1:]
    return n


def _deposit(
    out: np.ndarray,
    n_add: int,
    w: float,
    rng: np.random.Generator,
    *,
    batch_fraction: float = 0.02,
) -> None:
    """Grow ``n_add`` CBD voxels into the pore space of ``out`` (in place, private array).

    Each round, pore voxels with a solid face neighbour are candidates with weight
    ``(1 - w) n_am + w n_cbd``; a batch is drawn without replacement in proportion to the
    weights (Efraimidis-Spirakis keys). The last batch is sized to hit ``n_add`` exactly.
    """
    batch = max(1, int(batch_fraction * n_add))
    remaining = n_add
    while remaining > 0:
        pore = out == Phase.PORE
        n_am = _face_neighbour_count(out == Phase.AM)
        cbd = (out == Phase.CBD) | (out == Phase.CBD_PORE)
        n_cbd = _face_neighbour_count(cbd)
        cand = np.flatnonzero(pore & ((n_am > 0) | (n_cbd > 0)))
        if cand.size == 0:
            # pore regions with no solid at all: fill them from the largest remaining ones
            cand = np.flatnonzero(pore)
            weight = np.ones(cand.size)
        else:
            weight = (1.0 - w) * n_am.ravel()[cand] + w * n_cbd.ravel()[cand]
            weight = weight + 1e-6  # every candidate stays possible
        k = min(batch, remaining, cand.size)
        keys = np.log(rng.random(cand.size)) / weight
        pick = cand[np.argpartition(-keys, k - 1)[:k]] if k < cand.size else cand
        out.ravel()[pick] = Phase.CBD
        remaining -= pick.size
