"""Chunked non-local means: the noise level of the whole stack is fixed first, then slabs.

Used by :func:`microstructure.preprocess.denoise_nl_means_report` on a Dask or Zarr input (or
with ``chunks``). The noise level is estimated on the same evenly spaced sample pairs of
neighbouring slices as in memory (only those are read); with it fixed, slice-wise NLM treats
every slice on its own, so slabs of whole slices need no overlap and the result is
bit-identical. The report's quality numbers are measured on the denoised sample slices (the
filter runs on them alone, with the same result as in the stack), the removed component's std
from per-slab sums (the filter runs once for these and once more when the result is written).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.parallel.chunked import map_slices
from microstructure.preprocess._chunks import centered_sums, sample_slices, slabs, var_from_sums
from microstructure.preprocess._nlm import check_options, nlm, nlm_block, patch_for
from microstructure.preprocess._noise import noise_from_pairs, pair_index

__all__ = ["denoise_lazy"]


def _as_float32(block: np.ndarray) -> np.ndarray:
    return np.asarray(block).astype(np.float32, copy=True)


def denoise_lazy(
    stack: Any,
    chunks: Any,
    *,
    sigma: float | None,
    patch_size: int | None,
    report: bool,
    **options: Any,
) -> tuple[Any, dict[str, Any]]:
    """Lazy slice-wise NLM of ``stack`` and, with ``report``, the sample slices before and
    after, their pairs and the noise estimate (``info["_samples"]``) and the removed
    component's std (computes the result once)."""
    arr = slabs(stack, chunks)
    idx, pairs = pair_index(int(arr.shape[0]))
    in_s = sample_slices(arr, idx)
    noise = noise_from_pairs(in_s, pairs)
    given = sigma
    if sigma is None:
        # the noise level of the sample pairs is the whole stack's
        sigma = noise["sigma"]
    elif not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a noise level >= 0, got {sigma!r}")
    sigma = float(sigma)
    patch = patch_for(patch_size, noise["correlation_length_px"])
    check_options(patch_size=patch, **options)
    info: dict[str, Any] = {"sigma": sigma}
    out_s = None
    if report:
        out_s, info = nlm(in_s, sigma=sigma, patch_size=patch, workers=1, **options)
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
            patch_size=patch,
            **options,
        )
    if out_s is not None:
        removed = arr.rechunk(out.chunks).astype(np.float32) - out
        info["removed_std"] = float(np.sqrt(var_from_sums(centered_sums(removed).compute())))
        info["_samples"] = (in_s, out_s, pairs, noise)
    return out, info
