"""Chunked all-pressure MIP intrusion: the same invasion radii as in memory, chunk by chunk.

The in-memory algorithm (:mod:`microstructure.porosimetry.intrusion`) is distance transform ->
bottleneck (maximin) flood from the inlets -> ball painting. Chunked:

1. **Distance transform** per chunk with an overlap of the largest radius considered
   (``max_radius_nm``): exact up to that radius (:func:`distance_capped_nm`).
2. **Bottleneck flood** across chunks by relaxation: every pass floods each chunk from its own
   inlet voxels and from the one-voxel halo of its neighbours' current values; values only grow
   and every one is a valid lower bound, so the passes converge to the exact maximin field (the
   least fixed point of ``b(x) = min(d(x), max_neighbour b)``). A pass only revisits chunks
   next to a boundary layer that changed.
3. **Ball painting** per chunk with an overlap of the largest bottleneck radius.

Intermediate fields live in a Zarr store whose chunks are the work chunks (parallel writes never
share a Zarr chunk), so the volume never has to fit in memory; tasks run on the current Dask
scheduler (threads, processes or a dask.distributed cluster, see :func:`dask_scheduler`).
Every finished chunk of every phase leaves a completion marker (:mod:`.resume`): with
``resume_dir`` an interrupted call, repeated with the same arguments, recomputes only the
chunks without a marker.
The result equals :func:`microstructure.porosimetry.invasion_radius` whenever ``max_radius_nm``
is at least the largest pore radius: the same intruded voxels, radii equal to float32 rounding
(the edt library's distances of a chunk can differ from the whole volume's in the last bit,
relative 1.2e-7; the tests check both).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.faces import parse_faces
from microstructure.parallel import _work as W
from microstructure.parallel.chunked import as_dask, halo_voxels
from microstructure.parallel.resume import ChunkLedger, read_state, write_state
from microstructure.volume import parse_voxel_size

__all__ = ["invasion_radius_chunked"]


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


def _changed_faces(new: np.ndarray, old: np.ndarray) -> str:
    """Which of the six boundary layers differ: ``z- z+ y- y+ x- x+`` as a string of 0/1."""
    out = []
    for ax in range(3):
        for idx in (0, -1):
            out.append(
                "0" if np.array_equal(new.take(idx, axis=ax), old.take(idx, axis=ax)) else "1"
            )
    return "".join(out)


def _flood_block(root: str, phase: str, block, chunk, shape, faces, levels) -> None:
    """One relaxation step on one chunk; its marker says which of its boundary layers changed
    (only the neighbours across those read new halo values)."""
    import zarr

    from microstructure.porosimetry import _core

    r = Path(root)
    ledger = ChunkLedger(root, phase)
    dt_z = zarr.open_array(str(r / "dt"), mode="r")
    b_z = zarr.open_array(str(r / "b"), mode="r+")
    lo, hi = W.box(block, chunk, shape, (1, 1, 1))
    d = np.asarray(dt_z[W.sl(lo, hi)])
    b_old = np.asarray(b_z[W.sl(lo, hi)])
    ins = W.inner(lo, block, chunk, shape)
    halo = np.ones(d.shape, bool)
    halo[ins] = False
    field = d.copy()
    field[halo] = b_old[halo]  # neighbours' current values act as seeds with those values
    seeds = (_seeds(lo, hi, shape, faces) & (d > 0)) | (halo & (b_old > 0))
    changed = "000000"
    if seeds.any():
        b_new = _core.flood(field, seeds, levels)[ins]
        changed = _changed_faces(b_new, b_old[ins])
        if not np.array_equal(b_new, b_old[ins]):
            # flag first: a rerun after an interruption between the write and the marker
            # must still wake the neighbours up although it then finds nothing to change
            ledger.flag(block)
            b_z[W.own(block, chunk, shape)] = b_new
    if ledger.flagged(block) and changed == "000000":
        changed = "111111"
    ledger.mark(block, changed)


def _woken(block, changed: str, n_blocks) -> list[tuple[int, int, int]]:
    """Neighbours across the changed boundary layers of ``block``."""
    out = []
    for k, flag in enumerate(changed):
        if flag != "1":
            continue
        ax, step = divmod(k, 2)
        nb = list(block)
        nb[ax] += 1 if step else -1
        if 0 <= nb[ax] < n_blocks[ax]:
            out.append(tuple(nb))
    return out


def _bottleneck_flood(root: Path, chunk, shape, faces, levels, max_passes: int) -> None:
    """Relaxation passes until no chunk boundary changes; resumable (state in ``flood.json``).

    A chunk is flooded again only when a neighbour's boundary layer next to it changed: its
    result depends on nothing else (its distances are fixed), so a chunk whose halo did not
    change is already at its fixed point. The passes end at the exact maximin field: every
    value is a lower bound of it and, at the end, every chunk satisfies the flood equations
    with its neighbours' current values, which only the least such field (the exact one)
    can do from below.
    """
    import dask

    W.create(root, "b", shape, chunk, "float32", 0.0)
    n_blocks = tuple(math.ceil(s / c) for s, c in zip(shape, chunk, strict=True))
    state = read_state(root, "flood") or {
        "pass": 0,
        "active": [list(b) for b in W.blocks_of(shape, chunk)],
    }
    while state["active"]:
        k = int(state["pass"])
        if k >= int(max_passes):
            raise RuntimeError(f"bottleneck flood did not converge in {max_passes} passes")
        phase = f"flood/{k}"
        active = [tuple(b) for b in state["active"]]
        ledger = ChunkLedger(root, phase)
        W.run_tasks(
            [
                dask.delayed(_flood_block)(str(root), phase, blk, chunk, shape, faces, levels)
                for blk in ledger.todo(active)
            ]
        )
        nxt = {nb for blk in active for nb in _woken(blk, ledger.value(blk), n_blocks)}
        state = {"pass": k + 1, "active": [list(b) for b in sorted(nxt)]}
        write_state(root, "flood", state)


def _face_slice(face, shape) -> tuple[slice, ...]:
    axis, side = face
    sl = [slice(None)] * 3
    idx = 0 if side == 0 else shape[axis] - 1
    sl[axis] = slice(idx, idx + 1)
    return tuple(sl)


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
    resume_dir: str | os.PathLike | None = None,
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
        Folder for a temporary work folder (default: the system's), removed afterwards.
        Ignored when ``resume_dir`` is given.
    out_zarr
        Write the result to this Zarr array (on disk, chunked) and return it instead of a
        numpy array: for volumes that do not fit in memory.
    max_passes
        Safety bound on the relaxation passes.
    resume_dir
        Resumable work folder: the Zarr intermediates and one completion marker per finished
        chunk and phase stay there when the call fails or is interrupted, and the same call
        (same input and arguments) on the same folder computes only the unfinished chunks.
        Removed when the call succeeds. A folder of another call's arguments is cleared.

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
    import zarr

    spacing = parse_voxel_size(voxel_size_nm)
    cap = float(max_radius_nm)
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"max_radius_nm: expected a positive radius, got {max_radius_nm!r}")
    arr = as_dask(pore_mask)
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    shape = tuple(int(s) for s in arr.shape)
    chunk = W.parse_chunk(chunks, shape)
    faces = parse_faces(inlet, thickness_axis=thickness_axis, top_at=top_at, name="inlet")
    manifest = {
        "function": "invasion_radius_chunked",
        "format": 2,
        "shape": list(shape),
        "chunk": list(chunk),
        "voxel_size_nm": list(spacing),
        "max_radius_nm": cap,
        "faces": [list(f) for f in faces],
    }
    with W.work_folder(resume_dir, work_dir, manifest, "mip-chunked-") as root:
        W.phase_mask(root, arr, chunk, shape)
        levels = W.phase_distance(root, chunk, shape, spacing, cap, halo_voxels(cap, spacing))
        if levels.size == 0:
            raise ValueError("labels: no pore voxels; nothing can be intruded")
        dt_z = zarr.open_array(str(root / "dt"), mode="r")
        if not any(np.any(np.asarray(dt_z[_face_slice(f, shape)]) > 0) for f in faces):
            raise ValueError("inlet: no pore voxel touches the inlet faces; mercury cannot enter")
        _bottleneck_flood(root, chunk, shape, faces, levels, max_passes)
        state = read_state(root, "paint") or {}
        if "b_max_nm" not in state:
            state = {"b_max_nm": W.max_of(root, "b")}
            write_state(root, "paint", state)
        halo = halo_voxels(state["b_max_nm"], spacing)
        W.phase_paint(root, "b", "inv", chunk, shape, spacing, levels, halo)
        return W.finish(root, "inv", out_zarr)
