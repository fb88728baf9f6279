"""The active material (AM) mask of a grayscale stack: threshold (or classifier) + cleanup.

One public function per result, each taking a numpy array (numpy result) or a Dask/Zarr array
(lazy result with the same voxels and numbers, computed slab by slab in
:mod:`microstructure.segment._chunked`), plus ``chunks`` (slices per work slab; with a numpy
input it selects the chunked path) and ``resume_dir`` (a work folder so an interrupted chunked
call resumes). What cannot run chunked is declared once, with
:func:`~microstructure.parallel.support.chunked_support`, in :data:`AM_CHUNKED_REFUSALS`.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from microstructure.parallel.support import chunked_support
from microstructure.segment import _chunked
from microstructure.segment.cleanup import (
    DEFAULT_MAX_HOLE_VOXELS,
    DEFAULT_MIN_SPECK_VOXELS,
    fill_small_holes,
    remove_specks,
)
from microstructure.segment.closed_backs import complete_closed_pores_info
from microstructure.segment.front_trim import lit_fronts
from microstructure.segment.shine import (
    DEFAULT_PORE_BACK_RISE,
    DEFAULT_PORE_BACK_SLICES,
    DEFAULT_PORE_BACKS,
    brightness_trend,
    check_pore_back_options,
    closed_pore_backs_wanted,
    code_counts,
    front_back_profile,
    is_pore_back,
    pore_back_codes,
    segment_quality,
    shine_through_info,
    slice_steps,
    steps_level,
)
from microstructure.segment.threshold import (
    AUTO_REFINE_ITERATIONS,
    DEFAULT_BLOCK_SIZE_PX,
    DEFAULT_CLASSES,
    DEFAULT_OFFSET,
    DEFAULT_REFINE,
    DEFAULT_REFINE_SIGMA_PX,
    REFINE_MODES,
    THRESHOLD_METHODS,
    refine_local_means,
    resolve_refine,
    threshold_am,
)
from microstructure.segment.trainable import TrainedSegmenter, segment_trainable
from microstructure.volume import Phase, check_volume

__all__ = ["SEGMENT_METHODS", "AM_CHUNKED_REFUSALS", "segment_am", "segment_am_report"]

#: Every value accepted by ``segment_am(method=...)``.
SEGMENT_METHODS: tuple[str, ...] = (*THRESHOLD_METHODS, "trainable")

#: the options of :func:`segment_am` that cannot run chunked: option -> (refuses(value), reason)
AM_CHUNKED_REFUSALS: dict[str, tuple[Any, str]] = {
    "method": (
        lambda m: m not in _chunked.CHUNKED_SEGMENT_METHODS,
        "in-memory only (needs the whole stack); chunked methods: "
        + ", ".join(_chunked.CHUNKED_SEGMENT_METHODS),
    ),
    "refine": (
        lambda r: r == "local-means",
        "in-memory only ('local-means' iterates until the whole stack converges); use 'auto' "
        "(a fixed number of passes, chunked too) or 'none'",
    ),
    "hysteresis": (
        lambda h: h is not None,
        "in-memory only as (low, high) grey values; chunked: hysteresis_width",
    ),
}


def check_method(method: str) -> None:
    """ValueError unless ``method`` is one of :data:`SEGMENT_METHODS`."""
    if method not in SEGMENT_METHODS:
        raise ValueError(f"method: expected one of {', '.join(SEGMENT_METHODS)}, got {method!r}")


def _mask_and_info(
    arr: np.ndarray,
    *,
    method: str,
    threshold: float | None,
    classes: int,
    block_size_px: int,
    offset: float,
    hysteresis: tuple[float, float] | None,
    hysteresis_width: float | None,
    model: Any,
    scribbles: Any,
    workers: int | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The raw AM mask (threshold or classifier) of an in-memory stack and its description."""
    if method == "trainable":
        if threshold is not None or hysteresis is not None or hysteresis_width is not None:
            raise ValueError("threshold/hysteresis: not used with method 'trainable'")
        labels = segment_trainable(arr, model=model, scribbles=scribbles, workers=workers)
        return labels == Phase.AM.value, {"method": "trainable", "method_used": "trainable"}
    if model is not None or scribbles is not None:
        raise ValueError(f"model/scribbles: only used with method 'trainable', not {method!r}")
    return threshold_am(
        arr,
        method=method,  # type: ignore[arg-type]
        threshold=threshold,
        classes=classes,
        block_size_px=block_size_px,
        offset=offset,
        hysteresis=hysteresis,
        hysteresis_width=hysteresis_width,
    )


