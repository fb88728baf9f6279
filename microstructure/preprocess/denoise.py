"""Non-local means denoising of FIB/SEM stacks (scikit-image kernels, parallel over slices).

Modes:

``auto`` (default)
    ``slices_z`` when the measured noise is correlated (correlation length >= 1.2 px, the
    band-limited noise of real SEM detectors), the stack has >= 3 slices and its structure
    persists over neighbouring slices (the slice-difference std grows <= 1.25x from lag 1 to
    lag 2; the nanopore EM volume: 1.54-1.67, z averaging cannot help there), else
    ``slices``; the choice and its reason are reported (``mode``, ``mode_reason``,
    ``noise_lag_ratio``). The default phantom's white noise keeps ``slices`` (numbers
    unchanged).
``slices_z``
    ``slices`` followed by a similarity-guided average of every slice with its ``z_depth``
    neighbours (:mod:`._denoise_z`): structure persists across slices, the noise does not. On
    the realistic phantom (32 x 160 x 160, seeds 1-3) 27.6-28.1 dB against the noise-free
    rendering where ``slices`` gives 26.4-26.5 dB, NLM with 3-slice patches 27.2-27.4 dB and
    BM3D per slice with the correlated-noise PSD (``bm3d`` 4.0.3) 26.7 dB at 50x the CPU
    time (``benchmarks/bench_denoise.py``); 1.1x the CPU time of ``slices``.
``slices``
    2D NLM on every slice, slices processed by a thread pool (the scikit-image Cython kernel
    releases the GIL, so threads scale). About 1 us per voxel and core with the FIB/SEM
    defaults below; slice-wise filtering also avoids smearing across the (often thicker)
    slice spacing and across residual misalignment.
``3d``
    3D NLM on chunks of slices with an overlap of ``patch_distance + patch_size // 2``
    slices on each side, so every output voxel sees its full search window. Two orders of
    magnitude slower than ``slices`` at scikit-image's defaults: use on small stacks.

The noise standard deviation is estimated unless given (:func:`estimate_noise`) from the
differences of up to 8 evenly spaced pairs of neighbouring slices in the pixels flat in both:
the noise of two slices is independent while the structure is correlated in z, so this holds
for the band-limited, correlated noise of real SEM detectors, where the finest wavelet scale
sees only a small part of the noise (on the nanopore EM volume it gave 0.0036 of the range,
against 0.016 here). The filter strength is ``h = h_factor * sigma``; the patch covers the
noise correlation length. The report measures what was removed with the same estimator on
the same slice pairs and judges over-smoothing and z-streaks (``quality``).

On a Dask or Zarr input (or with ``chunks``) the ``slices`` mode runs slab by slab with the
noise level fixed first (:mod:`._denoise_chunked`); the result is lazy and bit-identical. The
``3d`` mode filters overlapping chunks in memory only (declared with
:func:`~microstructure.parallel.support.chunked_support`).

References
----------
Buades, A., Coll, B. and Morel, J.-M. (2005). A non-local algorithm for image denoising.
CVPR 2005, 60-65. doi:10.1109/CVPR.2005.38
Beuse, T. et al. (2021). Batteries 7, 70 (porosity methods and the FIB/SEM model this package
follows). doi:10.3390/batteries7040070
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from microstructure.parallel.support import check_chunked, chunked_support
from microstructure.preprocess._chunks import finish, lazy_input, runs_chunked, sample_slices
from microstructure.preprocess._denoise_chunked import denoise_lazy
from microstructure.preprocess._denoise_z import (
    DEFAULT_Z_DEPTH,
    DEFAULT_Z_H_FACTOR,
    MAX_Z_LAG_RATIO,
    z_contrast_kept,
)
from microstructure.preprocess._nlm import (
    DEFAULT_CHUNK_SLICES,
    DEFAULT_H_FACTOR,
    DEFAULT_MODE,
    DEFAULT_NOISE_PAIRS,
    DEFAULT_PATCH_DISTANCE,
    DEFAULT_PATCH_SIZE,
    check_options,
    nlm,
    patch_for,
    resolve_mode,
)
from microstructure.preprocess._nlm import estimate_noise as _estimate
from microstructure.preprocess._noise import denoise_quality_numbers, noise_from_pairs, pair_index
from microstructure.quality import check, quality_block
from microstructure.volume import check_volume

__all__ = [
    "DEFAULT_MODE",
    "DEFAULT_H_FACTOR",
    "DEFAULT_PATCH_SIZE",
    "DEFAULT_PATCH_SIZE_AUTO",
    "DEFAULT_PATCH_DISTANCE",
    "DEFAULT_CHUNK_SLICES",
    "DEFAULT_Z_DEPTH",
    "DEFAULT_Z_H_FACTOR",
    "estimate_noise",
    "estimate_noise_sigma",
    "denoise_nl_means",
    "denoise_nl_means_report",
]

#: patch edge default: None = from the noise correlation length (at least DEFAULT_PATCH_SIZE)
DEFAULT_PATCH_SIZE_AUTO = None
#: noise below this fraction of the value range is not judged (nothing visible to remove)
VISIBLE_NOISE = 0.005
#: visible noise must be reduced at least by this factor (same estimator before/after)
MIN_NOISE_REDUCTION = 1.5
#: gradient energy at the strongest edges must keep at least this fraction
MIN_EDGE_CONTRAST = 0.9
#: the removed component may correlate with the structure at most this much
MAX_REMOVED_STRUCTURE = 0.2
#: low-pass slice-to-slice differences in flat regions may grow at most this much
MAX_Z_STREAK = 1.05
#: largest spread of the noise estimate between sample pairs (IQR / median)
MAX_NOISE_SPREAD = 0.5
#: a z filter must keep this much of the energy of the changes between slices (the
#: noise-free phantom rendering scores 0.65-0.96, a 4x too strong z step 0.22-0.34)
MIN_Z_CONTRAST = 0.5

Mode = Literal["auto", "slices", "slices_z", "3d"]

#: what cannot run chunked (read by the ``denoise`` stage when a recipe is loaded)
_CHUNKED = chunked_support(
    mode=(
        lambda m: m == "3d",
        "in-memory only: '3d' filters overlapping chunks of chunk_slices slices in memory; "
        "use mode = 'slices'",
    )
)


def estimate_noise(stack: Any, *, max_pairs: int = DEFAULT_NOISE_PAIRS) -> dict[str, Any]:
    """Noise estimate of a stack that holds for band-limited, correlated noise.

    From the differences of up to ``max_pairs`` evenly spaced pairs of neighbouring slices
    in the pixels flat in both (the noise of two slices is independent, the structure
    correlated in z; :mod:`microstructure.preprocess._noise`). Of a Dask or Zarr stack only
    those slices are read.

    Returns
    -------
    dict
        ``sigma`` (noise std in the stack's units), ``correlation_length_px`` (lag where the
        noise autocorrelation falls to 1/2: the scale the noise lives at), ``pair_sigmas``
        and ``pair_spread`` (their interquartile range over the median: the confidence),
        ``sigma_in_plane`` (single-slice lag differences in flat pixels, an upper bound
        that includes structure), ``method_disagreement``, ``sigma_finest_scale`` (the
        wavelet finest-scale estimate, which misses correlated noise), ``value_range``.
    """
    if lazy_input(stack):
        idx, pairs = pair_index(int(stack.shape[0]), max_pairs)
        return noise_from_pairs(sample_slices(stack, idx), pairs)
    return _estimate(stack, max_pairs=max_pairs)


def estimate_noise_sigma(stack: Any, *, max_pairs: int = DEFAULT_NOISE_PAIRS) -> float:
    """Noise standard deviation of a stack (same units as its values): ``sigma`` of
    :func:`estimate_noise`. Returns 0.0 for a noise-free (e.g. constant) stack."""
    return float(estimate_noise(stack, max_pairs=max_pairs)["sigma"])


def denoise_quality(info: dict[str, Any], noise: dict[str, Any]) -> dict[str, Any]:
    """The ``quality`` block of a denoising run from its numbers (see
    :func:`denoise_nl_means_report`)."""
    checks: dict[str, Any] = {}
    notes: list[str] = []
    rel = noise["sigma"] / noise["value_range"] if noise["value_range"] > 0 else 0.0
    if noise["method"] != "z-difference":
        notes.append(f"noise estimated {noise['method']}: no neighbouring slices to compare")
    if rel >= VISIBLE_NOISE:
        checks["noise_reduction_factor"] = check(
            info["noise_reduction_factor"],
            MIN_NOISE_REDUCTION,
            below=False,
            meaning="noise sigma before/after (same estimator, same slices)",
        )
    else:
        notes.append(
            f"noise {100 * rel:.2g} % of the value range: below {100 * VISIBLE_NOISE:.2g} %, "
            "nothing visible to remove"
        )
    if info.get("skipped"):
        return quality_block(checks, notes)
    checks["edge_contrast_kept"] = check(
        info["edge_contrast_kept"],
        MIN_EDGE_CONTRAST,
        below=False,
        meaning="gradient energy at phase boundaries after/before (over-smoothing)",
    )
    checks["removed_structure_correlation"] = check(
        info["removed_structure_correlation"],
        MAX_REMOVED_STRUCTURE,
        meaning="correlation of the removed component with the structure",
    )
    if info.get("z_streak_ratio") is not None:
        checks["z_streak_ratio"] = check(
            info["z_streak_ratio"],
            MAX_Z_STREAK,
            meaning="low-pass |slice-to-slice difference| in flat regions after/before",
        )
    if info.get("z_contrast_kept") is not None:
        checks["z_contrast_kept"] = check(
            info["z_contrast_kept"],
            MIN_Z_CONTRAST,
            below=False,
            meaning="energy of the changes between neighbouring slices after/before "
            "(structure averaged away in z)",
        )
    if noise["method"] == "z-difference" and len(noise["pair_sigmas"]) > 1:
        checks["noise_estimate_spread"] = check(
            noise["pair_spread"],
            MAX_NOISE_SPREAD,
            meaning="spread of the noise estimate between sample slice pairs",
        )
    if (info.get("noise_lag_ratio") or 0.0) > MAX_Z_LAG_RATIO:
        notes.append(
            f"neighbouring-slice differences hold structure (std at lag 2 / lag 1 = "
            f"{info['noise_lag_ratio']:.2f}): the noise estimate is an upper bound and the "
            "noise reduction a lower bound"
        )
    if info["patch_size"] < noise["correlation_length_px"]:
        notes.append(
            f"patch_size {info['patch_size']} px is below the noise correlation length "
            f"{noise['correlation_length_px']:.2g} px: leave patch_size unset"
        )
    return quality_block(checks, notes)


def _report_numbers(
    info: dict[str, Any], stack: Any, out: Any, samples: tuple, noise: dict[str, Any]
) -> None:
    """Fill the noise estimate, the quality numbers and the quality block into ``info``.

    ``samples`` are the neighbour-pair slices of the estimate (``idx``, ``pairs``, ``before``,
    ``after``). After a z filter reaching ``z_depth`` slices, neighbouring output slices share
    input slices and their difference understates the noise left: the noise before and after
    is then measured with the same estimator on pairs ``2 z_depth + 1`` slices apart (no input
    slice in common), and ``z_contrast_kept`` judges the changes between neighbours."""
    idx, pairs, before, after = samples
    info["noise_estimate"] = {k: v for k, v in noise.items() if k != "sigma"}
    info["sigma_estimated_from_data"] = noise["sigma"]
    info["correlation_length_px"] = noise["correlation_length_px"]
    lag = 2 * int(info.get("z_depth", 0)) + 1 if info["mode"] == "slices_z" else 1
    info["noise_reduction_lag_slices"] = lag
    judged = noise
    if noise["sigma"] > 0 and not info.get("skipped"):
        if lag > 1 and len(pairs):
            idx_l, pairs_l = pair_index(int(stack.shape[0]), lag=lag)
            if len(pairs_l):
                b_l, a_l = sample_slices(stack, idx_l), sample_slices(out, idx_l)
                judged = noise_from_pairs(b_l, pairs_l)
                judged["correlation_length_px"] = noise["correlation_length_px"]
                nums = denoise_quality_numbers(b_l, a_l, pairs_l, judged)
            else:
                nums = denoise_quality_numbers(before, after, pairs, noise)
            nums["sigma_before_at_lag"] = judged["sigma"]
            nums["z_contrast_kept"] = z_contrast_kept(
                before, after, pairs, max(2.0, 2.0 * float(noise["correlation_length_px"]))
            )
        else:
            nums = denoise_quality_numbers(before, after, pairs, noise)
    else:
        nums = {"sigma_after": noise["sigma"], "noise_reduction_factor": 1.0}
    info.update(nums)
    info["removed_std_over_sigma"] = (
        info["removed_std"] / noise["sigma"] if noise["sigma"] > 0 else None
    )
    info["quality"] = denoise_quality(info, noise)


@_CHUNKED
def denoise_nl_means_report(
    stack: Any,
    *,
    mode: Mode = DEFAULT_MODE,
    sigma: float | None = None,
    h_factor: float = DEFAULT_H_FACTOR,
    patch_size: int | None = DEFAULT_PATCH_SIZE_AUTO,
    patch_distance: int = DEFAULT_PATCH_DISTANCE,
    chunk_slices: int = DEFAULT_CHUNK_SLICES,
    z_depth: int = DEFAULT_Z_DEPTH,
    z_h_factor: float = DEFAULT_Z_H_FACTOR,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Like :func:`denoise_nl_means`, also returning a JSON-ready dict.

    The dict holds ``mode`` (the one run) and ``mode_reason``, ``sigma`` (the one used:
    given, or estimated: ``sigma_estimated``), ``h``, the patch sizes, the ``noise_estimate``
    (see :func:`estimate_noise`; ``sigma_estimated_from_data`` and ``correlation_length_px``)
    and, measured on sample slice pairs with the same estimator before and after:
    ``sigma_after`` and ``noise_reduction_factor`` (what was actually removed; on pairs
    ``noise_reduction_lag_slices`` apart, 2 ``z_depth`` + 1 after the z step, so that the
    z averaging cannot fake it), ``edge_contrast_kept`` (over-smoothing),
    ``removed_structure_correlation``, ``z_streak_ratio`` (slice-to-slice streaks),
    ``z_contrast_kept`` (``slices_z``: changes between slices kept), ``removed_std`` and the
    ``quality`` block (checks that fail when visible noise is not reduced by
    ``MIN_NOISE_REDUCTION``, when edges lose more than ``1 - MIN_EDGE_CONTRAST`` of their
    energy, when the removed component follows the structure, when z-streaks grow, when the
    z step averages real changes away, or when the estimate is unsure).
    The same numbers on both paths (the chunked std is summed per slab in float64).
    """
    options: dict[str, Any] = dict(
        mode=mode,
        h_factor=h_factor,
        patch_distance=patch_distance,
        chunk_slices=chunk_slices,
        z_depth=z_depth,
        z_h_factor=z_h_factor,
    )
    if runs_chunked(stack, chunks):
        check_chunked(denoise_nl_means_report, {"mode": mode})
        out, info = denoise_lazy(
            stack, chunks, sigma=sigma, patch_size=patch_size, report=True, **options
        )
        idx, before, after, pairs, noise = info.pop("_samples")
        _report_numbers(info, stack, out, (idx, pairs, before, after), noise)
        return finish(out, stack), info
    data = check_volume(stack, name="stack")
    check_options(patch_size=patch_size or DEFAULT_PATCH_SIZE, **options)
    idx, pairs = pair_index(int(data.shape[0]))
    before = data[idx].astype(np.float32)
    noise = noise_from_pairs(before, pairs)
    patch = patch_for(patch_size, noise["correlation_length_px"])
    options["mode"], why, ratio = resolve_mode(mode, data, noise)
    out, info = nlm(
        data,
        sigma=noise["sigma"] if sigma is None else sigma,
        patch_size=patch,
        workers=workers,
        progress=progress,
        **options,
    )
    info["mode_reason"] = why
    info["noise_lag_ratio"] = ratio
    info["sigma_estimated"] = sigma is None
    info["removed_std"] = float(np.std(data.astype(np.float32) - out))
    _report_numbers(info, data, out, (idx, pairs, before, out[idx]), noise)
    return out, info


