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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.faces import parse_faces
from microstructure.parallel import _work as W
from microstructure.parallel.chunked import as_dask, halo_voxels
from microstructure.parallel.resume import (
    MANIFEST_FILE,
    ChunkLedger,
    open_work_folder,
    read_state,
    write_state,
)
from microstructure.volume import PORE_PHASES, parse_voxel_size

__all__ = ["invasion_radius_chunked", "simulate_mip_chunked"]


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


def _faces_path(root: Path, block) -> Path:
    return root / "faces" / (W.block_name(block) + ".npy")


def _save_faces(root: Path, block, b: np.ndarray) -> None:
    """The six boundary layers of a chunk's bottleneck values (what its neighbours read), in
    the order z-, z+, y-, y+, x-, x+, flattened into one ``.npy`` (written atomically)."""
    (root / "faces").mkdir(exist_ok=True)
    flat = np.concatenate([b.take(idx, axis=ax).ravel() for ax in range(3) for idx in (0, -1)])
    W._save_npy(_faces_path(root, block), flat)


def _face_layer(flat: np.ndarray, shape, ax: int, side: int) -> np.ndarray:
    """Layer ``ax``/``side`` (0: low, 1: high) of a chunk of ``shape`` from :func:`_save_faces`."""
    sizes = [int(np.prod([s for k, s in enumerate(shape) if k != a])) for a in range(3)]
    start = sum(2 * sizes[a] for a in range(ax)) + side * sizes[ax]
    layer_shape = tuple(s for k, s in enumerate(shape) if k != ax)
    return flat[start : start + sizes[ax]].reshape(layer_shape)


def _halo_box(root: Path, block, n_blocks, chunk, shape, d: np.ndarray, b: np.ndarray):
    """The chunk padded by one voxel: field ``D`` (the chunk's distances inside, the face
    neighbours' current bottleneck values in the halo, 0 elsewhere), current values ``B``
    (the chunk's own, 0 in the halo) and the halo voxels to seed from."""
    shp = tuple(s + 2 for s in d.shape)
    D = np.zeros(shp, np.float32)
    B = np.zeros(shp, np.float32)
    core = (slice(1, -1),) * 3
    D[core] = d
    B[core] = b
    for ax in range(3):
        for step, mine, theirs in ((-1, 0, 1), (1, -1, 0)):
            nb = list(block)
            nb[ax] += step
            if not 0 <= nb[ax] < n_blocks[ax]:
                continue
            path = _faces_path(root, nb)
            if not path.is_file():
                continue  # never raised: all zeros
            nb_shape = list(d.shape)
            nb_shape[ax] = min(chunk[ax], shape[ax] - nb[ax] * chunk[ax])
            layer = _face_layer(np.load(path), nb_shape, ax, theirs)
            idx = [slice(1, -1)] * 3
            idx[ax] = 0 if mine == 0 else shp[ax] - 1
            D[tuple(idx)] = layer
    halo = np.ones(shp, bool)
    halo[core] = False
    return D, B, halo & (D > 0), core


def _flood_block(root: str, phase: str, block, chunk, shape, faces, levels) -> None:
    """One relaxation step on one chunk: raise its bottleneck values from its inlet voxels
    and its face neighbours' current boundary values (incremental, exact); its marker says
    which of its boundary layers changed (only the neighbours across those read new values)."""
    import zarr

    from microstructure.parallel._kernels import raise_bottleneck

    r = Path(root)
    ledger = ChunkLedger(root, phase)
    own = W.own(block, chunk, shape)
    n_blocks = tuple(math.ceil(s / c) for s, c in zip(shape, chunk, strict=True))
    b_z = zarr.open_array(str(r / "b"), mode="r+")
    d = np.asarray(zarr.open_array(str(r / "dt"), mode="r")[own])
    b_old = np.asarray(b_z[own])
    D, B, seeds, core = _halo_box(r, block, n_blocks, chunk, shape, d, b_old)
    lo = [s.start for s in own]
    hi = [s.stop for s in own]
    seeds[core] |= _seeds(lo, hi, shape, faces) & (d > 0)
    changed = "000000"
    if seeds.any():
        counts = raise_bottleneck(D, B, levels, seeds)
        if counts[0] > 0:
            # flag first: a rerun after an interruption between the writes and the marker
            # must still publish the faces and wake the neighbours up although it then
            # finds nothing to raise
            changed = "".join("1" if f else "0" for f in counts[1:])
            ledger.flag(block)
            b_z[own] = B[core]
    if ledger.flagged(block):
        _save_faces(r, block, B[core])
        if changed == "000000":
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


