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

The solver (conjugate gradients preconditioned by geometric multigrid) is in
:mod:`microstructure.transport._mfactor_solver`.

References
----------
Cooper, Bertei, Shearing, Kilner and Brandon (2016), "TauFactor: an open-source application
for calculating tortuosity factors from tomographic data", SoftwareX 5, 203,
doi:10.1016/j.softx.2016.09.002 (the Dirichlet-face convention and multi-phase definition).
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505
(M-factors of battery electrodes).
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

from microstructure.faces import AXES, axis_index
from microstructure.transport._mfactor_solver import FineOp, solve_cg
from microstructure.volume import (
    PORE_PHASES,
    check_volume,
    labels_from_pore_mask,
    parse_voxel_size,
    require_3d,
)

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
    if arr.dtype == np.bool_:  # a pore mask, True = pore (PoreSpy's convention)
        return labels_from_pore_mask(arr)
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
    Peak memory is about 30 bytes per voxel with one conducting diffusivity (the float64
    solution, four float32 CG vectors including a copy of the best iterate, the one-byte
    operator and the multigrid levels; the int32 cluster labelling during set-up is freed
    before) and about 42 with several (float32 face conductances), plus the input. Threads:
    numba's (``NUMBA_NUM_THREADS``) on grids of at least ``_mfactor_solver.SERIAL_CELLS``
    (2**18) cells; smaller grids (small volumes, coarse multigrid levels) run serial kernels.

    Examples
    --------
    A straight channel has no tortuosity: its M-factor is its porosity.

    >>> import numpy as np
    >>> labels = np.ones((20, 20, 20), np.uint8)
    >>> labels[:, 5:15, 5:15] = 0
    >>> res = m_factor(labels, voxel_size_nm=100.0, axis="z")
    >>> round(res.m_factor, 4), round(res.tortuosity_factor, 4)
    (0.25, 1.0)
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
    require_3d(arr.shape, name="labels", what="the M-factor (3D diffusion)")

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
        return _not_percolating(arr.shape, code.shape[0], base, t_start, return_field)
    # conductances normalised by A0 / h0 (the flux is in units of A0 / h0 * D * dc)
    dvals = np.array([0.0] + [diff[c] for c in classes])
    w = (1.0, (h[0] / h[1]) ** 2, (h[0] / h[2]) ** 2)
    fine = FineOp(code, dvals, w)
    del code, arr_t  # the operator holds what the solve needs
    return _solve_percolating(
        fine,
        base,
        t_start,
        flux_tol=flux_tol,
        max_iter=max_iter,
        return_field=return_field,
    )


def _not_percolating(
    shape: tuple[int, ...], n0: int, base: dict[str, Any], t_start: float, return_field: bool
) -> MFactorResult:
    """The result (and the warning) when no cluster connects the two faces."""
    msg = (
        f"phases {sorted(base['relative_diffusivity'])} do not percolate along axis "
        f"{base['axis']}: no connected path between the two faces, M = 0"
    )
    warnings.warn(msg, NotPercolatingWarning, stacklevel=3)
    fld = np.full(shape, np.nan, np.float32) if return_field else None
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


def _solve_percolating(
    fine: FineOp,
    base: dict[str, Any],
    t_start: float,
    *,
    flux_tol: float,
    max_iter: int,
    return_field: bool,
) -> MFactorResult:
    """Solve on the percolating cluster (``fine``, transport axis first) and wrap the result."""
    n0, n1, n2 = (n - 2 for n in fine.shape)
    ax = AXES.index(base["axis"])
    x, flux, iters, spread, converged = solve_cg(fine, flux_tol=flux_tol, max_iter=max_iter)
    m = float(flux.mean() * n0 / (n1 * n2))
    msg = ""
    if not converged:
        msg = (
            f"not converged after {iters} iterations (flux spread {spread:.2e} > "
            f"flux_tol {flux_tol:g}); M may be inaccurate"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    fld = None
    if return_field:
        f32 = x[1:-1, 1:-1, 1:-1].astype(np.float32)
        del x
        f32[fine.act[1:-1, 1:-1, 1:-1] != 1] = np.nan
        fld = np.ascontiguousarray(np.moveaxis(f32, 0, ax))
    return MFactorResult(
        m_factor=m,
        tortuosity_factor=base["effective_porosity"] / m if m > 0 else math.inf,
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
