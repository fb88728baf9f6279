"""Chunked non-local means: the noise level of the whole stack is fixed first, then slabs.

Used by :func:`microstructure.preprocess.denoise_nl_means_report` on a Dask or Zarr input (or
with ``chunks``). The noise level is estimated on the same evenly spaced sample pairs of
neighbouring slices as in memory (only those are read); with it fixed, slice-wise NLM treats
every slice on its own, so slabs of whole slices need no overlap and the result is
bit-identical. The ``slices_z`` mode (chosen by ``auto`` on correlated
noise) averages each slice with ``z_depth`` neighbours after NLM: its slabs read ``z_depth``
halo slices on each side (:func:`microstructure.parallel.map_slices`), again bit-identical.
The report's quality numbers are measured on the denoised sample slices (``slices``: the
filter runs on them alone, with the same result as in the stack; ``slices_z``: read from the
lazy result), the removed component's std from per-slab sums (the filter runs once for these
and once more when the result is written).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.parallel.chunked import map_slices
from microstructure.preprocess._chunks import centered_sums, sample_slices, slabs, var_from_sums
from microstructure.preprocess._nlm import check_options, nlm, nlm_block, patch_for, resolve_mode
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
    after, their index, pairs and the noise estimate (``info["_samples"]``) and the removed
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
    mode, why, ratio = resolve_mode(options.pop("mode"), arr, noise)
    check_options(mode=mode, patch_size=patch, **options)
    info: dict[str, Any] = {"sigma": sigma}
    out_s = None
    if report and mode == "slices":
        out_s, info = nlm(in_s, mode=mode, sigma=sigma, patch_size=patch, workers=1, **options)
    elif report:  # the z step needs the neighbours: the report reads the lazy result
        info = nlm(in_s[:1], mode=mode, sigma=sigma, patch_size=patch, workers=1, **options)[1]
    info["mode_reason"] = why
    info["noise_lag_ratio"] = ratio
    info["sigma_estimated"] = given is None
    if sigma == 0.0:
        out = map_slices(_as_float32, arr, slices_per_chunk=int(arr.chunks[0][0]), dtype=np.float32)
    else:
        out = map_slices(
            nlm_block,
            arr,
            slices_per_chunk=int(arr.chunks[0][0]),
            z_halo=int(options["z_depth"]) if mode == "slices_z" else 0,
            dtype=np.float32,
            mode=mode,
            sigma=sigma,
            patch_size=patch,
            **options,
        )
    if report and out_s is None:
        out_s = sample_slices(out, idx)
    if out_s is not None:
        removed = arr.rechunk(out.chunks).astype(np.float32) - out
        info["removed_std"] = float(np.sqrt(var_from_sums(centered_sums(removed).compute())))
        info["_samples"] = (idx, in_s, out_s, pairs, noise)
    return out, info
