"""Slice alignment of a FIB/SEM stack without random-walk error accumulation.

Each slice is registered by sub-pixel cross-correlation (of band-passed, Tukey-windowed
images; peak refined by cubic-spline interpolation) against its ``neighbors`` predecessors
``i-1 .. i-K``, not just ``i-1``. The measured relative shifts over-determine the slice
positions; these are solved for by least squares, first reweighted towards the L1 solution,
then with per-distance noise scales, Huber weights and rejection of gross outliers, so
single-pair errors do not add up along the stack as they do when pairwise shifts are
chained. Registration on a region (``roi`` given, or the cap ``roi = "auto"`` finds) runs
``refine`` refinement passes: every band-passed slice is first moved back by its current
position (exact Fourier shift) and windowed over the region, so all pairs compare the same
piece of structure whatever the drift (updates damped by 0.5 from the third pass on).

A random structure has an apparent slant of its own (registering an undrifted stack finds
a few pixels of "drift"): cross-sections of particles cut at an angle move from slice to
slice, and it grows as the registered region shrinks. So the whole field is registered in
one pass, each slice windowed over its whole field: a refinement there would window the
region common to all pre-shifted slices, smaller by the drift's range, and on the realistic
phantom (64 slices of 160 x 160 px, after the recipe's preprocessing) that took the error
against the true drift from 1.6 / 2.4 / 2.6 px RMS (one pass) to 2.9 / 3.6 / 3.0 px (three
refinements; old phantom 1.8 / 2.1 / 0.9 against 2.2 / 2.1 / 1.0). The error still
accumulates along the stack; neither more reference slices nor robust weights remove it
(registering against 15 predecessors instead of 5 makes it larger: the farther slice pairs
share only the longest-lived, most slanted particles). ``registration_roi`` in the report
records the region registered on, so the answer can be reproduced on another stack of the
same structure. The report estimates the error from disjoint tiles (``drift_uncertainty_px``,
:mod:`._align_uncertainty`), and ``roi`` (or ``"auto"``) registers on what does not change
with depth, a fiducial cap, as slice-and-view practice does (0.16-0.44 px on the same
phantom with a cap).

By default (``keep_trend=False``) the whole measured drift is removed: on real slice-and-view
stacks the stage/beam drift is tens of pixels per slice (26-38 px between consecutive FEI
Helios slices) and a fitted "trend" kept that drift. ``keep_trend=True`` removes only the
jitter around a smooth trend (a polynomial in the slice index, linear by default), for the
geometric face recession the user names (``expected_trend_nm_per_slice``, or
``slice_thickness_nm`` and ``tilt_deg``); the report flags a kept trend the geometry does not
explain. The output's neighbours are re-measured by phase correlation (the residual, a check
that can fail; :mod:`._align_quality`).

Sign convention: ``shifts_px[i] = (dy, dx)`` is the displacement of the content of slice ``i``
relative to slice 0 in the input (a feature at row ``r`` in slice 0 appears at row
``r + dy`` in slice ``i``). The aligned slice ``i`` is the input slice shifted by
``-(shifts_px[i] - trend[i])`` (or ``-shifts_px[i]``), then every slice is cropped to the
region that is valid (inside the input) for all slices.

On a Dask or Zarr input (or with ``chunks``) the same registration runs as Dask tasks per group
of slices and the shifts are applied slab by slab (:mod:`._align_chunked`); positions, report
and aligned stack are bit-identical to the in-memory ones, and the aligned stack is lazy.

References
----------
Guizar-Sicairos, M., Thurman, S. T. and Fienup, J. R. (2008). Efficient subpixel image
registration algorithms. Opt. Lett. 33, 156-158. doi:10.1364/OL.33.000156
Beuse, T. et al. (2021). Batteries 7, 70 (porosity methods and the FIB/SEM model this package
follows). doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from microstructure.parallel.support import chunked_support
from microstructure.preprocess._align_chunked import (
    aligned_row,
    featureless_lazy,
    shift_lazy,
)
from microstructure.preprocess._align_passes import register_positions
from microstructure.preprocess._align_quality import (
    add_quality,
    expected_trend,
    face_recession_nm_per_slice,
)
from microstructure.preprocess._align_reference import drop_reference_band
from microstructure.preprocess._align_uncertainty import (
    position_uncertainty,
    split_axis_uncertainty,
)
from microstructure.preprocess._chunks import finish, lazy_input, runs_chunked, slabs
from microstructure.preprocess._registration import (
    DEFAULT_BANDPASS_PX,
    DEFAULT_NEIGHBORS,
    DEFAULT_REFINE,
    DEFAULT_REFINE_TOL_PX,
    DEFAULT_TILE_PX,
    DEFAULT_UPSAMPLE_FACTOR,
    common_region,
    measure_pair_shifts,
    pair_arrays,
    pair_rows,
    pair_setup,
    shift_slice,
    solve_positions,
)
from microstructure.volume import check_volume

__all__ = [
    "DEFAULT_NEIGHBORS",
    "DEFAULT_UPSAMPLE_FACTOR",
    "DEFAULT_BANDPASS_PX",
    "DEFAULT_REFINE",
    "DEFAULT_REFINE_TOL_PX",
    "DEFAULT_TILE_PX",
    "DEFAULT_KEEP_TREND",
    "DEFAULT_TREND_DEGREE",
    "DEFAULT_ORDER",
    "face_recession_nm_per_slice",
    "measure_pair_shifts",
    "solve_positions",
    "align_slices",
    "align_slices_report",
    "apply_shifts",
    "aligned_reslice",
    "common_region",
    "pair_arrays",
    "pair_rows",
    "pair_setup",
    "shift_slice",
]

#: remove the whole measured drift (True: keep a smooth trend; only a geometric one belongs)
DEFAULT_KEEP_TREND = False
#: degree of the kept trend polynomial (1 = linear slant)
DEFAULT_TREND_DEGREE = 1
#: spline order of the sub-pixel shift (1 linear, 3 cubic)
DEFAULT_ORDER = 3

#: nothing of the alignment is refused chunked (every option runs slab by slab)
_CHUNKED = chunked_support()


def valid_ranges(shifts_px: np.ndarray, ny: int, nx: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the half-open output rows/columns that come from inside the input
    for every slice shifted by ``shifts_px`` (nz, 2)."""
    s = np.asarray(shifts_px, dtype=np.float64).reshape(-1, 2)
    # output row r is valid when r - dy_i lies in [0, n-1] for all i
    lo_y = max(0, math.ceil(float(s[:, 0].max()) - 1e-6))
    hi_y = min(ny, math.floor(ny - 1 + float(s[:, 0].min()) + 1e-6) + 1)
    lo_x = max(0, math.ceil(float(s[:, 1].max()) - 1e-6))
    hi_x = min(nx, math.floor(nx - 1 + float(s[:, 1].min()) + 1e-6) + 1)
    return lo_y, hi_y, lo_x, hi_x


