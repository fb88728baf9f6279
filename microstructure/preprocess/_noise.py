"""Noise level of a FIB/SEM stack that holds for band-limited, correlated noise, and the
quality numbers of a denoising run measured with the same estimator.

Real SEM noise is not white: the detector and scan chain low-pass it, so neighbouring pixels
share most of it and the finest wavelet scale (:func:`skimage.restoration.estimate_sigma`)
sees only a small part of it. Structure, however, is correlated along z while the noise of
two slices is independent: in the flat regions of a pair of neighbouring slices the
difference ``d = I[k+1] - I[k]`` is the noise of both, ``var(d) = 2 sigma^2``, at every
spatial frequency. The estimate is therefore

* ``sigma`` (z-difference): a clipped (robust) std of ``d`` in the pixels flat in both
  slices (gradient of the Gaussian-smoothed slices below its median), after removing a slow
  brightness change between the slices (Gaussian high-pass of ``d``, 20 px), over
  ``sqrt(2)``; the median over evenly spaced sample pairs. Its confidence is the spread
  between the pairs (``pair_spread``: interquartile range over median).
* ``correlation_length_px``: the lag at which the autocorrelation of ``d`` (noise only, in
  flat pixels) falls to 1/2, from robust lag differences along y and x; the scale where the
  noise lives.
* ``sigma_in_plane`` (second method, single slices): robust std of in-plane differences at a
  lag of 3 correlation lengths in flat pixels, over ``sqrt(2)``; ``method_disagreement`` is
  its relative difference from ``sigma``.
* ``sigma_finest_scale``: the wavelet finest-scale estimate, reported for comparison (it
  underestimates correlated noise by the fraction of its power at the finest scale).

A single-slice stack falls back to the in-plane method (noted in the result).

References
----------
Donoho, D. L. and Johnstone, I. M. (1994). Ideal spatial adaptation by wavelet shrinkage.
Biometrika 81, 425-455. doi:10.1093/biomet/81.3.425
Buades, A., Coll, B. and Morel, J.-M. (2005). A non-local algorithm for image denoising.
CVPR 2005, 60-65. doi:10.1109/CVPR.2005.38
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from skimage.restoration import estimate_sigma

__all__ = [
    "DEFAULT_NOISE_PAIRS",
    "pair_index",
    "robust_std",
    "flat_mask",
    "noise_from_pairs",
    "denoise_quality_numbers",
]

#: evenly spaced neighbour pairs (k, k+1) the noise level is estimated on
DEFAULT_NOISE_PAIRS = 8
#: Gaussian sigma (px) of the smoothing that finds flat regions
_FLAT_SMOOTH_PX = 2.0
#: Gaussian sigma (px) of the slow brightness change removed from a slice difference
_SLOW_PX = 20.0
#: largest lag (px) of the autocorrelation
_MAX_LAG = 16
#: largest side (px) of the sample region per slice (centre crop; keeps big slices cheap)
_MAX_SIDE = 1024


def pair_index(
    nz: int, max_pairs: int = DEFAULT_NOISE_PAIRS, lag: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(slices to read, pairs as positions into them): up to ``max_pairs`` evenly spaced
    pairs ``(k, k + lag)`` (neighbours for ``lag`` 1); a stack of ``lag`` slices or fewer
    gives no pair."""
    lag = int(lag)
    if nz <= lag:
        return np.array([0]), np.zeros((0, 2), dtype=int)
    starts = np.unique(np.linspace(0, nz - 1 - lag, min(nz - lag, max_pairs)).round().astype(int))
    idx = np.unique(np.concatenate([starts, starts + lag]))
    pos = {int(k): i for i, k in enumerate(idx)}
    pairs = np.array([[pos[int(k)], pos[int(k) + lag]] for k in starts], dtype=int)
    return idx, pairs


def robust_std(x: np.ndarray) -> float:
    """Std of the bulk of ``x``: 3-sigma clipped (twice, started from the MAD, corrected for
    the clipping); insensitive to edges and to the quantisation of integer data."""
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size < 16:
        return 0.0
    med = float(np.median(v))
    s = 1.4826 * float(np.median(np.abs(v - med)))
    if s == 0.0:
        s = float(np.std(v))
    for _ in range(3):
        if s == 0.0:
            return 0.0
        keep = np.abs(v - med) <= 3.0 * s
        med = float(np.mean(v[keep]))
        s = float(np.std(v[keep])) / 0.9866  # std of a normal truncated at +-3 sigma
    return s


