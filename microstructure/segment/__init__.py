"""Segmentation of the active material (AM), closed pores inside it, particle separation.

Public entry points (see ``ARCHITECTURE.md``)::

    segment_am(stack, *, method="otsu") -> bool ndarray      # True = AM
    segmentation(stack, *, method="auto") -> Segmentation     # the ``segment`` stage: AM,
                                                              # closed pores, particles
    closed_pores(am_mask) -> bool ndarray                     # pores enclosed by AM
    ... pore_backs="auto"|"off"|"on"                           # shine-through (pore backs),
                                                              # see microstructure.segment.shine;
                                                              # closed pores lit by their back
                                                              # wall: ...segment.closed_backs;
                                                              # lit particle fronts trimmed:
                                                              # ...segment.front_trim
    ... refine="auto"|"none"|"local-means"                     # boundary at the local midpoint
                                                              # (auto: blurred two-phase stacks)
    remove_specks(mask), fill_small_holes(am_mask), closed_pore_stats(closed)

Each takes a numpy array (numpy result) or a Dask/Zarr array (lazy result with the same
numbers, computed slab by slab), plus ``chunks=None, resume_dir=None``. What cannot run chunked
is declared on the function (:func:`microstructure.parallel.support.chunked_refusals`).

As in Beuse et al. (2021) the segmentation separates the AM from everything else; the
carbon-binder domain counts as pore here and is inserted later by :mod:`microstructure.cbd`.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

from microstructure.segment.am import SEGMENT_METHODS, segment_am, segment_am_report
from microstructure.segment.cleanup import (
    DEFAULT_MAX_HOLE_VOXELS,
    DEFAULT_MIN_SPECK_VOXELS,
    closed_pore_stats,
    closed_pore_stats_from_sizes,
    closed_pores,
    fill_small_holes,
    label_components,
    particle_table,
    remove_specks,
    separate_particles,
)
from microstructure.segment.combined import Segmentation, segmentation
from microstructure.segment.shine import PORE_BACK_MODES, segment_quality
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

__all__ = [
    "SEGMENT_METHODS",
    "segment_am",
    "segment_am_report",
    "segmentation",
    "Segmentation",
    "PORE_BACK_MODES",
    "segment_quality",
    "closed_pores",
    "closed_pore_stats",
    "closed_pore_stats_from_sizes",
    "remove_specks",
    "fill_small_holes",
    "DEFAULT_MIN_SPECK_VOXELS",
    "DEFAULT_MAX_HOLE_VOXELS",
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
