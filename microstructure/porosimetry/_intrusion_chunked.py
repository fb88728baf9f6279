"""Chunked all-pressure MIP (private): the in-memory numbers, chunk by chunk.

:func:`~microstructure.porosimetry.simulate_mip` and
:func:`~microstructure.porosimetry.invasion_radius` come here for a Dask or Zarr input (or
with ``chunks``). The in-memory algorithm is distance transform -> bottleneck (maximin) flood
from the inlets -> ball painting (Hilpert and Miller 2001); chunked:

1. **Distance transform** per chunk with an overlap of the largest radius considered
   (``max_radius_nm``): exact up to that radius. Without ``max_radius_nm`` (and without a
   radius list) the cap is found: a capped transform whose largest value stays below its cap
   is exact everywhere, so the cap starts at :data:`AUTO_CAP_VOXELS` voxels and doubles until
   it does (one more distance pass per doubling).
2. **Bottleneck flood** across chunks by relaxation
   (:func:`~microstructure.porosimetry._chunked_work.bottleneck_flood`).
3. **Ball painting** per chunk with an overlap of the largest bottleneck radius.
4. With ``extrusion``: the local thickness (painting of the distances), the field mercury
   retreats through, a second bottleneck flood of it from the inlets, and per-chunk counts of
   the entrapped and leaving voxels; the extrusion curve is built from those counts exactly
   as in memory.

Intermediate fields live in a Zarr store whose chunks are the work chunks (parallel writes
never share a Zarr chunk), so the volume never has to fit in memory; tasks run on the current
Dask scheduler (threads, processes or a dask.distributed cluster, see
:func:`microstructure.parallel.dask_scheduler`). Every finished chunk of every phase leaves a
completion marker (:mod:`microstructure.parallel.resume`): with ``resume_dir`` an interrupted
call, repeated with the same arguments, recomputes only the chunks without a marker.

The result equals the in-memory one whenever the cap is at least the largest pore radius (the
default): the same intruded voxels, radii equal to float32 rounding (the edt library's
distances of a chunk can differ from the whole volume's in the last bit, relative 1.2e-7).

References
----------
Hilpert, M. and Miller, C. T. (2001). Pore-morphology-based simulation of drainage in totally
wetting porous media. Advances in Water Resources 24, 243-255.
doi:10.1016/S0309-1708(00)00056-7
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.faces import face_name, parse_faces
from microstructure.parallel import _work as W
from microstructure.parallel.chunked import as_dask, halo_voxels
from microstructure.parallel.resume import (
    MANIFEST_FILE,
    ChunkLedger,
    open_work_folder,
    read_state,
    write_state,
)
from microstructure.porosimetry import _chunked_work as CW
from microstructure.porosimetry import _core
from microstructure.porosimetry._drainage import extrusion_curve, extrusion_result
from microstructure.porosimetry._results import MipResult
from microstructure.porosimetry.distribution import curve_from_radii
from microstructure.volume import parse_voxel_size

#: work chunk edge (voxels) when a Dask or Zarr input comes without ``chunks``
DEFAULT_CHUNK = 128
#: first cap (voxels of the largest edge) of the automatic cap search
AUTO_CAP_VOXELS = 16
RESULT_FILE = "result.npz"


def wants_chunked(data: Any, chunks: Any) -> bool:
    """True when ``data`` is a Dask or Zarr array, or ``chunks`` asks for the chunked path."""
    if chunks is not None:
        return True
    if isinstance(data, np.ndarray):
        return False
    return hasattr(data, "compute") or type(data).__module__.split(".")[0] == "zarr"


def check_radii(max_radius_nm: float | None, radii_nm: Any) -> tuple[float | None, Any]:
    """The cap (nm; None: found automatically) and the radius list (float32) or None."""
    steps = None if radii_nm is None else _core.check_radii(radii_nm)
    if max_radius_nm is None:
        return (None if steps is None else float(steps[-1])), steps
    cap = float(max_radius_nm)
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"max_radius_nm: expected a positive radius, got {max_radius_nm!r}")
    return cap, steps


def distance_phase(root: Path, chunk, shape, spacing, cap: float | None) -> np.ndarray:
    """Capped EDT into ``root/dt``; returns its levels. With ``cap`` None the cap doubles
    from :data:`AUTO_CAP_VOXELS` voxels until no distance reaches it (all exact); resumable
    (the cap being tried is kept in ``cap.json``)."""
    if cap is not None:
        return W.phase_distance(root, chunk, shape, spacing, cap, halo_voxels(cap, spacing))
    state = read_state(root, "cap") or {"cap_nm": AUTO_CAP_VOXELS * max(spacing)}
    while True:
        c = float(np.float32(state["cap_nm"]))  # the capped values are float32
        write_state(root, "cap", {"cap_nm": c})
        halo = halo_voxels(c, spacing)
        levels = W.phase_distance(root, chunk, shape, spacing, c, halo)
        whole = all(h >= s for h, s in zip(halo, shape, strict=True))
        if levels.size == 0 or levels[-1] < np.float32(c) or whole:
            return levels
        for name in ("dt", "levels"):  # saturated: some distance may be larger
            shutil.rmtree(root / name, ignore_errors=True)
        state = {"cap_nm": 2.0 * c}


def _face_slice(face, shape) -> tuple[slice, ...]:
    axis, side = face
    s = [slice(None)] * 3
    idx = 0 if side == 0 else shape[axis] - 1
    s[axis] = slice(idx, idx + 1)
    return tuple(s)


def invasion_in_folder(
    root: Path,
    arr: Any,
    grid: tuple,
    spacing,
    cap: float | None,
    faces,
    radii: tuple,
    max_passes: int,
    *,
    count: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mask, capped distance, flood and painting phases into ``root/inv``. ``grid`` is
    (chunk, shape), ``radii`` (radius list or None, batch size or None). Returns the distance
    levels, the levels the invasion radius can take and the step radii (or None)."""
    import zarr

    chunk, shape = grid
    steps, batch = radii
    W.phase_mask(root, arr, chunk, shape)
    levels = distance_phase(root, chunk, shape, spacing, cap)
    if levels.size == 0:
        raise ValueError("labels: no pore voxels; nothing can be intruded")
    dt_z = zarr.open_array(str(root / "dt"), mode="r")
    if not any(np.any(np.asarray(dt_z[_face_slice(f, shape)]) > 0) for f in faces):
        raise ValueError("inlet: no pore voxel touches the inlet faces; mercury cannot enter")
    if batch is not None:
        steps = _core.step_radii(None, batch, float(levels[-1]))
    CW.bottleneck_flood(root, chunk, shape, faces, levels, max_passes)
    state = read_state(root, "paint") or {}
    if "b_max_nm" not in state:
        state = {"b_max_nm": W.max_of(root, "b")}
        write_state(root, "paint", state)
    halo = halo_voxels(state["b_max_nm"], spacing)
    paint_levels = levels if steps is None else steps
    CW.phase_paint(
        root, "b", "inv", chunk, shape, spacing, paint_levels, halo, steps=steps, count=count
    )
    return levels, paint_levels, steps