def _crop(img: np.ndarray) -> np.ndarray:
    ny, nx = img.shape
    y0, x0 = max(0, (ny - _MAX_SIDE) // 2), max(0, (nx - _MAX_SIDE) // 2)
    return img[y0 : y0 + _MAX_SIDE, x0 : x0 + _MAX_SIDE].astype(np.float64, copy=False)


def _gradient(img: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_gradient_magnitude(img, _FLAT_SMOOTH_PX, mode="reflect")


def flat_mask(*imgs: np.ndarray) -> np.ndarray:
    """Pixels flat in every image: smoothed gradient below its median in each."""
    mask = np.ones(imgs[0].shape, dtype=bool)
    for im in imgs:
        g = _gradient(im)
        mask &= g <= np.median(g)
    return mask


def _lag_pairs(
    d: np.ndarray, m: np.ndarray, lag: int, axis: int
) -> tuple[np.ndarray, np.ndarray] | None:
    if d.shape[axis] <= lag:
        return None
    a = np.take(d, np.arange(lag, d.shape[axis]), axis=axis)
    b = np.take(d, np.arange(0, d.shape[axis] - lag), axis=axis)
    ma = np.take(m, np.arange(lag, m.shape[axis]), axis=axis)
    mb = np.take(m, np.arange(0, m.shape[axis] - lag), axis=axis)
    both = ma & mb
    return a[both], b[both]


def _correlation_length(d: np.ndarray, m: np.ndarray, var: float) -> float:
    """Lag (px) where the autocorrelation of the noise image ``d`` falls to 1/2 (linear
    interpolation; mean over y and x)."""
    if var <= 0:
        return 0.0
    out = []
    for axis in (0, 1):
        prev_l, prev_r = 0, 1.0
        found = float(_MAX_LAG)
        for lag in range(1, _MAX_LAG + 1):
            pr = _lag_pairs(d, m, lag, axis)
            if pr is None or pr[0].size < 64:
                break
            rho = 1.0 - robust_std(pr[0] - pr[1]) ** 2 / (2.0 * var)
            if rho <= 0.5:
                found = prev_l + (prev_r - 0.5) / max(prev_r - rho, 1e-12) * (lag - prev_l)
                break
            prev_l, prev_r = lag, rho
        out.append(found)
    return float(np.mean(out))


def _pair_numbers(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(sigma, correlation length) from one pair of neighbouring slices."""
    a, b = _crop(a), _crop(b)
    m = flat_mask(a, b)
    d = b - a
    d = d - ndimage.gaussian_filter(d, _SLOW_PX, mode="reflect")
    s_d = robust_std(d[m])
    return s_d / np.sqrt(2.0), _correlation_length(d, m, s_d**2)


def _in_plane(img: np.ndarray, lag: int) -> float:
    """Robust std of lag differences (y and x) in flat pixels of one slice, over sqrt(2)."""
    im = _crop(img)
    m = flat_mask(im)
    vals = []
    for axis in (0, 1):
        pr = _lag_pairs(im, m, lag, axis)
        if pr is not None and pr[0].size >= 64:
            vals.append(robust_std(pr[0] - pr[1]) / np.sqrt(2.0))
    return float(np.mean(vals)) if vals else 0.0


def noise_from_pairs(slices: np.ndarray, pairs: np.ndarray) -> dict[str, Any]:
    """The noise estimate of a stack from its sample ``slices`` (k, y, x) and ``pairs``
    (positions of neighbouring slices into ``slices``; see :func:`pair_index`).

    Returns a JSON-ready dict: ``sigma``, ``method``, ``correlation_length_px``,
    ``pair_sigmas``, ``pair_spread``, ``sigma_in_plane``, ``in_plane_lag_px``,
    ``method_disagreement``, ``sigma_finest_scale``, ``value_range``.
    """
    s = np.asarray(slices, dtype=np.float32)
    vrange = float(s.max() - s.min()) if s.size else 0.0
    finest = float(np.median([estimate_sigma(_crop(im)) for im in s]))
    out: dict[str, Any] = {"value_range": vrange, "sigma_finest_scale": finest}
    if vrange == 0.0:
        out.update(sigma=0.0, method="constant", correlation_length_px=0.0, pair_sigmas=[])
        out.update(pair_spread=0.0, sigma_in_plane=0.0, in_plane_lag_px=1)
        out["method_disagreement"] = 0.0
        return out
    if len(pairs):
        per = [_pair_numbers(s[i], s[j]) for i, j in pairs]
        sig = np.array([p[0] for p in per])
        corr = float(np.median([p[1] for p in per]))
        sigma = float(np.median(sig))
        q25, q75 = np.percentile(sig, [25, 75])
        spread = float((q75 - q25) / sigma) if sigma > 0 else 0.0
        if len(sig) == 2:
            spread = float(abs(sig[1] - sig[0]) / sigma) if sigma > 0 else 0.0
        method = "z-difference"
    else:
        sig, corr, spread, method = np.zeros(0), 1.0, float("nan"), "in-plane (single slice)"
        sigma = float("nan")
    lag = int(max(2, np.ceil(3.0 * corr)))
    in_plane = float(np.median([_in_plane(im, lag) for im in s]))
    if not len(pairs):
        sigma = in_plane
    # floating-point round-off of a noise-free image is not noise
    if sigma <= 1e-7 * float(np.abs(s).max()):
        sigma = 0.0
    out.update(
        sigma=sigma,
        method=method,
        correlation_length_px=round(corr, 3),
        pair_sigmas=[float(v) for v in sig],
        pair_spread=spread,
        sigma_in_plane=in_plane,
        in_plane_lag_px=lag,
        method_disagreement=float(abs(in_plane - sigma) / sigma) if sigma > 0 else 0.0,
    )
    return out


def _edge_contrast(before: np.ndarray, after: np.ndarray, scale: float) -> float:
    """Gradient energy of the smoothed ``after`` over that of the smoothed ``before`` at the
    strongest edges (top 10 % of the smoothed input's gradient): 1 = edges kept, < 1 =
    structure blurred or flattened (smoothing at ``scale`` px keeps the noise out)."""
    gb = ndimage.gaussian_gradient_magnitude(before, scale, mode="reflect")
    ga = ndimage.gaussian_gradient_magnitude(after, scale, mode="reflect")
    edge = gb >= np.percentile(gb, 90)
    eb = float(np.sum(gb[edge] ** 2))
    return float(np.sum(ga[edge] ** 2) / eb) if eb > 0 else 1.0


def denoise_quality_numbers(
    before: np.ndarray, after: np.ndarray, pairs: np.ndarray, noise: dict[str, Any]
) -> dict[str, Any]:
    """The numbers that judge a denoising run on the sample slices (``before`` and ``after``
    are the same slices of input and output, ``pairs`` the neighbour pairs into them).

    * ``sigma_after`` and ``noise_reduction_factor``: the noise level of the output by the
      same z-difference estimator, on the same pairs and the same flat pixels (those of the
      input) as ``sigma``; their ratio is the noise actually removed.
    * ``edge_contrast_kept``: gradient energy at the strongest edges after/before, both
      smoothed over ``2 x`` the noise correlation length (>= 2 px).
    * ``removed_structure_correlation``: |correlation| of the removed component with the
      Laplacian of the output smoothed at 1 correlation length (>= 1 px); noise removal is
      uncorrelated with it, blurring removes a multiple of it (Gaussian-filtered white or
      correlated noise on a two-phase image: 0.04-0.10 at h = 0.8 sigma, 0.2-0.6 at
      h = 3-6 sigma, where the error against the clean image grows instead of falling).
    * ``z_streak_ratio``: mean |difference of neighbouring slices| in flat pixels after
      over before, both low-passed at 2 correlation lengths (>= 2 px): denoising leaves it
      <= 1; slices flattened to different levels (streaks in z) raise it.
    """
    scale = max(2.0, 2.0 * float(noise.get("correlation_length_px") or 1.0))
    sig_after, streak_num, streak_den = [], 0.0, 0.0
    for i, j in pairs:
        a0, b0 = _crop(before[i]), _crop(before[j])
        a1, b1 = _crop(after[i]), _crop(after[j])
        m = flat_mask(a0, b0)
        d1 = b1 - a1
        d1 = d1 - ndimage.gaussian_filter(d1, _SLOW_PX, mode="reflect")
        sig_after.append(robust_std(d1[m]) / np.sqrt(2.0))
        lp0 = ndimage.gaussian_filter(b0 - a0, scale, mode="reflect")
        lp1 = ndimage.gaussian_filter(b1 - a1, scale, mode="reflect")
        streak_num += float(np.mean(np.abs(lp1[m])))
        streak_den += float(np.mean(np.abs(lp0[m])))
    b_all = np.stack([_crop(im) for im in before])
    a_all = np.stack([_crop(im) for im in after])
    contrast = float(
        np.mean([_edge_contrast(b, a, scale) for b, a in zip(b_all, a_all, strict=True)])
    )
    removed = (b_all - a_all).ravel()
    # the structure as the output shows it (its noise is mostly gone; that of the input
    # would correlate with the removed noise): blurring removes a multiple of its Laplacian
    structure = np.stack(
        [ndimage.gaussian_laplace(a, scale / 2.0, mode="reflect") for a in a_all]
    ).ravel()
    if np.std(removed) > 0 and np.std(structure) > 0:
        corr = float(abs(np.corrcoef(removed, structure)[0, 1]))
    else:
        corr = 0.0
    sigma = float(noise["sigma"])
    if not sig_after:  # a single slice: the in-plane estimator, as before
        sig_after = [_in_plane(im, int(noise["in_plane_lag_px"])) for im in after]
    s_after = float(np.median(sig_after))
    return {
        "sigma_after": s_after,
        "noise_reduction_factor": sigma / s_after if s_after > 0 else None,
        "edge_contrast_kept": contrast,
        "removed_structure_correlation": corr,
        "z_streak_ratio": streak_num / streak_den if streak_den > 0 else None,
        "quality_scale_px": scale,
    }
