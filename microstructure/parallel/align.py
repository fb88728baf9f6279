"""Chunked slice alignment: registration and shift application slab by slab (Dask).

The in-memory :func:`~microstructure.preprocess.align_slices_report` holds the whole stack;
here it never is. Each registration pass is a set of Dask tasks, one per slab of slices, each
reading its slices plus the ``neighbors`` slices before the slab and measuring every pair of
the slab with :func:`~microstructure.preprocess.align.pair_rows` (the function the in-memory
threads run), so the pair measurements are the same numbers whatever the slab size. The
positions, the trend and the crop are then solved from those few numbers in the calling
process, exactly as in memory, and the shift application is a ``map_blocks`` over slabs of
whole slices (each slice shifted on its own, no overlap needed) that crops as it goes. The
result is bit-identical to the in-memory one.

Memory of a task: its slab plus ``neighbors`` slices as float32, and ``neighbors + 1``
spectra (about two float32 slices each).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from microstructure.parallel.chunked import as_dask

__all__ = ["align_chunked"]

#: the registration result kept in ``resume_dir``
REGISTRATION_FILE = "registration.json"


def _digest(mask: np.ndarray) -> str:
    import hashlib

    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).hexdigest()


def _slab_stats(block: np.ndarray) -> np.ndarray:
    """Per slice: max == min (featureless) and the number of NaN/inf values."""
    flat = block.reshape(block.shape[0], -1)
    if np.issubdtype(block.dtype, np.floating):
        bad = np.count_nonzero(~np.isfinite(flat), axis=1)
    else:
        bad = np.zeros(block.shape[0], dtype=np.int64)
    same = flat.max(axis=1).astype(np.float64) == flat.min(axis=1).astype(np.float64)
    return np.column_stack([same, bad]).astype(np.int64)


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
    from microstructure.preprocess.align import pair_rows, pair_setup

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


def _shift_block(
    block: np.ndarray,
    *,
    shifts_px: np.ndarray,
    order: int,
    ranges: tuple[int, int, int, int],
    block_info: dict | None = None,
) -> np.ndarray:
    from microstructure.preprocess.align import shift_slice

    z0 = int(block_info[0]["array-location"][0][0]) if block_info else 0
    y0, y1, x0, x1 = ranges
    out = np.empty((block.shape[0], y1 - y0, x1 - x0), dtype=np.float32)
    for k in range(block.shape[0]):
        out[k] = shift_slice(block[k], shifts_px[z0 + k], order)[y0:y1, x0:x1]
    return out


def align_chunked(
    stack: Any,
    *,
    keep_trend: bool = True,
    trend_degree: int = 1,
    neighbors: int = 5,
    upsample_factor: int = 20,
    bandpass_px: tuple[float, float] = (1.0, 10.0),
    mask: Any = None,
    roi: tuple[float, float, float, float] | None = None,
    refine: int = 3,
    refine_tol_px: float = 0.05,
    order: int = 3,
    crop: bool = True,
    voxel_size_nm: Any = None,
    slices_per_chunk: int = 8,
    registration_slices: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Align the slices of a (possibly larger than memory) stack chunk by chunk.

    Parameters
    ----------
    stack
        (z, y, x) numpy, Zarr or Dask grayscale stack, any real numeric dtype (no NaN).
    keep_trend, trend_degree, neighbors, upsample_factor, bandpass_px, mask, roi, refine,
    refine_tol_px, order, crop, voxel_size_nm
        As :func:`~microstructure.preprocess.align_slices_report`.
    slices_per_chunk
        Slices per shift-application task (and per output chunk). A registration task takes
        at least ``4 * neighbors`` slices, so re-reading the ``neighbors`` slices before each
        slab costs at most a quarter more.
    registration_slices
        Slices measured per registration task (default ``max(slices_per_chunk,
        4 * neighbors)``); a task reads ``neighbors`` more and holds about 2.5 float32 copies
        of them. Any value gives the same result.
    resume_dir
        Optional work folder: the registration result (positions and report) is saved there
        once found, and a rerun with the same folder, stack shape and options reads it back
        instead of registering again (the stack itself is not hashed: reuse a folder only for
        the same stack; the pipeline gives each stage key a folder of its own).

    Returns
    -------
    aligned : dask.array.Array
        Lazy float32 aligned (and cropped) stack, bit-identical to the in-memory result;
        ``.compute()`` it or write it with ``.to_zarr``.
    shifts_px : ndarray (nz, 2)
        Measured (dy, dx) of each input slice relative to slice 0.
    info : dict
        The in-memory report (same keys and values).

    Raises
    ------
    ValueError
        Bad options (as in memory), a non-3D or non-numeric stack, NaN/inf values.
    """
    import dask

    from microstructure.preprocess.align import (
        check_align_options,
        crop_info,
        estimate_positions,
        pair_arrays,
        trend_report,
    )

    if int(slices_per_chunk) < 1:
        raise ValueError(f"slices_per_chunk: expected >= 1, got {slices_per_chunk}")
    arr = as_dask(stack)
    if arr.ndim != 3:
        raise ValueError(f"stack: expected a 3D (z, y, x) array, got shape {arr.shape}")
    is_real = np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    if not is_real or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"stack: expected a real numeric dtype, got {arr.dtype}")
    nz, ny, nx = (int(s) for s in arr.shape)
    if nz == 0 or ny == 0 or nx == 0:
        raise ValueError(f"stack: the volume is empty, shape {arr.shape}")
    band, mask_arr, roi_t = check_align_options(
        (ny, nx),
        neighbors=neighbors,
        upsample_factor=upsample_factor,
        refine=refine,
        trend_degree=trend_degree,
        bandpass_px=bandpass_px,
        mask=mask,
        roi=roi,
    )
    spc = int(slices_per_chunk)
    arr = arr.rechunk((spc, -1, -1))
    stats = arr.map_blocks(_slab_stats, dtype=np.int64, chunks=(arr.chunks[0], (2,)), drop_axis=2)
    stats = np.asarray(stats.compute())
    n_bad = int(stats[:, 1].sum())
    if n_bad:
        raise ValueError(f"stack: contains {n_bad} NaN or infinite values")
    featureless = [int(k) for k in np.flatnonzero(stats[:, 0])]

    saved = None
    if resume_dir is not None:
        from microstructure.parallel.resume import open_work_folder

        manifest = {
            "shape": [nz, ny, nx],
            "dtype": np.dtype(arr.dtype).str,
            "neighbors": int(neighbors),
            "upsample_factor": int(upsample_factor),
            "bandpass_px": list(band),
            "mask": None if mask_arr is None else _digest(mask_arr),
            "roi": None if roi_t is None else list(roi_t),
            "refine": int(refine),
            "refine_tol_px": float(refine_tol_px),
        }
        root, resumed = open_work_folder(resume_dir, manifest)
        saved_path = root / REGISTRATION_FILE
        if resumed and saved_path.is_file():
            saved = json.loads(saved_path.read_text())

    n = int(neighbors)
    step = max(spc, 4 * n) if registration_slices is None else int(registration_slices)
    if step < 1:
        raise ValueError(f"registration_slices: expected >= 1, got {registration_slices}")
    options = {
        "neighbors": n,
        "upsample_factor": int(upsample_factor),
        "bandpass_px": band,
    }
    mask_d = None if mask_arr is None else dask.delayed(mask_arr)

    def measure(prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        prior_d = None if prior is None else dask.delayed(np.asarray(prior))
        tasks = []
        for start in range(0, nz, step):
            stop = min(nz, start + step)
            first = max(0, start - n)
            tasks.append(
                dask.delayed(_pair_task)(
                    arr[first:stop],
                    first,
                    start,
                    stop,
                    (ny, nx),
                    nz,
                    options,
                    mask_d,
                    prior_d,
                    roi_t,
                )
            )
        parts = dask.compute(*tasks)
        return pair_arrays([row for part in parts for row in part])

    if saved is not None:
        positions = np.asarray(saved["positions_px"], dtype=np.float64).reshape(nz, 2)
        passes = saved["passes"]
    else:
        positions, passes = estimate_positions(
            measure, nz, (ny, nx), roi=roi_t, refine=refine, refine_tol_px=refine_tol_px
        )
        if resume_dir is not None:
            text = json.dumps({"positions_px": positions.tolist(), "passes": passes})
            tmp = saved_path.with_name(f".{saved_path.name}.tmp")
            tmp.write_text(text)
            os.replace(tmp, saved_path)
    applied, info = trend_report(
        positions,
        keep_trend=keep_trend,
        trend_degree=trend_degree,
        neighbors=neighbors,
        passes=passes,
        featureless=featureless,
        voxel_size_nm=voxel_size_nm,
    )
    shifts = -applied
    info["crop"] = crop_info(shifts, ny, nx, crop)
    (y0, y1), (x0, x1) = info["crop"]["y"], info["crop"]["x"]
    aligned = arr.map_blocks(
        _shift_block,
        shifts_px=shifts,
        order=int(order),
        ranges=(y0, y1, x0, x1),
        dtype=np.float32,
        chunks=(arr.chunks[0], (y1 - y0,), (x1 - x0,)),
    )
    return aligned, positions, info
