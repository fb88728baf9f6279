"""Search and sensitivity of the CBD calibration (:func:`microstructure.cbd.calibrate_cbd`).

Why the search looks like this (measured on a 64^3 volume of 37.2 nm voxels): the forward
model (CBD insertion, nanopores, voxel MIP) is *piecewise constant* in the parameters. A
change of the largest gas void or of the contact angle changes the voxelised gas balls and
the allowed ball centres in jumps, and the simulated curve is a staircase at the discrete
intrusion radii, so the misfit along those parameters is jagged: two realisations (seeds) of
the same parameters differ by about 0.05 saturation at some diameter on that volume, about
what a 10 % change of the void size does. The nanopore diameters and the CBD porosity act
smoothly (the fibres are a fixed random sequence carved where they meet the CBD). Hence:

* **common random numbers**: every evaluation uses the same seed, so the misfit is a
  deterministic function of the parameters;
* a **global stage**: a Latin hypercube [1]_ of the unit box of the free parameters (plus
  the start), which does not follow the jagged local slopes;
* a **local stage**: bounded Nelder-Mead [2]_ in the unit box (every parameter scaled to its
  band), started from the best global point with a simplex of the hypercube's spacing, then
  restarted once with a smaller simplex;
* **sensitivity from a profile, not a derivative**: the largest curve difference caused by
  parameter changes of 3-12 % of the band on each side is fitted as ``noise + slope |dp|``;
  the sensitivity is ``tolerance / slope``, the parameter change whose *systematic* effect
  moves the curve by the tolerance at some diameter. The intercept is the jump part of the
  model (what any change of the voxel configuration does); a slope not above zero means the
  curve does not determine the parameter (sensitivity infinite).

References
----------
.. [1] McKay, M. D.; Beckman, R. J.; Conover, W. J. A Comparison of Three Methods for
   Selecting Values of Input Variables in the Analysis of Output from a Computer Code.
   Technometrics 1979, 21, 239-245. https://doi.org/10.1080/00401706.1979.10489755
.. [2] Nelder, J. A.; Mead, R. A Simplex Method for Function Minimization. Comput. J. 1965,
   7, 308-313. https://doi.org/10.1093/comjnl/7.4.308
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "global_stage",
    "local_stage",
    "profile_sensitivity",
    "spread_of_equivalent",
    "representative_crop",
]

#: Profile steps of the sensitivity, as fractions of the parameter band (each side).
PROFILE_STEPS: tuple[float, ...] = (0.03, 0.06, 0.12)


def global_stage(
    score: Callable[[np.ndarray], float], x0: np.ndarray, n_samples: int, seed: int
) -> list[tuple[float, np.ndarray]]:
    """Scores of the start ``x0`` and of a Latin hypercube of ``n_samples`` points in the unit
    box, best first."""
    from scipy.stats import qmc

    pts = [np.asarray(x0, dtype=float)]
    if n_samples > 0:
        pts += list(qmc.LatinHypercube(d=x0.size, seed=seed).random(n_samples))
    scored = [(score(p), p) for p in pts]
    scored.sort(key=lambda t: t[0])
    return scored


def _simplex(x: np.ndarray, step: float) -> np.ndarray:
    """Start simplex around ``x`` in the unit box: one vertex per axis, stepped inwards."""
    verts = [x.copy()]
    for i in range(x.size):
        v = x.copy()
        v[i] = x[i] + step if x[i] + step <= 1.0 else x[i] - step
        verts.append(v)
    return np.array(verts)


def local_stage(
    score: Callable[[np.ndarray], float], x_start: np.ndarray, step: float, max_evaluations: int
) -> np.ndarray:
    """Bounded Nelder-Mead in the unit box from ``x_start``; one restart with a third of the
    simplex (the simplex of a jagged objective collapses early). Returns the best point."""
    from scipy.optimize import minimize

    best = [score(x_start), np.asarray(x_start, dtype=float)]

    def f(x: np.ndarray) -> float:
        v = score(np.clip(x, 0.0, 1.0))
        if v < best[0]:
            best[0], best[1] = v, np.clip(x, 0.0, 1.0)
        return v

    budget = [int(max_evaluations)]

    def counted(x: np.ndarray) -> float:
        budget[0] -= 1
        return f(x)

    for s in (step, step / 3.0):
        if budget[0] <= x_start.size + 1:
            break
        minimize(
            counted,
            best[1],
            method="Nelder-Mead",
            bounds=[(0.0, 1.0)] * x_start.size,
            options={
                "initial_simplex": _simplex(best[1], s),
                "maxfev": budget[0],
                "xatol": 2e-3,
                "fatol": 1e-4,
            },
        )
    return best[1]


def profile_sensitivity(
    fitted: dict[str, float],
    free: Sequence[str],
    bounds: dict[str, tuple[float, float]],
    difference: Callable[[dict[str, float]], np.ndarray],
    tolerance: float,
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Sensitivity of every free parameter from profiles of curve differences.

    ``difference(p)`` is the curve at ``p`` minus the curve at ``fitted`` (saturation, on a
    fixed diameter grid). For each parameter, at :data:`PROFILE_STEPS` of its band on both
    sides (those inside the band):

    * the largest difference is fitted by least squares as ``a + s |dp|`` (``a, s >= 0``):
      ``a`` is the jump any change of the voxel configuration makes, ``s`` the systematic
      effect; alone, the parameter is determined to ``tolerance / s``;
    * the Jacobian column (least-squares slope through zero of the differences against
      ``dp``, per diameter) gives the correlation of the parameters' effects. Parameters
      whose effects look alike compensate each other; the sensitivity is widened by
      ``sqrt(VIF)``, the variance inflation factor ``(R^-1)_ii`` of the columns' correlation
      matrix ``R``: the change of the parameter that moves the curve by ``tolerance`` with
      the other free parameters re-fitted (linearised).

    Returns
    -------
    (dict, dict)
        ``name -> sensitivity`` (parameter units; infinite when the curve does not determine
        it) and ``name -> {"steps", "max_changes", "jump_saturation", "slope_per_unit",
        "alone", "inflation"}``.
    """
    detail: dict[str, dict[str, Any]] = {}
    columns = []
    for name in free:
        lo, hi = bounds[name]
        dps, diffs = [], []
        for frac in PROFILE_STEPS:
            for sign in (-1.0, 1.0):
                dp = sign * frac * (hi - lo)
                if lo <= fitted[name] + dp <= hi:
                    dps.append(dp)
                    diffs.append(np.asarray(difference({**fitted, name: fitted[name] + dp})))
        dp_arr = np.array(dps)
        d_arr = np.array(diffs)
        max_changes = np.max(np.abs(d_arr), axis=1)
        a, s = _fit_jump_slope(np.abs(dp_arr), max_changes)
        columns.append(dp_arr @ d_arr / float(dp_arr @ dp_arr))
        detail[name] = {
            "steps": [float(v) for v in dps],
            "max_changes": [float(v) for v in max_changes],
            "jump_saturation": a,
            "slope_per_unit": s,
            "alone": float(tolerance / s) if s > 0 else float("inf"),
        }
    # correlations among the parameters with a systematic effect (a jump-only column is
    # noise: it neither inflates nor is inflated)
    active = [i for i, name in enumerate(free) if detail[name]["slope_per_unit"] > 0]
    vif = np.ones(len(free))
    if active:
        vif[active] = _inflation(np.array([columns[i] for i in active]))
    sens: dict[str, float] = {}
    for name, f in zip(free, vif, strict=True):
        detail[name]["inflation"] = float(f)
        sens[name] = detail[name]["alone"] * float(np.sqrt(f))
    return sens, detail


