"""The whole segmentation of a stack in one call: AM mask, closed pores, particles.

:func:`segmentation` is what the ``segment`` pipeline stage runs: threshold (or trainable
classifier), optional local-means refinement, speck removal and hole filling
(:func:`~microstructure.segment.segment_am_report`), optional particle separation with its size
table, and the closed pores with their statistics. A numpy stack gives numpy results; a
Dask/Zarr stack (or ``chunks=``) gives lazy masks with the same voxels and the same numbers,
computed slab by slab (:mod:`microstructure.segment._chunked`). The options that need the whole
stack are declared with :func:`~microstructure.parallel.support.chunked_support`.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from microstructure.parallel.support import (
    check_chunked_memory,
    chunked_support,
    whole_volume_step,
)
from microstructure.segment import _chunked
from microstructure.segment.am import AM_CHUNKED_REFUSALS, check_method, segment_am_report
from microstructure.segment.cleanup import (
    DEFAULT_MAX_HOLE_VOXELS,
    DEFAULT_MIN_SPECK_VOXELS,
    closed_pore_stats_from_sizes,
    closed_pores,
    component_sizes,
    particle_table,
)
from microstructure.segment.cleanup import separate_particles as _separate
from microstructure.segment.shine import (
    DEFAULT_PORE_BACK_RISE,
    DEFAULT_PORE_BACK_SLICES,
    DEFAULT_PORE_BACKS,
)
from microstructure.segment.threshold import (
    DEFAULT_BLOCK_SIZE_PX,
    DEFAULT_CLASSES,
    DEFAULT_OFFSET,
    DEFAULT_REFINE,
    DEFAULT_REFINE_SIGMA_PX,
    DEFAULT_THRESHOLD_METHOD,
)
from microstructure.segment.trainable import (
    DEFAULT_N_ESTIMATORS,
    TrainedSegmenter,
    train_segmenter,
)
from microstructure.volume import check_volume

__all__ = ["Segmentation", "segmentation", "SEGMENTATION_CHUNKED_REFUSALS"]

#: what :func:`segmentation` cannot run chunked: those of ``segment_am``
SEGMENTATION_CHUNKED_REFUSALS: dict[str, tuple[Any, str]] = dict(AM_CHUNKED_REFUSALS)

#: peak working memory of the particle watershed per voxel (bytes): the bool mask, float32
#: distances, smoothed distances, markers and int32 labels (measured 31 B/voxel on the
#: bundled 96 x 192 x 192 sample with tracemalloc; rounded up for the edt library's buffers)
PARTICLES_BYTES_PER_VOXEL = 40.0
#: what runs on the whole AM mask in memory when the input is chunked
PARTICLES_STEP = (
    "the particle watershed (distance transform + watershed of the whole AM mask, gathered "
    "from the chunked segmentation)"
)


@dataclass
class Segmentation:
    """What :func:`segmentation` found.

    Attributes
    ----------
    am
        Bool AM mask after cleanup (numpy, or lazy Dask for a chunked input).
    closed
        Bool mask of the closed pores (numpy or lazy).
    info
        JSON-ready description of the threshold and cleanup (as ``segment_am_report``), with
        ``shine_through`` (detection, pore backs removed) and the stage's ``quality`` block
        (:func:`~microstructure.segment.shine.segment_quality`).
    am_voxels
        AM voxels of ``am``.
    n_voxels
        Voxels in the volume.
    closed_pore_voxels
        Voxels per closed pore, descending.
    particles
        int32 particle labels with ``separate_particles`` (else None).
    particle_table
        One row per particle (:func:`~microstructure.segment.particle_table`) with
        ``separate_particles`` (else None).
    trained_model
        The classifier trained from ``scribbles`` (else None).
    """

    am: Any
    closed: Any
    info: dict[str, Any]
    am_voxels: int
    n_voxels: int
    closed_pore_voxels: np.ndarray
    particles: np.ndarray | None = None
    particle_table: dict[str, np.ndarray] | None = None
    trained_model: TrainedSegmenter | None = None

    @property
    def am_fraction(self) -> float:
        """AM voxels / all voxels."""
        return float(self.am_voxels) / self.n_voxels

    def closed_pore_stats(self, voxel_size_nm: Any = None) -> dict[str, Any]:
        """Equal to ``closed_pore_stats(closed, voxel_size_nm=...)`` (see
        :func:`~microstructure.segment.closed_pore_stats`)."""
        return closed_pore_stats_from_sizes(
            self.closed_pore_voxels, n_voxels=self.n_voxels, voxel_size_nm=voxel_size_nm
        )


def _particles(
    am: np.ndarray, voxel_size_nm: Any, min_depth_nm: float | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if voxel_size_nm is None:
        raise ValueError("voxel_size_nm: particle separation needs the (z, y, x) voxel size in nm")
    particles = _separate(am, voxel_size_nm=voxel_size_nm, min_depth_nm=min_depth_nm)
    return particles, particle_table(particles, voxel_size_nm=voxel_size_nm)


def _lazy(seg: _chunked.ChunkedSegmentation) -> Segmentation:
    return Segmentation(
        am=seg.am,
        closed=seg.closed,
        info=seg.info,
        am_voxels=seg.am_voxels,
        n_voxels=seg.n_voxels,
        closed_pore_voxels=seg.closed_pore_voxels,
    )


def _segmentation_chunked(
    stack: Any,
    common: dict[str, Any],
    *,
    voxel_size_nm: Any,
    particles: tuple[bool, float | None, bool],
    connectivity: int,
    slices: int,
    resume_dir: Any,
) -> Segmentation:
    """The chunked path of :func:`segmentation` (options already checked); ``particles`` =
    (separate_particles, min_depth_nm, closed_pores_per_particle). The particle step's memory
    is checked before any work."""
    separate, min_depth_nm, per_particle = particles
    if separate:
        if voxel_size_nm is None:
            raise ValueError(
                "voxel_size_nm: particle separation needs the (z, y, x) voxel size in nm"
            )
        n = int(np.prod(stack.shape, dtype=np.int64))
        check_chunked_memory(segmentation, {"separate_particles": True}, n)
    seg = _chunked.segmentation_chunked(
        stack,
        **common,
        closed_connectivity=connectivity,
        slices_per_chunk=slices,
        resume_dir=resume_dir,
    )
    if not separate:
        return _lazy(seg)
    return _with_particles(seg, voxel_size_nm, min_depth_nm, per_particle, connectivity)


def _with_particles(
    seg: _chunked.ChunkedSegmentation,
    voxel_size_nm: Any,
    min_depth_nm: float | None,
    per_particle: bool,
    connectivity: int,
) -> Segmentation:
    """A chunked segmentation completed by the whole-volume particle step: the AM mask
    (bit-identical to the in-memory one) gathered into memory, its particles and, with
    ``per_particle``, the closed pores counted per particle, as the in-memory path does."""
    am = np.asarray(seg.am.compute(), dtype=bool)
    particles, table = _particles(am, voxel_size_nm, min_depth_nm)
    closed, sizes = seg.closed, seg.closed_pore_voxels
    if per_particle:
        closed = closed_pores(am, particles=particles, connectivity=connectivity)
        sizes = np.sort(component_sizes(closed, connectivity=connectivity))[::-1]
    return Segmentation(
        am=am,
        closed=closed,
        info=seg.info,
        am_voxels=seg.am_voxels,
        n_voxels=seg.n_voxels,
        closed_pore_voxels=sizes,
        particles=particles,
        particle_table=table,
    )


@whole_volume_step(
    "separate_particles", bool, bytes_per_voxel=PARTICLES_BYTES_PER_VOXEL, what=PARTICLES_STEP
)
@chunked_support(**SEGMENTATION_CHUNKED_REFUSALS)
def segmentation(
    stack: Any,
    *,
    voxel_size_nm: Any = None,
    method: str = DEFAULT_THRESHOLD_METHOD,
    threshold: float | None = None,
    classes: int = DEFAULT_CLASSES,
    block_size_px: int = DEFAULT_BLOCK_SIZE_PX,
    offset: float = DEFAULT_OFFSET,
    hysteresis: tuple[float, float] | None = None,
    hysteresis_width: float | None = None,
    model: TrainedSegmenter | str | os.PathLike[str] | None = None,
    scribbles: Any = None,
    n_estimators: int = DEFAULT_N_ESTIMATORS,
    refine: str = DEFAULT_REFINE,
    refine_sigma_px: float = DEFAULT_REFINE_SIGMA_PX,
    pore_backs: str = DEFAULT_PORE_BACKS,
    pore_back_slices: int = DEFAULT_PORE_BACK_SLICES,
    pore_back_rise: float = DEFAULT_PORE_BACK_RISE,
    min_speck_voxels: int = DEFAULT_MIN_SPECK_VOXELS,
    max_hole_voxels: int = DEFAULT_MAX_HOLE_VOXELS,
    separate_particles: bool = False,
    min_depth_nm: float | None = None,
    closed_pores_per_particle: bool = False,
    closed_connectivity: int = 26,
    workers: int | None = None,
    chunks: int | None = None,
    resume_dir: str | os.PathLike[str] | None = None,
) -> Segmentation:
    """AM mask, closed pores and (optionally) particles of a grayscale stack, in one call.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack (AM bright): numpy, or Dask/Zarr for lazy masks.
    voxel_size_nm
        (z, y, x) voxel size in nm; needed by ``separate_particles``.
    method, threshold, classes, block_size_px, offset, hysteresis, hysteresis_width, model, \
