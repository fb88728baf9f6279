"""The robust curtaining estimate: edge-aware row baselines, column medians over bands of rows,
a median over neighbouring slices and a non-negative garrote (numba kernels).

The defaults of the robust method live here, once; :func:`microstructure.preprocess.
remove_curtaining` and the ``curtaining`` stage read them.

References
----------
Breiman, L. (1995). Better subset regression using the nonnegative garrote. Technometrics
37, 373-384. doi:10.1080/00401706.1995.10484371
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "DEFAULT_STRIPE_WIDTH_PX",
    "DEFAULT_LENGTH_PX",
    "DEFAULT_Z_WINDOW",
    "DEFAULT_THRESHOLD",
    "DEFAULT_ITERATIONS",
    "DEFAULT_EDGE_GAMMA",
    "robust_stripe_estimate",
]

#: widest stripe to remove, px (also sets the automatic wavelet level)
DEFAULT_STRIPE_WIDTH_PX = 4.0
#: rows over which a stripe is taken as constant
DEFAULT_LENGTH_PX = 80
#: slices over which the band profiles are median-combined
DEFAULT_Z_WINDOW = 21
#: noise-floor multiple of the garrote (0 disables)
DEFAULT_THRESHOLD = 3.0
#: passes (the baseline re-taken with the stripes removed)
DEFAULT_ITERATIONS = 4
#: one-sided baseline next to edges when its IQR is below this fraction (0 disables)
DEFAULT_EDGE_GAMMA = 0.5

#: row subsampling of the robust method's passes before the last one
_ROW_STEP = 2


def _band_starts(ny: int, length: int) -> np.ndarray:
    step = max(1, length // 2)
    if ny <= length:
        return np.array([0])
    starts = list(range(0, ny - length + 1, step))
    if starts[-1] != ny - length:
        starts.append(ny - length)
    return np.array(starts)


@numba.njit(cache=True)
def _reflect(i: int, n: int) -> int:  # pragma: no cover - numba
    """Index ``i`` reflected into ``0..n-1`` (mirror at the end pixels, as scipy's "mirror")."""
    if i < 0:
        return -i
    if i > n - 1:
        return 2 * (n - 1) - i
    return i


@numba.njit(cache=True)
def _window_stats(
    row: np.ndarray, half: int, med: np.ndarray, iqr: np.ndarray, buf: np.ndarray
) -> None:  # pragma: no cover - numba
    """Running median and interquartile range of width 2*half+1 along a 1D row.

    A sorted window slides along the row: one removal and one insertion per pixel. Beyond
    the ends the row is mirrored (``half`` must be below ``len(row)``): a pixel near an end
    sees the same structure on both sides as an inner pixel does, so the ends are not
    special (repeating the end pixel, as before, pulled the baseline towards it and hid
    curtains there; a window shifted inside the row leaks slopes at the ends).
    """
    nx = row.shape[0]
    width = 2 * half + 1
    q1 = width // 4
    q3 = (3 * width) // 4
    for k in range(width):
        v = row[_reflect(k - half, nx)]
        j = k
        while j > 0 and buf[j - 1] > v:
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v
    med[0] = buf[half]
    iqr[0] = buf[q3] - buf[q1]
    for x in range(1, nx):
        old = row[_reflect(x - half - 1, nx)]
        new = row[_reflect(x + half, nx)]
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


def _z_median(prof: np.ndarray, zw: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Median of the band profiles over ``zw`` slices and the noise floor of that median.

    The window is shifted inside the stack at its ends (slices ``[0, zw)`` for the first
    ``zw // 2`` slices, ``[nz - zw, nz)`` for the last ones): the boundary slices are not
    repeated into the window, so the first and last slices are not special. The floor
    (per slice and band) is the spread over the window of the single-slice profiles, a
    measure of noise and structure that does not grow with the number of curtains:
    ``1.2533 * 1.4826 * median_x(MAD_z) / sqrt(zw)`` (the standard error of a median);
    None with fewer than 5 slices in the window.
    """
    nz = prof.shape[0]
    h = zw // 2
    win = np.lib.stride_tricks.sliding_window_view(prof, zw, axis=0)  # (nz-zw+1, nb, nx, zw)
    med_w = np.median(win, axis=-1).astype(np.float32)
    start = np.clip(np.arange(nz) - h, 0, nz - zw)
    med = med_w[start]
    if zw < 5:
        return med, None
    mad_w = np.median(np.abs(win - med_w[..., None]), axis=-1)
    floor_w = 1.2533 * 1.4826 * np.median(mad_w, axis=-1, keepdims=True) / math.sqrt(zw)
    return med, floor_w[start].astype(np.float32)


def _garrote(prof: np.ndarray, threshold: float, zfloor: np.ndarray | None) -> np.ndarray:
    """Non-negative garrote of the band profiles at ``threshold`` times their noise floor.

    The floor is the robust spread across x of each band profile (1.4826 MAD; most columns
    hold no stripe on sparse curtains) or, when smaller, the spread over z of
    :func:`_z_median` (dense curtains inflate the spread across x and would be shrunk away).
    """
    centre = np.median(prof, axis=2, keepdims=True)
    floor = 1.4826 * np.median(np.abs(prof - centre), axis=2, keepdims=True)
    if zfloor is not None:
        floor = np.minimum(floor, zfloor)
    t2 = (threshold * floor) ** 2
    p2 = prof * prof
    return np.where(p2 > t2, prof * (1.0 - t2 / np.maximum(p2, 1e-30)), 0.0)


def robust_stripe_estimate(
    stack: np.ndarray,
    *,
    stripe_width_px: float = DEFAULT_STRIPE_WIDTH_PX,
    length_px: int = DEFAULT_LENGTH_PX,
    z_window: int = DEFAULT_Z_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
    iterations: int = DEFAULT_ITERATIONS,
    edge_gamma: float = DEFAULT_EDGE_GAMMA,
) -> np.ndarray:
    """Stripe field (vertical stripes) of a (z, y, x) float stack by the robust method.

    1. Horizontal high-pass: each row minus an *edge-aware* running median of the row
       (mirrored at its ends). The
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
       from slice to slice, structure changes); at the first and last slices the window is
       shifted inside the stack (:func:`_z_median`), so they are not special.
    4. Non-negative garrote ``p * max(0, 1 - (threshold * floor / p)^2)`` with ``floor``
       the robust spread (1.4826 MAD) across x of each band profile or, when smaller, the
       standard error of the z median from the spread over its window (dense curtains,
       most columns striped, inflate the spread across x) (``threshold = 0`` disables).
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
        zfloor = None
        if z_window > 1 and nz > 1:
            prof, zfloor = _z_median(prof, min(int(z_window), nz))
        if threshold > 0:
            prof = _garrote(prof, float(threshold), zfloor)
        prof = np.ascontiguousarray(prof, dtype=np.float32)
    w = wy[None, :, None]
    return prof[:, lo] * (1 - w) + prof[:, hi] * w
