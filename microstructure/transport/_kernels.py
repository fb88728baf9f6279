"""Numba kernels of the finite-volume diffusion solver (internal).

Layout
------
Every array is C-ordered and *padded* by one ghost layer on each side: interior cells are
``1..n`` along each axis, shape ``(n0 + 2, n1 + 2, n2 + 2)``. The flow is along axis 0; the
Dirichlet planes are the ghost planes ``i = 0`` (value 0) and ``i = n0 + 1`` (value 1); the
other ghost planes carry no flux. Unknowns are zero on inactive cells and on every ghost cell,
which lets the stencils run without masks on the neighbours (branch-free, SIMD-friendly).

Two operator representations:

* ``const`` (one conducting phase): a uint8 mask ``m`` (1 active, 0 inactive, 2 on the
  Dirichlet ghost planes) and three scalar weights ``w``; the conductance between neighbours
  ``p``, ``q`` along axis ``a`` is ``w_a m_p m_q`` (a Dirichlet face gets ``2 w_0``: the half
  cell). One byte per voxel describes the operator.
* ``var``: float32 face conductances ``g0[i, j, k]`` between ``(i, j, k)`` and ``(i + 1, j, k)``
  (``g1``, ``g2`` likewise), ghost faces included; the diagonal is their sum.

Red-black Gauss-Seidel half sweeps compute a whole row into a buffer (vectorised) and then
store only the cells of the active colour. The residual kernels (fused with the restriction,
and the float64 true residual) are in :mod:`microstructure.transport._kernels_fused`.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from numba import njit, prange

_OPTS = dict(cache=True, fastmath=True, nogil=True)


class KernelSet:
    """One compiled variant of every kernel (attributes named like the module functions)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<KernelSet {self.name}>"


#: Multi-threaded kernels (``prange`` runs on numba's thread pool).
PARALLEL = KernelSet("parallel")
#: The same source compiled without ``parallel``: for small grids, where a thread barrier per
#: call costs more than the work (on a loaded machine a barrier waits for a time slice of
#: the descheduled thread), and because serial kernels compile several times faster.
SERIAL = KernelSet("serial")


def _both(fn: Any) -> Any:
    """Compile ``fn`` twice (parallel and serial, separate cache entries); return parallel."""
    par = njit(parallel=True, **_OPTS)(fn)
    ser_fn = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__
    )
    ser_fn.__qualname__ = fn.__qualname__ + "_serial"
    ser_fn.__doc__ = fn.__doc__
    ser_fn.__module__ = fn.__module__
    setattr(PARALLEL, fn.__name__, par)
    setattr(SERIAL, fn.__name__, njit(**_OPTS)(ser_fn))
    return par


def _serial_only(fn: Any) -> Any:
    """One-off set-up kernels: serial in both sets (they also compile faster)."""
    ser = njit(**_OPTS)(fn)
    setattr(PARALLEL, fn.__name__, ser)
    setattr(SERIAL, fn.__name__, ser)
    return ser


# ------------------------------------------------------------------------------------------
# const operator (binary mask). Rows are taken as 1D views so that LLVM vectorises the k loops.
# ------------------------------------------------------------------------------------------
@_both
def sweep_const(u, b, m, w0, w1, w2, color, from_zero):  # pragma: no cover - numba
    """Red-black GS half sweep on colour ``color``; ``from_zero``: u is taken as 0 first."""
    n0 = m.shape[0] - 2
    n1 = m.shape[1] - 2
    n2 = m.shape[2] - 2
    zero = np.float32(0.0)
    for i in prange(1, n0 + 1):
        buf = np.empty(n2 + 2, np.float32)
        for j in range(1, n1 + 1):
            uc = u[i, j]
            mc, mn, ms, mu, md = m[i, j], m[i, j + 1], m[i, j - 1], m[i - 1, j], m[i + 1, j]
            bc = b[i, j]
            if from_zero:
                for k in range(1, n2 + 1):
                    mp = mc[k]
                    d = (
                        w0 * np.float32(mu[k] + md[k])
                        + w1 * np.float32(ms[k] + mn[k])
                        + w2 * np.float32(mc[k - 1] + mc[k + 1])
                    )
                    d = d + np.float32(mp == 0)
                    buf[k] = bc[k] / d if mp == 1 else zero
                for k in range(1, n2 + 1):
                    uc[k] = buf[k] if ((i + j + k) & 1) == color else zero
            else:
                un, us, uu, ud = u[i, j + 1], u[i, j - 1], u[i - 1, j], u[i + 1, j]
                for k in range(1, n2 + 1):
                    mp = mc[k]
                    d = (
                        w0 * np.float32(mu[k] + md[k])
                        + w1 * np.float32(ms[k] + mn[k])
                        + w2 * np.float32(mc[k - 1] + mc[k + 1])
                    )
                    d = d + np.float32(mp == 0)
                    s = (
                        bc[k]
                        + w0 * (uu[k] + ud[k])
                        + w1 * (us[k] + un[k])
                        + w2 * (uc[k - 1] + uc[k + 1])
                    )
                    buf[k] = s / d if mp == 1 else zero
                start = 1 + ((i + j + 1 + color) & 1)
                for k in range(start, n2 + 1, 2):
                    uc[k] = buf[k]