def _remove_pore_backs(
    arr: np.ndarray, mask: np.ndarray, info: dict[str, Any], pore_backs: tuple[str, int, float]
) -> np.ndarray:
    """The mask without the pore backs (shine-through) when ``pore_backs`` asks for it or it
    is detected (:mod:`microstructure.segment.shine`); the detection goes to
    ``info["shine_through"]``. ``pore_backs`` = (mode, window slices, rise)."""
    mode, slices, rise = pore_backs
    check_pore_back_options(mode, slices, rise)
    if "grey_stats" not in info:  # local threshold or classifier: no global grey value
        if mode == "on":
            raise ValueError(
                f"pore_backs: 'on' needs a global threshold, not method {info['method']!r}"
            )
        info["shine_through"] = {
            "pore_backs": mode,
            "note": f"shine-through not checked: method {info['method']!r} has no global "
            "threshold (pore backs are the classifier's to learn)",
        }
        return mask
    contrast = float(info["grey_stats"]["contrast"])
    t = float(info["threshold"])
    steps = slice_steps(arr, level=steps_level(info["grey_stats"], t))
    trend = brightness_trend(steps)
    code = pore_back_codes(arr, trend, t=t, delta=rise * contrast, slices=int(slices))
    lo = info["grey_stats"]["class_medians"][0]
    lo = t if lo is None else float(lo)
    profile = front_back_profile(arr, trend, t=t, lo=lo, contrast=contrast)
    shine = shine_through_info(
        code_counts(code),
        n_voxels=int(arr.size),
        mode=mode,
        contrast=contrast,
        slices=int(slices),
        rise=rise,
        steps=steps,
        profile=profile,
    )
    info["shine_through"] = shine
    if shine["removed"]:
        mask = mask & ~is_pore_back(code)
    return mask


