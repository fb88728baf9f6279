"""Chunked granulometry (private): exact local thickness chunk by chunk, and its PSD without
the volume.

:func:`~microstructure.porosimetry.local_thickness` and
:func:`~microstructure.porosimetry.granulometry` come here for a Dask or Zarr input (or with
``chunks``). Local thickness is ``lt(x) = max{dt(c) : |x - c| < dt(c)}``: the distance
transform per chunk with an overlap of the largest radius considered (exact up to
``max_radius_nm``; without it the cap is found as for the MIP, see
:func:`~microstructure.porosimetry._intrusion_chunked.distance_phase`), then ball painting per
chunk with an overlap of the largest distance found (every ball that reaches a chunk has its
centre inside the grown chunk). Both phases are resumable. The PSD is assembled from
per-chunk counts of the distinct radii, so the volume of radii never has to be in memory. With
the cap at least the largest pore radius (the default) the result equals the in-memory one
(radii to float32 rounding of the chunked distance transform, relative 1.2e-7; same curve).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.parallel import _work as W
from microstructure.parallel.chunked import as_dask, halo_voxels
from microstructure.parallel.resume import read_state, write_state
from microstructure.porosimetry import _chunked_work as CW
from microstructure.porosimetry._intrusion_chunked import (
    DEFAULT_CHUNK,
    as_result,
    check_radii,
    distance_phase,
)
from microstructure.porosimetry.distribution import MipCurve, curve_from_radii
from microstructure.volume import parse_voxel_size


def _lt_in_folder(
    root: Path, arr: Any, spacing, cap: float | None, grid, steps=None, *, count: bool = False
) -> np.ndarray:
    """Mask, capped distance and painting phases into ``root/lt``; returns the levels the
    local thickness can take (the distance levels, or the step radii)."""
    chunk, shape = grid
    W.phase_mask(root, arr, chunk, shape)
    levels = distance_phase(root, chunk, shape, spacing, cap)
    if levels.size == 0:
        raise ValueError("pore_mask: no pore voxels")
    state = read_state(root, "paint") or {}
    if "dt_max_nm" not in state:
        state = {"dt_max_nm": float(levels[-1])}
        write_state(root, "paint", state)
    paint_levels = levels if steps is None else steps
    halo = halo_voxels(levels[-1], spacing)
    CW.phase_paint(
        root, "dt", "lt", chunk, shape, spacing, paint_levels, halo, steps=steps, count=count
    )
    return paint_levels


def _check(pore_mask: Any, voxel_size_nm: Any, opts: Mapping[str, Any], radii):
    spacing = parse_voxel_size(voxel_size_nm)
    cap, steps = check_radii(opts.get("max_radius_nm"), radii)
    arr = pore_mask if isinstance(pore_mask, np.ndarray) else as_dask(pore_mask)
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    shape = tuple(int(s) for s in arr.shape)
    chunks = opts.get("chunks")
    chunk = W.parse_chunk(DEFAULT_CHUNK if chunks is None else chunks, shape)
    return arr, spacing, cap, steps, (chunk, shape)


def _manifest(function: str, grid, spacing, cap, steps) -> dict[str, Any]:
    return {
        "function": function,
        "format": 3,
        "shape": list(grid[1]),
        "chunk": list(grid[0]),
        "voxel_size_nm": list(spacing),
        "max_radius_nm": cap,
        "radii_nm": None if steps is None else [float(r) for r in steps],
    }


def local_thickness_chunked(
    pore_mask: Any, *, voxel_size_nm: Any, radii_nm: Any, opts: Mapping[str, Any]
) -> Any:
    """:func:`~microstructure.porosimetry.local_thickness` chunk by chunk; ``opts`` holds
    ``max_radius_nm, chunks, work_dir, out_zarr, resume_dir``."""
    arr, spacing, cap, steps, grid = _check(pore_mask, voxel_size_nm, opts, radii_nm)
    manifest = _manifest("local_thickness", grid, spacing, cap, steps)
    resume, work = opts.get("resume_dir"), opts.get("work_dir")
    with W.work_folder(resume, work, manifest, "lt-chunked-") as root:
        _lt_in_folder(root, arr.astype(bool), spacing, cap, grid, steps)
        field = W.finish(root, "lt", opts.get("out_zarr"))
    return as_result(field, pore_mask, grid[0])


def granulometry_chunked(
    labels: Any,
    *,
    voxel_size_nm: Any,
    radii_nm: Any,
    pore_phases: Sequence[int],
    washburn: tuple[float, float],
    opts: Mapping[str, Any],
) -> tuple[Any, MipCurve, float, float, tuple[float, float, float]]:
    """:func:`~microstructure.porosimetry.granulometry` chunk by chunk: (local thickness,
    curve, porosity, mean radius, voxel size)."""
    lab = W.check_labels_lazy(labels)
    pore = W.pore_of_labels(lab, pore_phases)
    arr, spacing, cap, steps, grid = _check(pore, voxel_size_nm, opts, radii_nm)
    manifest = _manifest("granulometry", grid, spacing, cap, steps)
    manifest["pore_phases"] = sorted(int(p) for p in pore_phases)
    resume, work = opts.get("resume_dir"), opts.get("work_dir")
    with W.work_folder(resume, work, manifest, "gran-chunked-") as root:
        try:
            levels = _lt_in_folder(root, arr, spacing, cap, grid, steps, count=True)
        except ValueError as exc:
            raise ValueError(f"labels: no pore voxels (phases {list(pore_phases)})") from exc
        values, counts = CW.summed_counts(root, "counts-lt", grid[1], grid[0])
        n_pore = float(counts.sum())
        n_total = float(np.prod(grid[1]))
        curve = curve_from_radii(
            values,
            weights=counts,
            levels_nm=levels if steps is None else None,
            steps_radius_nm=steps,
            pore_volume=n_pore,
            sample_volume=n_total,
            contact_angle_deg=washburn[0],
            surface_tension_n_per_m=washburn[1],
            label="granulometry",
        )
        hit = values > 0
        mean_r = float(
            np.sum(values[hit].astype(np.float64) * counts[hit]) / max(1, int(counts[hit].sum()))
        )
        lt = W.finish(root, "lt", opts.get("out_zarr"))
    return as_result(lt, labels, grid[0]), curve, n_pore / n_total, mean_r, spacing
