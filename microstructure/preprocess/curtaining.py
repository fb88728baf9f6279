"""Curtaining (vertical stripe) removal for FIB/SEM slices, with a report of what was removed.

Two methods:

``robust`` (default)
    Built for finite-length curtains, which start at the top of the cross-section (the
    milled edge) and often fade out part-way down (see :func:`robust_stripe_estimate`):
    every row is high-passed by subtracting an edge-aware running median of width
    ``4 * stripe_width_px + 1`` (next to a structure edge a quieter one-sided half-width
    window is used, so noisy edges do not leak), then the median of every column over
    overlapping bands of ``length_px`` rows estimates the stripe (structure is not constant
    along y and is rejected), combined over ``z_window`` slices (curtains persist from slice
    to slice), shrunk towards zero where it is not above the noise floor of the estimate
    (non-negative garrote at ``threshold`` robust standard deviations), and interpolated
    along y, so the estimate is localised in y. ``iterations`` passes: each later pass takes
    the row baseline of the image minus the current estimate (on noisy data a median moves
    with the stripes inside its window, which halves a single pass's estimate).
``wavelet-fft``
    The wavelet-Fourier filter of Muench et al. (Opt. Express 17, 8567, 2009): the slice is
    padded along the stripe direction (reflect, at least 1/8 of its height), decomposed by
    :func:`pywt.wavedec2` to ``level`` (default chosen from ``stripe_width_px``, never above
    :func:`pywt.dwt_max_level`), the vertical-detail coefficients of every level are damped
    along y by ``1 - exp(-k^2 / (2 sigma^2))`` in Fourier space (k: frequency index along y),
    and the slice is reconstructed and cropped. It assumes stripes that run the full height;
    on curtains that fade out it leaves more residual and rings along y.

``auto`` runs both and keeps the one with the lower *damage score*: stripe energy left in the
output (power in a narrow wedge around the k_x axis in excess of what an isotropic image of
the same off-wedge power has) plus non-stripe energy in the removed component (structure
removed). Both numbers are reported for each method.

Stripe direction: ``"vertical"`` (default; stripes run along y, i.e. constant down a column,
as FIB curtains are) or ``"horizontal"`` (the slices are transposed internally).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numba
import numpy as np
import pywt
from scipy import ndimage

from microstructure.volume import check_volume

__all__ = [
    "remove_curtaining",
    "remove_curtaining_report",
    "wavelet_fft_destripe",
    "robust_stripe_estimate",
    "auto_wavelet_level",
    "stripe_metrics",
]

Method = Literal["robust", "wavelet-fft", "auto"]

#: row subsampling of the robust method's passes before the last one
_ROW_STEP = 2
#: half-angle (as tan) of the wedge around the k_x axis counted as "stripe-like" power
_WEDGE_TAN = 0.25
#: power fraction an isotropic image has in that wedge (excluding the k_x = 0 column)
_ISOTROPIC_WEDGE = 2.0 * math.atan(_WEDGE_TAN) / math.pi


def auto_wavelet_level(shape: tuple[int, int], wavelet: str, stripe_width_px: float) -> int:
    """Decomposition level covering stripes up to ``stripe_width_px`` wide.

    ``ceil(log2(width)) + 1`` (the detail band of level j holds features ~2^j px wide),
    at least 1 and never above :func:`pywt.dwt_max_level` of the shorter slice axis.
    """
    wmax = pywt.dwt_max_level(min(shape), pywt.Wavelet(wavelet).dec_len)
    want = int(math.ceil(math.log2(max(stripe_width_px, 1.0)))) + 1
    return max(1, min(want, wmax))


def _wavelet_fft_slice(
    img: np.ndarray, wavelet: str, level: int, sigma: float, pad_fraction: float
) -> np.ndarray:
    ny = img.shape[0]
    pad = max(1, int(math.ceil(pad_fraction * ny)))
    padded = np.pad(img.astype(np.float64), ((pad, pad), (0, 0)), mode="reflect")
    coeffs = pywt.wavedec2(padded, wavelet, level=level)
    out = [coeffs[0]]
    for ch, cv, cd in coeffs[1:]:
        m = cv.shape[0]
        k = np.fft.fftfreq(m) * m  # integer frequency index along y
        damp = 1.0 - np.exp(-(k**2) / (2.0 * sigma**2))
        fc = np.fft.fft(cv, axis=0) * damp[:, None]
        out.append((ch, np.fft.ifft(fc, axis=0).real, cd))
    rec = pywt.waverec2(out, wavelet)
    return rec[pad : pad + ny, : img.shape[1]]


def wavelet_fft_destripe(
    image: np.ndarray,
    *,
    wavelet: str = "db5",
    level: int | None = None,
    sigma: float = 2.0,
    stripe_width_px: float = 4.0,
    pad_fraction: float = 0.125,
) -> np.ndarray:
    """Wavelet-FFT destriping (Muench et al. 2009) of one 2D slice with vertical stripes.

    Parameters
    ----------
    image
        2D float array (y, x).
    wavelet
        PyWavelets wavelet name.
    level
        Decomposition level; None chooses :func:`auto_wavelet_level` from
        ``stripe_width_px``. Raises ValueError above :func:`pywt.dwt_max_level`.
    sigma
        Width (frequency-index units) of the Gaussian notch damping the stripe direction.
    pad_fraction
        Reflect padding added above and below, as a fraction of the height (>= 1/8).

    Returns
    -------
    ndarray float64, same shape.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"image: expected a 2D slice, got shape {img.shape}")
    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"wavelet: {wavelet!r} is not a discrete PyWavelets wavelet")
    if not sigma > 0:
        raise ValueError(f"sigma: must be > 0, got {sigma!r}")
    if pad_fraction < 0.125:
        raise ValueError(f"pad_fraction: must be >= 1/8 of the height, got {pad_fraction!r}")
    ny = img.shape[0]
    pad = int(math.ceil(pad_fraction * ny))
    if pad >= ny:
        raise ValueError(f"pad_fraction: {pad_fraction!r} pads more than the slice height")
    wmax = pywt.dwt_max_level(min(ny + 2 * pad, img.shape[1]), pywt.Wavelet(wavelet).dec_len)
    if level is None:
        level = auto_wavelet_level((ny + 2 * pad, img.shape[1]), wavelet, stripe_width_px)
    if wmax < 1:
        raise ValueError(
            f"image: slices of {img.shape} px are too small for wavelet {wavelet!r} "
            "(dwt_max_level is 0); use a shorter wavelet or method='robust'"
        )
    if not 1 <= int(level) <= wmax:
        raise ValueError(
            f"level: {level!r} is outside 1..{wmax} (the maximum useful level for "
            f"{img.shape[0]}x{img.shape[1]} px slices with wavelet {wavelet!r})"
        )
    return _wavelet_fft_slice(img, wavelet, int(level), float(sigma), pad_fraction)