def _closed_pore_backs(arr: np.ndarray, mask: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The mask with the dim closed pores found as 3D dips (and the noise dips among its
    closed pores filled; :func:`~microstructure.segment.closed_backs.dim_closed_pores`,
    ``info["shine_through"]["dim_closed_pores"]``), the lit backs of its closed pores
    relabelled pore (:func:`~microstructure.segment.closed_backs.complete_closed_pores`) and
    then the dim fronts of its runs along +z (:func:`lit_fronts`) when shine-through is seen
    in front of the solid; recorded in ``info["shine_through"]["closed_pore_backs"]`` and
    ``["front_trim"]``."""
    shine = info.get("shine_through") or {}
    if "grey_stats" not in info or not closed_pore_backs_wanted(shine):
        return mask
    return lit_fronts(arr, complete_closed_pores_info(arr, mask, info), info)


def _refine(
    arr: np.ndarray,
    mask: np.ndarray,
    info: dict[str, Any],
    method: str,
    refine: str,
    sigma_px: float,
) -> np.ndarray:
    """The local-means refinement ``refine`` asks for (``"auto"``:
    :func:`~microstructure.segment.threshold.resolve_refine`, a fixed number of passes as on
    the chunked path), recorded in ``info["refine"]``."""
    mode, why = resolve_refine(refine, method, info)
    if mode == "local-means":
        info["am_fraction_before_refine"] = float(np.count_nonzero(mask)) / mask.size
        auto = refine == "auto"
        mask, rinfo = refine_local_means(
            arr,
            mask,
            sigma_px=sigma_px,
            max_iterations=AUTO_REFINE_ITERATIONS if auto else 10,
            tol=0.0 if auto else 5e-4,
        )
        info["refine"] = {"method": "local-means", "requested": refine, "reason": why, **rinfo}
    elif refine == "auto":
        info["refine"] = {"method": "none", "requested": "auto", "reason": why}
    return mask


@chunked_support(**AM_CHUNKED_REFUSALS)
def segment_am_report(
    stack: Any,
    *,
    method: str = "otsu",
    threshold: float | None = None,
    classes: int = DEFAULT_CLASSES,
    block_size_px: int = DEFAULT_BLOCK_SIZE_PX,
    offset: float = DEFAULT_OFFSET,
    hysteresis: tuple[float, float] | None = None,
    hysteresis_width: float | None = None,
    model: TrainedSegmenter | str | os.PathLike[str] | None = None,
    scribbles: Any = None,
    refine: str = DEFAULT_REFINE,
    refine_sigma_px: float = DEFAULT_REFINE_SIGMA_PX,
    pore_backs: str = DEFAULT_PORE_BACKS,
    pore_back_slices: int = DEFAULT_PORE_BACK_SLICES,
    pore_back_rise: float = DEFAULT_PORE_BACK_RISE,
    min_speck_voxels: int = DEFAULT_MIN_SPECK_VOXELS,
    max_hole_voxels: int = DEFAULT_MAX_HOLE_VOXELS,
    workers: int | None = None,
    chunks: int | None = None,
    resume_dir: str | os.PathLike[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Like :func:`segment_am`, also returning a JSON-ready description of what was done
    (threshold, ``grey_stats``, ``shine_through``, cleanup, and the ``quality`` block of
    :func:`~microstructure.segment.shine.segment_quality`).

    A Dask/Zarr ``stack`` (or ``chunks``) gives a lazy mask and the same description.
    """
    check_method(method)
    slices = _chunked.slab_slices(stack, chunks)
    if slices is not None:
        options = {"method": method, "refine": refine, "hysteresis": hysteresis}
        _chunked.refuse_chunked(segment_am_report, options)
        seg = _chunked.segmentation_chunked(
            stack,
            method=method,
            threshold=threshold,
            classes=classes,
            hysteresis_width=hysteresis_width,
            pore_backs=pore_backs,
            pore_back_slices=pore_back_slices,
            pore_back_rise=pore_back_rise,
            refine=refine,
            refine_sigma_px=refine_sigma_px,
            min_speck_voxels=min_speck_voxels,
            max_hole_voxels=max_hole_voxels,
            closed_connectivity=26,
            slices_per_chunk=slices,
            resume_dir=resume_dir,
        )
        return seg.am, seg.info
    arr = check_volume(stack, name="stack")
    mask, info = _mask_and_info(
        arr,
        method=method,
        threshold=threshold,
        classes=classes,
        block_size_px=block_size_px,
        offset=offset,
        hysteresis=hysteresis,
        hysteresis_width=hysteresis_width,
        model=model,
        scribbles=scribbles,
        workers=workers,
    )
    if refine not in REFINE_MODES:
        raise ValueError(f"refine: expected one of {', '.join(REFINE_MODES)}, got {refine!r}")
    mask = _remove_pore_backs(arr, mask, info, (pore_backs, pore_back_slices, pore_back_rise))
    mask = _refine(arr, mask, info, method, refine, refine_sigma_px)
    raw = float(np.count_nonzero(mask)) / mask.size
    mask = remove_specks(mask, min_size_voxels=min_speck_voxels)
    mask = fill_small_holes(mask, max_size_voxels=max_hole_voxels)
    mask = _closed_pore_backs(arr, mask, info)
    info.update(
        am_fraction_before_cleanup=raw,
        am_fraction=float(np.count_nonzero(mask)) / mask.size,
        min_speck_voxels=int(min_speck_voxels),
        max_hole_voxels=int(max_hole_voxels),
    )
    info["quality"] = segment_quality(info)
    return mask, info


@chunked_support(**AM_CHUNKED_REFUSALS)
def segment_am(
    stack: Any,
    *,
    method: str = "otsu",
    threshold: float | None = None,
    classes: int = DEFAULT_CLASSES,
    block_size_px: int = DEFAULT_BLOCK_SIZE_PX,
    offset: float = DEFAULT_OFFSET,
    hysteresis: tuple[float, float] | None = None,
    hysteresis_width: float | None = None,
    model: TrainedSegmenter | str | os.PathLike[str] | None = None,
    scribbles: Any = None,
    refine: str = DEFAULT_REFINE,
    refine_sigma_px: float = DEFAULT_REFINE_SIGMA_PX,
    pore_backs: str = DEFAULT_PORE_BACKS,
    pore_back_slices: int = DEFAULT_PORE_BACK_SLICES,
    pore_back_rise: float = DEFAULT_PORE_BACK_RISE,
    min_speck_voxels: int = DEFAULT_MIN_SPECK_VOXELS,
    max_hole_voxels: int = DEFAULT_MAX_HOLE_VOXELS,
    workers: int | None = None,
    chunks: int | None = None,
    resume_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """Segment the active material of a preprocessed grayscale stack.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack (after curtaining removal, denoising and alignment); the AM
        is the brightest phase. numpy, or Dask/Zarr for a lazy result (chunked).
    method
        ``"otsu"`` (default, as in the public API), ``"auto"`` (multi-Otsu upper threshold
        when a separate CBD grey level is visible in the histogram, Otsu otherwise; the
        ``segment`` stage's default, closer on three-phase images), ``"multiotsu"``, ``"manual"``
        (with ``threshold``), ``"local"`` (adaptive, per slice), ``"li"`` or ``"trainable"``
        (random forest; needs ``model`` or ``scribbles``). See
        :mod:`microstructure.segment.threshold` and :mod:`microstructure.segment.trainable`.
        ``local`` and ``trainable`` are in memory only.
    threshold
        Grey value for ``"manual"``.
    classes
        Multi-Otsu classes for ``"multiotsu"`` (AM = brightest).
    block_size_px, offset
        Neighbourhood (odd, pixels) and grey-value offset of ``"local"``.
    hysteresis, hysteresis_width
        Optional hysteresis band: (low, high) grey values (in memory only), or a half-width
        around the global threshold.
    model, scribbles
        For ``"trainable"``: a :class:`TrainedSegmenter` (or the path of a saved one), or a
        scribble volume (0 unlabelled, 1 pore/rest, 2 AM) to train on this stack.
    refine, refine_sigma_px
        ``"local-means"``: move each voxel to the phase whose local mean grey value (over
        ``refine_sigma_px`` voxels) is nearer (:func:`refine_local_means`, until converged; in
        memory only); makes two-phase results independent of the starting threshold and of a
        slow change of contrast across the stack. ``"auto"`` (default): the same with a fixed
        10 passes when ``method="auto"`` finds a two-phase stack and no pore backs were
        removed (:func:`~microstructure.segment.threshold.resolve_refine`; chunked too),
        nothing otherwise. ``"none"``: no refinement.
    pore_backs, pore_back_slices, pore_back_rise
        Shine-through (:mod:`microstructure.segment.shine`): threshold-solid voxels whose
        grey value still rises by more than ``pore_back_rise`` x the contrast within the next
        ``pore_back_slices`` slices (+z, the milling direction) show material behind the
        section plane through a pore and are relabelled pore. ``"auto"`` (default) when
        shine-through is detected (reported in the description's ``shine_through``), ``"on"``
        always, ``"off"`` never. Global thresholds only; chunked with a z halo. When the
        front/back asymmetry sees shine-through in front of the solid and this rule removes
        nothing (pore backs as bright as the cut), ``"auto"`` and ``"on"`` instead find dim
        closed pores as 3D dips and complete the closed pores lit by their back wall
        (:mod:`microstructure.segment.closed_backs`) and trim the dim fronts of the solid
        runs along +z (:mod:`microstructure.segment.front_trim`; not after a local-means
        refinement); ``"off"`` does neither.
    min_speck_voxels
        AM components smaller than this are removed (0 = keep all).
    max_hole_voxels
        Enclosed pores of at most this many voxels are filled (0 = none). Keep it below the
        size of the real closed pores.
    workers
        Threads for the trainable classifier (default: all cores).
    chunks
        Slices per work slab of the chunked path (default: the z chunks of a Dask/Zarr input;
        given with a numpy input, that input runs chunked too).
    resume_dir
        Optional work folder of the chunked path: the threshold and each slab's labelling
        summary are kept there, so a repeated call after an interruption redoes only the
        unfinished slabs. Give each stack its own folder (the data is not hashed).

    Returns
    -------
    bool ndarray (or lazy bool Dask array)
        True on the AM voxels, same shape as ``stack``.

    Raises
    ------
    ValueError
        Bad options, NaN or a constant stack; on a chunked input an option declared in
        :data:`AM_CHUNKED_REFUSALS`, naming it.
    """
    mask, _ = segment_am_report(
        stack,
        method=method,
        threshold=threshold,
        classes=classes,
        block_size_px=block_size_px,
        offset=offset,
        hysteresis=hysteresis,
        hysteresis_width=hysteresis_width,
        model=model,
        scribbles=scribbles,
        refine=refine,
        refine_sigma_px=refine_sigma_px,
        pore_backs=pore_backs,
        pore_back_slices=pore_back_slices,
        pore_back_rise=pore_back_rise,
        min_speck_voxels=min_speck_voxels,
        max_hole_voxels=max_hole_voxels,
        workers=workers,
        chunks=chunks,
        resume_dir=resume_dir,
    )
    return mask
