"""Which path a preprocessing function takes (in memory or chunked) and its input as slabs.

Every public preprocessing function takes a numpy array (numpy result, in memory) or a Dask or
Zarr array (lazy Dask result with the same numbers, computed slab by slab of whole slices with
the engine of :mod:`microstructure.parallel`). A numpy input with ``chunks`` given also runs
chunked and is computed before it is returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.parallel.chunked import as_dask
from microstructure.parallel.support import is_lazy

__all__ = [
    "DEFAULT_SLICES_PER_CHUNK",
    "lazy_input",
    "runs_chunked",
    "slabs",
    "finish",
    "sample_slices",
]

#: slices per chunk of a chunked input that does not say (a numpy input with ``chunks=None``
#: never runs chunked)
DEFAULT_SLICES_PER_CHUNK = 8


def lazy_input(stack: Any) -> bool:
    """True for a Dask or Zarr array (the result is returned lazily)."""
    return is_lazy(stack) or (not isinstance(stack, np.ndarray) and hasattr(stack, "chunks"))


def runs_chunked(stack: Any, chunks: Any) -> bool:
    """True when the work runs chunked: a lazy input, or ``chunks`` given."""
    return chunks is not None or lazy_input(stack)


def _slices_per_chunk(stack: Any, chunks: Any) -> int:
    if chunks is not None:
        n = int(chunks)
        if n < 1:
            raise ValueError(
                f"chunks: slices per chunk (slices_per_chunk) must be >= 1, got {chunks}"
            )
        return n
    c = getattr(stack, "chunks", None)
    if c is not None and len(c) and isinstance(c[0], tuple) and c[0]:
        return max(1, int(c[0][0]))  # Dask: (z chunks, y chunks, x chunks)
    if c is not None and len(c) and isinstance(c[0], int | np.integer):
        return max(1, int(c[0]))  # Zarr: one chunk shape
    return DEFAULT_SLICES_PER_CHUNK


def slabs(stack: Any, chunks: Any, *, name: str = "stack", numeric: bool = True) -> Any:
    """``stack`` as a 3D Dask array in slabs of whole slices (``chunks`` slices each, else the
    input's own z chunks); one-line ``ValueError`` for a non-3D, empty or non-numeric stack."""
    spc = _slices_per_chunk(stack, chunks)
    arr = as_dask(stack)
    if arr.ndim != 3:
        raise ValueError(f"{name}: expected a 3D (z, y, x) array, got shape {arr.shape}")
    if numeric:
        is_real = np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
        if not is_real or np.issubdtype(arr.dtype, np.complexfloating):
            raise ValueError(f"{name}: expected a real numeric dtype, got {arr.dtype}")
    if min(int(s) for s in arr.shape) == 0:
        raise ValueError(f"{name}: the volume is empty, shape {arr.shape}")
    return arr.rechunk((spc, -1, -1))


def finish(result: Any, stack: Any) -> Any:
    """The chunked ``result`` as the caller gets it: lazy for a lazy input, else computed."""
    return result if lazy_input(stack) else np.asarray(result.compute())


def sample_slices(data: Any, idx: Any) -> np.ndarray:
    """float32 copies of the slices ``idx`` of a numpy or lazy stack (only those are read)."""
    sub = data[np.asarray(idx, dtype=int)]
    return np.asarray(sub.compute() if is_lazy(sub) else sub).astype(np.float32, copy=False)


def centered_sums(blocks: Any) -> Any:
    """Per-slab (count, sum, sum of squares) in float64 of a Dask array, as a Dask array."""
    import dask.array as da

    def part(b: np.ndarray) -> np.ndarray:
        v = b.astype(np.float64, copy=False)
        return np.array([[[v.size, v.sum(), np.square(v).sum()]]], dtype=np.float64)

    return da.map_blocks(
        part, blocks, dtype=np.float64, chunks=((1,) * blocks.numblocks[0], (1,), (3,))
    )


def var_from_sums(parts: np.ndarray) -> float:
    """Population variance from per-slab (count, sum, sum of squares)."""
    p = np.asarray(parts, dtype=np.float64).reshape(-1, 3)
    n, s1, s2 = float(p[:, 0].sum()), float(p[:, 1].sum()), float(p[:, 2].sum())
    m = s1 / n
    return max(0.0, s2 / n - m * m)
