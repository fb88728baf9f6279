"""Chunked AM segmentation: global threshold, hysteresis and cleanup slab by slab (private).

The public functions of :mod:`microstructure.segment` (:func:`~microstructure.segment.segment_am`,
:func:`~microstructure.segment.segmentation`, :func:`~microstructure.segment.remove_specks`,
:func:`~microstructure.segment.fill_small_holes`, :func:`~microstructure.segment.closed_pores`,
:func:`~microstructure.segment.closed_pore_stats`) come here for a Dask or Zarr input (or with
``chunks=``), on a stack too large for memory:

1. **Threshold value.** The in-memory code takes the grey values at flat indices ``0, step,
   2 step, ...`` of the stack (``step = ceil(size / 4 M)``) and builds its 256-bin histogram
   (or Li's iteration) from them. Every slab gives exactly its share of those values; their
   concatenation is the same sample, handed to the same
   :func:`~microstructure.segment.threshold_value`, so the threshold is the same number.
2. **Mask** per slab: ``float32(value) > float32(threshold)``, as in memory.
3. **Pore backs** (shine-through, :mod:`microstructure.segment.shine`): the brightness step
   between consecutive slices per slab (each slab reads one slice of the next), then per-voxel
   codes with a z halo of ``pore_back_slices + 1`` slices (Dask ``map_overlap``), counted as
   integers: the same detection, and the same voxels removed, as in memory.
   **Local-means refinement** (``refine = "auto"`` on a two-phase stack): a fixed number of
   purely local passes (:func:`~microstructure.segment.threshold.local_means_step`), each a
   Dask ``map_overlap`` with the Gaussian's reach as z halo: the same voxels as in memory.
4. **Connected components** across slabs (:func:`~microstructure.parallel.label.label_chunked`):
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

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. doi:10.3390/batteries7040070
.. [2] Otsu, N. (1979). A threshold selection method from gray-level histograms. *IEEE Trans.
   Syst. Man Cybern.* 9, 62-66. doi:10.1109/TSMC.1979.4310076
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import microstructure.segment.shine as _shine
import microstructure.segment.threshold as _threshold
from microstructure.parallel.chunked import as_dask
from microstructure.parallel.label import ChunkedLabels, label_chunked

#: threshold methods available chunked (``local`` and ``trainable`` need the whole stack)
CHUNKED_SEGMENT_METHODS: tuple[str, ...] = ("auto", "otsu", "multiotsu", "manual", "li")
#: bytes per voxel of the whole-volume closed-pore completion on a chunked segmentation
#: (float32 stack, masks, the two closed-pore labellings' int32 labels; the dim closed pores'
#: float32 dip map and int32 labels)
CLOSED_BACKS_BYTES_PER_VOXEL = 32


# ------------------------------------------------------------------ dispatch helpers
def slab_slices(stack: Any, chunks: int | None) -> int | None:
    """Slices per work slab when ``stack``/``chunks`` ask for the chunked path, else None.

    Chunked when ``chunks`` is given (slices per slab) or ``stack`` is a Dask or Zarr array
    (then its own z chunk size, unless ``chunks`` says otherwise).
    """
    if chunks is None:
        own = None if isinstance(stack, np.ndarray) else getattr(stack, "chunks", None)
        if own is None:
            return None  # numpy (or anything without chunks): in memory
        z = own[0]  # Dask: a tuple of slab sizes; Zarr: one int
        return int(max(z)) if isinstance(z, tuple) else int(z)
    if isinstance(chunks, bool) or not isinstance(chunks, int | np.integer) or chunks < 1:
        raise ValueError(f"chunks: slices_per_chunk must be an integer >= 1, got {chunks!r}")
    return int(chunks)


def refuse_chunked(func: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """One-line ``ValueError`` naming each option value that ``func`` declares it cannot run
    chunked (:func:`microstructure.parallel.support.chunked_support`), with the value."""
    problems = func.chunked_support.problems(options)  # type: ignore[attr-defined]
    if problems:
        parts = []
        for name, reason in problems:
            value = options[name]
            scalar = value is None or isinstance(value, str | int | float)
            parts.append(f"{name}: {value!r} is {reason}" if scalar else f"{name}: {reason}")
        raise ValueError(f"{func.__name__} on a chunked (Dask) input: {'; '.join(parts)}")


# ------------------------------------------------------------------ slab helpers
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


def _mask_slabs(mask: Any, slices_per_chunk: int) -> Any:
    arr = _slabs(mask, slices_per_chunk)
    if arr.dtype != np.bool_:
        arr = arr.astype(bool)
    return arr


def _work_folder(resume_dir: Any, manifest: dict[str, Any]) -> Path | None:
    if resume_dir is None:
        return None
    from microstructure.parallel.resume import open_work_folder

    root, _ = open_work_folder(resume_dir, manifest)
    return root


# ------------------------------------------------------------------ threshold
def _threshold_chunked(
    arr: Any, *, method: str, threshold: float | None, classes: int
) -> tuple[float, dict[str, Any]]:
    """The in-memory ``threshold_value`` of the whole stack, from the same strided sample
    collected slab by slab; also the NaN check of ``check_volume``."""
    import dask

    threshold_value = _threshold.threshold_value
    sample = True  # every method reports the grey-value statistics of the sample
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


# ------------------------------------------------------------------ shine-through
def _pore_backs_chunked(
    arr: Any, t: float, info: dict[str, Any], pore_backs: tuple[str, int, float], root: Any
) -> Any:
    """The in-memory pore-back step (``am._remove_pore_backs``) slab by slab: per-voxel codes
    with a z halo of ``slices + 1`` (equal to the in-memory codes), their counts summed as
    integers (kept in ``root/shine_through.json``), the same decision. Returns the lazy
    pore-back mask to remove, or None."""
    import dask
    import dask.array as da

    from microstructure.parallel.resume import read_state, write_state

    mode, slices, rise = pore_backs
    contrast = float(info["grey_stats"]["contrast"])
    state = read_state(root, "shine_steps") if root is not None else None
    if state is None:
        # each slab's pairs (z, z + 1), the last one reaching into the next slab
        nz = int(arr.shape[0])
        level = _shine.steps_level(info["grey_stats"], t)
        bounds = np.cumsum((0,) + arr.chunks[0])
        parts = [
            dask.delayed(_shine.slice_steps, pure=True)(arr[z0 : min(int(z1) + 1, nz)], level=level)
            for z0, z1 in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        state = {"steps": np.concatenate(dask.compute(*parts)).tolist()}
        if root is not None:
            write_state(root, "shine_steps", state)
    steps = np.asarray(state["steps"], np.float64)
    trend = da.from_array(_shine.brightness_trend(steps), chunks=(arr.chunks[0], 1, 1))
    halo = min(int(slices) + 1, max(0, int(arr.shape[0]) - 1))
    code = da.map_overlap(
        _shine.pore_back_codes,
        arr,
        trend,
        depth={0: halo, 1: 0, 2: 0},
        boundary="none",
        dtype=np.uint8,
        t=float(t),
        delta=rise * contrast,
        slices=int(slices),
    )
    state = read_state(root, "shine_through") if root is not None else None
    if state is None or "profile" not in state:  # (a work folder from before the profile)
        sums = dask.compute(*[((code & bit) > 0).sum() for bit in (1, 2, 4)])
        profile = _front_back_chunked(arr, steps, t, info["grey_stats"])
        state = {"counts": [int(v) for v in sums], "profile": profile.tolist()}
        if root is not None:
            write_state(root, "shine_through", state)
    shine = _shine.shine_through_info(
        tuple(state["counts"]),  # type: ignore[arg-type]
        n_voxels=int(arr.size),
        mode=mode,
        contrast=contrast,
        slices=int(slices),
        rise=rise,
        steps=steps,
        profile=np.asarray(state["profile"], np.int64),
    )
    info["shine_through"] = shine
    return _shine.is_pore_back(code) if shine["removed"] else None


def _front_back_chunked(arr: Any, steps: np.ndarray, t: float, stats: dict[str, Any]) -> np.ndarray:
    """:func:`~microstructure.segment.shine.front_back_profile` slab by slab (each slab with
    a halo of ``max(FRONT_BACK_OFFSET, FRONT_BACK_MIN_RUN)`` slices, counting the runs that
    end in its own slices): the in-memory histograms as integer sums."""
    import dask

    nz = int(arr.shape[0])
    trend = _shine.brightness_trend(steps)
    lo = stats["class_medians"][0]
    lo = float(t) if lo is None else float(lo)
    halo = max(_shine.FRONT_BACK_OFFSET, _shine.FRONT_BACK_MIN_RUN)
    bounds = np.cumsum((0,) + tuple(arr.chunks[0]))
    parts = []
    for z0, z1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        h0, h1 = max(0, z0 - halo), min(nz, z1 + halo)
        parts.append(
            dask.delayed(_shine.front_back_profile, pure=True)(
                arr[h0:h1],
                trend[h0:h1],
                t=float(t),
                lo=lo,
                contrast=float(stats["contrast"]),
                core=(z0 - h0, z1 - h0),
            )
        )
    return np.sum(dask.compute(*parts), axis=0).astype(np.int64)


def _refine_block(img: np.ndarray, m: np.ndarray, blur: np.ndarray, *, sigma_px: float):
    return _threshold.local_means_step(img, m, blur, sigma_px)


def _refine_chunked(
    arr: Any, mask: Any, info: dict[str, Any], method: str, refine: str, sigma_px: float
) -> Any:
    """The in-memory refinement step (``am._refine``) slab by slab: ``refine = "auto"`` on a
    two-phase stack runs :data:`~microstructure.segment.threshold.AUTO_REFINE_ITERATIONS`
    local passes, each a ``map_overlap`` with the Gaussian's reach as z halo (the same voxels
    as in memory). Returns the lazy refined mask (``mask`` when nothing is refined)."""
    import dask.array as da

    mode, why = _threshold.resolve_refine(refine, method, info)
    if mode != "local-means":
        if refine == "auto":
            info["refine"] = {"method": "none", "requested": "auto", "reason": why}
        return mask
    s = float(sigma_px)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"sigma_px: expected a width > 0 voxels, got {sigma_px!r}")
    nz = int(arr.shape[0])
    halo = min(_threshold.refine_reach(s), max(0, nz - 1))
    if halo and min(arr.chunks[0]) < halo:  # map_overlap needs slabs at least as deep
        arr = arr.rechunk({0: max(halo, max(arr.chunks[0]))})
        mask = mask.rechunk(arr.chunks)
    n_am = int(mask.sum().compute())
    info["am_fraction_before_refine"] = n_am / int(arr.size)
    if n_am in (0, int(arr.size)):
        rinfo = {"iterations": 0, "changed_fraction": 0.0, "sigma_px": s}
        info["refine"] = {"method": "local-means", "requested": refine, "reason": why, **rinfo}
        return mask
    img = arr.astype(np.float32)
    depth = {0: halo, 1: 0, 2: 0}
    blur = img.map_overlap(_gaussian, depth=depth, boundary="none", dtype=np.float32, sigma_px=s)
    prev = mask
    for _ in range(_threshold.AUTO_REFINE_ITERATIONS):
        prev, mask = (
            mask,
            da.map_overlap(
                _refine_block,
                img,
                mask,
                blur,
                depth=depth,
                boundary="none",
                dtype=bool,
                sigma_px=s,
            ),
        )
    changed = int((mask != prev).sum().compute())
    rinfo = {
        "iterations": _threshold.AUTO_REFINE_ITERATIONS,
        "changed_fraction": changed / int(arr.size),
        "sigma_px": s,
    }
    info["refine"] = {"method": "local-means", "requested": refine, "reason": why, **rinfo}
    return mask


def _gaussian(block: np.ndarray, *, sigma_px: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(block, sigma_px, truncate=_threshold.REFINE_TRUNCATE)


# ------------------------------------------------------------------ segmentation
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
    """

    am: Any
    closed: Any
    info: dict[str, Any]
    am_voxels: int
    closed_pore_voxels: np.ndarray
    n_voxels: int