def spread_of_equivalent(
    fitted: dict[str, float],
    free: Sequence[str],
    samples: Sequence[tuple[dict[str, float], float]],
    tolerance: float,
) -> dict[str, float]:
    """Largest distance of a free parameter from its fitted value among the simulated
    parameter sets whose curve lies within ``tolerance`` of the fitted curve at every
    diameter (``samples``: (parameters, largest difference to the fitted curve)).

    Every simulation of the search is a sample; the ones the curve cannot tell from the fit
    show how far a parameter can move along a curved valley (e.g. a larger nanopore std with
    a smaller mean), which the linearised profile under-states.
    """
    out = {name: 0.0 for name in free}
    for p, diff in samples:
        if diff <= tolerance:
            for name in free:
                out[name] = max(out[name], abs(float(p[name]) - float(fitted[name])))
    return out


def _inflation(columns: np.ndarray) -> np.ndarray:
    """Variance inflation factors ``(R^-1)_ii`` of the rows of ``columns`` (one Jacobian
    column per parameter); infinite for an exactly degenerate set."""
    k = columns.shape[0]
    if k < 2:
        return np.ones(k)
    norm = np.linalg.norm(columns, axis=1)
    if np.any(norm == 0):
        return np.where(norm == 0, 1.0, np.inf)
    u = columns / norm[:, None]
    r = u @ u.T
    try:
        inv = np.linalg.inv(r)
    except np.linalg.LinAlgError:
        return np.full(k, np.inf)
    d = np.diag(inv)
    return np.where(d >= 1.0, d, 1.0)


