"""Fast interface areas by the Crofton formula (intercept counts along 13 lattice directions).

Method
------
For an isotropic random line, the number of intersections with a surface per unit line length
is P_L = S_V / 2 (Crofton), so S_V = 2 E[P_L]. On the voxel lattice P_L is measured along the
13 neighbour directions d (up to sign: 3 axes, 6 face diagonals, 4 space diagonals) as the
number of neighbour pairs (v, v + d) lying in different phases divided by the total length of
those pairs, n_pairs * |d| (physical, so anisotropic voxels are handled). The directions are
averaged with weights equal to the solid angle of their Voronoi cells on the unit sphere, for
the voxel shape at hand (computed once on a dense quasi-uniform set of directions).

One pass over the labels counts the pairs for every phase combination, so the pore/solid
interface and each phase's boundary come from the same counts. Only pairs inside the volume
are counted: the outer faces of the box are not surfaces, and the result is the area inside
the box of ``shape * voxel_size``. Cost: one numba pass (about 13 neighbour comparisons per
voxel, both cores), no extra memory beyond the input.

Accuracy (measured in the tests): two errors of opposite sign. Digitisation makes curved
surfaces rough, so digitised spheres come out high: +7.6 / +3.8 / +2.8 % at radii of 10 / 20 /
30 voxels. With only 13 directions, a single flat orientation is off by a few % (an
axis-aligned plane: -4 %); this averages out over the many orientations of a pore surface. On
the real MATBOX electrode the result is within 4 % of the smoothed mesh of
:mod:`microstructure.porosity.surface` at 10-30x the speed. Raw voxel-face counting would be
about +50 % high, raw marching cubes +9 %.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numba
import numpy as np

from microstructure.volume import check_volume, parse_voxel_size

__all__ = ["DIRECTIONS", "crofton_weights", "pair_counts", "crofton_areas_um2"]

#: The 13 lattice directions (dz, dy, dx), one of each +- pair.
DIRECTIONS = np.array(
    [
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (0, 1, 1),
        (0, 1, -1),
        (1, 0, 1),
        (1, 0, -1),
        (1, 1, 0),
        (1, -1, 0),
        (1, 1, 1),
        (1, 1, -1),
        (1, -1, 1),
        (1, -1, -1),
    ],
    dtype=np.int64,
)


@lru_cache(maxsize=32)
def crofton_weights(
    voxel_size_nm: tuple[float, float, float], n_points: int = 200_000
) -> np.ndarray:
    """Solid-angle (Voronoi) weights of the 13 physical directions; they sum to 1."""
    vs = np.asarray(voxel_size_nm, dtype=np.float64)
    phys = DIRECTIONS * vs
    phys /= np.linalg.norm(phys, axis=1, keepdims=True)
    # Fibonacci sphere: deterministic, quasi-uniform directions.
    i = np.arange(n_points) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n_points)
    azimuth = np.pi * (1.0 + 5.0**0.5) * i
    pts = np.stack(
        [np.cos(polar), np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth)], axis=1
    )
    nearest = np.argmax(np.abs(pts @ phys.T), axis=1)
    return np.bincount(nearest, minlength=len(DIRECTIONS)) / n_points


@numba.njit(parallel=True, cache=True)
def _pair_counts(labels: np.ndarray, dirs: np.ndarray, n_labels: int) -> np.ndarray:
    nz, ny, nx = labels.shape
    nd = dirs.shape[0]
    partial = np.zeros((nz, nd, n_labels, n_labels), dtype=np.int64)
    for z in numba.prange(nz):
        for d in range(nd):
            dz, dy, dx = dirs[d, 0], dirs[d, 1], dirs[d, 2]
            z2 = z + dz
            if z2 < 0 or z2 >= nz:
                continue
            y0 = max(0, -dy)
            y1 = min(ny, ny - dy)
            x0 = max(0, -dx)
            x1 = min(nx, nx - dx)
            for y in range(y0, y1):
                for x in range(x0, x1):
                    a = labels[z, y, x]
                    b = labels[z2, y + dy, x + dx]
                    if a != b:
                        partial[z, d, a, b] += 1
    out = np.zeros((nd, n_labels, n_labels), dtype=np.int64)
    for z in range(nz):
        out += partial[z]
    return out


def pair_counts(labels: np.ndarray, n_labels: int = 4) -> np.ndarray:
    """Counts ``[direction, a, b]`` of neighbour pairs (v, v + d) with labels a != b."""
    arr = np.ascontiguousarray(labels, dtype=np.uint8)
    if int(arr.max(initial=0)) >= n_labels:
        raise ValueError(f"labels: values must be below {n_labels}")
    return _pair_counts(arr, DIRECTIONS, n_labels)


def crofton_areas_um2(
    labels: Any, *, voxel_size_nm: Any, groups: dict[str, tuple[int, ...]] | None = None
) -> dict[str, float]:
    """Boundary area (um^2) of each group of labels against all other labels.

    Parameters
    ----------
    labels
        3D integer volume (z, y, x) with values 0..3 (a boolean mask works too).
    voxel_size_nm
        Voxel size (z, y, x) in nm, or one number.
    groups
        Name -> label values forming one region; default: each label 0..3 on its own
        (``"0"``..``"3"``).

    Returns
    -------
    dict
        Name -> area in um^2 of the boundary between the group and its complement inside the
        volume.
    """
    arr = check_volume(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    arr = arr.astype(np.uint8, copy=False)
    counts = pair_counts(arr)  # (13, 4, 4)
    sym = counts + counts.transpose(0, 2, 1)
    shape = np.asarray(arr.shape, dtype=np.int64)
    n_pairs = np.prod(shape[None, :] - np.abs(DIRECTIONS), axis=1).astype(np.float64)
    length_um = np.linalg.norm(DIRECTIONS * np.asarray(vs), axis=1) / 1000.0
    weights = crofton_weights(vs)
    volume_um3 = float(np.prod(shape)) * vs[0] * vs[1] * vs[2] * 1e-9
    if groups is None:
        groups = {str(k): (k,) for k in range(4)}
    out: dict[str, float] = {}
    for name, members in groups.items():
        inside = np.zeros(4, dtype=bool)
        inside[list(members)] = True
        # pairs with one end inside the group and the other outside (each unordered pair once)
        crossing = sym[:, inside][:, :, ~inside].sum(axis=(1, 2)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_l = np.where(n_pairs > 0, crossing / (n_pairs * length_um), 0.0)
        s_v = 2.0 * float(np.sum(weights * p_l))
        out[name] = s_v * volume_um3
    return out
