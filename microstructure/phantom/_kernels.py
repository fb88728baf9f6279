"""Numba kernels of the phantom geometry: particle rasterisation, cracks, packing test."""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, inline="always", error_model="numpy")
def _shape_factor(dz, dy, dx, r, dirs, amps, orders):  # pragma: no cover - numba
    s = 1.0
    if r <= 0.0:
        return s
    inv_r = 1.0 / r
    for j in range(dirs.shape[0]):
        t = (dz * dirs[j, 0] + dy * dirs[j, 1] + dx * dirs[j, 2]) * inv_r
        n = orders[j]
        if n == 2:
            p = 0.5 * (3.0 * t * t - 1.0)
        elif n == 3:
            p = 0.5 * (5.0 * t * t * t - 3.0 * t)
        else:
            t2 = t * t
            p = (35.0 * t2 * t2 - 30.0 * t2 + 3.0) / 8.0
        s += amps[j] * p
    return s


def _raster_particle_py(
    rho,
    owner,
    pid,
    box,
    origin,
    vox,
    center,
    inv_scale,
    radius,
    dirs,
    amps,
    orders,
    rho_max,
    write,
):  # pragma: no cover - numba
    """Normalised distance |q| / (R s(u)) of one particle, min-merged into ``rho``.

    Returns (voxels with value <= 1, of which already had rho <= 1).
    """
    smax = 1.0
    for j in range(amps.shape[0]):
        smax += abs(amps[j])
    cut = radius * smax * rho_max
    inside = 0
    overlap = 0
    for iz in numba.prange(box[0], box[1]):
        dz = (origin[0] + (iz + 0.5) * vox[0] - center[0]) * inv_scale[0]
        n_in = 0
        n_ov = 0
        for iy in range(box[2], box[3]):
            dy = (origin[1] + (iy + 0.5) * vox[1] - center[1]) * inv_scale[1]
            for ix in range(box[4], box[5]):
                dx = (origin[2] + (ix + 0.5) * vox[2] - center[2]) * inv_scale[2]
                r = math.sqrt(dz * dz + dy * dy + dx * dx)
                if r >= cut:
                    continue
                val = r / (radius * _shape_factor(dz, dy, dx, r, dirs, amps, orders))
                if val <= 1.0:
                    n_in += 1
                    if rho[iz, iy, ix] <= 1.0:
                        n_ov += 1
                if write and val < rho[iz, iy, ix]:
                    rho[iz, iy, ix] = val
                    owner[iz, iy, ix] = pid
        inside += n_in
        overlap += n_ov
    return inside, overlap


def _crack_particle_py(
    rho,
    owner,
    crack,
    pid,
    box,
    origin,
    vox,
    center,
    inv_scale,
    radius,
    normals,
    tangents,
    extents,
    offsets,
    wavevecs,
    wave_amps,
    phases,
    half_width,
    rho_max,
):  # pragma: no cover - numba
    """Mark the voxels of one particle's cracks (in its undeformed frame) in ``crack``."""
    for iz in numba.prange(box[0], box[1]):
        dz = (origin[0] + (iz + 0.5) * vox[0] - center[0]) * inv_scale[0]
        for iy in range(box[2], box[3]):
            dy = (origin[1] + (iy + 0.5) * vox[1] - center[1]) * inv_scale[1]
            for ix in range(box[4], box[5]):
                if owner[iz, iy, ix] != pid or rho[iz, iy, ix] > rho_max:
                    continue
                dx = (origin[2] + (ix + 0.5) * vox[2] - center[2]) * inv_scale[2]
                rr = min(1.0, math.sqrt(dz * dz + dy * dy + dx * dx) / radius)
                hw = half_width * (0.45 + 0.55 * rr)
                for j in range(normals.shape[0]):
                    along = tangents[j, 0] * dz + tangents[j, 1] * dy + tangents[j, 2] * dx
                    if along < extents[j] * radius:
                        continue
                    d = normals[j, 0] * dz + normals[j, 1] * dy + normals[j, 2] * dx - offsets[j]
                    ph = wavevecs[j, 0] * dz + wavevecs[j, 1] * dy + wavevecs[j, 2] * dx
                    d += wave_amps[j] * math.sin(ph + phases[j])
                    if abs(d) <= hw:
                        crack[iz, iy, ix] = True
                        break


def _compile(func, parallel: bool):
    """A numba dispatcher of ``func``; serial and parallel variants get distinct cache names."""
    tag = "par" if parallel else "ser"
    func.__qualname__ = func.__name__ = f"{func.__name__}_{tag}"
    return numba.njit(parallel=parallel, cache=True, error_model="numpy")(func)


def _variants(func):
    import copy
    import types

    out = []
    for parallel in (False, True):
        clone = types.FunctionType(
            func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
        )
        clone.__dict__.update(copy.copy(func.__dict__))
        out.append(_compile(clone, parallel))
    return out


_raster_ser, _raster_par = _variants(_raster_particle_py)
_crack_ser, _crack_par = _variants(_crack_particle_py)
# boxes smaller than this run serially (thread start-up costs more than the work)
_PARALLEL_MIN_VOXELS = 200_000


def _raster_particle(*args):
    box = args[3]
    n = int((box[1] - box[0]) * (box[3] - box[2]) * (box[5] - box[4]))
    return (_raster_par if n >= _PARALLEL_MIN_VOXELS else _raster_ser)(*args)


def _crack_particle(*args):
    box = args[4]
    n = int((box[1] - box[0]) * (box[3] - box[2]) * (box[5] - box[4]))
    return (_crack_par if n >= _PARALLEL_MIN_VOXELS else _crack_ser)(*args)


@numba.njit(cache=True, error_model="numpy")
def _first_valid(cand, centers, radii, n, r, keep):  # pragma: no cover - numba
    """Index of the first candidate centre keeping distance >= keep (r_i + r) to all placed."""
    for c in range(cand.shape[0]):
        ok = True
        for i in range(n):
            d0 = cand[c, 0] - centers[i, 0]
            d1 = cand[c, 1] - centers[i, 1]
            d2 = cand[c, 2] - centers[i, 2]
            lim = keep * (radii[i] + r)
            if d0 * d0 + d1 * d1 + d2 * d2 < lim * lim:
                ok = False
                break
        if ok:
            return c
    return -1