def _check_method(method: str) -> None:
    if method not in CHUNKED_SEGMENT_METHODS:
        if method in ("local", "trainable"):
            raise ValueError(
                f"method: {method!r} is in-memory only; chunked: "
                f"{', '.join(CHUNKED_SEGMENT_METHODS)}"
            )
        raise ValueError(
            f"method: expected one of {', '.join(CHUNKED_SEGMENT_METHODS)}, got {method!r}"
        )


def _raw_mask(
    arr: Any, t: float, w: float | None, labelled: Callable[..., ChunkedLabels], info: dict
) -> tuple[Any, int | None]:
    """The thresholded (or hysteresis) mask and, with hysteresis, its voxel count."""
    if w is None:
        return arr.map_blocks(_above, value=np.float32(t), dtype=bool), None
    low, high = t - w, t + w
    weak = arr.map_blocks(_above, value=low, dtype=bool)
    strong = arr.map_blocks(_above, value=high, dtype=bool)
    hyst = labelled(weak, connectivity=26, flags=strong, phase="hysteresis")
    info["hysteresis"] = [low, high]
    return hyst.select(hyst.flagged), int(hyst.sizes[hyst.flagged].sum())


def _cleanup(
    mask: Any,
    raw: int | None,
    *,
    m_speck: int,
    m_hole: int,
    closed_connectivity: int,
    labelled: Callable[..., ChunkedLabels],
) -> tuple[Any, Any, int, int, np.ndarray]:
    """Speck removal, hole filling and closed pores: (am, closed, raw AM voxels, AM voxels,
    closed pore sizes)."""
    # remove_specks: AM components (6-connected) of at least m_speck voxels stay
    kept = None
    if m_speck > 1:
        am_lab = labelled(mask, connectivity=6, phase="specks")
        if raw is None:
            raw = int(am_lab.sizes[1:].sum())
        keep = am_lab.sizes >= m_speck
        keep[0] = False
        mask = am_lab.select(keep)
        kept = int(am_lab.sizes[keep].sum())
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
    return am, closed, raw, am_voxels, np.sort(closed_sizes)[::-1]