@_both
def matvec_const(p, ap, m, w0, w1, w2):  # pragma: no cover - numba
    """ap = A p; returns p . ap (float64)."""
    n0 = m.shape[0] - 2
    n1 = m.shape[1] - 2
    n2 = m.shape[2] - 2
    zero = np.float32(0.0)
    total = 0.0
    for i in prange(1, n0 + 1):
        acc = 0.0
        for j in range(1, n1 + 1):
            pc, pn, ps, pu, pd = p[i, j], p[i, j + 1], p[i, j - 1], p[i - 1, j], p[i + 1, j]
            mc, mn, ms, mu, md = m[i, j], m[i, j + 1], m[i, j - 1], m[i - 1, j], m[i + 1, j]
            ac = ap[i, j]
            racc = np.float32(0.0)
            for k in range(1, n2 + 1):
                c = pc[k]
                # flux form (see matvec_var); a Dirichlet ghost has m = 2 and p = 0
                s = (
                    w0 * (np.float32(mu[k]) * (c - pu[k]) + np.float32(md[k]) * (c - pd[k]))
                    + w1 * (np.float32(ms[k]) * (c - ps[k]) + np.float32(mn[k]) * (c - pn[k]))
                    + w2
                    * (
                        np.float32(mc[k - 1]) * (c - pc[k - 1])
                        + np.float32(mc[k + 1]) * (c - pc[k + 1])
                    )
                )
                ac[k] = s if mc[k] == 1 else zero
            for k in range(1, n2 + 1):
                racc += ac[k] * pc[k]
            acc += np.float64(racc)
        total += acc
    return total


@_serial_only
def coarsen_const(m, w0, w1, w2, f0, f1, f2):  # pragma: no cover - numba
    """Face conductances of the (f0, f1, f2)-block coarse level (block sums / f_axis)."""
    n0 = m.shape[0] - 2
    n1 = m.shape[1] - 2
    n2 = m.shape[2] - 2
    m0 = (n0 + f0 - 1) // f0
    m1 = (n1 + f1 - 1) // f1
    m2 = (n2 + f2 - 1) // f2
    g0 = np.zeros((m0 + 2, m1 + 2, m2 + 2), np.float32)
    g1 = np.zeros((m0 + 2, m1 + 2, m2 + 2), np.float32)
    g2 = np.zeros((m0 + 2, m1 + 2, m2 + 2), np.float32)
    for ci in prange(0, m0 + 1):
        for cj in range(0, m1 + 1):
            for ck in range(0, m2 + 1):
                i_lo = f0 * (ci - 1) + 1
                i_hi = min(f0 * ci, n0)
                j_lo = f1 * (cj - 1) + 1
                j_hi = min(f1 * cj, n1)
                k_lo = f2 * (ck - 1) + 1
                k_hi = min(f2 * ck, n2)
                if cj >= 1 and ck >= 1:
                    fi = min(f0 * ci, n0)
                    a = 0
                    for j in range(j_lo, j_hi + 1):
                        for k in range(k_lo, k_hi + 1):
                            a += np.int64(m[fi, j, k]) * np.int64(m[fi + 1, j, k])
                    g0[ci, cj, ck] = w0 * a / f0
                if ci >= 1 and ck >= 1:
                    fj = min(f1 * cj, n1)
                    a = 0
                    for i in range(i_lo, i_hi + 1):
                        for k in range(k_lo, k_hi + 1):
                            a += np.int64(m[i, fj, k]) * np.int64(m[i, fj + 1, k])
                    g1[ci, cj, ck] = w1 * a / f1
                if ci >= 1 and cj >= 1:
                    fk = min(f2 * ck, n2)
                    a = 0
                    for i in range(i_lo, i_hi + 1):
                        for j in range(j_lo, j_hi + 1):
                            a += np.int64(m[i, j, fk]) * np.int64(m[i, j, fk + 1])
                    g2[ci, cj, ck] = w2 * a / f2
    return g0, g1, g2