@_CHUNKED
def denoise_nl_means(
    stack: Any,
    *,
    mode: Mode = DEFAULT_MODE,
    sigma: float | None = None,
    h_factor: float = DEFAULT_H_FACTOR,
    patch_size: int | None = DEFAULT_PATCH_SIZE_AUTO,
    patch_distance: int = DEFAULT_PATCH_DISTANCE,
    chunk_slices: int = DEFAULT_CHUNK_SLICES,
    z_depth: int = DEFAULT_Z_DEPTH,
    z_h_factor: float = DEFAULT_Z_H_FACTOR,
    workers: int | None = None,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> Any:
    """Non-local means denoising of a (z, y, x) stack.

    Parameters
    ----------
    stack
        Grayscale stack, any numeric dtype (NaN not allowed); worked on as float32. A numpy
        array (numpy result) or a Dask or Zarr array (lazy result, bit-identical).
    mode
        ``"auto"`` (default): ``"slices_z"`` on correlated noise (correlation length >= 1.2
        px) with >= 3 slices and structure persisting over neighbouring slices, else
        ``"slices"``. ``"slices"``: 2D NLM per slice in parallel
        threads. ``"slices_z"``: ``"slices"`` followed by a similarity-guided average with
        ``z_depth`` neighbouring slices on each side (structure persists in z, noise does
        not). ``"3d"``: 3D NLM on overlapping chunks of ``chunk_slices`` slices (slow; in
        memory only).
    sigma
        Noise standard deviation in the units of the stack values; estimated when None
        (:func:`estimate_noise`: neighbouring-slice differences in flat regions, valid for
        band-limited, correlated noise).
    h_factor
        Filter strength ``h = h_factor * sigma`` (scikit-image recommends ~0.8 with a known
        sigma in its fast mode).
    patch_size, patch_distance
        Patch edge and search radius in pixels. ``patch_size`` None (default): the odd size
        covering the noise correlation length on both sides, at least 5 (so a patch holds
        several independent noise samples). Search radius 5: on the phantom the PSNR gain
        is 7.82 dB with radius 5 or 6 (radius 4: 7.78 dB) and radius 5 costs 28 % less CPU
        than 6; scikit-image's 3D defaults (7 and 11) are far slower.
    chunk_slices
        Slices per chunk in ``3d`` mode.
    z_depth, z_h_factor
        ``slices_z``: neighbouring slices averaged on each side, and the similarity scale of
        their weights in noise sigmas (``exp(-d^2 / (z_h_factor sigma)^2)`` of the smoothed
        squared difference ``d^2`` of the NLM outputs).
    workers
        Threads of the in-memory path (default: all cores).
    chunks
        Slices per slab of the chunked path (default: the input's z chunks); given with a
        numpy input, the work runs chunked and the result is computed.
    resume_dir
        Accepted for a uniform signature; the lazy result holds no state worth keeping
        (write it resumably with :func:`microstructure.parallel.write_volume_resumable`).

    Returns
    -------
    ndarray or dask.array.Array
        float32 stack with the input's value range (no rescaling).
    """
    options: dict[str, Any] = dict(
        mode=mode,
        h_factor=h_factor,
        patch_size=patch_size,
        patch_distance=patch_distance,
        chunk_slices=chunk_slices,
        z_depth=z_depth,
        z_h_factor=z_h_factor,
    )
    if runs_chunked(stack, chunks):
        check_chunked(denoise_nl_means, {"mode": mode})
        return finish(denoise_lazy(stack, chunks, sigma=sigma, report=False, **options)[0], stack)
    return nlm(stack, sigma=sigma, workers=workers, **options)[0]
