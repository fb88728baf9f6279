"""Image-based M-factor: steady-state diffusion through a phase set of a labels volume.

Physics
-------
Steady diffusion (or conduction) ``div(D grad c) = 0`` through the voxels of the chosen phases,
with ``c = 0`` on the inlet face and ``c = 1`` on the outlet face of the chosen axis and no flux
through the four other faces. Every phase in ``phases`` has the bulk diffusivity ``D``
(relative diffusivity 1); ``relative_diffusivity`` adds phases that carry their own value (for
example CBD with unresolved nanoporosity, ``{2: 0.1}``) or overrides one of ``phases``. All other
voxels are insulating.

Discretisation: cell-centred finite volumes on the voxel grid (anisotropic voxels allowed).
Two face-neighbours exchange ``A / h * 2 D_p D_q / (D_p + D_q)`` (harmonic mean), a voxel on
a Dirichlet face exchanges ``A / (h / 2) * D_p`` with it. The face at the voxel boundary is the
Dirichlet plane, so the sample length is ``n * h`` (the TauFactor convention).

Results
-------
``M = D_eff / D = Q L / (A dc D)`` from the flux ``Q`` through the sample (the mean over all
``n + 1`` planes normal to the axis; they are equal at convergence), and the tortuosity factor
``tau = eps_eff / M`` where ``eps_eff = sum_p phi_p D_p / D`` (the porosity when every
transporting phase has relative diffusivity 1; the same definition as TauFactor's multi-phase
solver). Only voxels of clusters that touch both Dirichlet faces carry flux; isolated and
dead-end clusters are cut off before the solve (they still count in the porosity).

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
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from microstructure.faces import AXES, axis_index
from microstructure.transport import _kernels as K
from microstructure.volume import PORE_PHASES, check_volume, parse_voxel_size

__all__ = ["MFactorResult", "NotPercolatingWarning", "m_factor", "m_factors"]


class NotPercolatingWarning(UserWarning):
    """The transporting phases do not connect the two faces: M = 0."""


@dataclass
class MFactorResult:
    """Effective transport through a phase set along one axis.

    Attributes
    ----------
    m_factor
        ``D_eff / D`` (dimensionless); 0 if the phases do not percolate.
    tortuosity_factor
        ``eps_eff / M`` (``inf`` if not percolating).
    porosity
        Volume fraction of the voxels in ``phases`` (0..1).
    effective_porosity
        ``sum_p phi_p D_p / D`` over all transporting phases (equals ``porosity`` without
        ``relative_diffusivity``).
    percolating_fraction
        Volume fraction of the transporting voxels connected to both faces.
    axis
        ``"z"``, ``"y"`` or ``"x"``.
    percolating
        False if no cluster of the transporting phases connects the two faces.
    converged
        True if the flux spread reached ``flux_tol``.
    flux_spread
        ``(max - min) / mean`` of the flux through the planes normal to the axis.
    iterations
        Preconditioned CG iterations.
    layer_flux
        Flux through each of the ``n + 1`` planes normal to the axis, normalised so that its
        mean times ``n / (n1 n2)`` is ``M``.
    phases, relative_diffusivity
        The phase set and the diffusivities used.
    voxel_size_nm
        (z, y, x) in nm.
    seconds
        Wall time of the call.
    message
        Human-readable note (non-percolation, non-convergence), else ``""``.
    concentration
        The normalised concentration field (z, y, x) as float32, 0 at the inlet face and 1 at
        the outlet, NaN outside the percolating cluster; only with ``return_field=True``.
    """

    m_factor: float
    tortuosity_factor: float
    porosity: float
    effective_porosity: float
    percolating_fraction: float
    axis: str
    percolating: bool
    converged: bool
    flux_spread: float
    iterations: int
    layer_flux: np.ndarray
    phases: tuple[int, ...]
    relative_diffusivity: dict[int, float]
    voxel_size_nm: tuple[float, float, float]
    seconds: float
    message: str = ""
    concentration: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (snake_case keys, no arrays)."""
        return {
            "axis": self.axis,
            "m_factor": self.m_factor,
            "tortuosity_factor": (
                self.tortuosity_factor if math.isfinite(self.tortuosity_factor) else None
            ),
            "porosity": self.porosity,
            "effective_porosity": self.effective_porosity,
            "percolating_fraction": self.percolating_fraction,
            "percolating": self.percolating,
            "converged": self.converged,
            "flux_spread": self.flux_spread,
            "iterations": self.iterations,
            "phases": list(self.phases),
            "relative_diffusivity": {str(k): v for k, v in self.relative_diffusivity.items()},
            "voxel_size_nm": list(self.voxel_size_nm),
            "seconds": self.seconds,
            "message": self.message,
        }


