"""Chunked AM segmentation: global threshold, hysteresis and cleanup slab by slab.

The in-memory :func:`microstructure.segment.segment_am_report` (threshold methods ``auto``,
``otsu``, ``multiotsu``, ``manual``, ``li``, optional hysteresis band) followed by
:func:`~microstructure.segment.remove_specks`, :func:`~microstructure.segment.fill_small_holes`,
:func:`~microstructure.segment.closed_pores` and
:func:`~microstructure.segment.closed_pore_stats`, on a stack too large for memory:

1. **Threshold value.** The in-memory code takes the grey values at flat indices ``0, step,
   2 step, ...`` of the stack (``step = ceil(size / 4 M)``) and builds its 256-bin histogram
   (or Li's iteration) from them. Every slab gives exactly its share of those values; their
   concatenation is the same sample, handed to the same
   :func:`~microstructure.segment.threshold_value`, so the threshold is the same number.
2. **Mask** per slab: ``float32(value) > float32(threshold)``, as in memory.
3. **Connected components** across slabs (:func:`~microstructure.parallel.label.label_chunked`):
   hysteresis keeps the components (26-connected) of ``value > low`` holding a voxel above
   ``high``; speck removal drops AM components (6-connected) below ``min_speck_voxels``; the
   pore space (26-connected) after speck removal gives both the small enclosed holes to fill
   and, of the rest, the closed pores (components touching no face of the volume). Filling a
   whole pore component merges no other, so one labelling of the pore space serves both.

Every result equals the in-memory one exactly (masks voxel for voxel, fractions, counts and size
lists). Each labelling is one pass over the slabs (the masks before it are recomputed from the
input, not stored); the lazy outputs take one more pass when computed. With a ``resume_dir`` the
threshold and each slab's labelling summary are saved as they finish, so an interrupted call
redoes only what was not finished.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.parallel.chunked import as_dask
from microstructure.parallel.label import ChunkedLabels, label_chunked

__all__ = [
    "CHUNKED_SEGMENT_METHODS",
    "ChunkedSegmentation",
    "segment_am_chunked",
    "segmentation_chunked",
    "remove_specks_chunked",
    "fill_small_holes_chunked",
    "closed_pores_chunked",
    "closed_pore_stats_from_sizes",
]

#: threshold methods available chunked (``local`` and ``trainable`` are in-memory only)
CHUNKED_SEGMENT_METHODS: tuple[str, ...] = ("auto", "otsu", "multiotsu", "manual", "li")


def _sample_block(
    block: np.ndarray, *, start: int, step: int, sample: bool, check_finite: bool
) -> tuple[np.ndarray | None, int]:
    """This slab's share of the strided sample (float32, as ``threshold._sample``) and its
    number of NaN/inf values (``start`` = flat index of the slab's first value)."""
    values = None
    if sample:
        first = (-start) % step
        values = np.asarray(np.asarray(block).reshape(-1)[first::step], dtype=np.float32)
    bad = int(block.size - np.count_nonzero(np.isfinite(block))) if check_finite else 0
    return values, bad


def _above(block: np.ndarray, *, value: Any) -> np.ndarray:
    """``float32(block) > value`` (``value``: a float32 threshold or a Python float bound, as
    the in-memory code compares)."""
    return np.asarray(block).astype(np.float32, copy=False) > value


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
    return int(value)


def _slabs(stack: Any, slices_per_chunk: int) -> Any:
    if isinstance(slices_per_chunk, bool) or int(slices_per_chunk) < 1:
        raise ValueError(f"slices_per_chunk: expected an integer >= 1, got {slices_per_chunk!r}")
    arr = as_dask(stack)
    if arr.ndim != 3:
        hint = " (a single 2D image was given where a 3D stack is needed)" if arr.ndim == 2 else ""
        raise ValueError(f"stack: expected a 3D array (z, y, x), got shape {arr.shape}{hint}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.issubdtype(
        arr.dtype, np.complexfloating
    ):
        raise ValueError(f"stack: expected a numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"stack: the volume is empty or too small, shape {arr.shape}")
    return arr.rechunk((int(slices_per_chunk), -1, -1))


def _threshold_chunked(
    arr: Any, *, method: str, threshold: float | None, classes: int
) -> tuple[float, dict[str, Any]]:
    """The in-memory ``threshold_value`` of the whole stack, from the same strided sample
    collected slab by slab; also the NaN check of ``check_volume``."""
    import dask

    from microstructure.segment import threshold as _threshold
    from microstructure.segment.threshold import threshold_value

    sample = method != "manual"
    check = bool(np.issubdtype(arr.dtype, np.floating))
    if sample or check:
        size = int(arr.size)
        step = max(1, int(math.ceil(size / _threshold._MAX_SAMPLES)))
        per_slice = int(arr.shape[1]) * int(arr.shape[2])
        starts = np.cumsum((0,) + arr.chunks[0][:-1]) * per_slice
        parts = dask.compute(
            *[
                dask.delayed(_sample_block, pure=True)(
                    blk, start=int(s0), step=step, sample=sample, check_finite=check
                )
                for blk, s0 in zip(
                    arr.to_delayed(optimize_graph=False).ravel(), starts, strict=True
                )
            ]
        )
        bad = sum(b for _, b in parts)
        if bad:
            raise ValueError(f"stack: contains {bad} NaN or infinite values")
    if not sample:
        return threshold_value(
            np.zeros((1, 1, 1), np.float32), method="manual", threshold=threshold
        )
    values = np.concatenate([v for v, _ in parts])
    # the sample as a (1, 1, n) stack: threshold_value's own subsample of it is all of it
    return threshold_value(
        values.reshape(1, 1, -1), method=method, threshold=threshold, classes=classes
    )


def _threshold_resumable(
    arr: Any, root: Path | None, **kwargs: Any
) -> tuple[float, dict[str, Any]]:
    """:func:`_threshold_chunked`, kept in ``root/threshold.json`` when a work folder is given."""
    from microstructure.parallel.resume import read_state, write_state

    state = read_state(root, "threshold") if root is not None else None
    if state is not None:
        return float(state["value"]), state["info"]
    t, info = _threshold_chunked(arr, **kwargs)
    if root is not None:
        write_state(root, "threshold", {"value": t, "info": info})
    return t, info


def closed_pore_stats_from_sizes(
    sizes: np.ndarray, *, n_voxels: int, voxel_size_nm: Any = None
) -> dict[str, Any]:
    """:func:`microstructure.segment.closed_pore_stats` from the closed pores' voxel counts.

    Parameters
    ----------
    sizes
        Voxels per closed pore (any order).
    n_voxels
        Voxels in the whole volume.
    voxel_size_nm
        Optional (z, y, x) voxel size in nm: adds the equivalent diameters.

    Returns
    -------
    dict
        ``closed_pore_fraction``, ``closed_pore_count``, ``closed_pore_voxels`` (descending) and,
        with a voxel size, ``closed_pore_equivalent_diameters_nm``, as in memory.
    """
    from microstructure.volume import parse_voxel_size

    s = np.sort(np.asarray(sizes, dtype=np.int64))[::-1]
    out: dict[str, Any] = {
        "closed_pore_fraction": float(int(s.sum())) / int(n_voxels),
        "closed_pore_count": int(s.size),
        "closed_pore_voxels": [int(v) for v in s],
    }
    if voxel_size_nm is not None:
        vs = parse_voxel_size(voxel_size_nm)
        vol_nm3 = s * float(np.prod(vs))
        out["closed_pore_equivalent_diameters_nm"] = [
            float(d) for d in np.cbrt(6.0 * vol_nm3 / math.pi)
        ]
    return out


@dataclass
class ChunkedSegmentation:
    """What :func:`segmentation_chunked` found.

    Attributes
    ----------
    am
        Lazy bool AM mask after cleanup (equal to ``segment_am_report``'s mask).
    closed
        Lazy bool mask of the closed pores of ``am`` (equal to ``closed_pores(am)``).
    info
        Equal to ``segment_am_report``'s info.
    am_voxels
        AM voxels of ``am``.
    closed_pore_voxels
        Voxels per closed pore (descending).
    n_voxels
        Voxels in the volume.
    pore_labels
        The pore space's components (of ``~am`` before hole filling).
    """

    am: Any
    closed: Any
    info: dict[str, Any]
    am_voxels: int
    closed_pore_voxels: np.ndarray
    n_voxels: int
    pore_labels: ChunkedLabels

    def closed_pore_stats(self, voxel_size_nm: Any = None) -> dict[str, Any]:
        """Equal to ``closed_pore_stats(closed_pores(am), voxel_size_nm=...)``."""
        return closed_pore_stats_from_sizes(
            self.closed_pore_voxels, n_voxels=self.n_voxels, voxel_size_nm=voxel_size_nm
        )


def segmentation_chunked(
    stack: Any,
    *,
    method: str = "auto",
    threshold: float | None = None,
    classes: int = 3,
    hysteresis_width: float | None = None,
    min_speck_voxels: int = 27,
    max_hole_voxels: int = 8,
    closed_connectivity: int = 26,
    slices_per_chunk: int = 16,
    resume_dir: str | os.PathLike[str] | None = None,
) -> ChunkedSegmentation:
    """Threshold, hysteresis, cleanup and closed pores of a stack, slab by slab.

    Parameters
    ----------
    stack
        (z, y, x) numpy, Zarr or Dask grayscale stack; AM is bright.
    method
        ``"auto"``, ``"otsu"``, ``"multiotsu"``, ``"manual"`` or ``"li"`` (as
        :func:`microstructure.segment.threshold_am`; ``local`` and ``trainable`` are in-memory
        only).
    threshold
        Grey value for ``method="manual"``.
    classes
        Multi-Otsu classes (2..5).
    hysteresis_width
        Optional half-width (grey values) of a hysteresis band around the threshold.
    min_speck_voxels, max_hole_voxels
        As :func:`microstructure.segment.segment_am_report`.
    closed_connectivity
        Connectivity of the pore space for the closed pores (26 default, as ``closed_pores``);
        the holes filled by the cleanup are always 26-connected, as in memory.
    slices_per_chunk
        Slices per slab (a task holds the slab as float32 plus int32 labels: ~9 bytes/voxel).
    resume_dir
        Optional work folder (:mod:`microstructure.parallel.resume`): the threshold and every
        slab's labelling summary of each connected-component pass are saved there as they
        finish; an interrupted call repeated with the same folder, stack and options redoes
        only the unfinished slabs and passes (the lazy masks it returns are computed anew).
        The stack itself is not hashed: give each stack its own folder (the pipeline runner
        does, ``StageContext.chunk_dir``).

    Returns
    -------
    ChunkedSegmentation
        Lazy AM and closed-pore masks, the info dict and the closed pores' sizes.

    Raises
    ------
    ValueError
        Unknown or in-memory-only method, bad threshold/classes/width/sizes, NaN in the stack,
        a constant stack.
    """
    if method not in CHUNKED_SEGMENT_METHODS:
        if method in ("local", "trainable"):
            raise ValueError(
                f"method: {method!r} is in-memory only; chunked: "
                f"{', '.join(CHUNKED_SEGMENT_METHODS)}"
            )
        raise ValueError(
            f"method: expected one of {', '.join(CHUNKED_SEGMENT_METHODS)}, got {method!r}"
        )
    m_speck = _check_count(min_speck_voxels, "min_speck_voxels")
    m_hole = _check_count(max_hole_voxels, "max_hole_voxels")
    if closed_connectivity not in (6, 18, 26):
        raise ValueError(f"closed_connectivity: expected 6, 18 or 26, got {closed_connectivity!r}")
    w = None
    if hysteresis_width is not None:
        w = float(hysteresis_width)
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"hysteresis_width: expected a grey value >= 0, got {w!r}")
    arr = _slabs(stack, slices_per_chunk)
    n = int(arr.size)
    root = None
    if resume_dir is not None:
        from microstructure.parallel.resume import open_work_folder

        manifest = {
            "function": "segmentation_chunked",
            "shape": [int(v) for v in arr.shape],
            "dtype": str(arr.dtype),
            "method": method,
            "threshold": repr(threshold),  # validated later, by threshold_value
            "classes": repr(classes),
            "hysteresis_width": w,
            "min_speck_voxels": m_speck,
            "max_hole_voxels": m_hole,
            "closed_connectivity": int(closed_connectivity),
            "slices_per_chunk": int(slices_per_chunk),
        }
        root, _ = open_work_folder(resume_dir, manifest)
    labelled = partial(label_chunked, resume_dir=root)
    t, info = _threshold_resumable(arr, root, method=method, threshold=threshold, classes=classes)
    if w is not None:
        low, high = t - w, t + w
        weak = arr.map_blocks(_above, value=low, dtype=bool)
        strong = arr.map_blocks(_above, value=high, dtype=bool)
        hyst = labelled(weak, connectivity=26, flags=strong, phase="hysteresis")
        mask = hyst.select(hyst.flagged)
        info["hysteresis"] = [low, high]
        raw = int(hyst.sizes[hyst.flagged].sum())
    else:
        mask = arr.map_blocks(_above, value=np.float32(t), dtype=bool)
        raw = None
    # remove_specks: AM components (6-connected) of at least m_speck voxels stay
    if m_speck > 1:
        am_lab = labelled(mask, connectivity=6, phase="specks")
        if raw is None:
            raw = int(am_lab.sizes[1:].sum())
        keep = am_lab.sizes >= m_speck
        keep[0] = False
        mask = am_lab.select(keep)
        kept = int(am_lab.sizes[keep].sum())
    else:
        kept = None
    # the pore space after speck removal: holes to fill (26, as fill_small_holes) and
    # closed pores (closed_connectivity, as closed_pores)
    pore = labelled(~mask, connectivity=26, phase="pores")
    if raw is None:
        raw = int(pore.sizes[0])
    if kept is None:
        kept = int(pore.sizes[0])
    fill = np.zeros(pore.count + 1, dtype=bool)
    if m_hole > 0:
        fill = (pore.sizes <= m_hole) & ~pore.touches_boundary
        fill[0] = False
    am_voxels = kept + int(pore.sizes[fill].sum())
    if closed_connectivity == 26:
        # filling whole components merges none: the remaining components are the final ones
        closed_ids = ~pore.touches_boundary & ~fill
        closed_ids[0] = False
        filled, closed = pore.select(fill, closed_ids)  # one labelling per slab for both
        am = mask | filled if fill.any() else mask
        closed_sizes = pore.sizes[closed_ids]
    else:
        am = mask | pore.select(fill) if fill.any() else mask
        final_pore = labelled(~am, connectivity=closed_connectivity, phase="closed")
        closed_ids = ~final_pore.touches_boundary
        closed_ids[0] = False
        closed = final_pore.select(closed_ids)
        closed_sizes = final_pore.sizes[closed_ids]
    info.update(
        am_fraction_before_cleanup=float(raw) / n,
        am_fraction=float(am_voxels) / n,
        min_speck_voxels=m_speck,
        max_hole_voxels=m_hole,
    )
    return ChunkedSegmentation(
        am=am,
        closed=closed,
        info=info,
        am_voxels=am_voxels,
        closed_pore_voxels=np.sort(closed_sizes)[::-1],
        n_voxels=n,
        pore_labels=pore,
    )


def segment_am_chunked(
    stack: Any,
    *,
    method: str = "auto",
    threshold: float | None = None,
    classes: int = 3,
    hysteresis_width: float | None = None,
    min_speck_voxels: int = 27,
    max_hole_voxels: int = 8,
    slices_per_chunk: int = 16,
) -> tuple[Any, dict[str, Any]]:
    """Chunked :func:`microstructure.segment.segment_am_report` (lazy mask, info).

    Parameters are those of :func:`segmentation_chunked`. Returns the lazy bool AM mask and
    the info dict, both equal to the in-memory ``segment_am_report`` with the same options.
    """
    seg = segmentation_chunked(
        stack,
        method=method,
        threshold=threshold,
        classes=classes,
        hysteresis_width=hysteresis_width,
        min_speck_voxels=min_speck_voxels,
        max_hole_voxels=max_hole_voxels,
        slices_per_chunk=slices_per_chunk,
    )
    return seg.am, seg.info


def _mask_slabs(mask: Any, slices_per_chunk: int) -> Any:
    arr = _slabs(mask, slices_per_chunk)
    if arr.dtype != np.bool_:
        arr = arr.astype(bool)
    return arr


def remove_specks_chunked(
    mask: Any, *, min_size_voxels: int = 27, connectivity: int = 6, slices_per_chunk: int = 16
) -> Any:
    """Chunked :func:`microstructure.segment.remove_specks` (lazy bool mask, equal)."""
    m = _check_count(min_size_voxels, "min_size_voxels")
    arr = _mask_slabs(mask, slices_per_chunk)
    if m <= 1:
        return arr
    lab = label_chunked(arr, connectivity=connectivity)
    keep = lab.sizes >= m
    return lab.select(keep)


def fill_small_holes_chunked(
    am_mask: Any, *, max_size_voxels: int = 8, connectivity: int = 26, slices_per_chunk: int = 16
) -> Any:
    """Chunked :func:`microstructure.segment.fill_small_holes` (lazy bool mask, equal)."""
    m = _check_count(max_size_voxels, "max_size_voxels")
    arr = _mask_slabs(am_mask, slices_per_chunk)
    if m == 0:
        return arr
    lab = label_chunked(~arr, connectivity=connectivity)
    fill = (lab.sizes <= m) & ~lab.touches_boundary
    if not fill[1:].any():
        return arr
    return arr | lab.select(fill)


def closed_pores_chunked(
    am_mask: Any, *, connectivity: int = 26, slices_per_chunk: int = 16
) -> tuple[Any, np.ndarray]:
    """Chunked :func:`microstructure.segment.closed_pores` (without ``particles``).

    Returns
    -------
    (dask.array.Array, ndarray)
        The lazy closed-pore mask (equal to the in-memory one) and the closed pores' voxel
        counts, descending (give them to :func:`closed_pore_stats_from_sizes`).
    """
    arr = _mask_slabs(am_mask, slices_per_chunk)
    lab = label_chunked(~arr, connectivity=connectivity)
    ids = ~lab.touches_boundary
    ids[0] = False
    return lab.select(ids), np.sort(lab.sizes[ids])[::-1]
