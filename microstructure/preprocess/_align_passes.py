"""The registration passes of :func:`microstructure.preprocess.align_slices_report`: the whole
field in one pass (with the tile median), then, on a region given or found (a cap), the
refinement passes from those positions; in memory (threads) or as Dask tasks, and read back
from a resume folder when one holds them. See the notes of :mod:`microstructure.preprocess.align`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from microstructure.preprocess._align_chunked import (
    chunked_measure,
    open_registration,
    save_registration,
)
from microstructure.preprocess._align_reference import region_axes, static_region
from microstructure.preprocess._registration import estimate_positions, measure_pair_shifts

__all__ = ["register_positions"]


def register_positions(
    arr: Any,
    chunked: bool,
    *,
    neighbors: int,
    upsample_factor: int,
    band: tuple[float, float],
    mask: np.ndarray | None,
    roi: Any,
    refine: int,
    refine_tol_px: float,
    workers: int | None,
    progress: Callable[[int], None] | None,
    registration_slices: int | None,
    resume_dir: str | os.PathLike | None,
    tile_px: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Slice positions and the pass report, in memory (threads) or as Dask tasks; read from
    ``resume_dir`` when an earlier run with the same shape and options saved them there."""
    nz, ny, nx = (int(s) for s in arr.shape)
    store = saved = None
    if resume_dir is not None:
        manifest = {
            "shape": [nz, ny, nx],
            "dtype": np.dtype(arr.dtype).str,
            "neighbors": int(neighbors),
            "upsample_factor": int(upsample_factor),
            "bandpass_px": list(band),
            "roi": roi if roi is None or isinstance(roi, str) else list(roi),
            "refine": int(refine),
            "refine_tol_px": float(refine_tol_px),
            "tile_px": int(tile_px),
        }
        store, saved = open_registration(resume_dir, manifest, mask)
    if saved is not None:
        positions = np.asarray(saved["positions_px"], dtype=np.float64).reshape(nz, 2)
        return positions, saved["passes"]
    auto = isinstance(roi, str)
    one = dict(neighbors=neighbors, upsample_factor=upsample_factor, band=band, mask=mask)
    more = dict(refine_tol_px=refine_tol_px, workers=workers, progress=progress)
    # first on the whole field, in one pass: a refinement pass there windows the region
    # common to all pre-shifted slices, which is smaller, and the structure's apparent
    # slant grows as the window shrinks (module docstring); a region (given or found) is
    # then registered from there with the refinement passes, so a narrow band (a fiducial
    # cap) is compared in the sample's frame from the first pass
    positions, passes = _positions(
        arr,
        chunked,
        roi=None,
        reg_slices=registration_slices,
        refine=0,
        tile_px=int(tile_px),
        **one,
        **more,
    )
    first, first_passes = positions, passes
    found, ref = static_region(arr, positions, band) if auto else (roi, None)
    if found is not None:
        positions, passes = _positions(
            arr,
            chunked,
            roi=found,
            reg_slices=registration_slices,
            initial=first,
            refine=refine,
            **one,
            **more,
        )
    if auto and found is not None:
        if np.ptp(positions, axis=0).max() < 0.5 < np.ptp(first, axis=0).max() - 2.0:
            # static in the image frame (a data bar, a detector artefact), not on the
            # sample: it would "find" no drift at all
            positions, passes = first, first_passes
            ref.update(found=False, note="the static region does not move with the sample")
        else:
            positions = _axes_from_region(arr, positions, first, found, band, ref)
            ref["whole_field_roi"] = [float(v) for v in first_passes["registration_roi"]]
            if not ref["axes_from_region"]:
                positions, passes = first, first_passes
                ref.update(found=False)
    if auto:
        passes["reference_region"] = ref
    if store is not None:
        save_registration(store, positions, passes)
    return positions, passes


def _axes_from_region(
    arr: Any,
    positions: np.ndarray,
    first: np.ndarray,
    found: tuple[float, float, float, float],
    band: tuple[float, float],
    ref: dict[str, Any],
) -> np.ndarray:
    """Keep the region's positions only along the axes it fixes (:func:`region_axes`); the
    others come from the whole field (``first``); none: ``first`` (``ref["axes_from_region"]``
    empty). ``ref`` records what was done."""
    axes = region_axes(arr, positions, found, band)
    ref["axes"] = axes
    keep = axes["informative"]
    if all(keep):
        ref["axes_from_region"] = ["y", "x"]
        return positions
    if not any(keep):
        ref["axes_from_region"] = []
        ref["note"] = "the static region fixes neither axis: positions from the whole field"
        return first
    out = np.array(positions, dtype=np.float64, copy=True)
    lost = 1 if keep[0] else 0
    out[:, lost] = first[:, lost]
    name, other = ("y", "x")[lost], ("y", "x")[1 - lost]
    ref["axes_from_region"] = [other]
    ref["note"] = (
        f"the static region has no structure along {name} (e.g. a cap without milled marks): "
        f"{other} registered on it, {name} on the whole field (the structure)"
    )
    return out


def _positions(
    arr: Any,
    chunked: bool,
    *,
    neighbors: int,
    upsample_factor: int,
    band: tuple[float, float],
    mask: np.ndarray | None,
    roi: tuple[float, float, float, float] | None,
    refine: int,
    refine_tol_px: float,
    workers: int | None,
    progress: Callable[[int], None] | None,
    reg_slices: int | None,
    initial: np.ndarray | None = None,
    tile_px: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One registration (all its passes) on ``roi`` (None: the whole field, then the common
    region), from the positions ``initial`` when given; ``tile_px``: tile median of the
    passes without prior positions."""
    nz, ny, nx = (int(s) for s in arr.shape)
    if chunked:
        measure = chunked_measure(
            arr,
            neighbors=neighbors,
            upsample_factor=upsample_factor,
            bandpass_px=band,
            mask=mask,
            roi=roi,
            registration_slices=reg_slices,
            tile_px=tile_px,
        )
    else:

        def measure(prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            return measure_pair_shifts(
                arr,
                neighbors=int(neighbors),
                upsample_factor=int(upsample_factor),
                bandpass_px=band,
                mask=mask,
                positions=prior,
                roi=roi,
                workers=workers,
                progress=progress,
                tile_px=tile_px,
            )

    positions, report = estimate_positions(
        measure, nz, (ny, nx), roi=roi, refine=refine, refine_tol_px=refine_tol_px, initial=initial
    )
    report["tile_px"] = int(tile_px) if initial is None else 0
    return positions, report