refine, refine_sigma_px, pore_backs, pore_back_slices, pore_back_rise, min_speck_voxels, \
max_hole_voxels, workers
        As :func:`~microstructure.segment.segment_am`; the default method here is ``"auto"``
        (the ``segment`` stage's). Pore backs (shine-through) run chunked too (z halo).
    scribbles, n_estimators
        ``method="trainable"``: a scribble volume to train a forest of ``n_estimators`` trees
        on this stack (returned as :attr:`Segmentation.trained_model`).
    separate_particles, min_depth_nm
        Split touching particles (:func:`~microstructure.segment.separate_particles`) and
        tabulate them. On a chunked input this is one step on the whole AM mask in memory
        (:data:`PARTICLES_BYTES_PER_VOXEL`; refused in one line before any work when it does
        not fit the available memory).
    closed_pores_per_particle
        Count only holes of single particles (needs ``separate_particles``; on a chunked input
        part of the same in-memory step).
    closed_connectivity
        Connectivity of the pore space for the closed pores (26 default).
    chunks, resume_dir
        Slices per work slab (a numpy input then runs chunked too) and an optional work folder
        keeping the threshold and each slab's labelling, so an interrupted call resumes.

    Returns
    -------
    Segmentation
        Masks, numbers and tables. ``ValueError`` for bad options or data and, on a chunked
        input, for the options of :data:`SEGMENTATION_CHUNKED_REFUSALS` (one line).
    """
    if closed_pores_per_particle and not separate_particles:
        raise ValueError("closed_pores_per_particle: needs separate_particles = true")
    # the options both paths take
    common = dict(
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
    )
    slices = _chunked.slab_slices(stack, chunks)
    if slices is not None:
        check_method(method)
        refused = {"refine": refine, "hysteresis": hysteresis, "method": method}
        _chunked.refuse_chunked(segmentation, refused)
        return _segmentation_chunked(
            stack,
            common,
            voxel_size_nm=voxel_size_nm,
            particles=(separate_particles, min_depth_nm, closed_pores_per_particle),
            connectivity=closed_connectivity,
            slices=slices,
            resume_dir=resume_dir,
        )
    arr = check_volume(stack, name="stack")
    trained = None
    if method == "trainable" and scribbles is not None:
        trained = train_segmenter(arr, scribbles, n_estimators=n_estimators, workers=workers)
        model, scribbles = trained, None
    am, info = segment_am_report(
        arr,
        **common,
        block_size_px=block_size_px,
        offset=offset,
        hysteresis=hysteresis,
        model=model,
        scribbles=scribbles,
        workers=workers,
    )
    return _in_memory(
        am,
        info,
        trained,
        voxel_size_nm=voxel_size_nm,
        particles=(separate_particles, min_depth_nm, closed_pores_per_particle),
        connectivity=closed_connectivity,
    )


def _in_memory(
    am: np.ndarray,
    info: dict[str, Any],
    trained: TrainedSegmenter | None,
    *,
    voxel_size_nm: Any,
    particles: tuple[bool, float | None, bool],
    connectivity: int,
) -> Segmentation:
    """The in-memory path of :func:`segmentation` after the AM mask: particles (with
    ``particles`` = (separate_particles, min_depth_nm, closed_pores_per_particle)) and the
    closed pores."""
    separate, min_depth_nm, per_particle = particles
    labels = table = None
    if separate:
        labels, table = _particles(am, voxel_size_nm, min_depth_nm)
    closed = closed_pores(am, particles=labels if per_particle else None, connectivity=connectivity)
    sizes = component_sizes(closed, connectivity=connectivity)
    return Segmentation(
        am=am,
        closed=closed,
        info=info,
        am_voxels=int(np.count_nonzero(am)),
        n_voxels=int(am.size),
        closed_pore_voxels=np.sort(sizes)[::-1],
        particles=labels,
        particle_table=table,
        trained_model=trained,
    )