def _check_radii(max_radius_nm: float | None, radii_nm: Any) -> tuple[float, np.ndarray | None]:
    """The cap (nm) and the discrete radius list (float32, ascending) or None."""
    from microstructure.porosimetry import _core

    steps = None if radii_nm is None else _core.check_radii(radii_nm)
    if max_radius_nm is None:
        if steps is None:
            raise ValueError("max_radius_nm: give the largest radius considered (nm)")
        max_radius_nm = float(steps[-1])
    cap = float(max_radius_nm)
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"max_radius_nm: expected a positive radius, got {max_radius_nm!r}")
    return cap, steps


def _invasion_in_folder(
    root: Path,
    arr: Any,
    chunk,
    shape,
    spacing,
    cap: float,
    faces,
    steps,
    max_passes: int,
    *,
    count: bool = False,
) -> np.ndarray:
    """Mask, capped distance, flood and painting phases into ``root/inv``; returns the levels
    the invasion radius can take (the distance levels, or the step radii)."""
    import zarr

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
    paint_levels = levels if steps is None else steps
    W.phase_paint(
        root, "b", "inv", chunk, shape, spacing, paint_levels, halo, steps=steps, count=count
    )
    return paint_levels


def _manifest(function: str, shape, chunk, spacing, cap, faces, steps) -> dict[str, Any]:
    return {
        "function": function,
        "format": 4,
        "shape": list(shape),
        "chunk": list(chunk),
        "voxel_size_nm": list(spacing),
        "max_radius_nm": cap,
        "faces": [list(f) for f in faces],
        "radii_nm": None if steps is None else [float(r) for r in steps],
    }


def invasion_radius_chunked(
    pore_mask: Any,
    *,
    voxel_size_nm: Any,
    max_radius_nm: float | None = None,
    inlet: str = "all",
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    radii_nm: Any = None,
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
        voxels, radii to float32 rounding). Default with ``radii_nm``: its largest radius.
    inlet, thickness_axis, top_at
        Inlet faces and electrode orientation, as in :func:`simulate_mip`.
    radii_nm
        Optional discrete radius list (nm), as :func:`invasion_radius`: the bottleneck field
        is floored to it before painting. The result equals the in-memory one with the same
        list when ``max_radius_nm`` is at least its largest radius, whatever the pore sizes
        (wider pores are floored to the largest radius either way).
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
    spacing = parse_voxel_size(voxel_size_nm)
    cap, steps = _check_radii(max_radius_nm, radii_nm)
    arr = as_dask(pore_mask)
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    shape = tuple(int(s) for s in arr.shape)
    chunk = W.parse_chunk(chunks, shape)
    faces = parse_faces(inlet, thickness_axis=thickness_axis, top_at=top_at, name="inlet")
    manifest = _manifest("invasion_radius_chunked", shape, chunk, spacing, cap, faces, steps)
    src = pore_mask if isinstance(pore_mask, np.ndarray) else arr
    with W.work_folder(resume_dir, work_dir, manifest, "mip-chunked-") as root:
        _invasion_in_folder(root, src, chunk, shape, spacing, cap, faces, steps, max_passes)
        return W.finish(root, "inv", out_zarr)


RESULT_FILE = "result.npz"