def _field_task(root: str, block, chunk, shape, steps) -> None:
    """The field mercury retreats through: the local thickness (floored to the radius list)
    where mercury entered, 0 elsewhere (as in memory)."""
    import zarr

    r = Path(root)
    own = W.own(block, chunk, shape)
    inv = np.asarray(zarr.open_array(str(r / "inv"), mode="r")[own])
    lt = np.asarray(zarr.open_array(str(r / "lt"), mode="r")[own])
    if steps is not None:
        lt = _core.quantize(lt, steps)
    zarr.open_array(str(r / "xf"), mode="r+")[own] = np.where(inv > 0, lt, np.float32(0.0))
    ChunkLedger(root, "xfield").mark(block)


def _entrap_task(root: str, block, chunk, shape) -> None:
    """Entrapped and leaving voxels of one chunk: counts of the extrusion radii of the leaving
    ones (``counts-ext``), and ``n_filled n_trapped`` in the completion marker."""
    import zarr

    r = Path(root)
    own = W.own(block, chunk, shape)
    inv, xf, m = (
        np.asarray(zarr.open_array(str(r / name), mode="r")[own]) for name in ("inv", "xf", "m")
    )
    filled = inv > 0
    entrapped = filled & (m < xf)
    leaving = filled & ~entrapped
    CW.save_counts(r, "counts-ext", block, xf[leaving])
    n_filled, n_trapped = int(np.count_nonzero(filled)), int(np.count_nonzero(entrapped))
    ChunkLedger(root, "entrap").mark(block, f"{n_filled} {n_trapped}")