def _band_starts(ny: int, length: int) -> np.ndarray:
    step = max(1, length // 2)
    if ny <= length:
        return np.array([0])
    starts = list(range(0, ny - length + 1, step))
    if starts[-1] != ny - length:
        starts.append(ny - length)
    return np.array(starts)


@numba.njit(cache=True)
def _window_stats(
    row: np.ndarray, half: int, med: np.ndarray, iqr: np.ndarray, buf: np.ndarray
) -> None:  # pragma: no cover - numba
    """Running median and interquartile range of width 2*half+1 along a 1D row (edges: nearest).

    A sorted window slides along the row: one removal and one insertion per pixel.
    """
    nx = row.shape[0]
    width = 2 * half + 1
    q1 = width // 4
    q3 = (3 * width) // 4
    for k in range(width):
        v = row[min(max(k - half, 0), nx - 1)]
        j = k
        while j > 0 and buf[j - 1] > v:
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v
    med[0] = buf[half]
    iqr[0] = buf[q3] - buf[q1]
    for x in range(1, nx):
        old = row[min(max(x - half - 1, 0), nx - 1)]
        new = row[min(max(x + half, 0), nx - 1)]
        i = 0
        while buf[i] != old:
            i += 1
        while i < width - 1:
            buf[i] = buf[i + 1]
            i += 1
        j = width - 1
        while j > 0 and buf[j - 1] > new:
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = new
        med[x] = buf[half]
        iqr[x] = buf[q3] - buf[q1]


@numba.njit(cache=True)
def _edge_aware_baseline_row(
    row: np.ndarray,
    half: int,
    half_s: int,
    gamma: float,
    out: np.ndarray,
    m_l: np.ndarray,
    q_l: np.ndarray,
    m_s: np.ndarray,
    q_s: np.ndarray,
    buf: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Edge-aware running median of a row (see :func:`robust_stripe_estimate`, step 1)."""
    nx = row.shape[0]
    _window_stats(row, half, m_l, q_l, buf)
    if gamma <= 0.0:
        for x in range(nx):
            out[x] = m_l[x]
        return
    _window_stats(row, half_s, m_s, q_s, buf)
    for x in range(nx):
        # the three short windows holding x: ending at x, centred on x, starting at x
        best_q = q_s[x]
        best_m = m_s[x]
        xl = max(x - half_s, 0)
        xr = min(x + half_s, nx - 1)
        if q_s[xl] < best_q:
            best_q = q_s[xl]
            best_m = m_s[xl]
        if q_s[xr] < best_q:
            best_q = q_s[xr]
            best_m = m_s[xr]
        out[x] = best_m if best_q < gamma * q_l[x] else m_l[x]


@numba.njit(cache=True)
def _median_inplace(a: np.ndarray, n: int) -> float:  # pragma: no cover - numba
    """Median of ``a[:n]`` by quickselect, reordering ``a`` in place (no allocation)."""
    k = n // 2
    lo = 0
    hi = n - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    upper = a[k]
    if n % 2 == 1:
        return upper
    lower = a[0]
    for m in range(1, k):
        if a[m] > lower:
            lower = a[m]
    return 0.5 * (lower + upper)


@numba.njit(parallel=True, cache=True)
def _band_profiles(
    arr: np.ndarray,
    prev: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    wy: np.ndarray,
    starts: np.ndarray,
    length: int,
    half: int,
    half_s: int,
    gamma: float,
    row_step: int,
) -> np.ndarray:  # pragma: no cover - numba
    """One pass of the robust estimate: per slice, high-pass every ``row_step``-th row of
    ``arr`` against the edge-aware baseline of ``arr - current stripe estimate`` (the
    estimate is ``prev`` interpolated along y with ``lo``, ``hi``, ``wy``), then the median of
    every column over those rows in ``[s, s + length)`` for each band start ``s``."""
    nz, ny, nx = arr.shape
    nb = starts.shape[0]
    out = np.empty((nz, nb, nx), dtype=np.float32)
    width = 2 * max(half, half_s) + 1
    for z in numba.prange(nz):
        hp = np.empty((ny, nx), dtype=np.float32)
        row = np.empty(nx, dtype=np.float32)
        base = np.empty(nx, dtype=np.float32)
        m_l = np.empty(nx, dtype=np.float32)
        q_l = np.empty(nx, dtype=np.float32)
        m_s = np.empty(nx, dtype=np.float32)
        q_s = np.empty(nx, dtype=np.float32)
        buf = np.empty(width, dtype=np.float32)
        col = np.empty(length, dtype=np.float32)
        for y in range(0, ny, row_step):
            a = lo[y]
            b = hi[y]
            w = wy[y]
            for x in range(nx):
                row[x] = arr[z, y, x] - (prev[z, a, x] * (1.0 - w) + prev[z, b, x] * w)
            _edge_aware_baseline_row(row, half, half_s, gamma, base, m_l, q_l, m_s, q_s, buf)
            for x in range(nx):
                hp[y, x] = arr[z, y, x] - base[x]
        for bnd in range(nb):
            s0 = starts[bnd]
            y0 = s0 + (-s0) % row_step
            n = len(range(y0, s0 + length, row_step))
            for x in range(nx):
                k = 0
                for y in range(y0, s0 + length, row_step):
                    col[k] = hp[y, x]
                    k += 1
                out[z, bnd, x] = _median_inplace(col, n)
    return out


def robust_stripe_estimate(
    stack: np.ndarray,
    *,
    stripe_width_px: float = 4.0,
    length_px: int = 80,
    z_window: int = 21,
    threshold: float = 3.0,
    iterations: int = 4,
    edge_gamma: float = 0.5,
) -> np.ndarray:
    """Stripe field (vertical stripes) of a (z, y, x) float stack by the robust method.

    1. Horizontal high-pass: each row minus an *edge-aware* running median of the row. The
       baseline is the median of the ``4 * stripe_width_px + 1`` px window around the pixel
       (a stripe must cover less than half of it), except next to a structure edge: if one of
       the three half-width windows holding the pixel (ending at, centred on, starting at
       it) has an interquartile range below ``edge_gamma`` times that of the full window, the
       median of the quietest of them is used (a Kuwahara-type choice: on noisy data a
       centred median is pulled across a step edge and leaks the edge into the estimate;
       the one-sided window stays on the pixel's side). ``edge_gamma = 0`` disables it.
    2. In overlapping bands of ``length_px`` rows, the median of every column of the
       high-passed image: structure is not constant along y and is rejected; stripes are.
    3. Median of these band profiles over ``z_window`` neighbouring slices (curtains persist
       from slice to slice, structure changes).
    4. Non-negative garrote ``p * max(0, 1 - (threshold * floor / p)^2)`` with ``floor``
       the robust spread (1.4826 MAD) across x of each band profile, an estimate of its
       noise since most columns hold no stripe (``threshold = 0`` disables).
    5. Linear interpolation of the band profiles along y (localises the estimate in y).
    6. ``iterations`` passes: from the second pass on, the baseline of step 1 is taken of
       the image minus the current stripe estimate. On noisy data the median of a window
       moves with the stripes inside it, so a single pass under-estimates stripes by about
       half (dense stripes, phantom); the passes remove that contamination. The passes
       before the last one only feed the baseline and use every 2nd row.

    Returns
    -------
    ndarray
        float32 stripe field, same shape as ``stack`` (intensity units).
    """
    arr = np.ascontiguousarray(stack, dtype=np.float32)
    nz, ny, nx = arr.shape
    half = max(1, int(math.ceil(2.0 * stripe_width_px)))
    half = min(half, max(1, (nx - 1) // 2))
    half_s = max(1, half // 2)
    length = int(max(3, min(length_px, ny)))
    starts = _band_starts(ny, length)
    nb = len(starts)
    if nb == 1:
        lo = np.zeros(ny, dtype=np.int64)
        hi = lo
        wy = np.zeros(ny, dtype=np.float32)
    else:
        centres = starts + (length - 1) / 2.0
        pos = np.interp(np.arange(ny, dtype=np.float64), centres, np.arange(nb, dtype=float))
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, nb - 1)
        wy = (pos - lo).astype(np.float32)
    prof = np.zeros((nz, nb, nx), dtype=np.float32)
    n_pass = max(1, int(iterations))
    for it in range(n_pass):
        # passes before the last only feed the baseline: every 2nd row is enough
        prof = _band_profiles(
            arr,
            prof,
            lo,
            hi,
            wy,
            starts.astype(np.int64),
            length,
            half,
            half_s,
            float(edge_gamma),
            _ROW_STEP if it < n_pass - 1 else 1,
        )
        if z_window > 1 and nz > 1:
            prof = ndimage.median_filter(prof, size=(min(z_window, nz), 1, 1), mode="nearest")
        if threshold > 0:
            # noise floor of the estimate: robust spread across x of each band profile (most
            # columns hold no stripe); non-negative garrote keeps strong stripes unbiased and
            # zeroes the estimate where it is indistinguishable from noise and texture
            centre = np.median(prof, axis=2, keepdims=True)
            floor = 1.4826 * np.median(np.abs(prof - centre), axis=2, keepdims=True)
            t2 = (float(threshold) * floor) ** 2
            p2 = prof * prof
            prof = np.where(p2 > t2, prof * (1.0 - t2 / np.maximum(p2, 1e-30)), 0.0)
        prof = np.ascontiguousarray(prof, dtype=np.float32)
    w = wy[None, :, None]
    return prof[:, lo] * (1 - w) + prof[:, hi] * w


def stripe_metrics(removed: np.ndarray, output: np.ndarray | None = None) -> dict[str, float]:
    """How stripe-like a removed component is (and how much stripe is left in an output).

    Computed on the 2D power spectra of the slices (mean removed per slice and column
    direction). ``stripe_likeness`` is the fraction of the removed power inside a narrow
    wedge around the k_x axis (power that varies along x but barely along y: vertical
    stripes); an isotropic (structure-like) component gives ``isotropic_baseline`` (~0.16).

    Returns
    -------
    dict
        ``removed_energy`` (mean square of the removed component), ``stripe_likeness``,
        ``isotropic_baseline``, ``nonstripe_energy`` (mean square of the removed component
        outside the wedge: structure removed) and, with ``output``, ``stripe_energy_left``
        (wedge power of the output in excess of the isotropic expectation).
    """
    r = np.asarray(removed, dtype=np.float64)
    if r.ndim == 2:
        r = r[None]
    nz, ny, nx = r.shape
    ky = np.abs(np.fft.fftfreq(ny))[:, None]
    kx = np.abs(np.fft.rfftfreq(nx))[None, :]
    wedge = (ky <= _WEDGE_TAN * kx) & (kx > 0)
    # rfft weights: double the columns that stand for two (all but k_x = 0 and Nyquist)
    wcol = np.full(kx.shape, 2.0)
    wcol[:, 0] = 1.0
    if nx % 2 == 0:
        wcol[:, -1] = 1.0
    norm = float(ny * nx) ** 2

    def power(a: np.ndarray) -> tuple[float, float]:
        tot = wed = 0.0
        for k in range(a.shape[0]):
            sl = a[k] - a[k].mean()
            p = np.abs(np.fft.rfft2(sl)) ** 2 * wcol
            tot += float(p.sum())
            wed += float(p[wedge].sum())
        return tot / norm / a.shape[0] * (ny * nx), wed / norm / a.shape[0] * (ny * nx)

    tot, wed = power(r)
    info = {
        "removed_energy": float(np.mean(r**2)),
        "stripe_likeness": wed / tot if tot > 0 else 0.0,
        "isotropic_baseline": _ISOTROPIC_WEDGE,
        "nonstripe_energy": (tot - wed) / (ny * nx),
    }
    if output is not None:
        o = np.asarray(output, dtype=np.float64)
        o = o[None] if o.ndim == 2 else o
        otot, owed = power(o)
        expected = (otot - owed) * _ISOTROPIC_WEDGE / (1.0 - _ISOTROPIC_WEDGE)
        info["stripe_energy_left"] = max(0.0, owed - expected) / (ny * nx)
    return info


def _run_slices(
    arr: np.ndarray,
    func: Callable[[np.ndarray], np.ndarray],
    workers: int | None,
    progress: Callable[[int], None] | None,
) -> np.ndarray:
    out = np.empty(arr.shape, dtype=np.float32)

    def one(k: int) -> None:
        out[k] = func(arr[k])
        if progress is not None:
            progress(1)

    with ThreadPoolExecutor(max(1, workers or os.cpu_count() or 1)) as ex:
        list(ex.map(one, range(arr.shape[0])))
    return out


def _sample_slices(nz: int, n: int = 8) -> np.ndarray:
    return np.unique(np.linspace(0, nz - 1, min(nz, n)).astype(int))


def remove_curtaining_report(
    stack: Any,
    *,
    wavelet: str = "db5",
    level: int | None = None,
    sigma: float = 2.0,
    method: Method = "robust",
    stripe_width_px: float = 4.0,
    length_px: int = 80,
    z_window: int = 21,
    threshold: float = 3.0,
    iterations: int = 4,
    edge_gamma: float = 0.5,
    direction: Literal["vertical", "horizontal"] = "vertical",
    log_transform: bool = False,
    keep_dtype: bool = False,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`remove_curtaining`, also returning a JSON-ready report.

    The report has ``method`` (the one applied), per-method :func:`stripe_metrics` on up
    to 8 sample slices (``metrics``: removed energy, stripe-likeness, non-stripe energy,
    stripe energy left, damage score; the applied method's values are repeated at the top
    level) and the parameters actually used (level, length).
    """
    arr = check_volume(stack, name="stack")
    if method not in ("robust", "wavelet-fft", "auto"):
        raise ValueError(f"method: expected 'robust', 'wavelet-fft' or 'auto', got {method!r}")
    if direction not in ("vertical", "horizontal"):
        raise ValueError(f"direction: expected 'vertical' or 'horizontal', got {direction!r}")
    if not stripe_width_px >= 1:
        raise ValueError(f"stripe_width_px: must be >= 1 px, got {stripe_width_px!r}")
    if int(length_px) < 3:
        raise ValueError(f"length_px: must be >= 3 rows, got {length_px!r}")
    if int(z_window) < 1:
        raise ValueError(f"z_window: must be >= 1 slice, got {z_window!r}")
    if not (math.isfinite(float(threshold)) and threshold >= 0):
        raise ValueError(f"threshold: must be >= 0, got {threshold!r}")
    if int(iterations) < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations!r}")
    if not (math.isfinite(float(edge_gamma)) and 0 <= edge_gamma <= 1):
        raise ValueError(f"edge_gamma: must be in 0..1, got {edge_gamma!r}")
    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"wavelet: {wavelet!r} is not a discrete PyWavelets wavelet")
    if not sigma > 0:
        raise ValueError(f"sigma: must be > 0, got {sigma!r}")
    in_dtype = arr.dtype
    work = arr.astype(np.float32, copy=False)
    if direction == "horizontal":
        work = np.swapaxes(work, 1, 2)
    nz, ny, nx = work.shape
    if min(ny, nx) < 8:
        raise ValueError(f"stack: slices of {ny}x{nx} px are too small to destripe (need >= 8)")
    offset = 0.0
    if log_transform:
        lo = float(work.min())
        offset = 1e-3 * (float(work.max()) - lo) + 1e-6 - lo
        work = np.log(work + np.float32(offset))
    length = int(min(ny, int(length_px)))
    pad = int(math.ceil(0.125 * ny))
    wmax = pywt.dwt_max_level(min(ny + 2 * pad, nx), pywt.Wavelet(wavelet).dec_len)
    lev = (
        auto_wavelet_level((ny + 2 * pad, nx), wavelet, stripe_width_px)
        if level is None
        else int(level)
    )
    if method in ("wavelet-fft", "auto") and not 1 <= lev <= wmax:
        raise ValueError(
            f"level: {level!r} is outside 1..{wmax}, the maximum useful level for {ny}x{nx} "
            f"px slices with wavelet {wavelet!r} (choose a lower level, a shorter wavelet or "
            "method='robust')"
        )

    def run_robust(sub: np.ndarray) -> np.ndarray:
        est = robust_stripe_estimate(
            sub,
            stripe_width_px=stripe_width_px,
            length_px=length,
            z_window=int(z_window),
            threshold=float(threshold),
            iterations=int(iterations),
            edge_gamma=float(edge_gamma),
        )
        return (sub - est).astype(np.float32)

    def run_wavelet(sub: np.ndarray, prog: Callable[[int], None] | None = None) -> np.ndarray:
        return _run_slices(
            sub, lambda sl: _wavelet_fft_slice(sl, wavelet, lev, float(sigma), 0.125), workers, prog
        )

    metrics: dict[str, dict[str, float]] = {}
    candidates = ["robust", "wavelet-fft"] if method == "auto" else [method]
    full: dict[str, np.ndarray] = {}
    sample = _sample_slices(nz)
    for name in candidates:
        if name == "robust":
            full[name] = run_robust(work)  # needs z neighbours: run on the whole stack
            out_s, in_s = full[name][sample], work[sample]
        else:
            in_s = work[sample]
            out_s = run_wavelet(in_s)
        m = stripe_metrics(in_s - out_s, out_s)
        m["damage_score"] = m["stripe_energy_left"] + m["nonstripe_energy"]
        metrics[name] = m
    chosen = min(candidates, key=lambda n: metrics[n]["damage_score"])
    out = full[chosen] if chosen in full else run_wavelet(work, progress)
    if log_transform:
        out = np.exp(out) - np.float32(offset)
    if direction == "horizontal":
        out = np.ascontiguousarray(np.swapaxes(out, 1, 2))
    info: dict[str, Any] = {
        "method": chosen,
        "method_requested": method,
        "direction": direction,
        "log_transform": bool(log_transform),
        "stripe_width_px": float(stripe_width_px),
        "length_px": length,
        "z_window": int(z_window),
        "threshold": float(threshold),
        "iterations": int(iterations),
        "edge_gamma": float(edge_gamma),
        "wavelet": wavelet,
        "level": lev,
        "max_level": wmax,
        "sigma": float(sigma),
        "metrics": metrics,
        "sample_slices": sample.tolist(),
        **dict(metrics[chosen].items()),
    }
    if keep_dtype and np.issubdtype(in_dtype, np.integer):
        ii = np.iinfo(in_dtype)
        out = np.clip(np.rint(out), ii.min, ii.max).astype(in_dtype)
    elif keep_dtype:
        out = out.astype(in_dtype)
    return out, info


def remove_curtaining(
    stack: Any,
    *,
    wavelet: str = "db5",
    level: int | None = None,
    sigma: float = 2.0,
    method: Method = "robust",
    stripe_width_px: float = 4.0,
    length_px: int = 80,
    z_window: int = 21,
    threshold: float = 3.0,
    iterations: int = 4,
    edge_gamma: float = 0.5,
    direction: Literal["vertical", "horizontal"] = "vertical",
    log_transform: bool = False,
    keep_dtype: bool = False,
    workers: int | None = None,
) -> np.ndarray:
    """Remove FIB curtaining stripes from every slice of a (z, y, x) stack.

    Parameters
    ----------
    stack
        Grayscale stack, any numeric dtype (NaN not allowed).
    wavelet, level, sigma
        Parameters of the ``wavelet-fft`` method: PyWavelets wavelet, decomposition level
        (None: from ``stripe_width_px`` and the slice size, capped at
        :func:`pywt.dwt_max_level`; a level above that raises ValueError) and width of the
        Fourier damping along the stripes (frequency-index units).
    method
        ``"robust"`` (default, for curtains that fade out), ``"wavelet-fft"`` (Muench et
        al. 2009) or ``"auto"`` (both on sample slices, keep the lower damage score).
    stripe_width_px
        Widest stripe to remove, in pixels (sets the robust method's horizontal median and
        the automatic wavelet level).
    length_px
        Robust method: rows per band over which a stripe is assumed constant (default 80);
        shorter follows fading better, longer rejects more structure and noise.
    z_window
        Robust method: slices over which the band profiles are median-combined (curtains
        persist from slice to slice; 1 = per slice; default 21).
    threshold
        Robust method: band-profile values below ``threshold`` robust standard deviations of
        the profile (its noise floor) are shrunk to zero (0 disables the shrinkage).
    iterations
        Robust method: passes; from the second on, the row baseline is taken of the image
        minus the current stripe estimate (undoes the stripes' pull on the baseline).
    edge_gamma
        Robust method: next to structure edges a one-sided half-width window replaces the
        centred one when its interquartile range is below ``edge_gamma`` times that of the
        centred window (0 disables; see :func:`robust_stripe_estimate`).
    direction
        ``"vertical"`` stripes (constant along y, default) or ``"horizontal"``.
    log_transform
        Destripe ``log(image)`` (multiplicative stripes) and transform back.
    keep_dtype
        Return the input dtype (integers rounded and clipped) instead of float32.
    workers
        Threads over slices (default: all cores).

    Returns
    -------
    ndarray
        Destriped stack, float32 (or the input dtype with ``keep_dtype``).
    """
    return remove_curtaining_report(
        stack,
        wavelet=wavelet,
        level=level,
        sigma=sigma,
        method=method,
        stripe_width_px=stripe_width_px,
        length_px=length_px,
        z_window=z_window,
        threshold=threshold,
        iterations=iterations,
        edge_gamma=edge_gamma,
        direction=direction,
        log_transform=log_transform,
        keep_dtype=keep_dtype,
        workers=workers,
    )[0]
