"""Chunked granulometry: exact local thickness chunk by chunk, and its PSD without the volume.

Local thickness is ``lt(x) = max{dt(c) : |x - c| < dt(c)}``: the distance transform per chunk
with an overlap of the largest radius considered (exact up to ``max_radius_nm``), then ball
painting per chunk with an overlap of the largest distance found (every ball that reaches a
chunk has its centre inside the grown chunk). Both phases are resumable (:mod:`.resume`). The
PSD is assembled from per-chunk counts of the distinct radii, so the volume of radii never
has to be in memory. With ``max_radius_nm`` at least the largest pore radius the result equals
:func:`microstructure.porosimetry.local_thickness` / :func:`granulometry` (radii to float32
rounding of the chunked distance transform, relative 1.2e-7; same curve).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.parallel import _work as W
from microstructure.parallel.chunked import as_dask, halo_voxels
from microstructure.parallel.mip import _check_radii
from microstructure.parallel.resume import read_state, write_state
from microstructure.volume import PORE_PHASES, parse_voxel_size

__all__ = ["local_thickness_chunked", "granulometry_chunked"]


def _lt_in_folder(
    root: Path, arr: Any, spacing, cap: float, chunk, shape, steps=None, *, count: bool = False
) -> np.ndarray:
    """Mask, capped distance and painting phases into ``root/lt``; returns the levels the
    local thickness can take (the distance levels, or the step radii)."""
    W.phase_mask(root, arr, chunk, shape)
    levels = W.phase_distance(root, chunk, shape, spacing, cap, halo_voxels(cap, spacing))
    if levels.size == 0:
        raise ValueError("pore_mask: no pore voxels")
    state = read_state(root, "paint") or {}
    if "dt_max_nm" not in state:
        state = {"dt_max_nm": float(levels[-1])}
        write_state(root, "paint", state)
    paint_levels = levels if steps is None else steps
    W.phase_paint(
        root,
        "dt",
        "lt",
        chunk,
        shape,
        spacing,
        paint_levels,
        halo_voxels(levels[-1], spacing),
        steps=steps,
        count=count,
    )
    return paint_levels


def _check(pore_mask: Any, voxel_size_nm: Any, max_radius_nm: float | None, chunks: Any, radii):
    spacing = parse_voxel_size(voxel_size_nm)
    cap, steps = _check_radii(max_radius_nm, radii)
    arr = pore_mask if isinstance(pore_mask, np.ndarray) else as_dask(pore_mask)
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    shape = tuple(int(s) for s in arr.shape)
    return arr, spacing, cap, steps, shape, W.parse_chunk(chunks, shape)


def local_thickness_chunked(
    pore_mask: Any,
    *,
    voxel_size_nm: Any,
    max_radius_nm: float | None = None,
    radii_nm: Any = None,
    chunks: int | tuple[int, int, int] = 128,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> Any:
    """Exact local thickness (radius, nm) of every pore voxel, computed chunk by chunk.

    Parameters
    ----------
    pore_mask
        Boolean (z, y, x) numpy, Zarr or Dask array, True in the pore space.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    max_radius_nm
        Largest inscribed-ball radius considered (nm); sets the overlap of the distance
        transform. Distances beyond it are capped (wider pores get this radius); with a value
        of at least the largest pore radius the result equals :func:`local_thickness`.
        Default with ``radii_nm``: its largest radius.
    radii_nm
        Optional discrete radius list (nm), as :func:`local_thickness`: distances are floored
        to it before painting (equal to the in-memory result with the same list when
        ``max_radius_nm`` is at least its largest radius).
    chunks
        Work chunk (voxels per axis, or one number).
    work_dir, out_zarr, resume_dir
        As :func:`invasion_radius_chunked`: temporary folder location, a Zarr array to write
        the result to (returned instead of a numpy array), and a resumable work folder.

    Returns
    -------
    numpy.ndarray or zarr.Array
        float32 radii (nm), 0 in the solid.

    Raises
    ------
    ValueError
        No pore voxel, bad radius or chunk size.
    """
    arr, spacing, cap, steps, shape, chunk = _check(
        pore_mask, voxel_size_nm, max_radius_nm, chunks, radii_nm
    )
    manifest = {
        "function": "local_thickness_chunked",
        "format": 2,
        "radii_nm": None if steps is None else [float(r) for r in steps],
        "shape": list(shape),
        "chunk": list(chunk),
        "voxel_size_nm": list(spacing),
        "max_radius_nm": cap,
    }
    with W.work_folder(resume_dir, work_dir, manifest, "lt-chunked-") as root:
        _lt_in_folder(root, arr.astype(bool), spacing, cap, chunk, shape, steps)
        return W.finish(root, "lt", out_zarr)


def granulometry_chunked(
    labels: Any,
    *,
    voxel_size_nm: Any,
    max_radius_nm: float | None = None,
    radii_nm: Any = None,
    pore_phases: Sequence[int] = PORE_PHASES,
    chunks: int | tuple[int, int, int] = 128,
    contact_angle_deg: float | None = None,
    surface_tension_n_per_m: float | None = None,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> Any:
    """Granulometry (local-thickness PSD) of a labels volume, chunk by chunk.

    Parameters
    ----------
    labels
        uint8 labels (z, y, x) as numpy, Zarr or Dask array; pore = ``pore_phases``.
    voxel_size_nm, max_radius_nm, radii_nm, chunks
        As :func:`local_thickness_chunked`.
    pore_phases
        Labels counted as pore (default 0 and 3).
    contact_angle_deg, surface_tension_n_per_m
        Only to express each diameter as a Washburn pressure (defaults: the package's).
    work_dir, out_zarr, resume_dir
        As :func:`local_thickness_chunked`; with ``out_zarr`` the result's
        ``local_thickness_nm`` is the on-disk Zarr array.

    Returns
    -------
    GranulometryResult
        The same curve, porosity and local thickness as :func:`granulometry` (radii to
        float32 rounding).
    """
    from microstructure.porosimetry import GranulometryResult, curve_from_radii
    from microstructure.porosimetry.washburn import (
        CONTACT_ANGLE_DEG,
        SURFACE_TENSION_N_PER_M,
        check_mercury_parameters,
    )

    theta = CONTACT_ANGLE_DEG if contact_angle_deg is None else contact_angle_deg
    gamma = SURFACE_TENSION_N_PER_M if surface_tension_n_per_m is None else surface_tension_n_per_m
    check_mercury_parameters(theta, gamma)
    lab = W.check_labels_lazy(labels)
    pore = W.pore_of_labels(lab, pore_phases)
    arr, spacing, cap, steps, shape, chunk = _check(
        pore, voxel_size_nm, max_radius_nm, chunks, radii_nm
    )
    manifest = {
        "function": "granulometry_chunked",
        "format": 2,
        "shape": list(shape),
        "chunk": list(chunk),
        "voxel_size_nm": list(spacing),
        "max_radius_nm": cap,
        "radii_nm": None if steps is None else [float(r) for r in steps],
        "pore_phases": sorted(int(p) for p in pore_phases),
    }
    with W.work_folder(resume_dir, work_dir, manifest, "gran-chunked-") as root:
        try:
            levels = _lt_in_folder(root, arr, spacing, cap, chunk, shape, steps, count=True)
        except ValueError as exc:
            raise ValueError(f"labels: no pore voxels (phases {list(pore_phases)})") from exc
        values, counts = W.painted_counts(root, shape, chunk)
        n_pore = float(counts.sum())
        n_total = float(np.prod(shape))
        curve = curve_from_radii(
            values,
            weights=counts,
            levels_nm=levels if steps is None else None,
            steps_radius_nm=steps,
            pore_volume=n_pore,
            sample_volume=n_total,
            contact_angle_deg=theta,
            surface_tension_n_per_m=gamma,
            label="granulometry",
        )
        hit = values > 0
        mean_r = float(
            np.sum(values[hit].astype(np.float64) * counts[hit]) / max(1, int(counts[hit].sum()))
        )
        lt = W.finish(root, "lt", out_zarr)
    return GranulometryResult(
        local_thickness_nm=lt,
        curve=curve,
        porosity=n_pore / n_total,
        voxel_size_nm=spacing,
        mean_radius_nm=mean_r,
    )