@_both
def flux_const(x, m, w0, out):  # pragma: no cover - numba
    """Flux towards low i through the n0 + 1 planes (ghost values 0 at the inlet, 1 outlet)."""
    n0 = m.shape[0] - 2
    n1 = m.shape[1] - 2
    n2 = m.shape[2] - 2
    for i in prange(0, n0 + 1):
        acc = 0.0
        top = 1.0 if i == n0 else 0.0
        keep = 0.0 if i == n0 else 1.0
        for j in range(1, n1 + 1):
            xa, xb = x[i, j], x[i + 1, j]
            ma, mb = m[i, j], m[i + 1, j]
            for k in range(1, n2 + 1):
                g = np.float64(ma[k] * mb[k])
                acc += g * (top + keep * xb[k] - xa[k])
        out[i] = acc * w0


# ------------------------------------------------------------------------------------------
# var operator (explicit face conductances)
# ------------------------------------------------------------------------------------------
@_both
def sweep_var(u, b, g0, g1, g2, color, from_zero):  # pragma: no cover - numba
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    zero = np.float32(0.0)
    for i in prange(1, n0 + 1):
        buf = np.empty(n2 + 2, np.float32)
        for j in range(1, n1 + 1):
            a0r, a1r, a2r, a3r, a45 = g0[i - 1, j], g0[i, j], g1[i, j - 1], g1[i, j], g2[i, j]
            uc = u[i, j]
            bc = b[i, j]
            if from_zero:
                for k in range(1, n2 + 1):
                    d = a0r[k] + a1r[k] + a2r[k] + a3r[k] + a45[k - 1] + a45[k]
                    buf[k] = bc[k] / (d + np.float32(d == 0))
                for k in range(1, n2 + 1):
                    uc[k] = buf[k] if ((i + j + k) & 1) == color else zero
            else:
                un, us, uu, ud = u[i, j + 1], u[i, j - 1], u[i - 1, j], u[i + 1, j]
                for k in range(1, n2 + 1):
                    a0 = a0r[k]
                    a1 = a1r[k]
                    a2 = a2r[k]
                    a3 = a3r[k]
                    a4 = a45[k - 1]
                    a5 = a45[k]
                    d = a0 + a1 + a2 + a3 + a4 + a5
                    s = (
                        bc[k]
                        + a0 * uu[k]
                        + a1 * ud[k]
                        + a2 * us[k]
                        + a3 * un[k]
                        + a4 * uc[k - 1]
                        + a5 * uc[k + 1]
                    )
                    buf[k] = s / (d + np.float32(d == 0))
                start = 1 + ((i + j + 1 + color) & 1)
                for k in range(start, n2 + 1, 2):
                    uc[k] = buf[k]


@_both
def matvec_var(p, ap, g0, g1, g2):  # pragma: no cover - numba
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    total = 0.0
    for i in prange(1, n0 + 1):
        acc = 0.0
        for j in range(1, n1 + 1):
            a0r, a1r, a2r, a3r, a45 = g0[i - 1, j], g0[i, j], g1[i, j - 1], g1[i, j], g2[i, j]
            pc, pn, ps, pu, pd = p[i, j], p[i, j + 1], p[i, j - 1], p[i - 1, j], p[i + 1, j]
            ac = ap[i, j]
            racc = np.float32(0.0)
            for k in range(1, n2 + 1):
                a0 = a0r[k]
                a1 = a1r[k]
                a2 = a2r[k]
                a3 = a3r[k]
                a4 = a45[k - 1]
                a5 = a45[k]
                c = pc[k]
                # flux form: sum of face fluxes, so every face flux cancels exactly between
                # its two cells (a float32 diagonal ``sum(a) * c`` carries its rounding into
                # every cell and breaks the balance of the planes that measures M)
                s = (
                    a0 * (c - pu[k])
                    + a1 * (c - pd[k])
                    + a2 * (c - ps[k])
                    + a3 * (c - pn[k])
                    + a4 * (c - pc[k - 1])
                    + a5 * (c - pc[k + 1])
                )
                ac[k] = s
            for k in range(1, n2 + 1):
                racc += ac[k] * pc[k]
            acc += np.float64(racc)
        total += acc
    return total


