"""The ``fade`` curtaining model: per column a curtain that starts at a row and fades down,
fitted with structure edges masked and the noise level measured (numba kernels).

Model (in the row-sheared frame where the curtains are columns, :mod:`._curtain_angle`):
``C(z, y, x) = sum_k a_k(z, x) phi(y; y0_k, L_k)`` with at most ``FADE_ATOMS`` terms per
column, ``phi = exp(-(y - y0) / L)`` for ``y >= y0`` (0 above; ``L = inf``: a curtain that
does not fade). The start row and fade length of a column are chosen on a long z window
(``FADE_SHAPE_FACTOR * z_window`` slices: the shape of a curtain persists over many
slices), its amplitude on ``z_window`` slices (smooth in z), by weighted least squares.

1. Row high-pass: the image minus the edge-aware running median of each row of the image
   minus the current curtain estimate (the baseline of the robust method,
   :func:`._robust.robust_stripe_estimate`, step 1).
2. Structure mask: pixels where the high-passed residual (minus the current estimate),
   smoothed along y (sigma 2 px) and x (0.7 px), exceeds ``FADE_MASK_K`` times its noise
   level are given weight 0, dilated by one pixel: particle edges and rims, pore backs.
   Curtains (narrow, faint) stay below the threshold, structure residues (0.1-0.3) do not.
3. Noise: the spread of the difference of neighbouring slices (curtains persist from
   slice to slice, noise does not), of the smoothed residual (for the mask) and of 16-row
   block means (the variance of a row sample including the noise's correlation along y).
   Measured once on pairs of neighbouring sample slices, so every slab of the chunked path
   uses the same numbers.
4. Per column and slice, matching pursuit over the start rows and fade lengths on the long
   window (backward recursions give every start row of one fade length in one pass); an
   atom is kept when its z-score exceeds ``FADE_SELECT_Z``. The amplitudes of the kept
   atoms are refitted jointly on the short window and shrunk by a non-negative garrote at
   ``FADE_GARROTE_SCALE * threshold`` standard errors.
5. ``iterations`` passes: the baseline of step 1 is re-taken with the estimate removed.

The z windows are shifted inside the stack at its ends (the end slices are not special);
the window sums are exact (fixed-point integers), so the chunked path is bit-identical.

References
----------
Mallat, S. G. and Zhang, Z. (1993). Matching pursuits with time-frequency dictionaries.
IEEE Trans. Signal Process. 41, 3397-3415. doi:10.1109/78.258082
Breiman, L. (1995). Better subset regression using the nonnegative garrote. Technometrics
37, 373-384. doi:10.1080/00401706.1995.10484371
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import ndimage

from microstructure.preprocess._robust import _edge_aware_baseline_row, robust_stripe_estimate

__all__ = [
    "FADE_SHAPE_FACTOR",
    "FADE_SELECT_Z",
    "FADE_MASK_K",
    "FADE_ATOMS",
    "FADE_GARROTE_SCALE",
    "FADE_LENGTHS",
    "fade_shape_window",
    "fade_noise_pairs",
    "fade_noise_levels",
    "fade_stripe_estimate",
]

#: the start row and fade of a column are chosen on this many times ``z_window`` slices
FADE_SHAPE_FACTOR = 3
#: z-score (on the long window) an atom needs to be kept
FADE_SELECT_Z = 5.0
#: structure mask: smoothed residual above this many noise standard deviations
FADE_MASK_K = 3.0
#: the amplitudes' garrote is at this fraction of ``threshold`` standard errors: they are
#: least-squares fits over a whole fade and window (the robust method garrotes band
#: medians against their spread across x); measured on the realistic phantom seeds 1-3,
#: threshold 3: x 1 leaves 0.75 / 0.47 / 0.60 of the curtain energy, x 2/3 0.68 / 0.41 / 0.53
FADE_GARROTE_SCALE = 2.0 / 3.0
#: atoms (curtains) per column at most
FADE_ATOMS = 2
#: fade lengths as fractions of the slice height (0: no fade)
FADE_LENGTHS = (0.1, 0.2, 0.4, 0.8, 1.6, 0.0)
#: shortest atom, rows (structure residues are short, curtains long)
_MIN_ROWS = 12
#: rows per block of the row-sample noise variance
_BLOCK = 16
#: safety factor on that variance (overlapping windows, x high-pass), measured 1.2-1.5
_VAR_FACTOR = 1.3
#: fixed-point scale of the exact z-window sums
_FIX = float(2**24)


def fade_shape_window(z_window: int) -> int:
    """Slices of the long window on which start rows and fades are chosen."""
    return FADE_SHAPE_FACTOR * int(z_window)


@numba.njit(parallel=True, cache=True)
def _baselines(
    arr: np.ndarray, half: int, half_s: int, gamma: float
) -> np.ndarray:  # pragma: no cover - numba
    """Edge-aware running-median baseline of every row of a (z, y, x) float32 stack."""
    nz, ny, nx = arr.shape
    out = np.empty_like(arr)
    width = 2 * max(half, half_s) + 1
    for z in numba.prange(nz):
        row = np.empty(nx, np.float32)
        base = np.empty(nx, np.float32)
        m_l = np.empty(nx, np.float32)
        q_l = np.empty(nx, np.float32)
        m_s = np.empty(nx, np.float32)
        q_s = np.empty(nx, np.float32)
        buf = np.empty(width, np.float32)
        for y in range(ny):
            for x in range(nx):
                row[x] = arr[z, y, x]
            _edge_aware_baseline_row(row, half, half_s, gamma, base, m_l, q_l, m_s, q_s, buf)
            for x in range(nx):
                out[z, y, x] = base[x]
    return out


@numba.njit(parallel=True, cache=True)
def _select(
    psum: np.ndarray,
    wsum: np.ndarray,
    rs: np.ndarray,
    var_row: float,
    z_min: float,
    n_atoms: int,
    min_rows: int,
) -> np.ndarray:  # pragma: no cover - numba
    """Matching pursuit per (z, x): the (start row, fade index) of up to ``n_atoms`` atoms
    whose z-score on the weighted sums ``psum`` (weights ``wsum``) exceeds ``z_min``."""
    nz, ny, nx = psum.shape
    nl = rs.shape[0]
    sel = -np.ones((nz, nx, n_atoms, 2), np.int64)
    for z in numba.prange(nz):
        w = np.empty(ny)
        res = np.empty(ny)
        for x in range(nx):
            for y in range(ny):
                w[y] = wsum[z, y, x]
                res[y] = psum[z, y, x]
            for k in range(n_atoms):
                best = 0.0
                by = -1
                bl = -1
                bamp = 0.0
                for li in range(nl):
                    r = rs[li]
                    cc = 0.0
                    nn = 0.0
                    for y in range(ny - 1, -1, -1):
                        cc = res[y] + r * cc
                        nn = w[y] + r * r * nn
                        if ny - y < min_rows or nn <= 0.0:
                            continue
                        sc = cc * cc / nn
                        if sc > best:
                            best = sc
                            by = y
                            bl = li
                            bamp = cc / nn
                if by < 0 or best / var_row <= z_min * z_min:
                    break
                sel[z, x, k, 0] = by
                sel[z, x, k, 1] = bl
                r = rs[bl]
                f = 1.0
                for y in range(by, ny):
                    res[y] -= bamp * f * w[y]
                    f *= r
    return sel


@numba.njit(parallel=True, cache=True)
def _amplitudes(
    psum: np.ndarray,
    wsum: np.ndarray,
    rs: np.ndarray,
    sel: np.ndarray,
    var_row: float,
    garrote: float,
) -> np.ndarray:  # pragma: no cover - numba
    """Curtain field of the selected atoms, amplitudes refitted jointly by weighted least
    squares on ``psum``/``wsum`` and shrunk by a garrote at ``garrote`` standard errors."""
    nz, ny, nx = psum.shape
    na = sel.shape[2]
    out = np.zeros((nz, ny, nx), np.float32)
    t2 = garrote * garrote
    for z in numba.prange(nz):
        phi = np.zeros((na, ny))
        for x in range(nx):
            k = 0
            while k < na and sel[z, x, k, 0] >= 0:
                k += 1
            if k == 0:
                continue
            for a in range(k):
                y0 = sel[z, x, a, 0]
                r = rs[sel[z, x, a, 1]]
                f = 1.0
                for y in range(ny):
                    if y < y0:
                        phi[a, y] = 0.0
                    else:
                        phi[a, y] = f
                        f *= r
            g = np.zeros((k, k))
            b = np.zeros(k)
            for y in range(ny):
                wy = wsum[z, y, x]
                py = psum[z, y, x]
                for a in range(k):
                    b[a] += phi[a, y] * py
                    for c in range(k):
                        g[a, c] += wy * phi[a, y] * phi[c, y]
            for a in range(k):
                g[a, a] += 1e-9
            amp = np.linalg.solve(g, b)
            ginv = np.linalg.inv(g)
            for a in range(k):
                z2 = amp[a] * amp[a] / (var_row * max(ginv[a, a], 1e-30))
                s = 1.0 - t2 / z2 if z2 > t2 else 0.0
                if s == 0.0:
                    continue
                for y in range(ny):
                    out[z, y, x] += np.float32(s * amp[a] * phi[a, y])
    return out


@numba.njit(parallel=True, cache=True)
def _zsums_kernel(
    a: np.ndarray, starts: np.ndarray, widths: np.ndarray, fix: float
) -> np.ndarray:  # pragma: no cover - numba
    """Exact window sums along z (see :func:`_window_sums`), one row of pixels per task."""
    nz, ny, nx = a.shape
    nw = widths.shape[0]
    out = np.empty((nw, nz, ny, nx), dtype=np.float64)
    for y in numba.prange(ny):
        c = np.zeros((nz + 1, nx), dtype=np.int64)
        for z in range(nz):
            for x in range(nx):
                c[z + 1, x] = c[z, x] + np.int64(np.rint(np.float64(a[z, y, x]) * fix))
        for k in range(nw):
            zw = widths[k]
            for z in range(nz):
                s0 = starts[k, z]
                for x in range(nx):
                    out[k, z, y, x] = (c[s0 + zw, x] - c[s0, x]) / fix
    return out


def _window_sums(a: np.ndarray, *widths: int) -> np.ndarray:
    """Sums over ``zw`` slices around each slice, for each ``zw`` of ``widths`` (window
    shifted inside the stack at its ends), exact: fixed-point int64 cumulative sums along z
    (one pass for all the widths), so a slab gives the same numbers as the whole stack."""
    arr = np.ascontiguousarray(a, dtype=np.float32)
    nz = arr.shape[0]
    zws = np.array([min(int(w), nz) for w in widths], dtype=np.int64)
    starts = np.stack([np.clip(np.arange(nz) - zw // 2, 0, nz - zw) for zw in zws])
    return _zsums_kernel(arr, starts.astype(np.int64), zws, _FIX)


def _smooth(r: np.ndarray) -> np.ndarray:
    """The residual smoothed in-plane for the structure mask (sigma 2 px in y, 0.7 in x)."""
    s = ndimage.gaussian_filter1d(r, 2.0, axis=1, mode="reflect")
    return ndimage.gaussian_filter1d(s, 0.7, axis=2, mode="reflect")


def _halves(stripe_width_px: float, nx: int) -> tuple[int, int]:
    half = max(1, int(math.ceil(2.0 * stripe_width_px)))
    half = min(half, max(1, (nx - 1) // 2))
    return half, max(1, half // 2)


def fade_noise_pairs(nz: int) -> np.ndarray:
    """Indices of the (up to 8) pairs of neighbouring slices the noise is measured on."""
    if nz < 2:
        return np.zeros(0, dtype=int)
    first = np.unique(np.linspace(0, nz - 2, min(nz - 1, 8)).astype(int))
    return np.stack([first, first + 1], axis=1).ravel()


def fade_noise_levels(
    pairs: np.ndarray, stripe_width_px: float, edge_gamma: float
) -> tuple[float, float]:
    """(noise of the smoothed high-passed residual, variance of one row sample) from the
    row-sheared slice pairs of :func:`fade_noise_pairs` ((2n, y, x); curtains persist from
    slice to slice and cancel in the differences). (0, 0) without pairs."""
    arr = np.ascontiguousarray(pairs, dtype=np.float32)
    if arr.shape[0] < 2:
        return 0.0, 0.0
    half, half_s = _halves(stripe_width_px, arr.shape[2])
    h = arr - _baselines(arr, half, half_s, float(edge_gamma))
    hs = _smooth(h)
    d = (hs[1::2] - hs[0::2]) / math.sqrt(2.0)
    sig_s = 1.4826 * float(np.median(np.abs(d - np.median(d))))
    ny = arr.shape[1]
    block = min(_BLOCK, ny)
    nb = ny // block
    bm = h[:, : nb * block].reshape(arr.shape[0], nb, block, -1).mean(axis=2)
    db = (bm[1::2] - bm[0::2]) / math.sqrt(2.0)
    sb = 1.4826 * float(np.median(np.abs(db - np.median(db))))
    return sig_s, _VAR_FACTOR * block * sb * sb


def fade_stripe_estimate(
    stack: np.ndarray,
    *,
    noise: tuple[float, float],
    stripe_width_px: float,
    z_window: int,
    threshold: float,
    iterations: int,
    edge_gamma: float,
) -> np.ndarray:
    """Curtain field of a (z, y, x) stack of vertical curtains by the ``fade`` model.

    Parameters
    ----------
    stack
        Row-sheared stack (curtains are columns), float.
    noise
        :func:`fade_noise_levels` of the stack (measured once, shared by every slab).
    stripe_width_px
        Widest curtain, px (the baseline's running median is ``4 * width + 1`` px wide).
    z_window
        Slices of the amplitude window (the shape window is :func:`fade_shape_window`).
    threshold
        Garrote of the amplitudes at ``FADE_GARROTE_SCALE * threshold`` standard errors
        (0: none); also the garrote of the robust first estimate.
    iterations
        Passes (the baseline re-taken with the estimate removed).
    edge_gamma
        One-sided baseline next to edges (see the robust method; 0 disables).

    Returns
    -------
    ndarray
        float32 curtain field, same shape.
    """
    arr = np.ascontiguousarray(stack, dtype=np.float32)
    nz, ny, nx = arr.shape
    sig_s, var_row = float(noise[0]), float(noise[1])
    if sig_s <= 0 or var_row <= 0:
        return np.zeros_like(arr)
    # start from one pass of the robust estimate (band medians, insensitive to structure):
    # strong curtains are then not masked as structure in the first pass
    est = robust_stripe_estimate(
        arr,
        stripe_width_px=stripe_width_px,
        z_window=int(z_window),
        threshold=float(threshold),
        iterations=1,
        edge_gamma=float(edge_gamma),
    )
    half, half_s = _halves(stripe_width_px, nx)
    rs = np.array([math.exp(-1.0 / (f * ny)) if f > 0 else 1.0 for f in FADE_LENGTHS])
    min_rows = int(min(_MIN_ROWS, max(3, ny // 4)))
    zw = min(int(z_window), nz)
    zws = min(fade_shape_window(z_window), nz)
    dil = np.ones((1, 3, 3), dtype=bool)
    for _ in range(max(1, int(iterations))):
        h = arr - _baselines(np.ascontiguousarray(arr - est), half, half_s, float(edge_gamma))
        mask = np.abs(_smooth(h - est)) > FADE_MASK_K * sig_s
        w = (~ndimage.binary_dilation(mask, dil)).astype(np.float32)
        wh = w * h
        wh_long, wh_short = _window_sums(wh, zws, zw)
        w_long, w_short = _window_sums(w, zws, zw)
        sel = _select(
            wh_long,
            w_long,
            rs,
            var_row,
            FADE_SELECT_Z,
            FADE_ATOMS,
            min_rows,
        )
        del wh_long, w_long
        est = _amplitudes(
            wh_short,
            w_short,
            rs,
            sel,
            var_row,
            FADE_GARROTE_SCALE * float(threshold),
        )
    return est
