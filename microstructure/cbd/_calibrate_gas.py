"""The unit scaling of the calibration's parameters and the gas-configuration scan that ends
the search when the contact angle or the largest void is free (see
:mod:`microstructure.cbd.calibrate`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["GAS_SCAN_ROUNDS", "GAS_SCAN_REFITS"]


def _to_unit(name: str, value: float, band: tuple[float, float]) -> float:
    """Band-scaled value in [0, 1]: logarithmic for the diameters (names ending in ``_nm``,
    a relative scale), linear otherwise."""
    lo, hi = band
    if name.endswith("_nm") and lo > 0:
        return math.log(value / lo) / math.log(hi / lo)
    return (value - lo) / (hi - lo)


def _from_unit(name: str, u: float, band: tuple[float, float]) -> float:
    """Inverse of :func:`_to_unit`."""
    lo, hi = band
    if name.endswith("_nm") and lo > 0:
        return lo * (hi / lo) ** u
    return lo + u * (hi - lo)


#: Gas-configuration scan (:func:`_gas_scan`): void window around the best (relative, each
#: side), angle window and step (deg) around the angle that keeps the centre condition,
#: void step (nm) when the angle is fixed, scans and re-fitted candidates per scan.
GAS_SCAN_VOID_WINDOW = (0.12, 0.05)
GAS_SCAN_ANGLE_WINDOW_DEG = (4.0, 2.0)
GAS_SCAN_ANGLE_STEP_DEG = 0.5
GAS_SCAN_VOID_STEP_NM = 1.0
GAS_SCAN_ROUNDS = 4
GAS_SCAN_REFITS = 3


def _gas_candidates(
    p: dict[str, float],
    free: tuple[str, ...],
    b: dict[str, tuple[float, float]],
    vs: tuple[float, float, float],
    first: bool = True,
) -> list[tuple[float, float]]:
    """(void nm, angle deg) pairs of the gas scan around ``p``.

    The gas of the void-filling CBD is fixed by the ball stencil (the void size between two
    lattice shells, :func:`~microstructure.cbd._void_fill.void_stencil_levels`) and by the
    set of allowed centres, ``w >= w*(rho, theta)`` (about ``rho cos(theta)`` on a flat
    wall). With both free: one void per stencil in the window, each with angles stepped
    around the one that keeps ``rho cos(theta)`` of ``p`` (the compensating direction);
    void alone: the void stepped finely (it moves both); angle alone: the angle stepped.
    """
    from microstructure.cbd._void_fill import void_stencil_levels

    void_name, angle_name = "max_void_diameter_nm", "contact_angle_deg"
    d0, a0 = float(p[void_name]), float(p[angle_name])
    t0 = 0.5 * d0 * math.cos(math.radians(a0))
    window = GAS_SCAN_VOID_WINDOW[0 if first else 1]
    angle_window = GAS_SCAN_ANGLE_WINDOW_DEG[0 if first else 1]
    if void_name in free:
        lo = max(b[void_name][0], d0 / (1.0 + window))
        hi = min(b[void_name][1], d0 * (1.0 + window))
        if angle_name in free:
            voids = list(void_stencil_levels(vs, lo, hi))
        else:
            voids = list(np.arange(lo, hi + 1e-9, GAS_SCAN_VOID_STEP_NM))
    else:
        voids = [d0]
    steps = np.arange(-angle_window, angle_window + 1e-9, GAS_SCAN_ANGLE_STEP_DEG)
    out: list[tuple[float, float]] = []
    for v in voids:
        if angle_name in free:
            centre = math.degrees(math.acos(float(np.clip(t0 / (0.5 * v), -1.0, 1.0))))
            angles = np.unique(np.clip(centre + steps, *b[angle_name]))
        else:
            angles = np.array([a0])
        out += [(float(v), float(a)) for a in angles]
    return out


def _gas_scan(
    score: Callable[[np.ndarray], float],
    params_of: Callable[[np.ndarray], dict[str, float]],
    x: np.ndarray,
    free: tuple[str, ...],
    b: dict[str, tuple[float, float]],
    smooth: list[int],
    vs: tuple[float, float, float],
    budget: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scan the gas configurations near ``x`` (:func:`_gas_candidates`) with the smooth
    parameters held; re-fit the smooth ones (bounded Nelder-Mead) for the best candidate of
    each of the best few void sizes (distinct ball stencils: the smooth parameters of a
    wrong configuration compensate it, so the right one need not rank first before its
    re-fit); keep the best; repeat in a narrower window around the new best while it
    improves (:data:`GAS_SCAN_ROUNDS`).

    The profile of :func:`~microstructure.cbd._calibrate_search.profile_polish` steps the
    void and the angle by a few percent of their bands; one configuration (ball stencil and
    allowed centres) spans about 1 % of the void band and 1 deg of the angle on a 64^3
    test volume, so the profile steps over the right one. Here every stencil and centre
    condition in the window is simulated once, as far as ``budget`` (about the number of
    simulations of the whole scan; the candidates are thinned evenly when there are more)
    allows.
    """
    from microstructure.cbd._calibrate_search import _fit_subset

    def thinned(c: list[tuple[float, float]], cap: int) -> list[tuple[float, float]]:
        if len(c) <= cap:
            return c
        return [c[int(i)] for i in np.unique(np.linspace(0, len(c) - 1, cap).round())]

    left = [int(budget)]
    raw_score = score

    def score(x: np.ndarray) -> float:  # counts the budget (cached points too)
        left[0] -= 1
        return raw_score(x)

    index = {n: i for i, n in enumerate(free)}
    best_f, best_x = score(x), x.copy()
    rounds = 0
    for _ in range(GAS_SCAN_ROUNDS):
        if left[0] <= 8:
            break
        rounds += 1
        first = rounds == 1
        p = params_of(best_x)
        per_void: dict[float, tuple[float, np.ndarray]] = {}
        cap = max(8, left[0] // 2)
        for v, a in thinned(_gas_candidates(p, free, b, vs, first=first), cap):
            xx = best_x.copy()
            for name, value in (("max_void_diameter_nm", v), ("contact_angle_deg", a)):
                if name in index:
                    xx[index[name]] = _to_unit(name, value, b[name])
            f = score(xx)
            if v not in per_void or f < per_void[v][0]:
                per_void[v] = (f, xx)
        ranked = sorted(per_void.values(), key=lambda t: t[0])
        if len(ranked) == 1:
            # one void (the angle alone free): its best few angles
            ranked = []
            for _, a in thinned(_gas_candidates(p, free, b, vs, first=first), cap):
                xx = best_x.copy()
                xx[index["contact_angle_deg"]] = _to_unit(
                    "contact_angle_deg", a, b["contact_angle_deg"]
                )
                ranked.append((score(xx), xx))
            ranked.sort(key=lambda t: t[0])
        improved = False
        seen: list[float] = []
        for f, xx in ranked:
            if len(seen) == GAS_SCAN_REFITS:
                break
            if any(abs(f - g) <= 1e-12 for g in seen):
                continue  # the same configuration again
            seen.append(f)
            if smooth:
                n_fit = min(
                    (20 if first else 10) * (len(smooth) + 1),
                    max(left[0] // (GAS_SCAN_REFITS - len(seen) + 1), 8),
                )
                xx = _fit_subset(score, xx, smooth, n_fit, step=0.1 if first else 0.05)
            f2 = score(xx)
            if f2 < best_f - 1e-12:
                best_f, best_x, improved = f2, xx, True
        if not improved and not first:
            break
    return best_x, {"rounds": rounds, "objective": best_f}