def segmentation_chunked(
    stack: Any,
    *,
    method: str,
    threshold: float | None,
    classes: int,
    hysteresis_width: float | None,
    min_speck_voxels: int,
    max_hole_voxels: int,
    closed_connectivity: int,
    slices_per_chunk: int,
    pore_backs: str = _shine.DEFAULT_PORE_BACKS,
    pore_back_slices: int = _shine.DEFAULT_PORE_BACK_SLICES,
    pore_back_rise: float = _shine.DEFAULT_PORE_BACK_RISE,
    refine: str = "none",
    refine_sigma_px: float = _threshold.DEFAULT_REFINE_SIGMA_PX,
    resume_dir: str | os.PathLike[str] | None = None,
) -> ChunkedSegmentation:
    """Threshold, hysteresis, cleanup and closed pores of a stack, slab by slab.

    The options are those of :func:`microstructure.segment.segmentation` (``method`` one of
    :data:`CHUNKED_SEGMENT_METHODS`). ``slices_per_chunk``: slices per slab (a task holds the
    slab as float32 plus int32 labels: ~9 bytes/voxel). ``resume_dir``: optional work folder
    (:mod:`microstructure.parallel.resume`): the threshold and every slab's labelling summary
    of each connected-component pass are saved there as they finish; an interrupted call
    repeated with the same folder, stack and options redoes only the unfinished slabs and
    passes (the lazy masks it returns are computed anew). The stack itself is not hashed: give
    each stack its own folder (the pipeline runner does, ``StageContext.chunk_dir``).

    Raises
    ------
    ValueError
        Unknown or in-memory-only method, bad threshold/classes/width/sizes, NaN in the stack,
        a constant stack.
    """
    _check_method(method)
    if refine not in ("auto", "none"):
        raise ValueError(
            f"refine: {refine!r} is in-memory only (or unknown); chunked: 'auto' or 'none'"
        )
    shine = (pore_backs, pore_back_slices, pore_back_rise)
    _shine.check_pore_back_options(*shine)
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
        "pore_backs": [pore_backs, int(pore_back_slices), float(pore_back_rise)],
        "refine": [refine, float(refine_sigma_px)],
    }
    root = _work_folder(resume_dir, manifest)
    labelled = partial(label_chunked, resume_dir=root)
    t, info = _threshold_resumable(arr, root, method=method, threshold=threshold, classes=classes)
    mask, raw = _raw_mask(arr, t, w, labelled, info)
    pore_back = _pore_backs_chunked(arr, t, info, shine, root)
    if pore_back is not None:
        mask, raw = mask & ~pore_back, None  # counted again by the cleanup's labelling
    refined = _refine_chunked(arr, mask, info, method, refine, refine_sigma_px)
    if refined is not mask:
        mask, raw = refined, None
    am, closed, raw, am_voxels, closed_sizes = _cleanup(
        mask,
        raw,
        m_speck=m_speck,
        m_hole=m_hole,
        closed_connectivity=int(closed_connectivity),
        labelled=labelled,
    )
    am, closed, am_voxels, closed_sizes = _closed_backs_whole(
        arr, am, closed, (am_voxels, closed_sizes), info, int(closed_connectivity)
    )
    info.update(
        am_fraction_before_cleanup=float(raw) / n,
        am_fraction=float(am_voxels) / n,
        min_speck_voxels=m_speck,
        max_hole_voxels=m_hole,
    )
    info["quality"] = _shine.segment_quality(info)
    return ChunkedSegmentation(
        am=am,
        closed=closed,
        info=info,
        am_voxels=am_voxels,
        closed_pore_voxels=closed_sizes,
        n_voxels=n,
    )


