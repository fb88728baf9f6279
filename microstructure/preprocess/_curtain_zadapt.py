"""Adaptive z window of the robust curtaining estimate (intersection of confidence intervals).

The robust method (:func:`._robust.robust_stripe_estimate`) combines the band profiles of
neighbouring slices by a running median over ``z_window`` slices. Curtains persist over many
slices while the noise is new in every slice, so a longer window lowers the noise of the
estimate, but a curtain that appears, stops or changes strength within the window is then
smeared over slices where it is not. Here the window is chosen per slice, band and column
among ``z_window`` and its multiples (:data:`Z_WINDOW_FACTORS`) by the intersection of
confidence intervals rule (ICI, Katkovnik 1999): the medians over the nested windows and their
standard errors (the spread of the single-slice profiles over the window, as in
:func:`._robust._z_median`) give intervals ``median +- ICI_GAMMA * error``; the longest window
whose interval still intersects those of all shorter ones is kept, with its error (the noise
floor of the garrote). Where a curtain changes, the longer medians leave the short window's
interval and the short window is kept.

Measured (``remove_curtaining`` defaults with and without ``z_adaptive``; residual = energy of
removed minus true curtain over the true curtain energy; ``benchmarks/bench_curtain_realistic.py
[--z-adaptive]``): realistic phantom 64 x 160 x 160, seeds 1-3, 0.70 / 0.43 / 0.72 against
0.80 / 0.52 / 0.83 (0.61 / 0.51 / 0.66 against 0.69 / 0.60 / 0.75 with the shine-through
rendering of 2026-12-08): the gain is noise no longer taken for curtain (``false`` 0.31 /
0.29 / 0.31 -> 0.23 / 0.21 / 0.19), the recovered share is unchanged; at 48 x 395 x 481 (seed
1; windows 21, 41, 48) 0.43 against 0.45 at the same CPU time. Default phantom 48 x 128 x 128,
seeds 2-6: 0.37 / 0.31 / 0.70 / 0.50 / 0.20 against 0.39 / 0.29 / 0.79 / 0.48 / 0.21. A fixed
63-slice window gives 0.59 / 0.50 / 0.62 on the realistic phantom (2026-12-08 rendering) but
0.35 / 0.33 / 0.67 / 0.57 / 0.28 on the default one (its curtains change within the window).
Not the default: on the nanopore volume (``tests/preprocess/test_curtaining_real.py``), whose
streaks change within a few planes, the column-streak energy left grows from 0.48 to 0.62 and
the wedge energy left from 0.42 to 0.61 (``ICI_GAMMA`` 2: 0.51 / 0.47; 1: 0.47 / 0.41, where the
phantom gain is gone: 0.68 / 0.56 / 0.75). The intervals tolerate a bias of ``ICI_GAMMA``
times the two errors before they drop a long window: a curtain that stops is smeared over the
slices around the stop (tested).

References
----------
Katkovnik, V. (1999). A new method for varying adaptive bandwidth selection. IEEE Trans.
Signal Process. 47, 2567-2571. doi:10.1109/78.782208
Breiman, L. (1995). Better subset regression using the nonnegative garrote. Technometrics
37, 373-384. doi:10.1080/00401706.1995.10484371
"""

from __future__ import annotations

import math

import numpy as np

from microstructure.preprocess import _robust as rb

__all__ = [
    "Z_WINDOW_FACTORS",
    "ICI_GAMMA",
    "z_windows",
    "adaptive_z_median",
]

#: the nested z windows are ``2 * f * (z_window // 2) + 1`` slices for these factors
Z_WINDOW_FACTORS = (1, 2, 3)
#: half-width of the ICI confidence intervals, standard errors of the window median
ICI_GAMMA = 4.0
#: window starts per block of the running medians (bounds their temporary memory)
_BLOCK = 32


def z_windows(z_window: int, nz: int) -> tuple[int, ...]:
    """The nested z windows (slices) for a stack of ``nz`` slices, shortest first.

    ``z_window`` and ``2 * f * (z_window // 2) + 1`` for the further factors of
    :data:`Z_WINDOW_FACTORS`, each at most ``nz``, without repeats; ``z_window`` alone below
    5 slices (too few for the spread that sets the intervals).
    """
    zw = max(1, min(int(z_window), int(nz)))
    out = [zw]
    if zw < 5:
        return (zw,)
    for f in Z_WINDOW_FACTORS[1:]:
        w = min(2 * int(f) * (int(z_window) // 2) + 1, int(nz))
        if w > out[-1]:
            out.append(w)
    return tuple(out)


def _window_median(prof: np.ndarray, zw: int) -> tuple[np.ndarray, np.ndarray]:
    """Running median over ``zw`` slices and its standard error, per window start.

    Returns ``(median, error)`` of shapes ``(nz - zw + 1, nb, nx)`` and
    ``(nz - zw + 1, nb, 1)``; the error is ``1.2533 * 1.4826 * median_x(MAD_z) / sqrt(zw)``
    (:func:`._robust._z_median`). Computed in blocks of window starts.
    """
    nz = prof.shape[0]
    nw = nz - zw + 1
    med = np.empty((nw,) + prof.shape[1:], dtype=np.float32)
    err = np.empty((nw, prof.shape[1], 1), dtype=np.float32)
    for a in range(0, nw, _BLOCK):
        b = min(nw, a + _BLOCK)
        win = np.lib.stride_tricks.sliding_window_view(prof[a : b + zw - 1], zw, axis=0)
        m = np.median(win, axis=-1)
        mad = np.median(np.abs(win - m[..., None]), axis=-1)
        med[a:b] = m
        err[a:b] = 1.2533 * 1.4826 * np.median(mad, axis=-1, keepdims=True) / math.sqrt(zw)
    return med, err


def adaptive_z_median(
    prof: np.ndarray, z_window: int, gamma: float = ICI_GAMMA
) -> tuple[np.ndarray, np.ndarray | None]:
    """Median of the band profiles over an adaptive z window, and its noise floor.

    Parameters
    ----------
    prof
        Single-slice band profiles, (nz, nb, nx) float32.
    z_window
        Shortest window (slices); the others follow from :func:`z_windows`.
    gamma
        Half-width of the confidence intervals in standard errors.

    Returns
    -------
    (ndarray, ndarray or None)
        The combined profiles (nz, nb, nx) and the standard error of the chosen window's
        median (same shape); like :func:`._robust._z_median` (whose result it is with one
        window or fewer than 5 slices in the shortest one). Every window is shifted inside
        the stack at its ends, so the first and last slices are not special.
    """
    nz = prof.shape[0]
    wins = z_windows(z_window, nz)
    if len(wins) == 1 or wins[0] < 5:
        return rb._z_median(prof, wins[0])
    sel = err_sel = lo = hi = ok = None
    for zw in wins:
        med_w, err_w = _window_median(prof, zw)
        start = np.clip(np.arange(nz) - zw // 2, 0, nz - zw)
        m, e = med_w[start], np.broadcast_to(err_w[start], (nz,) + prof.shape[1:])
        if sel is None:
            sel, err_sel = m.copy(), np.array(e)
            lo, hi = m - gamma * e, m + gamma * e
            ok = np.ones(m.shape, dtype=bool)
            continue
        lo = np.maximum(lo, m - gamma * e)
        hi = np.minimum(hi, m + gamma * e)
        ok &= lo <= hi
        sel = np.where(ok, m, sel)
        err_sel = np.where(ok, e, err_sel)
    return sel.astype(np.float32), err_sel.astype(np.float32)