def extrusion_in_folder(
    root: Path, grid: tuple, spacing, faces, dt_levels: np.ndarray, steps, max_passes: int
) -> dict[str, np.ndarray]:
    """Local thickness, retreat field, second flood and entrapment counts (resumable)."""
    import dask

    chunk, shape = grid
    blocks = W.blocks_of(shape, chunk)
    lt_halo = halo_voxels(float(dt_levels[-1]), spacing)
    CW.phase_paint(root, "dt", "lt", chunk, shape, spacing, dt_levels, lt_halo)
    W.create(root, "xf", shape, chunk, "float32", 0.0)
    todo = ChunkLedger(root, "xfield").todo(blocks)
    W.run_tasks([dask.delayed(_field_task)(str(root), b, chunk, shape, steps) for b in todo])
    flood_levels = dt_levels if steps is None else steps
    CW.bottleneck_flood(
        root, chunk, shape, faces, flood_levels, max_passes, src="xf", dst="m", tag="xflood"
    )
    ledger = ChunkLedger(root, "entrap")
    todo = ledger.todo(blocks)
    W.run_tasks([dask.delayed(_entrap_task)(str(root), b, chunk, shape) for b in todo])
    values, counts = CW.summed_counts(root, "counts-ext", shape, chunk)
    n = np.sum([[int(v) for v in ledger.value(b).split()] for b in blocks], axis=0)
    return {"ext_values": values, "ext_counts": counts, "n_filled_trapped": n}


def _manifest(function: str, grid: tuple, spacing, cap, faces, radii: tuple) -> dict[str, Any]:
    chunk, shape = grid
    steps, batch = radii
    return {
        "function": function,
        "format": 5,
        "shape": list(shape),
        "chunk": list(chunk),
        "voxel_size_nm": list(spacing),
        "max_radius_nm": cap,
        "faces": [list(f) for f in faces],
        "radii_nm": None if steps is None else [float(r) for r in steps],
        "batch_size_nm": batch,
    }


def _grid(arr: Any, chunks: Any) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    shape = tuple(int(s) for s in arr.shape)
    chunk = W.parse_chunk(DEFAULT_CHUNK if chunks is None else chunks, shape)
    return chunk, shape  # type: ignore[return-value]


def as_result(field: Any, data: Any, chunk) -> Any:
    """A lazy (Dask) result for a lazy input; numpy (or the Zarr array) otherwise."""
    if isinstance(data, np.ndarray) or not hasattr(data, "compute"):
        return field
    import dask.array as da

    return (
        da.from_zarr(field)
        if not isinstance(field, np.ndarray)
        else da.from_array(field, chunks=chunk)
    )


def invasion_radius_chunked(
    pore_mask: Any,
    *,
    voxel_size_nm: Any,
    inlet: Any,
    thickness_axis: Any,
    top_at: Any,
    radii_nm: Any,
    batch_size_nm: Any,
    opts: Mapping[str, Any],
) -> Any:
    """:func:`~microstructure.porosimetry.invasion_radius` chunk by chunk; ``opts`` holds
    ``max_radius_nm, chunks, work_dir, out_zarr, max_passes, resume_dir``."""
    spacing = parse_voxel_size(voxel_size_nm)
    if radii_nm is not None and batch_size_nm is not None:
        raise ValueError("radii_nm and batch_size_nm: give one of them, not both")
    cap, steps = check_radii(opts.get("max_radius_nm"), radii_nm)
    arr = as_dask(pore_mask)
    grid = _grid(arr, opts.get("chunks"))
    faces = parse_faces(inlet, thickness_axis=thickness_axis, top_at=top_at, name="inlet")
    radii = (steps, None if batch_size_nm is None else float(batch_size_nm))
    manifest = _manifest("invasion_radius", grid, spacing, cap, faces, radii)
    src = pore_mask if isinstance(pore_mask, np.ndarray) else arr
    resume, work = opts.get("resume_dir"), opts.get("work_dir")
    with W.work_folder(resume, work, manifest, "mip-chunked-") as root:
        invasion_in_folder(
            root, src, grid, spacing, cap, faces, radii, int(opts.get("max_passes", 1000))
        )
        field = W.finish(root, "inv", opts.get("out_zarr"))
    return as_result(field, pore_mask, grid[0])


def _compute_mip(root: Path, pore: Any, grid, spacing, cap, faces, radii, extrusion, passes):
    """Every phase of a chunked simulation; the counts the result is made of."""
    dt_levels, levels, steps = invasion_in_folder(
        root, pore, grid, spacing, cap, faces, radii, passes, count=True
    )
    values, counts = CW.summed_counts(root, "counts-inv", grid[1], grid[0])
    res = {"values": values, "counts": counts, "levels": levels}
    if steps is not None:
        res["steps"] = steps
    if extrusion:
        res.update(extrusion_in_folder(root, grid, spacing, faces, dt_levels, steps, passes))
    return res


