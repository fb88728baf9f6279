"""Chunked all-pressure MIP intrusion: the same invasion radii as in memory, chunk by chunk.

The in-memory algorithm (:mod:`microstructure.porosimetry.intrusion`) is distance transform ->
bottleneck (maximin) flood from the inlets -> ball painting. Chunked:

1. **Distance transform** per chunk with an overlap of the largest radius considered
   (``max_radius_nm``): exact up to that radius (:func:`distance_capped_nm`).
2. **Bottleneck flood** across chunks by relaxation: every pass floods each chunk from its own
   inlet voxels and from the one-voxel halo of its neighbours' current values; values only grow
   and every one is a valid lower bound, so the passes converge to the exact maximin field (the
   least fixed point of ``b(x) = min(d(x), max_neighbour b)``). A pass only revisits chunks
   whose neighbours changed.
3. **Ball painting** per chunk with an overlap of the largest bottleneck radius.

Intermediate fields live in a Zarr store whose chunks are the work chunks (parallel writes never
share a Zarr chunk), so the volume never has to fit in memory; tasks run on the current Dask
scheduler (threads, processes or a dask.distributed cluster, see :func:`dask_scheduler`).
The result equals :func:`microstructure.porosimetry.invasion_radius` whenever ``max_radius_nm``
is at least the largest pore radius: the same intruded voxels, radii equal to float32 rounding
(the edt library's distances of a chunk can differ from the whole volume's in the last bit,
relative 1.2e-7; the tests check both).
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.faces import parse_faces
from microstructure.parallel.chunked import as_dask, distance_capped_nm, halo_voxels
from microstructure.volume import parse_voxel_size

__all__ = ["invasion_radius_chunked"]


def _blocks(shape: tuple[int, ...], chunk: tuple[int, ...]) -> list[tuple[int, int, int]]:
    return list(
        itertools.product(*(range(math.ceil(s / c)) for s, c in zip(shape, chunk, strict=True)))
    )


def _box(block: tuple[int, ...], chunk: tuple[int, ...], shape: tuple[int, ...], halo=(0, 0, 0)):
    lo = [max(0, b * c - h) for b, c, h in zip(block, chunk, halo, strict=True)]
    hi = [min(s, (b + 1) * c + h) for b, c, s, h in zip(block, chunk, shape, halo, strict=True)]
    return lo, hi


def _inner(lo, hi, block, chunk, shape) -> tuple[slice, ...]:
    """Slices of the block's own region inside a (lo, hi) box."""
    out = []
    for ax in range(3):
        a = block[ax] * chunk[ax]
        b = min(shape[ax], a + chunk[ax])
        out.append(slice(a - lo[ax], b - lo[ax]))
    return tuple(out)


def _seeds(lo, hi, shape, faces) -> np.ndarray:
    """Inlet-face voxels inside the box (global faces only)."""
    mask = np.zeros([h - low for low, h in zip(lo, hi, strict=True)], bool)
    for axis, side in faces:
        idx = 0 if side == 0 else shape[axis] - 1
        if lo[axis] <= idx < hi[axis]:
            sl = [slice(None)] * 3
            sl[axis] = idx - lo[axis]
            mask[tuple(sl)] = True
    return mask


def _flood_block(store: Path, block, chunk, shape, faces, levels) -> bool:
    """One relaxation step on one chunk; True when its values changed."""
    import zarr

    from microstructure.porosimetry import _core

    dt_z = zarr.open_array(str(store / "dt"), mode="r")
    b_z = zarr.open_array(str(store / "b"), mode="r+")
    lo, hi = _box(block, chunk, shape, (1, 1, 1))
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    d = np.asarray(dt_z[box])
    b_old = np.asarray(b_z[box])
    inner = _inner(lo, hi, block, chunk, shape)
    halo = np.ones(d.shape, bool)
    halo[inner] = False
    field = d.copy()
    field[halo] = b_old[halo]  # neighbours' current values act as seeds with those values
    seeds = (_seeds(lo, hi, shape, faces) & (d > 0)) | (halo & (b_old > 0))
    if not seeds.any():
        return False
    b_new = _core.flood(field, seeds, levels)[inner]
    if np.array_equal(b_new, b_old[inner]):
        return False
    b_z[tuple(slice(lo[a] + inner[a].start, lo[a] + inner[a].stop) for a in range(3))] = b_new
    return True


def _paint_block(store: Path, block, chunk, shape, spacing, levels, halo) -> None:
    import zarr

    from microstructure.porosimetry import _core

    b_z = zarr.open_array(str(store / "b"), mode="r")
    inv_z = zarr.open_array(str(store / "inv"), mode="r+")
    lo, hi = _box(block, chunk, shape, halo)
    b = np.asarray(b_z[tuple(slice(a, c) for a, c in zip(lo, hi, strict=True))])
    inner = _inner(lo, hi, block, chunk, shape)
    out = _core.paint(b, spacing, levels)[inner] if b.any() else np.zeros_like(b[inner])
    inv_z[tuple(slice(lo[a] + inner[a].start, lo[a] + inner[a].stop) for a in range(3))] = out


def _neighbours(block, n_blocks):
    for ax in range(3):
        for step in (-1, 1):
            nb = list(block)
            nb[ax] += step
            if 0 <= nb[ax] < n_blocks[ax]:
                yield tuple(nb)


