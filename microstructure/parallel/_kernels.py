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
    int
        Voxels whose value rose.

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
    raised = 0
    for i in range(n):
        if sd[i] and df[i] > bf[i]:
            k = np.searchsorted(levels, df[i])
            bf[i] = df[i]
            raised += 1
            nxt[i] = head[k]
            head[k] = i
    sxy = ny * nx
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
                    raised += 1
                    kj = k if c == v else np.searchsorted(levels, dj)
                    nxt[j] = head[kj]
                    head[kj] = j
    return raised
