"""Fused numba kernels of the M-factor solver that save whole-volume buffers (internal).

Same layout and operator representations as :mod:`microstructure.transport._kernels` (padded
arrays, flow along axis 0, ``const`` mask + weights or ``var`` face conductances); the kernels
register in the same :data:`~microstructure.transport._kernels.PARALLEL` and
:data:`~microstructure.transport._kernels.SERIAL` sets.

* ``true_residual_*``: ``r = b - A x`` with the float64 iterate and float64 arithmetic, stored
  as float32. The right-hand side is implicit (the outlet value 1 times the conductance of the
  outlet half cell), so neither a float64 ``A x`` buffer nor a ``b`` array is needed.
* ``residual_restrict_*``: the multigrid residual ``b - A u`` of one row at a time, summed
  straight into the coarse right-hand side (no fine residual array).
* ``var_faces``: face conductances (harmonic means) from the uint8 class codes and a table of
  diffusivities, without whole-volume float temporaries.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from microstructure.transport._kernels import _both, _serial_only

__all__: list[str] = []


@_both
def true_residual_const(x, r, m, w0, w1, w2):  # pragma: no cover - numba
    """r = float32(b - A x) in float64 (x float64; b = outlet half-cell conductance)."""
    n0 = m.shape[0] - 2
    n1 = m.shape[1] - 2
    n2 = m.shape[2] - 2
    for i in prange(1, n0 + 1):
        top = 1.0 if i == n0 else 0.0
        for j in range(1, n1 + 1):
            xc, xn, xs, xu, xd = x[i, j], x[i, j + 1], x[i, j - 1], x[i - 1, j], x[i + 1, j]
            mc, mn, ms, mu, md = m[i, j], m[i, j + 1], m[i, j - 1], m[i - 1, j], m[i + 1, j]
            rc = r[i, j]
            for k in range(1, n2 + 1):
                c = xc[k]
                s = (
                    w0 * (np.float64(mu[k]) * (c - xu[k]) + np.float64(md[k]) * (c - xd[k]))
                    + w1 * (np.float64(ms[k]) * (c - xs[k]) + np.float64(mn[k]) * (c - xn[k]))
                    + w2
                    * (
                        np.float64(mc[k - 1]) * (c - xc[k - 1])
                        + np.float64(mc[k + 1]) * (c - xc[k + 1])
                    )
                )
                b = top * np.float64(w0) * np.float64(md[k])
                rc[k] = np.float32(b - s) if mc[k] == 1 else np.float32(0.0)


@_both
def true_residual_var(x, r, g0, g1, g2):  # pragma: no cover - numba
    """r = float32(b - A x) in float64 (flux form; b = g0 of the outlet faces)."""
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    for i in prange(1, n0 + 1):
        top = 1.0 if i == n0 else 0.0
        for j in range(1, n1 + 1):
            a0r, a1r, a2r, a3r, a45 = g0[i - 1, j], g0[i, j], g1[i, j - 1], g1[i, j], g2[i, j]
            xc, xn, xs, xu, xd = x[i, j], x[i, j + 1], x[i, j - 1], x[i - 1, j], x[i + 1, j]
            rc = r[i, j]
            for k in range(1, n2 + 1):
                c = xc[k]
                s = (
                    np.float64(a0r[k]) * (c - xu[k])
                    + np.float64(a1r[k]) * (c - xd[k])
                    + np.float64(a2r[k]) * (c - xs[k])
                    + np.float64(a3r[k]) * (c - xn[k])
                    + np.float64(a45[k - 1]) * (c - xc[k - 1])
                    + np.float64(a45[k]) * (c - xc[k + 1])
                )
                rc[k] = np.float32(top * np.float64(a1r[k]) - s)


@_both
def residual_restrict_const(u, b, rc, m, w0, w1, w2, f0, f1, f2):  # pragma: no cover - numba
    """rc = R (b - A u): the residual summed over (f0, f1, f2) blocks (f_axis in {1, 2})."""
    n0 = m.shape[0] - 2
    n1 = m.shape[1] - 2
    n2 = m.shape[2] - 2
    m0 = rc.shape[0] - 2
    m2 = rc.shape[2] - 2
    zero = np.float32(0.0)
    for ci in prange(1, m0 + 1):
        buf = np.zeros(n2 + 2, np.float32)
        rc[ci] = 0.0
        for i in range(f0 * (ci - 1) + 1, min(f0 * ci, n0) + 1):
            for j in range(1, n1 + 1):
                uc, un, us, uu, ud = u[i, j], u[i, j + 1], u[i, j - 1], u[i - 1, j], u[i + 1, j]
                mc, mn, ms, mu, md = m[i, j], m[i, j + 1], m[i, j - 1], m[i - 1, j], m[i + 1, j]
                bc = b[i, j]
                for k in range(1, n2 + 1):
                    d = (
                        w0 * np.float32(mu[k] + md[k])
                        + w1 * np.float32(ms[k] + mn[k])
                        + w2 * np.float32(mc[k - 1] + mc[k + 1])
                    )
                    s = (
                        bc[k]
                        - d * uc[k]
                        + w0 * (uu[k] + ud[k])
                        + w1 * (us[k] + un[k])
                        + w2 * (uc[k - 1] + uc[k + 1])
                    )
                    buf[k] = s if mc[k] == 1 else zero
                crow = rc[ci, (j - 1) // f1 + 1]
                if f2 == 2:
                    for ck in range(1, m2 + 1):
                        crow[ck] += buf[2 * ck - 1] + buf[2 * ck]
                else:
                    for k in range(1, n2 + 1):
                        crow[k] += buf[k]


@_both
def residual_restrict_var(u, b, rc, g0, g1, g2, f0, f1, f2):  # pragma: no cover - numba
    """rc = R (b - A u) for the face-conductance operator."""
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    m0 = rc.shape[0] - 2
    m2 = rc.shape[2] - 2
    for ci in prange(1, m0 + 1):
        buf = np.zeros(n2 + 2, np.float32)
        rc[ci] = 0.0
        for i in range(f0 * (ci - 1) + 1, min(f0 * ci, n0) + 1):
            for j in range(1, n1 + 1):
                a0r, a1r, a2r, a3r, a45 = g0[i - 1, j], g0[i, j], g1[i, j - 1], g1[i, j], g2[i, j]
                uc, un, us, uu, ud = u[i, j], u[i, j + 1], u[i, j - 1], u[i - 1, j], u[i + 1, j]
                bc = b[i, j]
                for k in range(1, n2 + 1):
                    a0 = a0r[k]
                    a1 = a1r[k]
                    a2 = a2r[k]
                    a3 = a3r[k]
                    a4 = a45[k - 1]
                    a5 = a45[k]
                    d = a0 + a1 + a2 + a3 + a4 + a5
                    buf[k] = (
                        bc[k]
                        - d * uc[k]
                        + a0 * uu[k]
                        + a1 * ud[k]
                        + a2 * us[k]
                        + a3 * un[k]
                        + a4 * uc[k - 1]
                        + a5 * uc[k + 1]
                    )
                crow = rc[ci, (j - 1) // f1 + 1]
                if f2 == 2:
                    for ck in range(1, m2 + 1):
                        crow[ck] += buf[2 * ck - 1] + buf[2 * ck]
                else:
                    for k in range(1, n2 + 1):
                        crow[k] += buf[k]


@_serial_only
def var_faces(code, dv, w0, w1, w2):  # pragma: no cover - numba
    """Padded float32 face conductances g0, g1, g2 of the class codes (harmonic means of the
    diffusivities ``dv[code]``, times the axis weight; the Dirichlet faces of axis 0 get the
    half-cell conductance ``2 d``)."""
    n0, n1, n2 = code.shape
    g0 = np.zeros((n0 + 2, n1 + 2, n2 + 2), np.float32)
    g1 = np.zeros((n0 + 2, n1 + 2, n2 + 2), np.float32)
    g2 = np.zeros((n0 + 2, n1 + 2, n2 + 2), np.float32)
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                a = dv[code[i, j, k]]
                if i == 0:
                    g0[0, j + 1, k + 1] = np.float32(2.0 * a * w0)
                if i == n0 - 1:
                    g0[n0, j + 1, k + 1] = np.float32(2.0 * a * w0)
                if a <= 0.0:
                    continue
                if i + 1 < n0:
                    b = dv[code[i + 1, j, k]]
                    if b > 0.0:
                        g0[i + 1, j + 1, k + 1] = np.float32(2.0 * a * b / (a + b) * w0)
                if j + 1 < n1:
                    b = dv[code[i, j + 1, k]]
                    if b > 0.0:
                        g1[i + 1, j + 1, k + 1] = np.float32(2.0 * a * b / (a + b) * w1)
                if k + 1 < n2:
                    b = dv[code[i, j, k + 1]]
                    if b > 0.0:
                        g2[i + 1, j + 1, k + 1] = np.float32(2.0 * a * b / (a + b) * w2)
    return g0, g1, g2