def _closed_backs_whole(
    arr: Any, am: Any, closed: Any, counts: tuple[int, np.ndarray], info: dict, conn: int
) -> tuple[Any, Any, int, np.ndarray]:
    """The in-memory step :func:`~microstructure.segment.closed_backs.complete_closed_pores`
    (each closed pore continued along +z through the whole stack) on a chunked segmentation
    and the trim of the lit particle fronts (:func:`~microstructure.segment.front_trim.lit_fronts`)
    when shine-through asks for them: run on the whole volume when it fits the memory budget
    (then equal to in memory), else recorded as not applied (closed pores undercounted)."""
    import dask.array as da

    from microstructure.parallel.support import memory_budget_bytes
    from microstructure.segment._components import enclosed_pores
    from microstructure.segment.closed_backs import complete_closed_pores_info
    from microstructure.segment.front_trim import lit_fronts

    shine = info.get("shine_through") or {}
    if "grey_stats" not in info or not _shine.closed_pore_backs_wanted(shine):
        return am, closed, *counts
    need, budget = int(arr.size) * CLOSED_BACKS_BYTES_PER_VOXEL, memory_budget_bytes()
    if need > budget:
        shine["closed_pore_backs"] = {
            "applied": False,
            "note": f"closed pores' lit backs not completed (nor dim ones found), lit particle "
            "fronts not trimmed: "
            f"the whole-volume step needs about {need / 2**30:.2f} GiB, {budget / 2**30:.2f} "
            "GiB available; closed pores are undercounted and the AM fraction too high",
        }
        return am, closed, *counts
    img = np.asarray(arr.compute(), dtype=np.float32)
    new = complete_closed_pores_info(img, np.asarray(am.compute(), dtype=bool), info)
    new = lit_fronts(img, new, info)
    del img
    shut, sizes = enclosed_pores(new, connectivity=conn)
    chunks = arr.chunks
    return (
        da.from_array(new, chunks=chunks),
        da.from_array(shut, chunks=chunks),
        int(np.count_nonzero(new)),
        np.sort(sizes)[::-1],
    )