# ------------------------------------------------------------------------------------------
# input handling
# ------------------------------------------------------------------------------------------
def _check_int_labels(labels: Any) -> np.ndarray:
    arr = check_volume(labels, name="labels")
    if arr.dtype == np.bool_:
        raise ValueError(
            "labels: got a boolean mask; pass integer phase labels (e.g. mask.astype(np.uint8) "
            "with phases=(1,))"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.array_equal(arr, np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"labels: expected integer phase labels, got dtype {arr.dtype}")
    return arr


def _diffusivities(
    phases: Any, relative_diffusivity: Mapping[int, float] | None
) -> tuple[tuple[int, ...], dict[int, float]]:
    if isinstance(phases, int | np.integer):
        phases = (int(phases),)
    try:
        ph = tuple(int(p) for p in phases)
    except (TypeError, ValueError):
        raise ValueError(f"phases: expected a sequence of integer labels, got {phases!r}") from None
    if not ph:
        raise ValueError("phases: at least one phase label is needed")
    diff = {p: 1.0 for p in ph}
    if relative_diffusivity is not None:
        if not isinstance(relative_diffusivity, Mapping):
            raise ValueError(
                "relative_diffusivity: expected a mapping {phase: D_phase / D}, "
                f"got {relative_diffusivity!r}"
            )
        for key, val in relative_diffusivity.items():
            try:
                k, v = int(key), float(val)
            except (TypeError, ValueError):
                raise ValueError(
                    f"relative_diffusivity: expected integer phase -> number, got {key!r}: {val!r}"
                ) from None
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"relative_diffusivity: phase {k} needs a value >= 0, got {val!r}")
            diff[k] = v
    diff = {k: v for k, v in diff.items() if v > 0}
    if not diff:
        raise ValueError("relative_diffusivity: every transporting phase has diffusivity 0")
    if len(diff) > 254:
        raise ValueError("phases: at most 254 transporting phases are supported")
    return ph, dict(sorted(diff.items()))


def _phase_fractions(arr: np.ndarray, keys: Iterable[int]) -> dict[int, float]:
    n = arr.size
    if arr.dtype == np.uint8:
        counts = np.bincount(arr.ravel(), minlength=256)
        return {k: (float(counts[k]) / n if 0 <= k < 256 else 0.0) for k in keys}
    return {k: float(np.count_nonzero(arr == k)) / n for k in keys}


def _class_codes(arr_t: np.ndarray, classes: list[int]) -> np.ndarray:
    """uint8 class codes (1..K for the transporting phases, 0 elsewhere)."""
    if arr_t.dtype == np.uint8 and all(0 <= c < 256 for c in classes):
        lut = np.zeros(256, np.uint8)
        for i, c in enumerate(classes):
            lut[c] = i + 1
        return lut[arr_t]
    code = np.zeros(arr_t.shape, np.uint8)
    for i, c in enumerate(classes):
        code[arr_t == c] = i + 1
    return code


def _percolating(code: np.ndarray) -> np.ndarray:
    """Keep only the 6-connected clusters that touch both faces normal to axis 0 (in place)."""
    lab, n = ndi.label(code > 0)
    if n == 0:
        return code
    first = np.unique(lab[0])
    last = np.unique(lab[-1])
    both = np.intersect1d(first[first > 0], last[last > 0], assume_unique=True)
    keep = np.zeros(n + 1, bool)
    keep[both] = True
    code[~keep[lab]] = 0
    return code


