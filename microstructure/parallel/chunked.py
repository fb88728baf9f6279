"""Chunked building blocks: slice-wise filters and a distance transform capped at a radius.

Both run on Dask arrays (for example over a Zarr store) chunk by chunk and give results equal
to the in-memory computation:

* :func:`map_slices` applies a per-slice filter to chunks of whole slices (no overlap needed,
  each slice is processed exactly as in memory);
* :func:`distance_capped_nm` computes the Euclidean distance transform with an overlap of at
  least the cap in every direction, so every distance up to the cap is exact and larger ones
  are set to the cap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from microstructure.volume import parse_voxel_size

__all__ = ["map_slices", "distance_capped_nm", "halo_voxels", "as_dask"]


def as_dask(array: Any, chunks: Any = None) -> Any:
    """A Dask array view of ``array`` (numpy, Zarr or Dask), rechunked when ``chunks`` is given."""
    import dask.array as da

    if isinstance(array, da.Array):
        return array.rechunk(chunks) if chunks is not None else array
    arr = da.from_array(array, chunks=chunks if chunks is not None else "auto")
    return arr


def halo_voxels(radius_nm: float, voxel_size_nm: Any) -> tuple[int, int, int]:
    """Overlap (voxels per axis) that contains every ball of ``radius_nm`` around a voxel."""
    vs = parse_voxel_size(voxel_size_nm)
    r = float(radius_nm)
    if not (math.isfinite(r) and r >= 0):
        raise ValueError(f"radius_nm: expected a finite radius >= 0, got {radius_nm!r}")
    return tuple(int(math.ceil(r / v)) + 1 for v in vs)  # type: ignore[return-value]


def map_slices(
    func: Callable[..., np.ndarray],
    stack: Any,
    *,
    slices_per_chunk: int = 8,
    z_halo: int = 0,
    dtype: Any = None,
    **kwargs: Any,
) -> Any:
    """Apply a slice-wise filter chunk by chunk (lazy Dask array; ``.compute()`` to run).

    Parameters
    ----------
    func
        ``func(block, **kwargs) -> block`` on a (n, y, x) block of whole slices. With
        ``z_halo = 0`` it must treat every slice independently (slice-wise denoising with a
        fixed sigma, thresholding); a filter that looks at up to ``k`` neighbouring slices on
        each side needs ``z_halo >= k`` (the robust curtaining filter:
        :func:`microstructure.preprocess.curtaining_z_halo`).
    stack
        (z, y, x) numpy, Zarr or Dask array.
    slices_per_chunk
        Slices per chunk (the memory of one task is about this many slices, times the filter's
        own working memory).
    z_halo
        Neighbouring slices each chunk also reads on each side (cropped from its result).
    dtype
        Output dtype (default: the input's).
    **kwargs
        Passed to ``func``.

    Returns
    -------
    dask.array.Array
        Equal, slice for slice, to ``func(stack)`` computed in memory.
    """
    if int(slices_per_chunk) < 1:
        raise ValueError(f"slices_per_chunk: expected >= 1, got {slices_per_chunk}")
    arr = as_dask(stack)
    if arr.ndim != 3:
        raise ValueError(f"stack: expected a 3D (z, y, x) array, got shape {arr.shape}")
    if int(z_halo) < 0:
        raise ValueError(f"z_halo: expected >= 0, got {z_halo}")
    arr = arr.rechunk((int(slices_per_chunk), -1, -1))
    if int(z_halo) == 0:
        return arr.map_blocks(func, dtype=dtype or arr.dtype, **kwargs)
    depth = {0: min(int(z_halo), max(0, arr.shape[0] - 1)), 1: 0, 2: 0}
    return arr.map_overlap(func, depth=depth, boundary="none", dtype=dtype or arr.dtype, **kwargs)


def _edt_block(block: np.ndarray, *, spacing: tuple[float, float, float], cap: float) -> Any:
    import edt

    d = edt.edt(
        np.ascontiguousarray(block, dtype=bool), anisotropy=spacing, black_border=False, parallel=1
    ).astype(np.float32, copy=False)
    return np.minimum(d, np.float32(cap))


def distance_capped_nm(
    pore_mask: Any,
    *,
    voxel_size_nm: Any,
    max_radius_nm: float,
    chunks: Any = 128,
) -> Any:
    """Chunked EDT of the pore space in nm, capped at ``max_radius_nm`` (lazy Dask array).

    Parameters
    ----------
    pore_mask
        Boolean (z, y, x) numpy, Zarr or Dask array, True in the pore space.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    max_radius_nm
        Distances are exact up to this value and set to it beyond (the overlap between chunks
        is this radius plus a voxel, per axis).
    chunks
        Chunk shape (voxels) or a number for cubic chunks.

    Returns
    -------
    dask.array.Array
        float32, equal to ``minimum(edt(pore), max_radius_nm)`` computed in memory (to the last
        bit of float32: the edt library's rounding depends on the block) with the array border
        not solid (the sample continues outside), as the MIP uses it.
    """
    spacing = parse_voxel_size(voxel_size_nm)
    cap = float(max_radius_nm)
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"max_radius_nm: expected a positive radius, got {max_radius_nm!r}")
    arr = as_dask(pore_mask, chunks)
    if arr.ndim != 3:
        raise ValueError(f"pore_mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    # an overlap as large as the array means "the whole axis": clamp to what Dask accepts
    depth = {
        ax: min(h, max(0, n - 1))
        for ax, (h, n) in enumerate(zip(halo_voxels(cap, spacing), arr.shape, strict=True))
    }
    return arr.map_overlap(
        _edt_block,
        depth=depth,
        boundary="none",
        dtype=np.float32,
        spacing=spacing,
        cap=cap,
    )
