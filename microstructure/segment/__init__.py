"""Segmentation of the active material (AM), closed pores inside it, particle separation.

Public entry points (see ``ARCHITECTURE.md``)::

    segment_am(stack, *, method="otsu") -> bool ndarray      # True = AM; the stage uses "auto"
    closed_pores(am_mask) -> bool ndarray                     # pores enclosed by AM

As in seed 000 the segmentation separates the AM from everything else; the carbon-binder
domain counts as pore here and is inserted later by :mod:`microstructure.cbd`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from microstructure.segment.cleanup import (
    closed_pore_stats,
    closed_pores,
    fill_small_holes,
    label_components,
    particle_table,
    remove_specks,
    separate_particles,
)
from microstructure.segment.threshold import (
    THRESHOLD_METHODS,
    has_middle_mode,
    hysteresis_mask,
    refine_local_means,
    threshold_am,
    threshold_value,
)
from microstructure.segment.trainable import (
    SCRIBBLE_UNLABELLED,
    FeatureParams,
    TrainedSegmenter,
    compute_features,
    load_segmenter,
    segment_trainable,
    train_segmenter,
)
from microstructure.volume import Phase, check_volume

__all__ = [
    "SEGMENT_METHODS",
    "segment_am",
    "segment_am_report",
    "closed_pores",
    "closed_pore_stats",
    "remove_specks",
    "fill_small_holes",
    "separate_particles",
    "particle_table",
    "label_components",
    "threshold_am",
    "threshold_value",
    "has_middle_mode",
    "hysteresis_mask",
    "refine_local_means",
    "THRESHOLD_METHODS",
    "SCRIBBLE_UNLABELLED",
    "FeatureParams",
    "TrainedSegmenter",
    "compute_features",
    "train_segmenter",
    "load_segmenter",
    "segment_trainable",
]

#: Every value accepted by ``segment_am(method=...)``.
SEGMENT_METHODS: tuple[str, ...] = (*THRESHOLD_METHODS, "trainable")


def segment_am_report(
    stack: Any,
    *,
    method: str = "otsu",
    threshold: float | None = None,
    classes: int = 3,
    block_size_px: int = 51,
    offset: float = 0.0,
    hysteresis: tuple[float, float] | None = None,
    hysteresis_width: float | None = None,
    model: TrainedSegmenter | str | os.PathLike[str] | None = None,
    scribbles: Any = None,
    refine: str = "none",
    refine_sigma_px: float = 4.0,
    min_speck_voxels: int = 27,
    max_hole_voxels: int = 8,
    workers: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`segment_am`, also returning a JSON-ready description of what was done."""
    arr = check_volume(stack, name="stack")
    if method not in SEGMENT_METHODS:
        raise ValueError(f"method: expected one of {', '.join(SEGMENT_METHODS)}, got {method!r}")
    if method == "trainable":
        if threshold is not None or hysteresis is not None or hysteresis_width is not None:
            raise ValueError("threshold/hysteresis: not used with method 'trainable'")
        labels = segment_trainable(arr, model=model, scribbles=scribbles, workers=workers)
        mask = labels == Phase.AM.value
        info: dict[str, Any] = {"method": "trainable", "method_used": "trainable"}
    else:
        if model is not None or scribbles is not None:
            raise ValueError(f"model/scribbles: only used with method 'trainable', not {method!r}")
        mask, info = threshold_am(
            arr,
            method=method,  # type: ignore[arg-type]
            threshold=threshold,
            classes=classes,
            block_size_px=block_size_px,
            offset=offset,
            hysteresis=hysteresis,
            hysteresis_width=hysteresis_width,
        )
    if refine not in ("none", "local-means"):
        raise ValueError(f"refine: expected 'none' or 'local-means', got {refine!r}")
    if refine == "local-means":
        info["am_fraction_before_refine"] = float(np.count_nonzero(mask)) / mask.size
        mask, rinfo = refine_local_means(arr, mask, sigma_px=refine_sigma_px)
        info["refine"] = {"method": "local-means", **rinfo}
    raw = float(np.count_nonzero(mask)) / mask.size
    mask = remove_specks(mask, min_size_voxels=min_speck_voxels)
    mask = fill_small_holes(mask, max_size_voxels=max_hole_voxels)
    info.update(
        am_fraction_before_cleanup=raw,
        am_fraction=float(np.count_nonzero(mask)) / mask.size,
        min_speck_voxels=int(min_speck_voxels),
        max_hole_voxels=int(max_hole_voxels),
    )
    return mask, info


def segment_am(
    stack: Any,
    *,
    method: str = "otsu",
    threshold: float | None = None,
    classes: int = 3,
    block_size_px: int = 51,
    offset: float = 0.0,
    hysteresis: tuple[float, float] | None = None,
    hysteresis_width: float | None = None,
    model: TrainedSegmenter | str | os.PathLike[str] | None = None,
    scribbles: Any = None,
    refine: str = "none",
    refine_sigma_px: float = 4.0,
    min_speck_voxels: int = 27,
    max_hole_voxels: int = 8,
    workers: int | None = None,
) -> np.ndarray:
    """Segment the active material of a preprocessed grayscale stack.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack (after curtaining removal, denoising and alignment); the AM
        is the brightest phase.
    method
        ``"otsu"`` (default, as in the public API), ``"auto"`` (multi-Otsu upper threshold
        when a separate CBD grey level is visible in the histogram, Otsu otherwise; the
        ``segment`` stage's default, closer on three-phase images), ``"multiotsu"``, ``"manual"``
        (with ``threshold``), ``"local"`` (adaptive, per slice), ``"li"`` or ``"trainable"``
        (random forest; needs ``model`` or ``scribbles``). See
        :mod:`microstructure.segment.threshold` and :mod:`microstructure.segment.trainable`.
    threshold
        Grey value for ``"manual"``.
    classes
        Multi-Otsu classes for ``"multiotsu"`` (AM = brightest).
    block_size_px, offset
        Neighbourhood (odd, pixels) and grey-value offset of ``"local"``.
    hysteresis, hysteresis_width
        Optional hysteresis band: (low, high) grey values, or a half-width around the global
        threshold.
    model, scribbles
        For ``"trainable"``: a :class:`TrainedSegmenter` (or the path of a saved one), or a
        scribble volume (0 unlabelled, 1 pore/rest, 2 AM) to train on this stack.
    refine, refine_sigma_px
        ``"local-means"``: move each voxel to the phase whose local mean grey value (over
        ``refine_sigma_px`` voxels) is nearer (:func:`refine_local_means`); makes two-phase
        results independent of the starting threshold. Default ``"none"``.
    min_speck_voxels
        AM components smaller than this are removed (0 = keep all).
    max_hole_voxels
        Enclosed pores of at most this many voxels are filled (0 = none). Keep it below the
        size of the real closed pores.
    workers
        Threads for the trainable classifier (default: all cores).

    Returns
    -------
    bool ndarray
        True on the AM voxels, same shape as ``stack``.
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
        min_speck_voxels=min_speck_voxels,
        max_hole_voxels=max_hole_voxels,
        workers=workers,
    )
    return mask