# ------------------------------------------------------------------------------------------
# operators and multigrid hierarchy
# ------------------------------------------------------------------------------------------
class _FineOp:
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
            d = np.zeros(self.shape, np.float32)
            d[1:-1, 1:-1, 1:-1] = dvals.astype(np.float32)[code]
            self.g = []
            for ax in range(3):
                lo = [slice(1, -1)] * 3
                hi = [slice(1, -1)] * 3
                lo[ax] = slice(0, -1)
                hi[ax] = slice(1, None)
                a = d[tuple(lo)]
                b = d[tuple(hi)]
                with np.errstate(divide="ignore", invalid="ignore"):
                    h = np.where((a > 0) & (b > 0), 2 * a * b / (a + b), 0.0).astype(np.float32)
                if ax == 0:  # Dirichlet half cells on the ghost planes
                    h[0] = 2 * b[0]
                    h[-1] = 2 * a[-1]
                g = np.zeros(self.shape, np.float32)
                gs = [slice(1, -1)] * 3
                gs[ax] = slice(0, -1)
                g[tuple(gs)] = h * np.float32(w[ax])
                self.g.append(g)
            self.act = np.zeros(self.shape, np.uint8)
            self.act[1:-1, 1:-1, 1:-1] = code > 0

    def sweep(self, u, b, color, from_zero):
        if self.kind == "const":
            self.k.sweep_const(u, b, self.m, *self.w, color, from_zero)
        else:
            self.k.sweep_var(u, b, *self.g, color, from_zero)

    def residual(self, u, b, r):
        if self.kind == "const":
            self.k.residual_const(u, b, r, self.m, *self.w)
        else:
            self.k.residual_var(u, b, r, *self.g)

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
        self.r = np.zeros(self.shape, np.float32)
        self.direct = None

    def sweep(self, u, b, color, from_zero):
        self.k.sweep_var(u, b, *self.g, color, from_zero)

    def residual(self, u, b, r):
        self.k.residual_var(u, b, r, *self.g)

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

    def __init__(self, fine: _FineOp, *, coarsest_cells: int = 4096, smoothing_steps: int = 2):
        self.fine = fine
        self.nu = smoothing_steps
        self.fine_r = np.zeros(fine.shape, np.float32)
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
            fine.residual(u, b, self.fine_r)
            lev = self.levels[0]
            fine.k.restrict_sum(self.fine_r, lev.b, *lev.f)
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
        lev.residual(lev.u, lev.b, lev.r)
        nxt = self.levels[li + 1]
        lev.k.restrict_sum(lev.r, nxt.b, *nxt.f)
        self._coarse(li + 1)
        lev.k.prolong_add(lev.u, nxt.u, lev.act, *nxt.f)
        self._smooth_post(lev, lev.u, lev.b)


#: Iterations between two replacements of the recursive CG residual by ``b - A x`` (float64).
_REPLACE_EVERY = 10


