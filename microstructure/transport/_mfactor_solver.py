"""Solver of the image-based M-factor: CG preconditioned by geometric multigrid.

Solver
------
Conjugate gradients (float64 state) preconditioned by one geometric-multigrid V-cycle (float32,
matrix-free). The finest level reads one byte per voxel (phase class) and looks conductances
up in small tables; coarse levels hold face conductances obtained by summing the fine ones over
2x2x2 blocks and dividing by the block length (a rediscretisation that stays exact for a
homogeneous medium); red-black Gauss-Seidel smoothing (red-black before, black-red after, so
the preconditioner is symmetric) and a sparse direct solve on the coarsest level. Grids below
``SERIAL_CELLS`` use serially compiled kernels (no thread barriers; faster to compile). The
iteration stops when the relative spread ``(max - min) / mean`` of the flux through the planes
drops below ``flux_tol``: it is a direct measure of the error of ``M``. The CG operator is
evaluated in flux form (a sum of face fluxes, so the plane balance holds to round-off whatever
the diffusivities), and the float32 recursive residual is replaced by the float64 ``b - A x``
every ``_REPLACE_EVERY`` iterations.

Memory: no sparse matrix except on the coarsest level (at most ``coarsest_cells`` = 4096
cells); the fine-level residual of the V-cycle is restricted row by row (no fine residual
array), the true residual is computed in one pass with an implicit right-hand side (no float64
``A x`` buffer, no ``b`` array), and one float32 buffer holds ``z`` and then ``A p``. Per voxel
of the padded grid: the float64 iterate (8 bytes), ``r``, ``p``, ``z``/``A p`` and the float32
best iterate (16), the operator (1 byte ``const``, 12 bytes of float32 face conductances
``var``) and the coarse levels (about 3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from microstructure.transport import _kernels as K
from microstructure.transport import _kernels_fused  # noqa: F401 (registers the fused kernels)

__all__ = ["SERIAL_CELLS", "FineOp", "solve_cg"]


# ------------------------------------------------------------------------------------------
# operators and multigrid hierarchy
# ------------------------------------------------------------------------------------------
class FineOp:
    """Fine-level operator: ``const`` (mask + weights) or ``var`` (face conductances)."""

    def __init__(self, code: np.ndarray, dvals: np.ndarray, w: tuple[float, float, float]):
        n0, n1, n2 = code.shape
        self.k = _kernels_for((n0 + 2, n1 + 2, n2 + 2))
        active_d = np.unique(dvals[1:][np.bincount(code.ravel(), minlength=dvals.size)[1:] > 0])
        self.shape = (n0 + 2, n1 + 2, n2 + 2)
        if active_d.size <= 1:
            dv = float(active_d[0]) if active_d.size else 1.0
            self.kind = "const"
            m = np.zeros(self.shape, np.uint8)
            m[1:-1, 1:-1, 1:-1] = code > 0
            m[0, 1:-1, 1:-1] = 2
            m[-1, 1:-1, 1:-1] = 2
            self.m = m
            self.act = m
            self.w = tuple(np.float32(wa * dv) for wa in w)
        else:
            self.kind = "var"
            self.g = list(K.SERIAL.var_faces(code, dvals.astype(np.float64), *w))
            self.act = np.zeros(self.shape, np.uint8)
            self.act[1:-1, 1:-1, 1:-1] = code > 0

    def sweep(self, u, b, color, from_zero):
        if self.kind == "const":
            self.k.sweep_const(u, b, self.m, *self.w, color, from_zero)
        else:
            self.k.sweep_var(u, b, *self.g, color, from_zero)

    def residual_restrict(self, u, b, rc, f) -> None:
        """rc = R (b - A u) (float32 multigrid residual, restricted row by row)."""
        if self.kind == "const":
            self.k.residual_restrict_const(u, b, rc, self.m, *self.w, *f)
        else:
            self.k.residual_restrict_var(u, b, rc, *self.g, *f)

    def true_residual(self, x, r) -> None:
        """r = b - A x from the float64 iterate, in float64 (stored as float32)."""
        if self.kind == "const":
            self.k.true_residual_const(x, r, self.m, *self.w)
        else:
            self.k.true_residual_var(x, r, *self.g)

    def outlet_conductance(self) -> float:
        """Total conductance of the outlet half cells (the flux of the zero field)."""
        if self.kind == "const":
            return 2.0 * float(self.w[0]) * int(np.count_nonzero(self.m[-2] == 1))
        return float(self.g[0][-2].sum(dtype=np.float64))

    def matvec(self, p, ap) -> float:
        if self.kind == "const":
            return self.k.matvec_const(p, ap, self.m, *self.w)
        return self.k.matvec_var(p, ap, *self.g)

    def flux(self, x, out) -> None:
        if self.kind == "const":
            self.k.flux_const(x, self.m, self.w[0], out)
        else:
            self.k.flux_var(x, self.g[0], out)

    def coarsen(self, f):
        if self.kind == "const":
            return self.k.coarsen_const(self.m, *self.w, *f)
        return self.k.coarsen_var(*self.g, *f)


class _CoarseOp:
    def __init__(self, g: tuple[np.ndarray, np.ndarray, np.ndarray], f: tuple[int, int, int]):
        self.g = g
        self.f = f
        self.shape = g[0].shape
        self.k = _kernels_for(self.shape)
        self.act = K.active_var(*g)
        self.u = np.zeros(self.shape, np.float32)
        self.b = np.zeros(self.shape, np.float32)
        self.direct = None

    def sweep(self, u, b, color, from_zero):
        self.k.sweep_var(u, b, *self.g, color, from_zero)

    def residual_restrict(self, u, b, rc, f) -> None:
        self.k.residual_restrict_var(u, b, rc, *self.g, *f)

    def coarsen(self, f):
        return self.k.coarsen_var(*self.g, *f)

    def factorise(self) -> None:
        g0, g1, g2 = (g.astype(np.float64) for g in self.g)
        diag = np.zeros(self.shape, np.float64)
        inner = (slice(1, -1),) * 3
        diag[inner] = (
            g0[:-2, 1:-1, 1:-1] + g0[1:-1, 1:-1, 1:-1]
            + g1[1:-1, :-2, 1:-1] + g1[1:-1, 1:-1, 1:-1]
            + g2[1:-1, 1:-1, :-2] + g2[1:-1, 1:-1, 1:-1]
        )  # fmt: skip
        act = self.act.astype(bool)
        n = int(act.sum())
        self.active_idx = act
        if n == 0:
            return
        idx = -np.ones(self.shape, np.int64)
        idx[act] = np.arange(n)
        rows, cols, vals = [idx[act]], [idx[act]], [diag[act]]
        for ax, g in enumerate((g0, g1, g2)):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[ax] = slice(0, -1)
            hi[ax] = slice(1, None)
            ga, ia, ib = g[tuple(lo)], idx[tuple(lo)], idx[tuple(hi)]
            sel = (ga > 0) & (ia >= 0) & (ib >= 0)
            for r_, c_ in ((ia[sel], ib[sel]), (ib[sel], ia[sel])):
                rows.append(r_)
                cols.append(c_)
                vals.append(-ga[sel])
        mat = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        self.direct = spla.splu(mat)


#: Grids with fewer cells than this use the serial kernels: a parallel region costs a thread
#: barrier, which on a loaded machine (more runnable threads than cores) waits for a time
#: slice of the descheduled thread; small solves ran 20x slower than serial ones.
SERIAL_CELLS = 1 << 18


def _kernels_for(shape: tuple[int, ...]) -> K.KernelSet:
    return K.PARALLEL if int(np.prod(shape)) >= SERIAL_CELLS else K.SERIAL


class _Multigrid:
    """Matrix-free geometric multigrid V-cycle (float32) used as the CG preconditioner."""

    def __init__(self, fine: FineOp, *, coarsest_cells: int = 4096, smoothing_steps: int = 2):
        self.fine = fine
        self.nu = smoothing_steps
        self.levels: list[_CoarseOp] = []
        op: Any = fine
        shape = tuple(n - 2 for n in fine.shape)
        while int(np.prod(shape)) > coarsest_cells and max(shape) > 1:
            f = tuple(2 if n > 1 else 1 for n in shape)
            lev = _CoarseOp(op.coarsen(f), f)
            self.levels.append(lev)
            op = lev
            shape = tuple(n - 2 for n in lev.shape)
        if self.levels:
            self.levels[-1].factorise()

    def _smooth_pre(self, op, u, b) -> None:
        op.sweep(u, b, 0, True)
        op.sweep(u, b, 1, False)
        for _ in range(self.nu - 1):
            op.sweep(u, b, 0, False)
            op.sweep(u, b, 1, False)

    def _smooth_post(self, op, u, b) -> None:
        for _ in range(self.nu):
            op.sweep(u, b, 1, False)
            op.sweep(u, b, 0, False)

    def vcycle(self, b: np.ndarray, u: np.ndarray) -> None:
        """u = V-cycle(b) on the fine level (u is overwritten)."""
        fine = self.fine
        self._smooth_pre(fine, u, b)
        if self.levels:
            lev = self.levels[0]
            fine.residual_restrict(u, b, lev.b, lev.f)
            self._coarse(0)
            fine.k.prolong_add(u, lev.u, fine.act, *lev.f)
        self._smooth_post(fine, u, b)

    def _coarse(self, li: int) -> None:
        lev = self.levels[li]
        if li == len(self.levels) - 1:
            lev.u[...] = 0.0
            if lev.direct is not None:
                sel = lev.active_idx
                lev.u[sel] = lev.direct.solve(lev.b[sel].astype(np.float64))
            return
        self._smooth_pre(lev, lev.u, lev.b)
        nxt = self.levels[li + 1]
        lev.residual_restrict(lev.u, lev.b, nxt.b, nxt.f)
        self._coarse(li + 1)
        lev.k.prolong_add(lev.u, nxt.u, lev.act, *nxt.f)
        self._smooth_post(lev, lev.u, lev.b)


#: Iterations between two replacements of the recursive CG residual by ``b - A x`` (float64).
_REPLACE_EVERY = 10


def _initial_guess(fine: FineOp) -> np.ndarray:
    """The linear profile of a straight channel on the active cells (float64, padded)."""
    shape = fine.shape
    n0 = shape[0] - 2
    x = np.zeros(shape, np.float64)
    for i in range(1, n0 + 1):  # plane by plane: no whole-volume temporaries
        x[i, 1:-1, 1:-1] = (fine.act[i, 1:-1, 1:-1] == 1) * ((i - 0.5) / n0)
    return x


def solve_cg(
    fine: FineOp, *, flux_tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, float, bool]:
    """Preconditioned CG; returns (padded field, layer flux, iterations, spread, converged).

    Whole-volume state: the float64 iterate ``x``, the float32 residual ``r``, search
    direction ``p``, one float32 buffer that holds the preconditioned residual ``z`` and then
    ``A p`` (``z`` is dead once ``p`` is updated), and a float32 copy of the best iterate
    (about 24 bytes per voxel, plus the operator and the multigrid levels).
    """
    shape = fine.shape
    n0 = shape[0] - 2
    x = _initial_guess(fine)
    flux = np.zeros(n0 + 1, np.float64)
    outlet_total = fine.outlet_conductance()
    # The residual is computed from the float64 iterate in float64: the float32 residual of a
    # rounded copy of x differs from the true one by A (x32 - x), which on large volumes with
    # a small M is as large as the residual the flux criterion needs, and CG then stalls and
    # diverges. The recursively updated float32 residual drifts the same way, so it is
    # replaced by the true one every ``_REPLACE_EVERY`` iterations (reliable updating).
    r = np.zeros(shape, np.float32)
    fine.true_residual(x, r)

    def spread() -> float:
        fine.flux(x, flux)
        mean = flux.mean()
        return float((flux.max() - flux.min()) / mean) if mean > 0 else math.inf

    s = spread()
    if s <= flux_tol or outlet_total <= 0:
        return x, flux, 0, s, True
    mg = _Multigrid(fine)
    zap = np.zeros(shape, np.float32)  # z = M^-1 r, then A p
    mg.vcycle(r, zap)
    p = zap.copy()
    rz = fine.k.dot(r, zap)
    it = 0
    converged = False
    # best iterate so far (by flux spread): returned if CG breaks down (float32 multigrid with
    # strongly contrasting diffusivities can lose positivity and diverge)
    best_s, best_x = s, x.astype(np.float32)
    while it < max_iter:
        it += 1
        pap = fine.matvec(p, zap)
        if not pap > 0:
            break
        alpha = rz / pap
        fine.k.cg_update(x, r, p, zap, alpha)
        s = spread()
        if s <= flux_tol:
            converged = True
            break
        if s < best_s:
            best_s = s
            best_x[...] = x
        elif not math.isfinite(s) or s > 100.0 * best_s:
            break  # diverging: fall back to the best iterate below
        if it % _REPLACE_EVERY == 0:
            fine.true_residual(x, r)
        mg.vcycle(r, zap)
        rz_new = fine.k.dot(r, zap)
        beta = rz_new / rz
        rz = rz_new
        fine.k.cg_direction(p, zap, beta)
    if not converged and not (math.isfinite(s) and s <= best_s):
        del r, p, zap, mg
        x[...] = best_x  # the float32 copy (relative rounding 6e-8 of a field in [0, 1])
        del best_x
        return x, flux, it, spread(), False
    return x, flux, it, s, converged
