"""Chunked non-local means: the noise level of the whole stack is fixed first, then slabs.

Used by :func:`microstructure.preprocess.denoise_nl_means_report` on a Dask or Zarr input (or
with ``chunks``). The noise level is estimated on the same evenly spaced sample slices as in
memory (only those are read); with it fixed, slice-wise NLM treats every slice on its own, so
slabs of whole slices need no overlap and the result is bit-identical. The report's
``sigma_after`` is estimated on the denoised sample slices (the filter runs on them alone), the
removed component's std from per-slab sums (the filter runs once for these and once more when
the result is written).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.parallel.chunked import map_slices
from microstructure.preprocess._chunks import centered_sums, sample_slices, slabs, var_from_sums
from microstructure.preprocess._nlm import (
    check_options,
    estimate_noise_sigma,
    nlm,
    nlm_block,
    noise_index,
)

__all__ = ["denoise_lazy"]


def _as_float32(block: np.ndarray) -> np.ndarray:
    return np.asarray(block).astype(np.float32, copy=True)


def denoise_lazy(
    stack: Any, chunks: Any, *, sigma: float | None, report: bool, **options: Any
) -> tuple[Any, dict[str, Any]]:
    """Lazy slice-wise NLM of ``stack`` and the report (with ``report``: also the removed
    component's std and the noise level after, which compute the result once)."""
    arr = slabs(stack, chunks)
    idx = noise_index(int(arr.shape[0]))
    in_s = sample_slices(arr, idx)
    given = sigma
    check_options(**options)
    if sigma is None:
        # the noise level of the sample slices is the whole stack's
        sigma = estimate_noise_sigma(in_s, max_slices=len(idx))
    elif not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a noise level >= 0, got {sigma!r}")
    sigma = float(sigma)
    out_s = None
    info: dict[str, Any] = {"sigma": sigma}
    if report:
        out_s, info = nlm(in_s, sigma=sigma, workers=1, **options)
    info["sigma_estimated"] = given is None
    if sigma == 0.0:
        out = map_slices(_as_float32, arr, slices_per_chunk=int(arr.chunks[0][0]), dtype=np.float32)
    else:
        out = map_slices(
            nlm_block,
            arr,
            slices_per_chunk=int(arr.chunks[0][0]),
            dtype=np.float32,
            sigma=sigma,
            **options,
        )
    if out_s is not None:
        removed = arr.rechunk(out.chunks).astype(np.float32) - out
        info["removed_std"] = float(np.sqrt(var_from_sums(centered_sums(removed).compute())))
        info["sigma_after"] = estimate_noise_sigma(out_s, max_slices=len(idx))
    return out, info