def _solve(
    fine: _FineOp, *, flux_tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, float, bool]:
    """Preconditioned CG; returns (padded field, layer flux, iterations, spread, converged)."""
    shape = fine.shape
    n0 = shape[0] - 2
    active = fine.act[1:-1, 1:-1, 1:-1] == 1
    # initial guess: the linear profile of a straight channel
    x = np.zeros(shape, np.float64)
    prof = ((np.arange(n0, dtype=np.float64) + 0.5) / n0)[:, None, None]
    x[1:-1, 1:-1, 1:-1] = np.where(active, prof, 0.0)
    # right-hand side: outlet value 1 times the half-cell conductance
    b = np.zeros(shape, np.float32)
    flux = np.zeros(n0 + 1, np.float64)
    fine.flux(np.zeros(shape, np.float64), flux)  # zero field: flux[-1] = outlet conductance
    outlet_total = flux[-1]
    if fine.kind == "const":
        b[-2, 1:-1, 1:-1] = np.where(active[-1], 2.0 * fine.w[0], 0.0)
    else:
        b[-2] = fine.g[0][-2]
    # The residual is computed from the float64 iterate with a float64 matvec: the float32
    # residual of a rounded copy of x differs from the true one by A (x32 - x), which on large
    # volumes with a small M is as large as the residual the flux criterion needs, and CG then
    # stalls and diverges. The recursively updated float32 residual drifts the same way, so it
    # is replaced by the true one every ``_REPLACE_EVERY`` iterations (reliable updating).
    ax64 = np.zeros(shape, np.float64)

    def true_residual(out: np.ndarray) -> None:
        fine.matvec(x, ax64)
        np.subtract(b, ax64, out=ax64)
        out[...] = ax64

    r = np.zeros(shape, np.float32)
    true_residual(r)
    z = np.zeros(shape, np.float32)
    mg = _Multigrid(fine)

    def spread() -> float:
        fine.flux(x, flux)
        mean = flux.mean()
        return float((flux.max() - flux.min()) / mean) if mean > 0 else math.inf

    s = spread()
    if s <= flux_tol or outlet_total <= 0:
        return x, flux, 0, s, True
    mg.vcycle(r, z)
    p = z.copy()
    ap = np.zeros(shape, np.float32)
    rz = fine.k.dot(r, z)
    it = 0
    converged = False
    # best iterate so far (by flux spread): returned if CG breaks down (float32 multigrid with
    # strongly contrasting diffusivities can lose positivity and diverge)
    best_s, best_x, best_flux = s, x.copy(), flux.copy()
    while it < max_iter:
        it += 1
        pap = fine.matvec(p, ap)
        if not pap > 0:
            break
        alpha = rz / pap
        fine.k.cg_update(x, r, p, ap, alpha)
        s = spread()
        if s <= flux_tol:
            converged = True
            break
        if s < best_s:
            best_s = s
            best_x[...] = x
            best_flux[...] = flux
        elif not math.isfinite(s) or s > 100.0 * best_s:
            break  # diverging: fall back to the best iterate below
        if it % _REPLACE_EVERY == 0:
            true_residual(r)

        mg.vcycle(r, z)
        rz_new = fine.k.dot(r, z)
        beta = rz_new / rz
        rz = rz_new
        fine.k.cg_direction(p, z, beta)
    if not converged and not (math.isfinite(s) and s <= best_s):
        return best_x, best_flux, it, best_s, False
    return x, flux, it, s, converged


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------
def m_factor(
    labels: Any,
    *,
    voxel_size_nm: Any,
    axis: str | int,
    phases: Iterable[int] | int = PORE_PHASES,
    relative_diffusivity: Mapping[int, float] | None = None,
    flux_tol: float = 1e-3,
    max_iter: int = 500,
    return_field: bool = False,
) -> MFactorResult:
    """M-factor and tortuosity factor of a phase set from steady-state diffusion in the image.

    Parameters
    ----------
    labels
        3D integer labels volume (z, y, x); by default phases 0 (pore) and 3 (CBD pore)
        transport. Any integer labelling works with a matching ``phases``.
    voxel_size_nm
        Voxel size (z, y, x) in nm, or one number for cubic voxels.
    axis
        Transport direction: ``"z"``, ``"y"`` or ``"x"`` (or 0, 1, 2). The concentration is 0
        on the low-index face and 1 on the high-index face; the other faces are no-flux.
    phases
        Labels with the bulk diffusivity (relative diffusivity 1).
    relative_diffusivity
        Extra phases (or overrides) with their own ``D_phase / D``, e.g. ``{2: 0.1}`` for CBD
        whose unresolved nanoporosity carries 10 % of the bulk diffusivity. 0 makes a phase
        insulating.
    flux_tol
        Convergence criterion: relative spread ``(max - min) / mean`` of the flux through the
        planes normal to ``axis``. The relative error of ``M`` is below this value. The
        multigrid and the residual run in float32, so values below about 1e-5 may not be
        reachable (a ``RuntimeWarning`` then reports the spread obtained).
    max_iter
        Maximum number of conjugate-gradient iterations.
    return_field
        Also return the concentration field (float32, NaN outside the percolating cluster).

    Returns
    -------
    MFactorResult
        ``.m_factor``, ``.tortuosity_factor``, ``.porosity`` and diagnostics.

    Raises
    ------
    ValueError
        If the labels are not a 3D integer array, the voxel size or axis is invalid, or none of
        the transporting phases occurs in ``labels``.

    Warns
    -----
    NotPercolatingWarning
        If no cluster of the transporting phases connects the two faces; then ``M = 0`` and
        the tortuosity factor is ``inf``.
    RuntimeWarning
        If ``max_iter`` is reached before ``flux_tol``.

    Notes
    -----
    Peak memory is about 45-60 bytes per voxel (the float64 solution, its best copy and the
    float64 true residual, float32 CG and multigrid vectors, the int32 cluster labelling during
    set-up) plus the input. Threads:
    numba's (``NUMBA_NUM_THREADS``) on grids of at least ``SERIAL_CELLS`` (2**18) cells;
    smaller grids (small volumes, coarse multigrid levels) run serial kernels.
    """
    t_start = time.perf_counter()
    arr = _check_int_labels(labels)
    vs = parse_voxel_size(voxel_size_nm)
    ax = axis_index(axis)
    ph, diff = _diffusivities(phases, relative_diffusivity)
    if not (isinstance(flux_tol, int | float) and 0 < flux_tol < 1):
        raise ValueError(f"flux_tol: expected a number in (0, 1), got {flux_tol!r}")
    if not (isinstance(max_iter, int | np.integer) and max_iter >= 1):
        raise ValueError(f"max_iter: expected a positive integer, got {max_iter!r}")
    if arr.shape[ax] < 1:
        raise ValueError(f"labels: empty along axis {AXES[ax]}")

    fractions = _phase_fractions(arr, set(ph) | set(diff))
    porosity = float(sum(fractions[p] for p in ph))
    eff_porosity = float(sum(fractions[p] * d for p, d in diff.items()))
    if eff_porosity <= 0:
        raise ValueError(
            f"phases: none of the transporting phases {sorted(diff)} occurs in labels "
            f"(values present: {np.unique(arr)[:8].tolist()})"
        )

    classes = list(diff)
    arr_t = np.moveaxis(arr, ax, 0)
    perm = [ax] + [a for a in range(3) if a != ax]
    h = [vs[a] for a in perm]
    code = np.ascontiguousarray(_class_codes(arr_t, classes))
    code = _percolating(code)
    n0, n1, n2 = code.shape
    n_active = int(np.count_nonzero(code))
    base = dict(
        porosity=porosity,
        effective_porosity=eff_porosity,
        percolating_fraction=n_active / code.size,
        axis=AXES[ax],
        phases=ph,
        relative_diffusivity=diff,
        voxel_size_nm=vs,
    )
    if n_active == 0:
        msg = (
            f"phases {sorted(diff)} do not percolate along axis {AXES[ax]}: no connected path "
            "between the two faces, M = 0"
        )
        warnings.warn(msg, NotPercolatingWarning, stacklevel=2)
        fld = np.full(arr.shape, np.nan, np.float32) if return_field else None
        return MFactorResult(
            m_factor=0.0,
            tortuosity_factor=math.inf,
            percolating=False,
            converged=True,
            flux_spread=0.0,
            iterations=0,
            layer_flux=np.zeros(n0 + 1),
            seconds=time.perf_counter() - t_start,
            message=msg,
            concentration=fld,
            **base,
        )

    # conductances normalised by A0 / h0 (the flux is in units of A0 / h0 * D * dc)
    dvals = np.array([0.0] + [diff[c] for c in classes])
    w = (1.0, (h[0] / h[1]) ** 2, (h[0] / h[2]) ** 2)
    fine = _FineOp(code, dvals, w)
    del code
    x, flux, iters, spread, converged = _solve(fine, flux_tol=flux_tol, max_iter=max_iter)
    m = float(flux.mean() * n0 / (n1 * n2))
    msg = ""
    if not converged:
        msg = (
            f"not converged after {iters} iterations (flux spread {spread:.2e} > "
            f"flux_tol {flux_tol:g}); M may be inaccurate"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    fld = None
    if return_field:
        inner = x[1:-1, 1:-1, 1:-1]
        f32 = np.where(fine.act[1:-1, 1:-1, 1:-1] == 1, inner, np.nan).astype(np.float32)
        fld = np.ascontiguousarray(np.moveaxis(f32, 0, ax))
    return MFactorResult(
        m_factor=m,
        tortuosity_factor=eff_porosity / m if m > 0 else math.inf,
        percolating=True,
        converged=converged,
        flux_spread=spread,
        iterations=iters,
        layer_flux=flux.copy(),
        seconds=time.perf_counter() - t_start,
        message=msg,
        concentration=fld,
        **base,
    )


def m_factors(
    labels: Any,
    *,
    voxel_size_nm: Any,
    axes: Iterable[str | int] = AXES,
    **kwargs: Any,
) -> dict[str, MFactorResult]:
    """:func:`m_factor` along several axes; returns ``{axis name: result}``.

    Parameters
    ----------
    labels
        3D integer labels volume (z, y, x).
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    axes
        Axes to solve along (default all three).
    **kwargs
        Passed to :func:`m_factor` (``phases``, ``relative_diffusivity``, ``flux_tol`` ...).
    """
    out: dict[str, MFactorResult] = {}
    for a in axes:
        name = AXES[axis_index(a, name="axes")]
        out[name] = m_factor(labels, voxel_size_nm=voxel_size_nm, axis=name, **kwargs)
    return out