def simulate_mip_chunked(
    labels: Any,
    *,
    voxel_size_nm: Any,
    max_radius_nm: float | None = None,
    inlet: str = "all",
    contact_angle_deg: float | None = None,
    surface_tension_n_per_m: float | None = None,
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    radii_nm: Any = None,
    densities_g_per_cm3: Mapping[Any, float] | None = None,
    pore_phases: Sequence[int] = PORE_PHASES,
    chunks: int | tuple[int, int, int] = 128,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
    max_passes: int = 1000,
    resume_dir: str | os.PathLike | None = None,
) -> Any:
    """Simulated mercury intrusion of a labels volume, chunk by chunk (no extrusion).

    The chunked counterpart of :func:`microstructure.porosimetry.simulate_mip` without the
    in-memory-only options (extrusion, CBD hybrid curve): the same intrusion curve, porosity,
    accessible fraction and specific volume, built from per-chunk counts of the invasion
    radii, so the volume never has to be in memory.

    Parameters
    ----------
    labels
        uint8 labels (z, y, x) as numpy, Zarr or Dask array; pore = ``pore_phases``.
    voxel_size_nm, max_radius_nm, inlet, thickness_axis, top_at, radii_nm, chunks, max_passes
        As :func:`invasion_radius_chunked`.
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters (defaults: the package's, Hg 140 deg and 0.48 N/m).
    densities_g_per_cm3
        Skeletal densities of the solid phases, as :func:`simulate_mip`, for
        ``specific_volume_mm3_per_g`` (phase voxels counted chunk by chunk).
    pore_phases
        Labels counted as pore (default 0 and 3).
    work_dir
        As :func:`invasion_radius_chunked`.
    out_zarr
        Keep the invasion radius field as this Zarr array (``result.invasion_radius_nm``);
        without it the field is not kept (``None``): only the curve and numbers.
    resume_dir
        Resumable work folder, as :func:`invasion_radius_chunked`. When the call succeeds
        without ``out_zarr`` the intermediates are removed but the counts the result is made
        of (``result.npz``, a few kB, and the manifest) stay, so the same call returns at once.

    Returns
    -------
    MipResult
        ``curve`` and ``resolved_curve`` are the same (no hybrid curve); ``extrusion`` None.

    Raises
    ------
    ValueError
        Bad labels, radius, chunk size or densities; no pore voxel; no pore voxel on the
        inlet faces.
    """
    from microstructure.faces import face_name
    from microstructure.porosimetry import MipResult, curve_from_radii
    from microstructure.porosimetry.washburn import (
        CONTACT_ANGLE_DEG,
        SURFACE_TENSION_N_PER_M,
        check_mercury_parameters,
    )

    theta = CONTACT_ANGLE_DEG if contact_angle_deg is None else float(contact_angle_deg)
    gamma = (
        SURFACE_TENSION_N_PER_M
        if surface_tension_n_per_m is None
        else float(surface_tension_n_per_m)
    )
    check_mercury_parameters(theta, gamma)
    spacing = parse_voxel_size(voxel_size_nm)
    cap, steps = _check_radii(max_radius_nm, radii_nm)
    lab = W.check_labels_lazy(labels)
    pore = W.pore_of_labels(lab, pore_phases)
    shape = tuple(int(s) for s in lab.shape)
    chunk = W.parse_chunk(chunks, shape)
    faces = parse_faces(inlet, thickness_axis=thickness_axis, top_at=top_at, name="inlet")
    manifest = _manifest("simulate_mip_chunked", shape, chunk, spacing, cap, faces, steps)
    manifest["pore_phases"] = sorted(int(p) for p in pore_phases)
    field = None

    def compute(root: Path) -> dict[str, np.ndarray]:
        levels = _invasion_in_folder(
            root, pore, chunk, shape, spacing, cap, faces, steps, max_passes, count=True
        )
        values, counts = W.painted_counts(root, shape, chunk)
        return {"values": values, "counts": counts, "levels": levels}

    if out_zarr is not None or resume_dir is None:
        with W.work_folder(resume_dir, work_dir, manifest, "mip-chunked-") as root:
            res = compute(root)
            if out_zarr is not None:
                field = W.finish(root, "inv", out_zarr)
    else:
        root, _ = open_work_folder(resume_dir, manifest)
        saved = root / RESULT_FILE
        if saved.is_file():
            with np.load(saved) as f:
                res = {k: f[k] for k in f.files}
        else:
            res = compute(root)
            W.save_npz_atomic(saved, res)
            W.clear_folder(root, keep=(MANIFEST_FILE, RESULT_FILE))
    values, counts, levels = res["values"], res["counts"], res["levels"]
    n_total = float(np.prod(shape))
    n_pore = float(counts.sum())
    hit = values > 0
    factor = None
    if densities_g_per_cm3 is not None:
        vv = spacing[0] * spacing[1] * spacing[2]
        mass = W.solid_mass_g(W.phase_counts(lab), densities_g_per_cm3, vv)
        factor = vv * 1e-18 / mass
    names = tuple(face_name(f) for f in faces)
    curve = curve_from_radii(
        values[hit],
        weights=counts[hit],
        pore_volume=n_pore,
        sample_volume=n_total,
        steps_radius_nm=steps,
        levels_nm=levels,
        mm3_per_g_per_unit=factor,
        contact_angle_deg=theta,
        surface_tension_n_per_m=gamma,
        label="simulated MIP",
    )
    curve.metadata.update({"inlet": list(names), "voxel_size_nm": list(spacing)})
    return MipResult(
        invasion_radius_nm=field,
        curve=curve,
        resolved_curve=curve,
        voxel_size_nm=spacing,
        porosity=n_pore / n_total,
        accessible_fraction=float(counts[hit].sum()) / n_pore,
        inlet=names,
        contact_angle_deg=theta,
        surface_tension_n_per_m=gamma,
        step_radii_nm=steps,
    )