def crop_info(shifts_px: np.ndarray, ny: int, nx: int, crop: bool) -> dict[str, Any]:
    """The ``crop`` report of :func:`apply_shifts` (ValueError when nothing common remains)."""
    if not crop:
        return {"y": [0, ny], "x": [0, nx], "cropped": False}
    lo_y, hi_y, lo_x, hi_x = valid_ranges(shifts_px, ny, nx)
    if hi_y - lo_y < 2 or hi_x - lo_x < 2:
        raise ValueError(
            "shifts_px: the slices are shifted so far apart that no common region of at "
            "least 2x2 pixels remains (use crop=False or check the alignment)"
        )
    return {"y": [lo_y, hi_y], "x": [lo_x, hi_x], "cropped": True}


def apply_shifts(
    stack: np.ndarray,
    shifts_px: np.ndarray,
    *,
    order: int = DEFAULT_ORDER,
    crop: bool = True,
    workers: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Shift every slice by ``shifts_px[i]`` (sub-pixel spline) and crop to the valid region.

    ``out[i][r, c] = in[i][r - dy_i, c - dx_i]``. With ``crop`` the result is limited to the
    rows/columns that come from inside the input for every slice.

    Returns
    -------
    aligned : ndarray float32
    crop_info : dict
        ``y`` and ``x`` half-open ranges (in the uncropped output) that were kept.
    """
    arr = np.asarray(stack)
    nz, ny, nx = arr.shape
    s = np.asarray(shifts_px, dtype=np.float64).reshape(nz, 2)
    info = crop_info(s, ny, nx, crop)
    (y0, y1), (x0, x1) = info["y"], info["x"]
    out = np.empty((nz, y1 - y0, x1 - x0), dtype=np.float32)

    def one(k: int) -> None:
        out[k] = shift_slice(arr[k], s[k], order)[y0:y1, x0:x1]

    with ThreadPoolExecutor(max(1, workers or os.cpu_count() or 1)) as ex:
        list(ex.map(one, range(nz)))
    return out, info


def check_align_options(
    shape: tuple[int, int],
    *,
    neighbors: int,
    upsample_factor: int,
    refine: int,
    trend_degree: int,
    bandpass_px: tuple[float, float],
    mask: Any,
    roi: Any,
    tile_px: int = 0,
) -> tuple[tuple[float, float], np.ndarray | None, tuple[float, float, float, float] | None]:
    """Validate the options of :func:`align_slices_report` for slices of ``shape``; return the
    band-pass sigmas, the boolean mask and the roi as floats."""
    ny, nx = shape
    if min(ny, nx) < 8:
        raise ValueError(f"stack: slices of {ny}x{nx} px are too small to register (need >= 8)")
    if int(neighbors) < 1:
        raise ValueError(f"neighbors: must be >= 1, got {neighbors!r}")
    if int(upsample_factor) < 1:
        raise ValueError(f"upsample_factor: must be >= 1, got {upsample_factor!r}")
    if int(refine) < 0:
        raise ValueError(f"refine: must be >= 0, got {refine!r}")
    if int(trend_degree) < 0:
        raise ValueError(f"trend_degree: must be >= 0, got {trend_degree!r}")
    ok_tile = isinstance(tile_px, int | np.integer) and not isinstance(tile_px, bool)
    if not ok_tile or not (int(tile_px) == 0 or 16 <= int(tile_px) <= 512):
        raise ValueError(
            f"tile_px: expected 0 (off) or an integer from 16 to 512 px, got {tile_px!r}"
        )
    lo, hi = (float(v) for v in bandpass_px)
    if not (0 <= lo < hi):
        raise ValueError(f"bandpass_px: need 0 <= fine < coarse sigma, got {bandpass_px!r}")
    mask_arr = None
    if mask is not None:
        mask_arr = np.asarray(mask)
        if mask_arr.shape != (ny, nx):
            raise ValueError(
                f"mask: expected a (y, x) mask of shape {(ny, nx)} like the slices, "
                f"got {mask_arr.shape}"
            )
        mask_arr = mask_arr.astype(bool)
        if mask_arr.sum() < 64:
            raise ValueError("mask: selects fewer than 64 pixels; too little to register")
    roi_t = None
    if isinstance(roi, str):
        if roi != "auto":
            raise ValueError(f"roi: expected (y0, y1, x0, x1) numbers or 'auto', got {roi!r}")
        return (lo, hi), mask_arr, "auto"  # type: ignore[return-value]
    if roi is not None:
        try:
            y0, y1, x0, x1 = (float(v) for v in roi)
        except (TypeError, ValueError):
            raise ValueError(f"roi: expected (y0, y1, x0, x1) numbers, got {roi!r}") from None
        if not (0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx and y1 - y0 >= 16 and x1 - x0 >= 16):
            raise ValueError(
                f"roi: {roi!r} must lie inside the {ny}x{nx} slice and span >= 16 px per axis"
            )
        roi_t = (y0, y1, x0, x1)
    return (lo, hi), mask_arr, roi_t


def trend_report(
    positions: np.ndarray,
    *,
    keep_trend: bool,
    trend_degree: int,
    neighbors: int,
    passes: dict[str, Any],
    featureless: list[int],
    crop: dict[str, Any] | None = None,
    voxel_size_nm: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The shifts to undo (positions minus the kept trend) and the JSON-ready report of
    :func:`align_slices_report` (``crop`` is filled in by the caller when not given)."""
    nz = positions.shape[0]
    idx = np.arange(nz, dtype=np.float64)
    deg = min(int(trend_degree), max(0, nz - 1))
    if keep_trend:
        trend = np.column_stack(
            [np.polyval(np.polyfit(idx, positions[:, k], deg), idx) for k in range(2)]
        )
    else:
        trend = np.zeros_like(positions)
    slope = (
        [float(np.polyfit(idx, positions[:, k], 1)[0]) for k in range(2)] if nz > 1 else [0.0, 0.0]
    )
    applied = positions - trend
    solver = {k: v for k, v in passes.items() if k not in ("passes", "last_change_px")}
    solver.pop("registration_roi", None)
    info: dict[str, Any] = {
        "keep_trend": bool(keep_trend),
        "trend_degree": deg if keep_trend else None,
        "neighbors": int(neighbors),
        "passes": passes["passes"],
        "last_change_px": passes["last_change_px"],
        "trend_slope_px_per_slice": slope,
        "total_drift_px": [float(np.ptp(positions[:, 0])), float(np.ptp(positions[:, 1]))],
        "max_applied_shift_px": float(np.abs(applied).max()) if nz else 0.0,
        "crop": crop,
        "registration_roi": passes["registration_roi"],
        "featureless_slices": featureless,
        **solver,
        "applied_shifts_px": applied.tolist(),
        "trend_px": trend.tolist(),
    }
    if voxel_size_nm is not None:
        from microstructure.volume import parse_voxel_size

        vs = parse_voxel_size(voxel_size_nm)
        info["trend_slope_nm_per_slice"] = [slope[0] * vs[1], slope[1] * vs[2]]
    return applied, info


@_CHUNKED
def align_slices_report(
    stack: Any,
    *,
    keep_trend: bool = DEFAULT_KEEP_TREND,
    trend_degree: int = DEFAULT_TREND_DEGREE,
    neighbors: int = DEFAULT_NEIGHBORS,
    upsample_factor: int = DEFAULT_UPSAMPLE_FACTOR,
    bandpass_px: tuple[float, float] = DEFAULT_BANDPASS_PX,
    mask: Any = None,
    roi: tuple[float, float, float, float] | str | None = None,
    refine: int = DEFAULT_REFINE,
    refine_tol_px: float = DEFAULT_REFINE_TOL_PX,
    tile_px: int = DEFAULT_TILE_PX,
    order: int = DEFAULT_ORDER,
    crop: bool = True,
    drop_reference: bool = True,
    voxel_size_nm: Any = None,
    expected_trend_nm_per_slice: tuple[float, float] | None = None,
    slice_thickness_nm: float | None = None,
    tilt_deg: float | None = None,
    tilt_corrected: bool = True,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunks: int | None = None,
    registration_slices: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Align the slices of a stack; return the aligned stack, the shifts and a report.

    Parameters are those of :func:`align_slices`; ``voxel_size_nm`` (z, y, x) adds the trend
    slope and the drift in nm to the report. A trend is kept only with ``keep_trend``; what
    it may be is the geometry the user gives: ``expected_trend_nm_per_slice`` (dy, dx in the
    stack's y/x nm) or the face recession from ``slice_thickness_nm`` and ``tilt_deg``
    (:func:`face_recession_nm_per_slice`; ``tilt_corrected``: y was already stretched by
    1/sin(tilt)). A kept trend beyond it (or any kept trend without geometry) is flagged.

    Returns
    -------
    aligned : ndarray float32 (lazy Dask array for a Dask or Zarr input)
    shifts_px : ndarray (nz, 2)
        Measured (dy, dx) of each input slice relative to slice 0.
    info : dict
        JSON-ready: ``applied_shifts_px`` (what was undone per slice), ``trend_px`` (nz, 2),
        ``trend_slope_px_per_slice`` and, with a voxel size, ``trend_slope_nm_per_slice``,
        the ``crop`` ranges, the solver's ``rejected_pairs`` / ``residual_rms_px`` and
        ``featureless_slices``; ``drift_removed_rms_px`` / ``drift_removed_max_px`` (and
        ``drift_removed_rms_nm``), ``drift_kept_px_per_slice`` (``drift_kept_nm_per_slice``),
        ``residual_shift_px`` (neighbours of the output re-measured by phase correlation,
        beyond the kept trend, on up to 6 evenly spaced pairs; on the registration region
        when a ``roi`` was given or found), ``drift_uncertainty_px`` (RMS uncertainty of the
        positions from the spread of disjoint tiles registered on their own,
        :mod:`._align_uncertainty`; None with fewer than 2 usable tiles) with
        ``drift_uncertainty_max_px`` and the tile counts, ``reference_region`` (with
        ``roi="auto"``) and the ``quality`` block (fails when a residual exceeds 0.5 px,
        the drift uncertainty exceeds 0.5 px or a kept trend is not explained by the given
        geometry by more than 1 px over the stack). The same on both paths.
    """
    chunked = runs_chunked(stack, chunks)
    if chunked:
        arr = slabs(stack, chunks)
    else:
        arr = check_volume(stack, name="stack")
    nz, ny, nx = (int(s) for s in arr.shape)
    band, mask_arr, roi_t = check_align_options(
        (ny, nx),
        neighbors=neighbors,
        upsample_factor=upsample_factor,
        refine=refine,
        trend_degree=trend_degree,
        bandpass_px=bandpass_px,
        mask=mask,
        roi=roi,
        tile_px=tile_px,
    )
    if chunked:
        featureless = featureless_lazy(arr)
    else:
        featureless = [k for k in range(nz) if float(arr[k].max()) == float(arr[k].min())]
    positions, passes = register_positions(
        arr,
        chunked,
        neighbors=neighbors,
        upsample_factor=upsample_factor,
        band=band,
        mask=mask_arr,
        roi=roi_t,
        refine=refine,
        refine_tol_px=refine_tol_px,
        workers=workers,
        progress=progress,
        registration_slices=registration_slices,
        resume_dir=resume_dir,
        tile_px=int(tile_px),
    )
    region = tuple(float(v) for v in passes["registration_roi"])
    step = max(int(arr.chunks[0][0]), 4 * int(neighbors)) if chunked else None
    unc = _uncertainty(arr, positions, passes, band, mask_arr, workers, step)
    applied, info = trend_report(
        positions,
        keep_trend=keep_trend,
        trend_degree=trend_degree,
        neighbors=neighbors,
        passes=passes,
        featureless=featureless,
        voxel_size_nm=voxel_size_nm,
    )
    if not chunked:
        aligned, info["crop"] = apply_shifts(arr, -applied, order=order, crop=crop, workers=workers)
    else:
        info["crop"] = crop_info(-applied, ny, nx, crop)
        aligned = shift_lazy(arr, -applied, order=order, crop=info["crop"])
    expected = expected_trend(
        expected_trend_nm_per_slice, slice_thickness_nm, tilt_deg, tilt_corrected
    )
    info.update(unc)
    used = region if roi_t is not None and _region_fixes_both(roi_t, info) else None
    add_quality(aligned, positions, info, keep_trend, expected, voxel_size_nm, used)
    aligned = drop_reference_band(aligned, positions, info) if drop_reference else aligned
    return (finish(aligned, stack) if chunked else aligned), positions, info


def _region_fixes_both(roi_t: Any, info: dict[str, Any]) -> bool:
    """A roi given, or a reference region found that fixed both axes (one that fixed one
    axis only: the neighbours are re-measured on the whole output)."""
    ref = info.get("reference_region", {})
    return not isinstance(roi_t, str) or bool(
        ref.get("found") and len(ref.get("axes_from_region", "yx")) == 2
    )


def _uncertainty(
    arr: Any,
    positions: np.ndarray,
    passes: dict[str, Any],
    band: tuple[float, float],
    mask_arr: np.ndarray | None,
    workers: int | None,
    step: int | None,
) -> dict[str, Any]:
    """The drift uncertainty on the registration region; when a reference region fixed one
    axis only (a cap without marks), that axis from its tiles and the other from the whole
    field's."""
    region = tuple(float(v) for v in passes["registration_roi"])
    unc = position_uncertainty(arr, positions, region, band, mask_arr, workers, step)
    axes = (passes.get("reference_region") or {}).get("axes_from_region", ["y", "x"])
    if len(axes) == 1:
        field = tuple(float(v) for v in passes["reference_region"]["whole_field_roi"])
        whole = position_uncertainty(arr, positions, field, band, mask_arr, workers, step)
        unc = split_axis_uncertainty(unc, whole, axes)
    return unc


@_CHUNKED
def align_slices(
    stack: Any,
    *,
    keep_trend: bool = DEFAULT_KEEP_TREND,
    trend_degree: int = DEFAULT_TREND_DEGREE,
    neighbors: int = DEFAULT_NEIGHBORS,
    upsample_factor: int = DEFAULT_UPSAMPLE_FACTOR,
    bandpass_px: tuple[float, float] = DEFAULT_BANDPASS_PX,
    mask: Any = None,
    roi: tuple[float, float, float, float] | str | None = None,
    refine: int = DEFAULT_REFINE,
    refine_tol_px: float = DEFAULT_REFINE_TOL_PX,
    tile_px: int = DEFAULT_TILE_PX,
    order: int = DEFAULT_ORDER,
    crop: bool = True,
    drop_reference: bool = True,
    workers: int | None = None,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[Any, np.ndarray]:
    """Register every slice to its predecessors and remove the jitter (or the whole drift).

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack, any real numeric dtype (NaN not allowed): a numpy array
        (numpy result) or a Dask or Zarr array (lazy result, bit-identical).
    keep_trend
        False (default): remove the whole measured drift. True: remove only the deviation
        from a smooth trend (polynomial of degree ``trend_degree`` in the slice index),
        e.g. the geometric face recession; say which with ``expected_trend_nm_per_slice``
        or ``slice_thickness_nm`` and ``tilt_deg`` (:func:`align_slices_report`): a kept
        trend that they do not explain is flagged in the report's ``quality``.
    trend_degree
        Degree of the trend polynomial (1 = linear slant).
    neighbors
        How many preceding slices each slice is registered against (>= 1; 1 is plain
        pairwise chaining, which random-walks).
    upsample_factor
        Sub-pixel precision of each registration, 1/upsample_factor px.
    bandpass_px
        (fine, coarse) sigmas in px of the difference-of-Gaussians band-pass applied before
        correlation (suppresses noise and shading).
    mask
        Optional (y, x) boolean mask, in every slice's image frame, of the pixels to
        register on (e.g. excluding a protective layer or a fiducial).
    roi
        Optional (y0, y1, x0, x1) region of the *sample*, in the frame of slice 0 (floats
        allowed, half-open), to register on (default: the whole field of every slice, one
        pass; the report's ``registration_roi`` is the one used), e.g. the protective cap
        with milled fiducial marks, which does not change with depth as the sectioned
        structure does.
        The slices are registered on the whole field first and then on the roi from those
        positions, so even a narrow band is compared in the sample's frame from its first
        pass. ``"auto"``: look for a band of rows or columns that stays the same over 8
        slices (:mod:`._align_reference`) after the whole-field registration and register
        on it; the report's ``reference_region`` says what was found (nothing found:
        the whole field). A static band that does not move with the sample (a data bar) is
        refused only when it would cancel a drift of more than 2.5 px: crop labels first.
        Slices whose content does not cover the whole roi see wrapped-around content at the
        window edge (the taper suppresses it): keep the roi inside what every slice sees.
    refine
        Up to this many extra passes of the registration on a region (``roi`` given or
        found) on slices moved back by the positions found so far, so all pairs compare the
        same region; stops early when no position changes by more than ``refine_tol_px``.
        The whole-field registration is one pass (see the module notes).
    refine_tol_px
        Convergence threshold of the refinement passes, px.
    tile_px
        Tiles of the whole-field registration, px (0: one correlation per slice pair): each
        pair's shift is the median of the shifts of its tiles (spaced half a tile or wider)
        (:func:`~microstructure.preprocess._registration.tile_median_shift`), so a few
        particles whose cross-sections move do not move the slice; pairs with fewer than 6
        tiles keep the whole-field correlation. Not used with a ``mask`` or on a region.
    order
        Spline order of the sub-pixel shift (1 linear, 3 cubic).
    crop
        Crop the output to the region valid in every slice (see
        :func:`align_slices_report` for the recorded ranges).
    drop_reference
        With ``crop`` and ``roi="auto"``: cut a reference band found at an edge of the
        field (a protective cap: Pt, not sample) off the output (default True); the report's
        ``reference_region`` says how many rows or columns were dropped.
    workers
        Threads of the in-memory path (default: all cores; the chunked path runs on the
        active Dask scheduler).
    chunks
        Slices per slab of the chunked path (default: the input's z chunks); given with a
        numpy input, the work runs chunked and the result is computed. A registration task
        measures ``registration_slices`` slices (:func:`align_slices_report`; default
        ``max(chunks, 4 * neighbors)``, fewer when a worker memory limit is known).
    resume_dir
        Optional work folder: the registration result (positions and pass report) is saved
        there, and a rerun with the same folder, stack shape and options reads it back
        instead of registering again (the stack is not hashed: reuse a folder only for the
        same stack).

    Returns
    -------
    aligned : ndarray float32 (lazy Dask array for a lazy input)
        The aligned (and cropped) stack.
    shifts_px : ndarray (nz, 2) float
        Measured (dy, dx) of each input slice relative to slice 0, in pixels.

    Notes
    -----
    Featureless (constant) slices cannot be registered; they get the position interpolated
    from their neighbours (listed as ``featureless_slices`` in the report).
    """
    options = {name: value for name, value in locals().items() if name != "stack"}
    aligned, shifts, _ = align_slices_report(stack, **options)
    return aligned, shifts


def aligned_reslice(
    stack: Any, aligned: Any, info: dict[str, Any], *, order: int, row: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """z-x reslices through row ``row`` (default the middle) of the input and of the aligned
    stack (float32). On a lazy input the aligned reslice is computed from bands of rows
    around each slice's source row, slab by slab (equal to the full shift to ~1e-12
    relative), instead of computing the aligned stack."""
    r_in = int(stack.shape[1]) // 2
    r_out = int(aligned.shape[1]) // 2 if row is None else int(row)
    sub = stack[:, r_in, :]
    row_in = np.asarray(sub.compute() if hasattr(sub, "compute") else sub)
    if lazy_input(stack):
        chunks = getattr(aligned, "chunks", None)
        spc = int(chunks[0][0]) if chunks else 8
        row_out = aligned_row(
            stack,
            -np.asarray(info["applied_shifts_px"]),
            r_out,
            order=order,
            crop=info["crop"],
            slices_per_chunk=spc,
        )
    else:
        row_out = np.asarray(aligned[:, r_out, :])
    return row_in.astype(np.float32, copy=False), row_out