def _run_mip(pore, grid, spacing, cap, faces, radii, extrusion, manifest, opts):
    """The counts of a chunked simulation and the invasion field (Zarr with ``out_zarr``)."""
    passes = int(opts.get("max_passes", 1000))
    args = (pore, grid, spacing, cap, faces, radii, extrusion, passes)
    resume, out_zarr = opts.get("resume_dir"), opts.get("out_zarr")
    if out_zarr is not None or resume is None:
        with W.work_folder(resume, opts.get("work_dir"), manifest, "mip-chunked-") as root:
            res = _compute_mip(root, *args)
            return res, (None if out_zarr is None else W.finish(root, "inv", out_zarr))
    # resumable without the field: the counts stay (a few kB) so the same call returns at once
    root, _ = open_work_folder(resume, manifest)
    saved = root / RESULT_FILE
    if saved.is_file():
        with np.load(saved) as f:
            return {k: f[k] for k in f.files}, None
    res = _compute_mip(root, *args)
    W.save_npz_atomic(saved, res)
    W.clear_folder(root, keep=(MANIFEST_FILE, RESULT_FILE))
    return res, None


def simulate_mip_chunked(
    labels: Any,
    *,
    voxel_size_nm: Any,
    inlet: Any,
    washburn: tuple[float, float],
    orientation: tuple[Any, Any],
    radii: tuple[Any, Any],
    densities_g_per_cm3: Mapping[Any, float] | None,
    extrusion: bool,
    pore_phases: Sequence[int],
    opts: Mapping[str, Any],
) -> MipResult:
    """:func:`~microstructure.porosimetry.simulate_mip` chunk by chunk: the same curves and
    numbers, built from per-chunk counts, so the volume never has to be in memory.
    ``washburn`` is (contact angle, surface tension), ``orientation`` (thickness axis,
    top_at), ``radii`` (radius list, batch size); ``opts`` as
    :func:`invasion_radius_chunked`."""
    theta, gamma = washburn
    spacing = parse_voxel_size(voxel_size_nm)
    if radii[0] is not None and radii[1] is not None:
        raise ValueError("radii_nm and batch_size_nm: give one of them, not both")
    cap, steps = check_radii(opts.get("max_radius_nm"), radii[0])
    lab = W.check_labels_lazy(labels)
    pore = W.pore_of_labels(lab, pore_phases)
    grid = _grid(lab, opts.get("chunks"))
    faces = parse_faces(inlet, thickness_axis=orientation[0], top_at=orientation[1], name="inlet")
    radii = (steps, None if radii[1] is None else float(radii[1]))
    manifest = _manifest("simulate_mip", grid, spacing, cap, faces, radii)
    manifest["pore_phases"] = sorted(int(p) for p in pore_phases)
    manifest["extrusion"] = bool(extrusion)
    res, field = _run_mip(pore, grid, spacing, cap, faces, radii, extrusion, manifest, opts)
    steps = res.get("steps")
    values, counts, levels = res["values"], res["counts"], res["levels"]
    n_total = float(np.prod(grid[1]))
    n_pore = float(counts.sum())
    hit = values > 0
    factor = None
    if densities_g_per_cm3 is not None:
        vv = spacing[0] * spacing[1] * spacing[2]
        mass = CW.solid_mass_g(W.phase_counts(lab), densities_g_per_cm3, vv)
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
    result = MipResult(
        invasion_radius_nm=None if field is None else as_result(field, labels, grid[0]),
        curve=curve,
        resolved_curve=curve,
        voxel_size_nm=spacing,
        porosity=n_pore / n_total,
        accessible_fraction=float(counts[hit].sum()) / n_pore,
        inlet=names,
        contact_angle_deg=float(theta),
        surface_tension_n_per_m=float(gamma),
        step_radii_nm=steps,
    )
    if extrusion:
        n_filled, n_trapped = (float(v) for v in res["n_filled_trapped"])
        ext = extrusion_curve(
            res["ext_values"],
            res["ext_counts"],
            values[hit],
            steps,
            (n_filled, n_trapped, n_pore, n_total),
            factor,
            theta,
            gamma,
        )
        result.extrusion = extrusion_result(ext, n_filled, n_trapped, n_pore)
    return result