def _fit_jump_slope(dx: np.ndarray, dy: np.ndarray) -> tuple[float, float]:
    """Least squares ``dy = a + s dx`` with ``a >= 0`` and ``s >= 0`` (two parameters)."""
    if dx.size == 0:
        return 0.0, 0.0
    if dx.size >= 2 and np.ptp(dx) > 0:
        s, a = np.polyfit(dx, dy, 1)
        if s * dx.max() < 1e-9 * max(float(np.max(np.abs(dy))), 1e-300):
            s = 0.0  # rounding: no systematic effect
        if a >= 0 and s >= 0:
            return float(a), float(s)
    # one of them at its bound: the other alone
    s_only = float(max(np.dot(dx, dy) / np.dot(dx, dx), 0.0)) if np.dot(dx, dx) > 0 else 0.0
    a_only = float(max(np.mean(dy), 0.0))
    r_s = float(np.sum((dy - s_only * dx) ** 2))
    r_a = float(np.sum((dy - a_only) ** 2))
    return (0.0, s_only) if r_s <= r_a else (a_only, 0.0)


def representative_crop(
    labels: np.ndarray, max_voxels: int | None, keep_axis: int, positions: int = 5
) -> tuple[slice, slice, slice]:
    """Crop of at most ``max_voxels`` voxels keeping ``keep_axis`` (the electrode thickness)
    whole, the other two axes shrunk by the same factor, placed where its pore fraction
    (label 0) is closest to the whole volume's.

    An electrode volume is not homogeneous (a seed-size twin: 17-43 % pore in lateral
    blocks of 1.5 um, 27 % overall); the central crop can be far from the whole (43 % there)
    and its curve then says little about the whole. ``positions`` start positions per
    shrunk axis are tried (first, last and evenly between).
    """
    shape = np.shape(labels)
    full = (slice(None),) * 3
    n = int(np.prod(shape))
    if max_voxels is None or n <= max_voxels:
        return full  # type: ignore[return-value]
    f = float(np.sqrt(max_voxels / n))
    sizes = [
        size if ax == keep_axis else max(8, min(size, int(size * f)))
        for ax, size in enumerate(shape)
    ]
    starts = [
        [0]
        if ax == keep_axis
        else sorted({int(round(t)) for t in np.linspace(0, size - m, positions)})
        for ax, (size, m) in enumerate(zip(shape, sizes, strict=True))
    ]
    target = float(np.count_nonzero(labels == 0)) / n
    best, best_sl = np.inf, full
    for s0 in starts[0]:
        for s1 in starts[1]:
            for s2 in starts[2]:
                sl = tuple(slice(st, st + m) for st, m in zip((s0, s1, s2), sizes, strict=True))
                frac = float(np.count_nonzero(labels[sl] == 0)) / float(np.prod(sizes))
                if abs(frac - target) < best:
                    best, best_sl = abs(frac - target), sl
    return best_sl  # type: ignore[return-value]
