"""Nanoporosity of the carbon-binder domain (CBD).

Resolved (:func:`add_nanopores`): random straight cylinders with isotropic orientations and
Gaussian diameters (truncated below at the voxel length, 37.2 nm in Beuse et al. 2021 [1]_) are
carved into the CBD solid (label 2 -> 3) until the CBD porosity (label 3 / labels 2 + 3) reaches
the target (50.2 % in [1]_); the last cylinder is trimmed by radius so the target is hit exactly.

Unresolved (:func:`unresolved_cbd_properties`): the CBD stays a grey phase; its porosity,
pore-diameter distribution and M-factor go into the volume metadata for the hybrid MIP curve
and the transport formulas.

Measuring back (:func:`nanopore_diameters`): exact local thickness (largest inscribed ball)
of label 3, converted to a number distribution of cylinder diameters.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

import math
from typing import Any

import edt
import numba
import numpy as np
from scipy import stats

from microstructure.cbd.defaults import (
    DEFAULT_CBD_POROSITY,
    DEFAULT_NANOPORE_MEAN_NM,
    DEFAULT_NANOPORE_STD_NM,
)
from microstructure.volume import Phase, check_labels, parse_voxel_size

__all__ = ["add_nanopores", "nanopore_diameters", "unresolved_cbd_properties"]


def _finite(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return v


def _check_distribution(
    porosity: Any, mean_diameter_nm: Any, std_diameter_nm: Any, min_diameter_nm: Any
) -> tuple[float, float, float, float]:
    eps = _finite(porosity, "porosity")
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"porosity: must be in [0, 1), got {eps}")
    mean = _finite(mean_diameter_nm, "mean_diameter_nm")
    if mean <= 0:
        raise ValueError(f"mean_diameter_nm: must be > 0, got {mean}")
    std = _finite(std_diameter_nm, "std_diameter_nm")
    if std < 0:
        raise ValueError(f"std_diameter_nm: must be >= 0, got {std}")
    dmin = _finite(min_diameter_nm, "min_diameter_nm")
    if dmin <= 0:
        raise ValueError(f"min_diameter_nm: must be > 0, got {dmin}")
    if std == 0 and mean < dmin:
        raise ValueError(
            f"mean_diameter_nm: {mean} nm is below min_diameter_nm {dmin} nm with no spread"
        )
    if std > 0 and (mean - dmin) / std < -6:
        raise ValueError(
            f"mean_diameter_nm: {mean} nm lies more than 6 std below min_diameter_nm {dmin} nm"
        )
    return eps, mean, std, dmin


def _truncated_gaussian(mean: float, std: float, dmin: float):
    """Frozen scipy distribution of diameters (nm): Gaussian truncated below at dmin."""
    if std == 0:
        return None
    return stats.truncnorm((dmin - mean) / std, np.inf, loc=mean, scale=std)


def _volume_weighted_moments(dist, fixed: float) -> dict[str, float]:
    """Mean/std of the diameter seen per pore volume (weight D**2, equal-length cylinders)."""
    if dist is None:
        return {"volume_weighted_mean_nm": fixed, "volume_weighted_std_nm": 0.0}
    m2 = dist.moment(2)
    m3 = dist.moment(3)
    m4 = dist.moment(4)
    mean_v = m3 / m2
    var_v = max(m4 / m2 - mean_v**2, 0.0)
    return {"volume_weighted_mean_nm": float(mean_v), "volume_weighted_std_nm": math.sqrt(var_v)}


def add_nanopores(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    porosity: float = DEFAULT_CBD_POROSITY,
    mean_diameter_nm: float = DEFAULT_NANOPORE_MEAN_NM,
    std_diameter_nm: float = DEFAULT_NANOPORE_STD_NM,
    seed: int = 0,
    min_diameter_nm: float | None = None,
    length_nm: float | None = None,
    centres: str = "cbd",
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Carve fibrous nanopores (label 3) into the CBD (label 2).

    Parameters
    ----------
    labels
        Labels volume (z, y, x) with CBD (label 2); label 3 already present counts as pore.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    porosity
        Target CBD porosity, label 3 / (labels 2 + 3), in [0, 1).
    mean_diameter_nm, std_diameter_nm
        Mean and standard deviation of the Gaussian of cylinder diameters (nm).
    seed
        Random seed (same seed, same volume).
    min_diameter_nm
        Truncation of the Gaussian from below; default the largest voxel edge (the voxel length).
    length_nm
        Cylinder length; default ten mean diameters.
    centres
        ``"cbd"``: cylinder centres drawn among the CBD voxels. ``"volume"``: drawn uniformly
        in the whole volume (a fixed random sequence of cylinders, carved where it meets the
        CBD): the same seed then gives the same fibres whatever the CBD mask, so a small
        change of the CBD changes the nanopores only a little (a fit needs that).
    return_info
        Also return a dict: cylinders carved, their diameters' mean/std, the set distribution.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, dict)
        New uint8 labels volume with exactly ``round(porosity * n_cbd)`` voxels of label 3,
        ``n_cbd`` being the number of labels 2 + 3 (the input is not modified).

    Raises
    ------
    ValueError
        No CBD, a porosity below the nanoporosity already present, bad distribution values.
    """
    lab = check_labels(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    dmin = max(vs) if min_diameter_nm is None else min_diameter_nm
    eps, mean, std, dmin = _check_distribution(porosity, mean_diameter_nm, std_diameter_nm, dmin)
    length = 10.0 * mean if length_nm is None else _finite(length_nm, "length_nm")
    if length <= 0:
        raise ValueError(f"length_nm: must be > 0, got {length}")
    if centres not in ("cbd", "volume"):
        raise ValueError(f"centres: expected 'cbd' or 'volume', got {centres!r}")
    n_env = int(np.count_nonzero((lab == Phase.CBD) | (lab == Phase.CBD_PORE)))
    if n_env == 0:
        raise ValueError("labels: no CBD (phase 2) to make porous; insert the CBD first")
    n_target = int(round(eps * n_env))
    n_have = int(np.count_nonzero(lab == Phase.CBD_PORE))
    if n_target < n_have:
        raise ValueError(
            f"porosity: {eps:.4f} is below the CBD nanoporosity already present "
            f"({n_have / n_env:.4f})"
        )
    out = lab.copy()
    rng = np.random.default_rng(seed)
    streams = [np.random.default_rng([seed, k]) for k in range(3)]
    dist = _truncated_gaussian(mean, std, dmin)
    vs_arr = np.asarray(vs, dtype=np.float64)
    need = n_target - n_have
    carved = 0
    n_cyl = 0
    diam_used: list[np.ndarray] = []
    batch = 64
    stalls = 0
    while carved < need:
        cbd_idx = np.flatnonzero(out == Phase.CBD)
        if cbd_idx.size == 0:
            break
        pts, dirs, diam = _draw_fibres(
            centres, batch, out.shape, cbd_idx, rng, streams, dist, max(mean, dmin)
        )
        got, used = _carve_cylinders(
            out, pts, dirs, 0.5 * diam, 0.5 * length, vs_arr, need - carved
        )
        if got == 0:
            stalls += 1
            if stalls > 50:
                break
        else:
            stalls = 0
        carved += got
        n_cyl += used
        diam_used.append(diam[:used])
        # grow the batch towards the number still needed
        per_cyl = max(carved / max(n_cyl, 1), 1.0)
        batch = int(min(max(64, 0.5 * (need - carved) / per_cyl), 20000))
    if carved < need:
        raise ValueError(
            f"porosity: could only carve {(n_have + carved) / n_env:.4f} of the CBD as pores"
        )
    if not return_info:
        return out
    return out, _nanopore_info(
        n_cyl, (n_have + carved) / n_env, diam_used, dist, mean, std, dmin, length
    )


def _draw_fibres(
    centres: str,
    batch: int,
    shape: tuple[int, ...],
    cbd_idx: np.ndarray,
    rng: np.random.Generator,
    streams: list[np.random.Generator],
    dist: Any,
    fixed_diameter: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (voxel units), unit directions and diameters (nm) of ``batch`` fibres."""
    if centres == "volume":
        # one stream per quantity: the fibre sequence does not depend on the batches
        pts = streams[0].uniform(-0.5, np.asarray(shape) - 0.5, size=(batch, 3))
        dirs = streams[1].normal(size=(batch, 3))
        u = streams[2].random(batch)
        diam = np.full(batch, fixed_diameter) if dist is None else dist.ppf(u)
    else:
        pts = np.column_stack(np.unravel_index(rng.choice(cbd_idx, size=batch), shape))
        pts = pts.astype(np.float64) + rng.uniform(-0.5, 0.5, size=(batch, 3))
        dirs = rng.normal(size=(batch, 3))
        if dist is None:
            diam = np.full(batch, fixed_diameter)
        else:
            diam = dist.rvs(size=batch, random_state=rng)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return pts, dirs, diam


def _nanopore_info(
    n_cyl: int,
    porosity: float,
    diam_used: list[np.ndarray],
    dist: Any,
    mean: float,
    std: float,
    dmin: float,
    length: float,
) -> dict[str, Any]:
    """The ``return_info`` dict of :func:`add_nanopores`."""
    d_all = np.concatenate(diam_used) if diam_used else np.zeros(0)
    info = {
        "cylinders": int(n_cyl),
        "porosity": porosity,
        "cylinder_diameter_mean_nm": float(d_all.mean()) if d_all.size else None,
        "cylinder_diameter_std_nm": float(d_all.std()) if d_all.size else None,
        "set_distribution": {
            "mean_diameter_nm": mean,
            "std_diameter_nm": std,
            "min_diameter_nm": dmin,
            "truncated_mean_nm": float(dist.mean()) if dist is not None else max(mean, dmin),
            "truncated_std_nm": float(dist.std()) if dist is not None else 0.0,
            **_volume_weighted_moments(dist, max(mean, dmin)),
        },
        "length_nm": length,
    }
    return info


@numba.njit(cache=True)
def _carve_cylinders(out, centres, dirs, radii, half_len, vs, need):  # pragma: no cover - numba
    """Carve cylinders (label 2 -> 3) in order until ``need`` voxels are carved.

    The cylinder that would overshoot keeps only its voxels closest to the axis (exact
    count). Returns (voxels carved, cylinders used).
    """
    nz, ny, nx = out.shape
    carved = 0
    for i in range(centres.shape[0]):
        cz, cy, cx = centres[i, 0], centres[i, 1], centres[i, 2]
        uz, uy, ux = dirs[i, 0], dirs[i, 1], dirs[i, 2]
        r = radii[i]
        r2 = r * r
        ez = (abs(uz) * half_len + r * math.sqrt(max(0.0, 1.0 - uz * uz))) / vs[0]
        ey = (abs(uy) * half_len + r * math.sqrt(max(0.0, 1.0 - uy * uy))) / vs[1]
        ex = (abs(ux) * half_len + r * math.sqrt(max(0.0, 1.0 - ux * ux))) / vs[2]
        z0 = max(0, int(math.floor(cz - ez)))
        z1 = min(nz - 1, int(math.ceil(cz + ez)))
        y0 = max(0, int(math.floor(cy - ey)))
        y1 = min(ny - 1, int(math.ceil(cy + ey)))
        x0 = max(0, int(math.floor(cx - ex)))
        x1 = min(nx - 1, int(math.ceil(cx + ex)))
        # first pass: count, to know whether this cylinder overshoots
        count = 0
        for z in range(z0, z1 + 1):
            pz = (z - cz) * vs[0]
            for y in range(y0, y1 + 1):
                py = (y - cy) * vs[1]
                for x in range(x0, x1 + 1):
                    if out[z, y, x] != 2:
                        continue
                    px = (x - cx) * vs[2]
                    t = pz * uz + py * uy + px * ux
                    if abs(t) > half_len:
                        continue
                    if pz * pz + py * py + px * px - t * t <= r2:
                        count += 1
        if count == 0:
            continue
        if carved + count <= need:
            for z in range(z0, z1 + 1):
                pz = (z - cz) * vs[0]
                for y in range(y0, y1 + 1):
                    py = (y - cy) * vs[1]
                    for x in range(x0, x1 + 1):
                        if out[z, y, x] != 2:
                            continue
                        px = (x - cx) * vs[2]
                        t = pz * uz + py * uy + px * ux
                        if abs(t) > half_len:
                            continue
                        if pz * pz + py * py + px * px - t * t <= r2:
                            out[z, y, x] = 3
            carved += count
            if carved == need:
                return carved, i + 1
            continue
        # overshoot: keep the (need - carved) voxels closest to the axis
        rr = np.empty(count)
        zz = np.empty(count, np.int64)
        yy = np.empty(count, np.int64)
        xx = np.empty(count, np.int64)
        k = 0
        for z in range(z0, z1 + 1):
            pz = (z - cz) * vs[0]
            for y in range(y0, y1 + 1):
                py = (y - cy) * vs[1]
                for x in range(x0, x1 + 1):
                    if out[z, y, x] != 2:
                        continue
                    px = (x - cx) * vs[2]
                    t = pz * uz + py * uy + px * ux
                    if abs(t) > half_len:
                        continue
                    q = pz * pz + py * py + px * px - t * t
                    if q <= r2:
                        rr[k] = q
                        zz[k] = z
                        yy[k] = y
                        xx[k] = x
                        k += 1
        order = np.argsort(rr, kind="mergesort")
        for j in range(need - carved):
            o = order[j]
            out[zz[o], yy[o], xx[o]] = 3
        return need, i + 1
    return carved, centres.shape[0]


@numba.njit(cache=True)
def _paint_balls(centres, radii, vs, shape):  # pragma: no cover - numba
    """Local thickness: for every voxel, the largest radius of the given balls covering it."""
    lt = np.zeros(shape, np.float32)
    nz, ny, nx = shape
    for i in range(centres.shape[0]):
        cz, cy, cx = centres[i, 0], centres[i, 1], centres[i, 2]
        r = radii[i]
        r2 = r * r
        ez = int(r / vs[0])
        ey = int(r / vs[1])
        ex = int(r / vs[2])
        for z in range(max(0, cz - ez), min(nz, cz + ez + 1)):
            dz = (z - cz) * vs[0]
            for y in range(max(0, cy - ey), min(ny, cy + ey + 1)):
                dy = (y - cy) * vs[1]
                for x in range(max(0, cx - ex), min(nx, cx + ex + 1)):
                    dx = (x - cx) * vs[2]
                    if dz * dz + dy * dy + dx * dx < r2 and lt[z, y, x] < r:
                        lt[z, y, x] = r
    return lt


def nanopore_diameters(labels: np.ndarray, *, voxel_size_nm: Any) -> dict[str, Any]:
    """Granulometry of the resolved nanopores (label 3), read as cylinder diameters.

    Each label-3 voxel gets the diameter of the largest ball inside label 3 that covers it
    (exact local thickness from the Euclidean distance transform; a ball of radius ``d``
    reaching the nearest non-pore voxel centre covers the voxel cubes up to ``d - h/2``, so
    the diameter is ``2 d - h`` with ``h`` the geometric-mean voxel edge). The volume-weighted
    distribution is converted to a number distribution of equally long cylinders by weighting
    each voxel with ``1 / D**2``.

    Parameters
    ----------
    labels
        Labels volume with nanopores (label 3).
    voxel_size_nm
        Voxel size (z, y, x) in nm.

    Returns
    -------
    dict
        ``volume_mean_nm``, ``volume_std_nm``, ``volume_d50_nm`` (per pore volume; compare
        with ``volume_weighted_*`` of ``add_nanopores(..., return_info=True)``),
        ``number_mean_nm``, ``number_std_nm`` (cylinder-number estimate; the ``1/D**2``
        weights amplify voxel noise, expect a low bias of about one voxel), ``voxels`` and
        ``diameters_nm`` (per voxel).
    """
    lab = check_labels(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    pores = lab == Phase.CBD_PORE
    if not pores.any():
        raise ValueError("labels: no resolved nanopores (phase 3) to measure")
    d = edt.edt(pores.astype(np.uint8), anisotropy=vs, black_border=False, parallel=2)
    idx = np.argwhere(pores)
    radii = d[pores].astype(np.float64)
    order = np.argsort(-radii, kind="stable")
    lt = _paint_balls(idx[order].astype(np.int64), radii[order], np.asarray(vs), lab.shape)
    h = float(np.prod(vs) ** (1.0 / 3.0))
    diam = np.maximum(2.0 * lt[pores].astype(np.float64) - h, h)
    wn = 1.0 / diam**2
    mean_n = float(np.sum(wn * diam) / wn.sum())
    std_n = float(math.sqrt(max(np.sum(wn * (diam - mean_n) ** 2) / wn.sum(), 0.0)))
    return {
        "number_mean_nm": mean_n,
        "number_std_nm": std_n,
        "volume_mean_nm": float(diam.mean()),
        "volume_std_nm": float(diam.std()),
        "volume_d50_nm": float(np.median(diam)),
        "voxels": int(pores.sum()),
        "diameters_nm": diam,
    }


def unresolved_cbd_properties(
    *,
    porosity: float = DEFAULT_CBD_POROSITY,
    mean_diameter_nm: float = DEFAULT_NANOPORE_MEAN_NM,
    std_diameter_nm: float = DEFAULT_NANOPORE_STD_NM,
    min_diameter_nm: float = 37.2,
    m_factor: float | None = None,
    bruggeman_exponent: float = 1.5,
) -> dict[str, Any]:
    """Properties of an unresolved (grey) porous CBD, for the volume metadata.

    Parameters
    ----------
    porosity
        CBD porosity (0..1), 0.502 in [1]_ (the default).
    mean_diameter_nm, std_diameter_nm, min_diameter_nm
        Gaussian pore-diameter distribution of the CBD and its lower truncation (nm).
    m_factor
        M-factor (effective / bulk diffusivity) of the CBD pores; default Bruggeman
        ``porosity ** bruggeman_exponent``.
    bruggeman_exponent
        Exponent of the Bruggeman relation (1.5 for spheres).

    Returns
    -------
    dict
        JSON-ready: ``porosity``, ``pore_diameter`` (mean/std/min nm, truncated mean/std nm,
        ``shape: "cylinder"``), ``m_factor``, ``m_factor_source``, ``tortuosity_factor``.
    """
    eps, mean, std, dmin = _check_distribution(
        porosity, mean_diameter_nm, std_diameter_nm, min_diameter_nm
    )
    alpha = _finite(bruggeman_exponent, "bruggeman_exponent")
    if alpha < 1.0:
        raise ValueError(f"bruggeman_exponent: must be >= 1, got {alpha}")
    if m_factor is None:
        m = eps**alpha
        source = f"bruggeman (porosity ** {alpha:g})"
    else:
        m = _finite(m_factor, "m_factor")
        if not 0.0 <= m <= eps:
            raise ValueError(f"m_factor: must be in [0, porosity={eps}], got {m}")
        source = "given"
    dist = _truncated_gaussian(mean, std, dmin)
    return {
        "porosity": eps,
        "pore_diameter": {
            "distribution": "gaussian",
            "shape": "cylinder",
            "mean_nm": mean,
            "std_nm": std,
            "min_nm": dmin,
            "truncated_mean_nm": float(dist.mean()) if dist is not None else max(mean, dmin),
            "truncated_std_nm": float(dist.std()) if dist is not None else 0.0,
        },
        "m_factor": float(m),
        "m_factor_source": source,
        "tortuosity_factor": float(eps / m) if m > 0 else None,
    }
