"""Numba kernels behind simulated porosimetry and granulometry (private).

Three building blocks, all on C-contiguous (z, y, x) arrays with physical voxel spacings:

``bottleneck_flood``
    Maximin ("bottleneck") priority flood with 6-connectivity: for every voxel reachable from
    the seeds through voxels with a positive field value, the largest over all paths of the
    smallest field value on the path. A bucket queue over the ranks of the distinct field
    values makes it O(N + K): processing levels from the top, a voxel's value is final when it
    is first discovered (``min(current level, own value)``), so every voxel is queued once.

``select_centres``
    Drops ball centres whose ball cannot raise the painted maximum (see the proof in
    :func:`_select_slab`); on distance fields only the ridge remains, on bottleneck plateaus
    only the plateau border.

``paint_max_balls``
    ``out[x] = max(R[x], max{R[c] : |x - c| < R[c]})`` over the selected centres, scanline by
    scanline, parallel over z slabs (each thread owns its output slab, so no write races).

Parallelism: the per-slab kernels are plain ``nogil`` numba functions run on a thread pool,
not ``parallel=True`` (parfors): the same speed on slabs, and the one-off JIT compilation
(paid when the on-disk cache is cold, e.g. a fresh checkout or CI) is about half as long.
The containment table is plain numpy.

Ball membership (the definition used everywhere in this package): voxel centre ``x`` belongs
to the ball of radius ``r`` around centre ``c`` when the physical Euclidean distance satisfies
``|x - c|^2 < r^2 (1 - BALL_TOL)``. The open ball is consistent with the EDT: the EDT value of
a pore voxel is the distance to the nearest solid voxel centre, so a ball of that radius never
contains a solid voxel. ``BALL_TOL`` (1e-6) only decides exact ties robustly against float32
rounding of the EDT; it is far below any voxel-scale difference.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: Relative tolerance on r^2 deciding exact ties in ball membership (see module docstring).
BALL_TOL = 1e-6


@nb.njit(cache=True)
def bottleneck_flood(rank, levels, seeds):
    """Maximin flood of ``levels[rank]`` from ``seeds`` (6-connectivity).

    Parameters
    ----------
    rank : int32 (nz, ny, nx)
        Rank of each voxel's field value in ``levels`` (ascending); -1 where not traversable.
        Used as the work array: overwritten (callers pass a temporary).
    levels : float32 (K,)
        Distinct field values, ascending.
    seeds : bool (nz, ny, nx)
        Entry voxels (their value is their own field value).

    Returns
    -------
    float32 (nz, ny, nx): bottleneck value, 0 where unreachable.

    Notes
    -----
    Only two arrays are accessed at random (``rank`` and the bucket links): a voxel is
    marked as queued by storing ``-(bucket + 2)`` in ``rank``, and the output is filled from
    these marks in one sequential pass at the end.
    """
    nz, ny, nx = rank.shape
    n = nz * ny * nx
    rk = rank.ravel()
    sd = seeds.ravel()
    k_levels = levels.shape[0]
    head = np.full(k_levels, -1, dtype=np.int32)
    nxt = np.empty(n, dtype=np.int32)  # callers guarantee n < 2**31
    for i in range(n):
        if sd[i] and rk[i] >= 0:
            k = rk[i]
            rk[i] = -(k + 2)
            nxt[i] = head[k]
            head[k] = i
    sxy = ny * nx
    for k in range(k_levels - 1, -1, -1):
        mark = -(k + 2)
        while head[k] != -1:
            i = np.int64(head[k])
            head[k] = nxt[i]
            z = i // sxy
            rem = i - z * sxy
            y = rem // nx
            x = rem - y * nx
            for d in range(6):
                if d == 0:
                    if z == 0:
                        continue
                    j = i - sxy
                elif d == 1:
                    if z == nz - 1:
                        continue
                    j = i + sxy
                elif d == 2:
                    if y == 0:
                        continue
                    j = i - nx
                elif d == 3:
                    if y == ny - 1:
                        continue
                    j = i + nx
                elif d == 4:
                    if x == 0:
                        continue
                    j = i - 1
                else:
                    if x == nx - 1:
                        continue
                    j = i + 1
                kj = rk[j]
                if kj < 0:
                    continue
                if kj >= k:
                    rk[j] = mark
                    nxt[j] = head[k]
                    head[k] = j
                else:
                    rk[j] = -(kj + 2)
                    nxt[j] = head[kj]
                    head[kj] = j
    out = np.zeros(n, dtype=np.float32)
    for i in range(n):
        m = rk[i]
        if m <= -2:
            out[i] = levels[-m - 2]
    return out.reshape((nz, ny, nx))


#: the 7 neighbour offset classes (|dz|, |dy|, |dx|) of the 26-neighbourhood
_OFFSET_CLASSES = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=np.int64
)


def containment_table(levels, wz, wy, wx, tol, max_points):
    """``M[k, o] = max |v - o|^2`` over the lattice offsets ``v`` of the ball of radius
    ``levels[k]`` (membership as in :func:`paint_max_balls`), for the 7 neighbour classes
    ``o``. The ball around ``c`` lies inside the ball of radius ``rn`` around ``c + o`` exactly
    when ``M[k, o] < rn^2 (1 - tol)`` -- the same floating-point expressions as the painting,
    so the test is exact on the lattice. Levels whose ball has more than ``max_points`` lattice
    points get ``inf`` (no table; the caller falls back to the continuous test).

    Plain numpy (vectorized running maxima over the lattice points sorted by distance): no
    JIT compilation to pay, and the same IEEE float64 expressions as the numba kernels.
    """
    levels = np.asarray(levels)
    k_levels = levels.shape[0]
    table = np.full((k_levels, 7), np.inf)
    if k_levels == 0:
        return table
    wz, wy, wx = float(wz), float(wy), float(wx)
    r = levels.astype(np.float64)
    # largest level whose ball stays below the point budget (levels are ascending)
    est = 4.19 * (r + wz) * (r + wy) * (r + wx) / (wz * wy * wx)
    over = np.flatnonzero(est > max_points)
    kcap = (k_levels if over.size == 0 else int(over[0])) - 1
    if kcap < 0:
        return table
    rcap = r[kcap]
    r2cap = rcap * rcap * (1.0 - tol)
    kz, ky, kx = int(rcap / wz), int(rcap / wy), int(rcap / wx)
    dz, dy, dx = np.meshgrid(
        np.arange(-kz, kz + 1, dtype=np.int64),
        np.arange(-ky, ky + 1, dtype=np.int64),
        np.arange(-kx, kx + 1, dtype=np.int64),
        indexing="ij",
    )
    d2 = ((dz * wz) ** 2 + (dy * wy) ** 2) + (dx * wx) ** 2
    inside = d2 < r2cap
    order = np.argsort(d2[inside], kind="stable")
    d2s = d2[inside][order]
    pz, py, px = dz[inside][order], dy[inside][order], dx[inside][order]
    del dz, dy, dx, d2, inside
    # number of lattice points strictly inside each level's ball
    r2 = r[: kcap + 1] * r[: kcap + 1] * (1.0 - tol)
    count = np.searchsorted(d2s, r2, side="left")
    for o in range(7):
        oz, oy, ox = (int(v) for v in _OFFSET_CLASSES[o])
        v = (((pz - oz) * wz) ** 2 + ((py - oy) * wy) ** 2) + ((px - ox) * wx) ** 2
        run = np.maximum.accumulate(v)
        base = ((oz * wz) ** 2 + (oy * wy) ** 2) + (ox * wx) ** 2
        col = np.where(count > 0, run[np.maximum(count - 1, 0)], base)
        table[: kcap + 1, o] = np.maximum(col, base)
    return table


def select_centres(radius, levels, table, wz, wy, wx, tol, n_threads=1):
    """Flat indices (ascending) of the ball centres that must be painted.

    Runs :func:`_select_slab` over z slabs on ``n_threads`` threads (the kernel releases the
    GIL); see :func:`_select_slab` for the rules.
    """
    radius = np.ascontiguousarray(radius, dtype=np.float32)
    keep = np.zeros(radius.shape, dtype=np.bool_)
    args = (radius, levels, table, float(wz), float(wy), float(wx), float(tol), keep)
    _run_slabs(lambda z0, z1: _select_slab(*args, z0, z1), radius.shape[0], n_threads)
    return np.flatnonzero(keep.ravel())


@nb.njit(cache=True, nogil=True)
def _select_slab(radius, levels, table, wz, wy, wx, tol, keep, z0, z1):
    """Mark in ``keep[z0:z1]`` the ball centres that must be painted.

    ``levels`` are the distinct positive values of ``radius`` (ascending) and ``table`` the
    :func:`containment_table` for them. A centre ``c`` (``radius[c] > 0``) is skipped when

    A. every in-bounds face neighbour ``n`` along each axis the ball extends over has
       ``radius[n] >= radius[c]``: any ``x != c`` in ball(c) lies in the ball of the face
       neighbour one step towards ``x`` (strictly closer to ``x``), and ``x == c`` is covered
       by the initialisation ``out = radius``; or
    B. ball(c) lies inside the ball of some neighbour ``n`` of the 26-neighbourhood with
       ``radius[n] > radius[c]`` (exact lattice test from ``table``; above the table's range
       the continuous sufficient test ``radius[n] >= radius[c] + |n - c|``, inflated).

    Rule A moves to an equal or larger radius and strictly closer to ``x``, rule B to a
    strictly larger radius, so the argument is well founded and the painted maximum exact.
    """
    nz, ny, nx = radius.shape
    w = np.array((wz, wy, wx))
    offs = np.eye(3, dtype=np.int64)
    inflate = 1.0 + 4.0 * tol
    for z in range(z0, z1):
        for y in range(ny):
            for x in range(nx):
                r = radius[z, y, x]
                if r <= 0.0:
                    continue
                r2 = np.float64(r) * np.float64(r) * (1.0 - tol)
                # rule A
                rule_a = True
                for d in range(6):
                    ax = d // 2
                    if w[ax] * w[ax] >= r2:
                        continue
                    step = 2 * (d % 2) - 1
                    zz = z + step * offs[ax, 0]
                    yy = y + step * offs[ax, 1]
                    xx = x + step * offs[ax, 2]
                    if zz < 0 or zz >= nz or yy < 0 or yy >= ny or xx < 0 or xx >= nx:
                        continue
                    if radius[zz, yy, xx] < r:
                        rule_a = False
                        break
                if rule_a:
                    continue
                # rule B
                k = np.searchsorted(levels, r)
                dominated = False
                for dz in range(-1, 2):
                    zz = z + dz
                    if zz < 0 or zz >= nz:
                        continue
                    for dy in range(-1, 2):
                        yy = y + dy
                        if yy < 0 or yy >= ny:
                            continue
                        for dx in range(-1, 2):
                            xx = x + dx
                            if xx < 0 or xx >= nx or (dz == 0 and dy == 0 and dx == 0):
                                continue
                            rn = radius[zz, yy, xx]
                            if rn <= r:
                                continue
                            rn64 = np.float64(rn)
                            az = abs(dz)
                            ay = abs(dy)
                            o = 0
                            if az + ay + abs(dx) == 1:
                                o = 0 if az == 1 else (1 if ay == 1 else 2)
                            elif az + ay + abs(dx) == 2:
                                o = 5 if az == 0 else (4 if ay == 0 else 3)
                            else:
                                o = 6
                            bound = table[k, o]
                            if bound < np.inf:
                                if bound < rn64 * rn64 * (1.0 - tol):
                                    dominated = True
                            else:
                                dist = math.sqrt((dz * wz) ** 2 + (dy * wy) ** 2 + (dx * wx) ** 2)
                                if rn64 >= (np.float64(r) + dist) * inflate:
                                    dominated = True
                            if dominated:
                                break
                        if dominated:
                            break
                    if dominated:
                        break
                if not dominated:
                    keep[z, y, x] = True


@nb.njit(cache=True)
def _row_half_width(base, r2, wx):
    """Largest ``h`` with ``base + (h wx)^2 < r2`` (-1 if none), same expressions as painting."""
    if base >= r2:
        return -1
    hx = int(math.sqrt(r2 - base) / wx)
    while hx >= 0 and base + (hx * wx) ** 2 >= r2:
        hx -= 1
    while base + ((hx + 1) * wx) ** 2 < r2:
        hx += 1
    return hx


@nb.njit(cache=True)
def ball_profiles(levels, used, wz, wy, wx, tol, budget):
    """Row half-widths of the balls of the used levels, for ``|dz| <= kz, |dy| <= ky``.

    Returns ``(start, kys, hx)``: the profile of level ``k`` is
    ``hx[start[k] + |dz| * (ky + 1) + |dy|]`` with ``ky = kys[k]``; ``start[k] == -1`` when the
    level is unused or beyond the ``budget`` of stored entries (computed on the fly then).
    """
    k_levels = levels.shape[0]
    start = np.full(k_levels, -1, dtype=np.int64)
    kys = np.zeros(k_levels, dtype=np.int64)
    total = 0
    for k in range(k_levels):
        if not used[k]:
            continue
        r = np.float64(levels[k])
        size = (int(r / wz) + 1) * (int(r / wy) + 1)
        if total + size > budget:
            continue
        start[k] = total
        kys[k] = int(r / wy)
        total += size
    hx = np.empty(total, dtype=np.int32)
    for k in range(k_levels):
        if start[k] < 0:
            continue
        r = np.float64(levels[k])
        r2 = r * r * (1.0 - tol)
        kz = int(r / wz)
        ky = kys[k]
        for dz in range(kz + 1):
            bz = (dz * wz) ** 2
            for dy in range(ky + 1):
                base = bz + (dy * wy) ** 2
                hx[start[k] + dz * (ky + 1) + dy] = _row_half_width(base, r2, wx)
    return start, kys, hx


def paint_max_balls(radius, centres, levels, wz, wy, wx, tol, n_slabs, budget, n_threads=1):
    """``out = max(radius, max over centres c with x in ball(c, radius[c]) of radius[c])``.

    ``centres`` are flat indices in ascending (raster) order, ``levels`` the distinct positive
    values of ``radius`` (ascending). Work is split into ``n_slabs`` z slabs run on
    ``n_threads`` threads (:func:`_paint_slab` releases the GIL); each slab paints only its own
    planes, looping over the centres whose balls reach it, so threads never write the same
    voxel. Row half-widths come from :func:`ball_profiles` (up to ``budget`` entries).
    """
    radius = np.ascontiguousarray(radius, dtype=np.float32)
    out = radius.copy()
    centres = np.ascontiguousarray(centres, dtype=np.int64)
    if centres.shape[0] == 0:
        return out
    wz, wy, wx, tol = float(wz), float(wy), float(wx), float(tol)
    kc, start, reach_z, pstart, pky, phx = _paint_prepare(
        radius, centres, levels, wz, wy, wx, tol, budget
    )
    nz = radius.shape[0]
    bounds = np.linspace(0, nz, max(1, int(n_slabs)) + 1).astype(np.int64)

    def work(s0, s1):
        for s in range(s0, s1):
            _paint_slab(out, radius, centres, kc, start, reach_z, pstart, phx, wz, wy, wx, tol,
                        int(bounds[s]), int(bounds[s + 1]))  # fmt: skip

    _run_slabs(work, bounds.size - 1, n_threads, chunk=1)
    return out


@nb.njit(cache=True)
def _paint_prepare(radius, centres, levels, wz, wy, wx, tol, budget):
    """Level index of every centre, first centre of every z plane, z reach, ball profiles."""
    nz, ny, nx = radius.shape
    nc = centres.shape[0]
    sxy = ny * nx
    flat = radius.ravel()
    kc = np.empty(nc, dtype=np.int64)
    used = np.zeros(levels.shape[0], dtype=np.bool_)
    rmax = 0.0
    for i in range(nc):
        v = flat[centres[i]]
        kc[i] = np.searchsorted(levels, v)
        used[kc[i]] = True
        if np.float64(v) > rmax:
            rmax = np.float64(v)
    pstart, pky, phx = ball_profiles(levels, used, wz, wy, wx, tol, budget)
    reach_z = int(math.ceil(rmax / wz)) + 1
    # first centre index of every z plane (centres are sorted)
    start = np.zeros(nz + 1, dtype=np.int64)
    p = 0
    for z in range(nz + 1):
        while p < nc and centres[p] // sxy < z:
            p += 1
        start[z] = p
    return kc, start, reach_z, pstart, pky, phx


@nb.njit(cache=True, nogil=True)
def _paint_slab(out, radius, centres, kc, start, reach_z, pstart, phx, wz, wy, wx, tol, z0, z1):
    """Paint the planes ``z0 <= z < z1`` of ``out`` with every ball that reaches them."""
    nz, ny, nx = radius.shape
    if z1 <= z0:
        return
    sxy = ny * nx
    flat = radius.ravel()
    lo = max(z0 - reach_z, 0)
    hi = min(z1 + reach_z, nz)
    for ci in range(start[lo], start[hi]):
        c = centres[ci]
        cz = c // sxy
        rem = c - cz * sxy
        cy = rem // nx
        cx = rem - cy * nx
        rv = flat[c]
        r = np.float64(rv)
        r2 = r * r * (1.0 - tol)
        kz = int(r / wz)
        ky = int(r / wy)
        za = max(cz - kz, z0)
        zb = min(cz + kz, z1 - 1)
        if za > zb:
            continue
        ps = pstart[kc[ci]]
        for z in range(za, zb + 1):
            adz = abs(z - cz)
            bz = (adz * wz) ** 2
            for y in range(max(cy - ky, 0), min(cy + ky, ny - 1) + 1):
                ady = abs(y - cy)
                if ps >= 0:
                    hx = phx[ps + adz * (ky + 1) + ady]
                else:
                    hx = _row_half_width(bz + (ady * wy) ** 2, r2, wx)
                if hx < 0:
                    continue
                xa = max(cx - hx, 0)
                xb = min(cx + hx, nx - 1)
                for x in range(xa, xb + 1):
                    if out[z, y, x] < rv:
                        out[z, y, x] = rv


def _run_slabs(fn, n, n_threads, chunk=None):
    """Call ``fn(a, b)`` on consecutive ranges covering ``0..n``, on up to ``n_threads``
    threads (the numba kernels release the GIL). ``chunk``: range length (default: ``n``
    split into 4 ranges per thread for load balance)."""
    n_threads = max(1, int(n_threads))
    if chunk is None:
        chunk = max(1, -(-n // (4 * n_threads)))
    ranges = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    if n_threads == 1 or len(ranges) <= 1:
        for a, b in ranges:
            fn(a, b)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(n_threads, len(ranges))) as pool:
        for f in [pool.submit(fn, a, b) for a, b in ranges]:
            f.result()


@nb.njit(cache=True)
def ranks_of(values, levels):
    """Rank of each value in the ascending ``levels`` (-1 where ``values <= 0``)."""
    n = values.size
    flat = values.ravel()
    out = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        v = flat[i]
        if v > 0:
            out[i] = np.searchsorted(levels, v)
    return out.reshape(values.shape)
