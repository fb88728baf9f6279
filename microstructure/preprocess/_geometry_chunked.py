"""Chunked geometry: crop, tilt correction and intensity normalisation slab by slab.

Used by :func:`microstructure.preprocess.correct_geometry` and
:func:`~microstructure.preprocess.correct_tilt` on a Dask or Zarr input (or with ``chunks``).
The chain is crop -> tilt foreshortening correction (per slice, along y) -> optional shading
removal (per slice) -> percentile rescale with percentiles of the *whole* stack. Chunked, the
global percentiles are computed first, from exactly the values the in-memory normalisation
looks at (every value up to 8 M voxels, else the same strided sample of the flattened stack),
so the rescale of every slab uses the same two numbers and the result is bit-identical to the
in-memory one. The per-slice work runs twice (once for the percentiles, once for the output)
instead of holding a float32 copy of the stack.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.preprocess._geometry_kernels import (
    check_limits,
    remove_shading,
    rescale,
    sample_step,
    tilt_rows,
)

__all__ = ["tilt_lazy", "normalize_lazy"]


def _slices_block(
    block: np.ndarray, *, ny_out: int | None, order: int, background_sigma_px: float | None
) -> np.ndarray:
    """Tilt correction and shading removal of whole slices (float32), as in memory."""
    arr = np.asarray(block).astype(np.float32, copy=False)
    out = arr if ny_out is None else tilt_rows(arr, ny_out, order)
    if background_sigma_px is None:
        return out
    # the per-slice shading step of the normalisation, applied before its percentiles
    out = out.astype(np.float32, copy=True)
    remove_shading(out, background_sigma_px)
    return out


def _sample_block(block: np.ndarray, *, start: int, step: int) -> np.ndarray:
    """Values of the flattened stack at indices ``0, step, 2 step, ...`` inside this block
    (``start`` = flat index of the block's first value)."""
    first = (-start) % step
    return np.ascontiguousarray(block.reshape(-1)[first::step])


def _rescale_block(block: np.ndarray, *, lo: float, hi: float, clip: bool) -> np.ndarray:
    out = block.astype(np.float32, copy=True)
    rescale(out, lo, hi, clip)
    return out


def tilt_lazy(
    arr: Any, *, ny_out: int | None, order: int, background_sigma_px: float | None = None
) -> Any:
    """Lazy float32 slabs tilt-corrected to ``ny_out`` rows (None: as they are) and, with
    ``background_sigma_px``, with the shading removed."""
    nx = int(arr.shape[2])
    rows = int(arr.shape[1]) if ny_out is None else int(ny_out)
    return arr.map_blocks(
        _slices_block,
        ny_out=ny_out,
        order=order,
        background_sigma_px=background_sigma_px,
        dtype=np.float32,
        chunks=(arr.chunks[0], (rows,), (nx,)),
    )


def normalize_lazy(
    slices: Any, *, low_percentile: float, high_percentile: float, clip: bool
) -> tuple[Any, dict[str, Any]]:
    """Lazy percentile rescale of float32 slabs; the percentiles are computed now."""
    import dask

    nz, ny, nx = (int(s) for s in slices.shape)
    size = nz * ny * nx
    step = sample_step(size)
    per_slice = ny * nx
    starts = np.cumsum((0,) + slices.chunks[0][:-1]) * per_slice
    blocks = slices.to_delayed().ravel()
    sample = np.concatenate(
        dask.compute(
            *[
                dask.delayed(_sample_block)(blk, start=int(s0), step=step)
                for blk, s0 in zip(blocks, starts, strict=True)
            ]
        )
    )
    lo, hi = np.percentile(sample, [low_percentile, high_percentile])
    check_limits(lo, hi)
    info = {"low_value": float(lo), "high_value": float(hi), "n_sampled": int(sample.size)}
    out = slices.map_blocks(_rescale_block, lo=float(lo), hi=float(hi), clip=clip, dtype=np.float32)
    return out, info
