"""Chunked slice alignment: registration and shift application slab by slab (Dask).

Used by :func:`microstructure.preprocess.align_slices_report` on a Dask or Zarr input (or with
``chunks``); the stack is never held whole. Each registration pass is a set of Dask tasks, one
per group of slices, each reading its slices plus the ``neighbors`` slices before it and
measuring every pair with :func:`~microstructure.preprocess._registration.pair_rows` (the
function the in-memory threads run), so the pair measurements are the same numbers whatever the
grouping. The positions, the trend and the crop are then solved from those few numbers in the
calling process, exactly as in memory, and the shift application is a ``map_blocks`` over slabs
of whole slices (each slice shifted on its own, no overlap needed) that crops as it goes. The
result is bit-identical to the in-memory one.

Memory of a registration task: its slices plus ``neighbors`` slices as float32, and
``neighbors + 1`` spectra (about two float32 slices each).

The registration result can be kept in a work folder (``resume_dir``), so an interrupted run
does not register again (:func:`open_registration`, :func:`save_registration`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io.tables import atomic_write_text
from microstructure.preprocess._registration import (
    pair_arrays,
    pair_rows,
    pair_setup,
    shift_slice,
)

__all__ = [
    "REGISTRATION_FILE",
    "RESLICE_BAND_ROWS",
    "featureless_lazy",
    "chunked_measure",
    "shift_lazy",
    "aligned_row",
    "open_registration",
    "save_registration",
]

#: the registration result kept in ``resume_dir``
REGISTRATION_FILE = "registration.json"

#: rows on each side of a reslice's source row shifted with it (the cubic spline prefilter's
#: influence decays by 0.268 per row: 0.268**24 ~ 2e-14)
RESLICE_BAND_ROWS = 24


def _digest(mask: np.ndarray) -> str:
    import hashlib

    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).hexdigest()


def open_registration(
    resume_dir: str | os.PathLike, manifest: dict[str, Any], mask: np.ndarray | None
) -> tuple[Path, dict[str, Any] | None]:
    """The registration file in ``resume_dir`` and what it holds (None when there is nothing
    to resume: a new folder, or one made for another stack shape or other options)."""
    from microstructure.parallel.resume import open_work_folder

    manifest = {**manifest, "mask": None if mask is None else _digest(mask)}
    root, resumed = open_work_folder(resume_dir, manifest)
    path = root / REGISTRATION_FILE
    if resumed and path.is_file():
        return path, json.loads(path.read_text())
    return path, None


def save_registration(path: Path, positions: np.ndarray, passes: dict[str, Any]) -> None:
    """Write the registration result atomically."""
    text = json.dumps({"positions_px": np.asarray(positions).tolist(), "passes": passes})
    atomic_write_text(path, text)


def _slab_stats(block: np.ndarray) -> np.ndarray:
    """Per slice: max == min (featureless) and the number of NaN/inf values."""
    flat = block.reshape(block.shape[0], -1)
    if np.issubdtype(block.dtype, np.floating):
        bad = np.count_nonzero(~np.isfinite(flat), axis=1)
    else:
        bad = np.zeros(block.shape[0], dtype=np.int64)
    same = flat.max(axis=1).astype(np.float64) == flat.min(axis=1).astype(np.float64)
    return np.column_stack([same, bad]).astype(np.int64)


def featureless_lazy(arr: Any) -> list[int]:
    """Featureless (constant) slices of a Dask stack; ``ValueError`` for NaN/inf values."""
    stats = arr.map_blocks(_slab_stats, dtype=np.int64, chunks=(arr.chunks[0], (2,)), drop_axis=2)
    stats = np.asarray(stats.compute())
    n_bad = int(stats[:, 1].sum())
    if n_bad:
        raise ValueError(f"stack: contains {n_bad} NaN or infinite values")
    return [int(k) for k in np.flatnonzero(stats[:, 0])]


def _pair_task(
    block: np.ndarray,
    z_first: int,
    start: int,
    stop: int,
    shape: tuple[int, int],
    nz: int,
    options: dict[str, Any],
    mask: np.ndarray | None,
    positions: np.ndarray | None,
    roi: tuple[float, float, float, float] | None,
) -> list[tuple[int, int, float, float]]:
    win, soft, pos = pair_setup(shape, nz, mask=mask, positions=positions, roi=roi)
    return pair_rows(
        lambda k: block[k - z_first],
        start,
        stop,
        window=win,
        soft_mask=soft,
        positions=pos,
        **options,
    )


def registration_step(shape: tuple[int, ...], slab: int, neighbors: int) -> int:
    """Slices measured per registration task: ``max(slab, 4 * neighbors)`` (re-reading the
    ``neighbors`` slices before each task costs at most a quarter more), fewer (not below
    ``slab``) when a worker memory limit is known and a task (plus the ``neighbors`` slices
    read before it, ~3 float32 copies) would not fit it."""
    from microstructure.parallel.scheduler import task_budget_bytes

    budget = task_budget_bytes()
    if budget is None:
        return max(int(slab), 4 * int(neighbors))
    per_slice = 3 * 4 * int(shape[1]) * int(shape[2])
    return max(int(slab), min(4 * int(neighbors), int(budget // per_slice) - int(neighbors)))


def chunked_measure(
    arr: Any,
    *,
    neighbors: int,
    upsample_factor: int,
    bandpass_px: tuple[float, float],
    mask: np.ndarray | None,
    roi: tuple[float, float, float, float] | None,
    registration_slices: int | None,
    tile_px: int = 0,
) -> Callable[[np.ndarray | None], tuple[np.ndarray, np.ndarray]]:
    """``measure(prior) -> (pairs, measured)`` of one registration pass as Dask tasks."""
    import dask

    nz, ny, nx = (int(s) for s in arr.shape)
    n = int(neighbors)
    step = (
        registration_step(arr.shape, int(arr.chunks[0][0]), n)
        if registration_slices is None
        else int(registration_slices)
    )
    if step < 1:
        raise ValueError(f"registration_slices: expected >= 1, got {registration_slices}")
    options = {
        "neighbors": n,
        "upsample_factor": int(upsample_factor),
        "bandpass_px": bandpass_px,
        "tile_px": int(tile_px),
    }
    mask_d = None if mask is None else dask.delayed(mask)

    def measure(prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        prior_d = None if prior is None else dask.delayed(np.asarray(prior))
        tasks = []
        for start in range(0, nz, step):
            stop = min(nz, start + step)
            first = max(0, start - n)
            tasks.append(
                dask.delayed(_pair_task)(
                    arr[first:stop], first, start, stop, (ny, nx), nz, options, mask_d, prior_d, roi
                )
            )
        parts = dask.compute(*tasks)
        return pair_arrays([row for part in parts for row in part])

    return measure


def _shift_block(
    block: np.ndarray,
    *,
    shifts_px: np.ndarray,
    order: int,
    ranges: tuple[int, int, int, int],
    block_info: dict | None = None,
) -> np.ndarray:
    z0 = int(block_info[0]["array-location"][0][0]) if block_info else 0
    y0, y1, x0, x1 = ranges
    out = np.empty((block.shape[0], y1 - y0, x1 - x0), dtype=np.float32)
    for k in range(block.shape[0]):
        out[k] = shift_slice(block[k], shifts_px[z0 + k], order)[y0:y1, x0:x1]
    return out


def shift_lazy(arr: Any, shifts_px: np.ndarray, *, order: int, crop: dict[str, Any]) -> Any:
    """Lazy float32 stack with every slice shifted by ``shifts_px`` and cropped to ``crop``."""
    (y0, y1), (x0, x1) = crop["y"], crop["x"]
    return arr.map_blocks(
        _shift_block,
        shifts_px=np.asarray(shifts_px, dtype=np.float64),
        order=int(order),
        ranges=(y0, y1, x0, x1),
        dtype=np.float32,
        chunks=(arr.chunks[0], (y1 - y0,), (x1 - x0,)),
    )


def _row_block(
    block: np.ndarray,
    *,
    shifts_px: np.ndarray,
    row: int,
    order: int,
    cols: tuple[int, int],
    block_info: dict | None = None,
) -> np.ndarray:
    z0 = int(block_info[0]["array-location"][0][0]) if block_info else 0
    ny = block.shape[1]
    out = np.empty((block.shape[0], 1, cols[1] - cols[0]), dtype=np.float32)
    for k in range(block.shape[0]):
        # out[row] = in[row - dy]: shift a band of rows around row - dy by the fractional
        # part of dy and take the row the integer part points at
        dy, dx = (float(v) for v in shifts_px[z0 + k])
        whole = int(round(dy))
        src = row - whole
        lo = max(0, src - RESLICE_BAND_ROWS)
        hi = min(ny, src + RESLICE_BAND_ROWS + 1)
        band = shift_slice(block[k, lo:hi], np.array([dy - whole, dx]), order)
        out[k, 0] = band[min(max(src - lo, 0), hi - lo - 1), cols[0] : cols[1]]
    return out


def aligned_row(
    stack: Any,
    shifts_px: np.ndarray,
    row: int,
    *,
    order: int,
    crop: dict[str, Any],
    slices_per_chunk: int,
) -> np.ndarray:
    """Row ``row`` (of the cropped output) of every slice shifted by ``shifts_px``: the
    aligned z-x reslice, computed slab by slab from a band of rows around each slice's source
    row instead of shifting whole slices (equal to the full shift to ~1e-12 relative)."""
    from microstructure.parallel.chunked import as_dask

    arr = as_dask(stack).rechunk((int(slices_per_chunk), -1, -1))
    r = int(row) + int(crop["y"][0])
    cols = (int(crop["x"][0]), int(crop["x"][1]))
    res = arr.map_blocks(
        _row_block,
        shifts_px=np.asarray(shifts_px, dtype=np.float64),
        row=r,
        order=int(order),
        cols=cols,
        dtype=np.float32,
        chunks=(arr.chunks[0], (1,), (cols[1] - cols[0],)),
    )
    return np.asarray(res.compute())[:, 0, :]