@_serial_only
def coarsen_var(g0, g1, g2, f0, f1, f2):  # pragma: no cover - numba
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    m0 = (n0 + f0 - 1) // f0
    m1 = (n1 + f1 - 1) // f1
    m2 = (n2 + f2 - 1) // f2
    c0 = np.zeros((m0 + 2, m1 + 2, m2 + 2), np.float32)
    c1 = np.zeros((m0 + 2, m1 + 2, m2 + 2), np.float32)
    c2 = np.zeros((m0 + 2, m1 + 2, m2 + 2), np.float32)
    for ci in prange(0, m0 + 1):
        for cj in range(0, m1 + 1):
            for ck in range(0, m2 + 1):
                i_lo = f0 * (ci - 1) + 1
                i_hi = min(f0 * ci, n0)
                j_lo = f1 * (cj - 1) + 1
                j_hi = min(f1 * cj, n1)
                k_lo = f2 * (ck - 1) + 1
                k_hi = min(f2 * ck, n2)
                if cj >= 1 and ck >= 1:
                    fi = min(f0 * ci, n0)
                    a = 0.0
                    for j in range(j_lo, j_hi + 1):
                        for k in range(k_lo, k_hi + 1):
                            a += g0[fi, j, k]
                    c0[ci, cj, ck] = a / f0
                if ci >= 1 and ck >= 1:
                    fj = min(f1 * cj, n1)
                    a = 0.0
                    for i in range(i_lo, i_hi + 1):
                        for k in range(k_lo, k_hi + 1):
                            a += g1[i, fj, k]
                    c1[ci, cj, ck] = a / f1
                if ci >= 1 and cj >= 1:
                    fk = min(f2 * ck, n2)
                    a = 0.0
                    for i in range(i_lo, i_hi + 1):
                        for j in range(j_lo, j_hi + 1):
                            a += g2[i, j, fk]
                    c2[ci, cj, ck] = a / f2
    return c0, c1, c2


@_serial_only
def active_var(g0, g1, g2):  # pragma: no cover - numba
    """uint8 mask of the cells with a non-zero diagonal."""
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    act = np.zeros(g0.shape, np.uint8)
    for i in prange(1, n0 + 1):
        for j in range(1, n1 + 1):
            for k in range(1, n2 + 1):
                d = (
                    g0[i - 1, j, k]
                    + g0[i, j, k]
                    + g1[i, j - 1, k]
                    + g1[i, j, k]
                    + g2[i, j, k - 1]
                    + g2[i, j, k]
                )
                act[i, j, k] = 1 if d > 0 else 0
    return act


@_both
def flux_var(x, g0, out):  # pragma: no cover - numba
    n0 = g0.shape[0] - 2
    n1 = g0.shape[1] - 2
    n2 = g0.shape[2] - 2
    for i in prange(0, n0 + 1):
        acc = 0.0
        top = 1.0 if i == n0 else 0.0
        keep = 0.0 if i == n0 else 1.0
        for j in range(1, n1 + 1):
            xa, xb = x[i, j], x[i + 1, j]
            gr = g0[i, j]
            for k in range(1, n2 + 1):
                acc += np.float64(gr[k]) * (top + keep * xb[k] - xa[k])
        out[i] = acc


# ------------------------------------------------------------------------------------------
# transfer: piecewise-constant prolongation (masked); f_axis in {1, 2}
# ------------------------------------------------------------------------------------------
@_both
def prolong_add(u, uc, act, f0, f1, f2):  # pragma: no cover - numba
    """u += P uc on the cells where act == 1 (act is 0 on the ghost cells)."""
    n0 = u.shape[0] - 2
    n1 = u.shape[1] - 2
    n2 = u.shape[2] - 2
    m2 = uc.shape[2] - 2
    for i in prange(1, n0 + 1):
        ci = (i - 1) // f0 + 1
        for j in range(1, n1 + 1):
            crow = uc[ci, (j - 1) // f1 + 1]
            urow = u[i, j]
            arow = act[i, j]
            if f2 == 2:
                for ck in range(1, m2 + 1):
                    c = crow[ck]
                    urow[2 * ck - 1] += np.float32(arow[2 * ck - 1]) * c
                    urow[2 * ck] += np.float32(arow[2 * ck]) * c
            else:
                for k in range(1, n2 + 1):
                    urow[k] += np.float32(arow[k]) * crow[k]


# ------------------------------------------------------------------------------------------
# conjugate-gradient vector updates
# ------------------------------------------------------------------------------------------
@_both
def cg_update(x, r, p, ap, alpha):  # pragma: no cover - numba
    """x += alpha p; r -= alpha ap (x float64, others float32)."""
    n0, n1, n2 = x.shape
    a32 = np.float32(alpha)
    for i in prange(n0):
        for j in range(n1):
            for k in range(n2):
                x[i, j, k] += alpha * p[i, j, k]
                r[i, j, k] -= a32 * ap[i, j, k]


@_both
def dot(a, b):  # pragma: no cover - numba
    n0, n1, n2 = a.shape
    total = 0.0
    for i in prange(n0):
        acc = 0.0
        for j in range(n1):
            for k in range(n2):
                acc += np.float64(a[i, j, k]) * np.float64(b[i, j, k])
        total += acc
    return total


@_both
def cg_direction(p, z, beta):  # pragma: no cover - numba
    """p = z + beta p."""
    n0, n1, n2 = p.shape
    b32 = np.float32(beta)
    for i in prange(n0):
        for j in range(n1):
            for k in range(n2):
                p[i, j, k] = z[i, j, k] + b32 * p[i, j, k]