def invasion_radius_chunked(
    pore_mask: Any,
    *,
    voxel_size_nm: Any,
    max_radius_nm: float,
    inlet: str = "all",
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    chunks: int | tuple[int, int, int] = 128,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
    max_passes: int = 1000,
) -> Any:
    """Per-voxel Hg invasion radius (nm), computed chunk by chunk.

    Parameters
    ----------
    pore_mask
        Boolean (z, y, x) numpy, Zarr or Dask array, True in the pore space.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    max_radius_nm
        Largest radius considered (nm): pores wider than this are intruded at the pressure of
        this radius. Sets the overlap between chunks. With a value of at least the largest
        pore radius the result equals the in-memory :func:`invasion_radius` (same intruded
        voxels, radii to float32 rounding).
    inlet, thickness_axis, top_at
        Inlet faces and electrode orientation, as in :func:`simulate_mip`.
    chunks
        Work chunk (voxels per axis, or one number).
    work_dir
        Folder for the Zarr intermediates (default: a temporary folder, removed afterwards).
    out_zarr
        Write the result to this Zarr array (on disk, chunked) and return it instead of a
        numpy array: for volumes that do not fit in memory.
    max_passes
        Safety bound on the relaxation passes.

    Returns
    -------
    numpy.ndarray or zarr.Array
        float32 invasion radius (nm); 0 where mercury never enters (a Zarr array when
        ``out_zarr`` is given).

    Raises
    ------
    ValueError
        No pore voxel on the inlet faces, bad radius or chunk size.
    """
    import dask
    import dask.array as da
    import zarr

    spacing = parse_voxel_size(voxel_size_nm)
    arr = as_dask(pore_mask)
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    shape = tuple(int(s) for s in arr.shape)
    chunk = (int(chunks),) * 3 if np.isscalar(chunks) else tuple(int(c) for c in chunks)
    if len(chunk) != 3 or min(chunk) < 2:
        raise ValueError(f"chunks: expected one or three sizes >= 2, got {chunks!r}")
    chunk = tuple(min(c, s) for c, s in zip(chunk, shape, strict=True))
    faces = parse_faces(inlet, thickness_axis=thickness_axis, top_at=top_at, name="inlet")
    tmp = Path(tempfile.mkdtemp(prefix="mip-chunked-", dir=work_dir))
    try:
        dt = distance_capped_nm(
            arr.astype(bool), voxel_size_nm=spacing, max_radius_nm=max_radius_nm, chunks=chunk
        ).rechunk(chunk)
        dt.to_zarr(str(tmp / "dt"), overwrite=True)
        dt_z = zarr.open_array(str(tmp / "dt"), mode="r")
        zarr.create_array(
            str(tmp / "b"), shape=shape, chunks=chunk, dtype="float32", fill_value=0.0
        )
        zarr.create_array(
            str(tmp / "inv"), shape=shape, chunks=chunk, dtype="float32", fill_value=0.0
        )
        blocks = _blocks(shape, chunk)
        # the global level set: union of the chunks' distinct positive distances
        level_parts = dask.compute(
            *[dask.delayed(_levels_block)(str(tmp / "dt"), blk, chunk, shape) for blk in blocks]
        )
        levels = np.unique(np.concatenate([np.zeros(0, np.float32), *level_parts]))
        levels = levels.astype(np.float32)
        if levels.size == 0:
            raise ValueError("labels: no pore voxels; nothing can be intruded")
        inlet_pore = any(np.any(np.asarray(dt_z[_face_slice(f, shape)]) > 0) for f in faces)
        if not inlet_pore:
            raise ValueError("inlet: no pore voxel touches the inlet faces; mercury cannot enter")
        n_blocks = tuple(math.ceil(s / c) for s, c in zip(shape, chunk, strict=True))
        active = set(blocks)
        for _ in range(int(max_passes)):
            order = sorted(active)
            changed = dask.compute(
                *[
                    dask.delayed(_flood_block)(tmp, blk, chunk, shape, faces, levels)
                    for blk in order
                ]
            )
            active = {
                nb
                for blk, ch in zip(order, changed, strict=True)
                if ch
                for nb in (*_neighbours(blk, n_blocks), blk)
            }
            if not active:
                break
        else:
            raise RuntimeError(f"bottleneck flood did not converge in {max_passes} passes")
        b_z = zarr.open_array(str(tmp / "b"), mode="r")
        b_max = float(da.from_zarr(b_z).max().compute())
        halo = halo_voxels(b_max, spacing)
        dask.compute(
            *[
                dask.delayed(_paint_block)(tmp, blk, chunk, shape, spacing, levels, halo)
                for blk in blocks
            ]
        )
        if out_zarr is not None:
            result = da.from_zarr(str(tmp / "inv"))
            result.to_zarr(str(out_zarr), overwrite=True)
            return zarr.open_array(str(out_zarr), mode="r")
        return np.asarray(zarr.open_array(str(tmp / "inv"), mode="r")[...])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _face_slice(face, shape) -> tuple[slice, ...]:
    axis, side = face
    sl = [slice(None)] * 3
    idx = 0 if side == 0 else shape[axis] - 1
    sl[axis] = slice(idx, idx + 1)
    return tuple(sl)


def _levels_block(path: str, block, chunk, shape) -> np.ndarray:
    import zarr

    lo, hi = _box(block, chunk, shape)
    d = np.asarray(
        zarr.open_array(path, mode="r")[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
    )
    return np.unique(d[d > 0])
