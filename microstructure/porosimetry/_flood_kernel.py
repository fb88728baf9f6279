"""Numba kernel of the chunked MIP (private): the incremental bottleneck flood of one chunk."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def raise_bottleneck(d, b, levels, seeds):
    """Raise ``b`` (in place) to the maximin field from ``seeds`` through ``d``, where higher.

    Parameters
    ----------
    d : float32 (nz, ny, nx)
        Field to travel through (the capped distance; the halo layers hold the neighbours'
        current bottleneck values); voxels with ``d <= 0`` are not traversable.
    b : float32 (nz, ny, nx)
        Current lower bound of the bottleneck field, a fixed point of the flood equations
        ``b(x) >= min(d(x), b(y))`` for neighbours inside the box with the seeds it last saw
        (all zeros at first). Overwritten with the new field.
    levels : float32 (K,)
        Ascending; holds every positive value of ``d``.
    seeds : bool (nz, ny, nx)
        Entry voxels (value: their own ``d``).

    Returns
    -------
    numpy.ndarray
        int64 (7,): the number of voxels of the core (the box without its one-voxel halo
        layer) whose value rose, then one flag per boundary layer of the core (z-, z+, y-,
        y+, x-, x+) that holds such a voxel. Halo voxels never rise above their seed value.

    Notes
    -----
    The maximin field from a set of seeds is the maximum over the seeds of the field from each
    one, and a path can only carry a higher value through voxels that rise themselves (every
    other voxel already satisfies the flood equation), so a priority flood from the seeds
    that visits only voxels it raises gives the least fixed point above ``b``: the same field
    as a flood from scratch with the same seeds, at a cost proportional to the seeds and the
    raised voxels. Each voxel enters the bucket queue at most once: levels are popped in
    decreasing order and the first value a voxel receives is the largest it can receive.
    """
    nz, ny, nx = d.shape
    n = nz * ny * nx
    df = d.ravel()
    bf = b.ravel()
    sd = seeds.ravel()
    k_levels = levels.shape[0]
    head = np.full(k_levels, -1, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    out = np.zeros(7, dtype=np.int64)
    sxy = ny * nx
    for i in range(n):
        if sd[i] and df[i] > bf[i]:
            k = np.searchsorted(levels, df[i])
            bf[i] = df[i]
            _count_core(out, i, sxy, nx, nz, ny)
            nxt[i] = head[k]
            head[k] = i
    for k in range(k_levels - 1, -1, -1):
        v = levels[k]
        while head[k] != -1:
            i = head[k]
            head[k] = nxt[i]
            z = i // sxy
            rem = i - z * sxy
            y = rem // nx
            x = rem - y * nx
            for nb_ in range(6):
                if nb_ == 0:
                    if z == 0:
                        continue
                    j = i - sxy
                elif nb_ == 1:
                    if z == nz - 1:
                        continue
                    j = i + sxy
                elif nb_ == 2:
                    if y == 0:
                        continue
                    j = i - nx
                elif nb_ == 3:
                    if y == ny - 1:
                        continue
                    j = i + nx
                elif nb_ == 4:
                    if x == 0:
                        continue
                    j = i - 1
                else:
                    if x == nx - 1:
                        continue
                    j = i + 1
                dj = df[j]
                if dj <= 0:
                    continue
                c = v if v < dj else dj
                if c > bf[j]:
                    bf[j] = c
                    _count_core(out, j, sxy, nx, nz, ny)
                    kj = k if c == v else np.searchsorted(levels, dj)
                    nxt[j] = head[kj]
                    head[kj] = j
    return out


@nb.njit(cache=True, inline="always")
def _count_core(out, i, sxy, nx, nz, ny):
    """Count voxel ``i`` if it lies in the core of the box, and flag its boundary layers."""
    z = i // sxy
    rem = i - z * sxy
    y = rem // nx
    x = rem - y * nx
    if z < 1 or z > nz - 2 or y < 1 or y > ny - 2 or x < 1 or x > nx - 2:
        return
    out[0] += 1
    if z == 1:
        out[1] = 1
    if z == nz - 2:
        out[2] = 1
    if y == 1:
        out[3] = 1
    if y == ny - 2:
        out[4] = 1
    if x == 1:
        out[5] = 1
    if x == nx - 2:
        out[6] = 1