# ------------------------------------------------------------------ cleanup
def _labelled_folder(resume_dir: Any, function: str, arr: Any, **options: Any) -> Path | None:
    manifest = {
        "function": function,
        "shape": [int(v) for v in arr.shape],
        "slices_per_chunk": int(arr.chunks[0][0]),
        **options,
    }
    return _work_folder(resume_dir, manifest)


def remove_specks_chunked(
    mask: Any,
    *,
    min_size_voxels: int,
    connectivity: int,
    slices_per_chunk: int,
    resume_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """Chunked :func:`microstructure.segment.remove_specks` (lazy bool mask, equal)."""
    m = _check_count(min_size_voxels, "min_size_voxels")
    arr = _mask_slabs(mask, slices_per_chunk)
    if m <= 1:
        return arr
    root = _labelled_folder(resume_dir, "remove_specks", arr, m=m, connectivity=connectivity)
    lab = label_chunked(arr, connectivity=connectivity, resume_dir=root, phase="specks")
    keep = lab.sizes >= m
    return lab.select(keep)


def fill_small_holes_chunked(
    am_mask: Any,
    *,
    max_size_voxels: int,
    connectivity: int,
    slices_per_chunk: int,
    resume_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """Chunked :func:`microstructure.segment.fill_small_holes` (lazy bool mask, equal)."""
    m = _check_count(max_size_voxels, "max_size_voxels")
    arr = _mask_slabs(am_mask, slices_per_chunk)
    if m == 0:
        return arr
    root = _labelled_folder(resume_dir, "fill_small_holes", arr, m=m, connectivity=connectivity)
    lab = label_chunked(~arr, connectivity=connectivity, resume_dir=root, phase="pores")
    fill = (lab.sizes <= m) & ~lab.touches_boundary
    if not fill[1:].any():
        return arr
    return arr | lab.select(fill)


def closed_pores_chunked(
    am_mask: Any,
    *,
    connectivity: int,
    slices_per_chunk: int,
    resume_dir: str | os.PathLike[str] | None = None,
) -> tuple[Any, np.ndarray]:
    """Chunked :func:`microstructure.segment.closed_pores` (without ``particles``): the lazy
    closed-pore mask (equal to the in-memory one) and the closed pores' voxel counts,
    descending."""
    arr = _mask_slabs(am_mask, slices_per_chunk)
    root = _labelled_folder(resume_dir, "closed_pores", arr, connectivity=connectivity)
    lab = label_chunked(~arr, connectivity=connectivity, resume_dir=root, phase="pores")
    ids = ~lab.touches_boundary
    ids[0] = False
    return lab.select(ids), np.sort(lab.sizes[ids])[::-1]


def component_sizes_chunked(
    mask: Any,
    *,
    connectivity: int,
    slices_per_chunk: int,
    resume_dir: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, int]:
    """Voxels per connected component of ``mask`` (any order) and the voxels of the volume."""
    arr = _mask_slabs(mask, slices_per_chunk)
    root = _labelled_folder(resume_dir, "component_sizes", arr, connectivity=connectivity)
    lab = label_chunked(arr, connectivity=connectivity, resume_dir=root, phase="components")
    return lab.sizes[1:], int(arr.size)
