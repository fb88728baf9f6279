"""Chunked geometry: tilt correction and intensity normalisation slab by slab.

The ``geometry`` stage is crop -> tilt foreshortening correction (per slice, along y) ->
optional shading removal (per slice) -> percentile rescale with percentiles of the *whole*
stack. Chunked, the global percentiles are computed first, from exactly the values the
in-memory :func:`~microstructure.preprocess.normalize_intensity` looks at (every value up to
8 M voxels, else the same strided sample of the flattened stack), so the rescale of every slab
uses the same two numbers and the result is bit-identical to the in-memory one. The per-slice
work runs twice (once for the percentiles, once for the output) instead of holding a float32
copy of the stack.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from microstructure.parallel.chunked import as_dask

__all__ = ["geometry_chunked"]

#: the in-memory normalisation looks at every value up to this size, else a strided sample
_FULL_SAMPLE = 8_000_000
_SAMPLE_TARGET = 4_000_000


def _slices_block(
    block: np.ndarray, *, angle_deg: float | None, order: int, background_sigma_px: float | None
) -> np.ndarray:
    """Tilt correction and shading removal of whole slices (float32), as in memory."""
    from microstructure.preprocess.geometry import correct_tilt_report

    if angle_deg is not None:
        out = correct_tilt_report(block, angle_deg=angle_deg, order=order)[0]
    else:
        out = np.asarray(block).astype(np.float32, copy=False)
    if background_sigma_px is None:
        return out
    # the per-slice shading step of normalize_intensity, applied before its percentiles
    out = out.astype(np.float32, copy=True)
    for k in range(out.shape[0]):
        sl = out[k]
        lo = float(sl.min())
        shift = 0.0 if lo > 0 else 1e-3 * (float(np.ptp(sl)) + 1e-12) - lo
        pos = sl + np.float32(shift)
        bg = ndimage.gaussian_filter(pos, background_sigma_px, mode="reflect")
        out[k] = pos / bg * float(pos.mean()) - np.float32(shift)
    return out


def _sample_block(block: np.ndarray, *, start: int, step: int) -> np.ndarray:
    """Values of the flattened stack at indices ``0, step, 2 step, ...`` inside this block
    (``start`` = flat index of the block's first value)."""
    first = (-start) % step
    return np.ascontiguousarray(block.reshape(-1)[first::step])


def _rescale_block(block: np.ndarray, *, lo: float, hi: float, clip: bool) -> np.ndarray:
    out = block.astype(np.float32, copy=True)
    out -= np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def geometry_chunked(
    stack: Any,
    *,
    crop_z: tuple[int, int] | None = None,
    crop_y: tuple[int, int] | None = None,
    crop_x: tuple[int, int] | None = None,
    angle_deg: float | None = 52.0,
    order: int = 1,
    normalize: bool = True,
    low_percentile: float = 0.5,
    high_percentile: float = 99.5,
    background_sigma_px: float | None = None,
    clip: bool = True,
    slices_per_chunk: int = 8,
) -> tuple[Any, dict[str, Any]]:
    """Crop, tilt correction and percentile normalisation of a stack, slab by slab.

    Parameters
    ----------
    stack
        (z, y, x) numpy, Zarr or Dask grayscale stack, any numeric dtype.
    crop_z, crop_y, crop_x
        Half-open ``(start, stop)`` ranges to keep (as :func:`crop_stack`).
    angle_deg
        Stage tilt for the foreshortening correction (:func:`correct_tilt`); None skips it
        (the stack is only converted to float32).
    order
        Interpolation order of the tilt correction (0, 1 or 3).
    normalize, low_percentile, high_percentile, background_sigma_px, clip
        As :func:`normalize_intensity` (percentiles of the whole stack, computed first).
    slices_per_chunk
        Slices per task (memory of a task: about 4 float32 copies of this many slices).

    Returns
    -------
    (dask.array.Array, dict)
        The lazy float32 result (bit-identical to the in-memory functions applied in this
        order) and what was done: ``shape_out``, ``rows_out`` and, when normalising, the
        ``low_value``/``high_value`` mapped to 0 and 1 and the ``n_sampled`` values.

    Raises
    ------
    ValueError
        Bad crop, angle, order or percentiles; constant intensity.
    """
    import dask

    from microstructure.preprocess.geometry import crop_slices, tilt_factor

    if int(slices_per_chunk) < 1:
        raise ValueError(f"slices_per_chunk: expected >= 1, got {slices_per_chunk}")
    arr = as_dask(stack)
    if arr.ndim != 3:
        raise ValueError(f"stack: expected a 3D (z, y, x) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"stack: expected a real numeric dtype, got {arr.dtype}")
    if order not in (0, 1, 3):
        raise ValueError(f"order: interpolation order must be 0, 1 or 3, got {order!r}")
    if normalize and not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ValueError(
            "low_percentile/high_percentile: need 0 <= low < high <= 100, got "
            f"{low_percentile}, {high_percentile}"
        )
    if background_sigma_px is not None and not background_sigma_px > 0:
        raise ValueError(f"background_sigma_px: must be > 0, got {background_sigma_px!r}")
    sel = crop_slices(arr.shape, z=crop_z, y=crop_y, x=crop_x)
    arr = arr[tuple(sel)].rechunk((int(slices_per_chunk), -1, -1))
    nz, ny, nx = (int(s) for s in arr.shape)
    ny_out = ny
    if angle_deg is not None:
        ny_out = max(1, int(round(ny * tilt_factor(angle_deg))))
    slices = arr.map_blocks(
        _slices_block,
        angle_deg=angle_deg,
        order=order,
        background_sigma_px=background_sigma_px if normalize else None,
        dtype=np.float32,
        chunks=(arr.chunks[0], (ny_out,), (nx,)),
    )
    info: dict[str, Any] = {"shape_out": [nz, ny_out, nx], "rows_out": ny_out}
    if not normalize:
        return slices, info
    size = nz * ny_out * nx
    step = 1 if size <= _FULL_SAMPLE else size // _SAMPLE_TARGET + 1
    per_slice = ny_out * nx
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
    if not hi > lo:
        raise ValueError(
            "stack: constant intensity between the chosen percentiles; cannot normalise "
            f"(value {lo:g})"
        )
    info.update(low_value=float(lo), high_value=float(hi), n_sampled=int(sample.size))
    out = slices.map_blocks(_rescale_block, lo=float(lo), hi=float(hi), clip=clip, dtype=np.float32)
    return out, info
