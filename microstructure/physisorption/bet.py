"""BET specific surface area with the Rouquerol consistency criteria (ISO 9277).

The linear BET plot x / (n (1 - x)) = 1 / (n_m C) + (C - 1) / (n_m C) x (x = p/p0, n the
amount adsorbed) gives the monolayer amount n_m and the constant C from its slope s and
intercept i: n_m = 1 / (s + i), C = 1 + s / i. The area is a_BET = n_m N_A sigma / V_STP with
the cross-sectional area sigma (0.162 nm2 for N2 at 77 K).

Window choice (when not given): every contiguous run of at least ``min_points`` adsorption
points is tested against the four criteria of Rouquerol, Llewellyn and Rouquerol (2007):

1. n (1 - x) increases with x throughout the window, which ends at or below the first maximum
   of n (1 - x) over the branch;
2. C > 0 (positive intercept);
3. the monolayer pressure x_m = 1 / (sqrt(C) + 1) lies inside the window;
4. x_m agrees within 20 % with the p/p0 at which the measured isotherm reaches n_m.

Among the windows meeting all four with r2 >= ``min_r2``, the one with the most points is
taken (then the highest r2). When none qualifies the best-r2 window meeting 1-4, else the
ISO 9277 window 0.05-0.30, is used and the quality block says which criterion failed.

References
----------
.. [1] Brunauer S., Emmett P.H., Teller E. (1938), J. Am. Chem. Soc. 60, 309-319,
   doi:10.1021/ja01269a023.
.. [2] Rouquerol J., Llewellyn P., Rouquerol F. (2007), "Is the BET equation applicable to
   microporous adsorbents?", Stud. Surf. Sci. Catal. 160, 49-56,
   doi:10.1016/S0167-2991(07)80008-5.
.. [3] ISO 9277:2022, Determination of the specific surface area of solids by gas adsorption -
   BET method.
.. [4] Thommes M. et al. (2015), Pure Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.physisorption.constants import (
    AVOGADRO_PER_MOL,
    STP_MOLAR_VOLUME_CM3_PER_MOL,
    adsorptive,
)
from microstructure.physisorption.isotherm import Isotherm
from microstructure.quality import check, quality_block

__all__ = [
    "bet",
    "BetResult",
    "bet_area_from_monolayer",
    "BET_MIN_POINTS",
    "BET_MIN_R2",
    "ISO_DEFAULT_WINDOW",
    "MONOLAYER_TOLERANCE",
]

#: Fewest points in an automatically chosen window.
BET_MIN_POINTS = 4
#: Smallest r2 of the linear BET plot for an automatically chosen window.
BET_MIN_R2 = 0.999
#: Window used when no window meets the Rouquerol criteria (ISO 9277 classic range).
ISO_DEFAULT_WINDOW = (0.05, 0.30)
#: Criterion 4: allowed relative difference between x_m (BET) and x at n = n_m (isotherm).
MONOLAYER_TOLERANCE = 0.20


@dataclass(frozen=True, eq=False)
class BetResult:
    """Result of :func:`bet`.

    Attributes
    ----------
    bet_area_m2_per_g
        BET specific surface area.
    c_constant
        BET constant C.
    p_over_p0_range
        (first, last) p/p0 of the points fitted.
    monolayer_cm3_per_g, monolayer_mmol_per_g
        Monolayer amount n_m (gas at STP; mmol).
    r2
        Coefficient of determination of the linear BET plot.
    n_points
        Points fitted.
    p_over_p0_monolayer
        x_m = 1 / (sqrt(C) + 1).
    criteria
        The four Rouquerol checks by name (True = met).
    window
        ``"rouquerol"`` (chosen automatically), ``"given"`` or ``"iso9277-fallback"``.
    cross_section_nm2
        Cross-sectional area used.
    bet_x, bet_y, fitted
        All adsorption points below p/p0 0.5 on the BET plot (x, x / (n (1 - x)) in g/cm3)
        and a mask of the fitted ones (for plotting).
    slope, intercept
        Of the BET plot, g/cm3(STP).
    quality
        :func:`microstructure.quality.quality_block` of the criteria and r2.
    """

    bet_area_m2_per_g: float
    c_constant: float
    p_over_p0_range: tuple[float, float]
    monolayer_cm3_per_g: float
    monolayer_mmol_per_g: float
    r2: float
    n_points: int
    p_over_p0_monolayer: float
    criteria: dict[str, bool]
    window: str
    cross_section_nm2: float
    bet_x: np.ndarray = field(repr=False)
    bet_y: np.ndarray = field(repr=False)
    fitted: np.ndarray = field(repr=False)
    slope: float = 0.0
    intercept: float = 0.0
    quality: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (keys of the command-line contract first)."""
        return {
            "bet_area_m2_per_g": self.bet_area_m2_per_g,
            "c_constant": self.c_constant,
            "p_over_p0_range": list(self.p_over_p0_range),
            "monolayer_cm3_per_g": self.monolayer_cm3_per_g,
            "monolayer_mmol_per_g": self.monolayer_mmol_per_g,
            "r2": self.r2,
            "n_points": self.n_points,
            "p_over_p0_monolayer": self.p_over_p0_monolayer,
            "rouquerol_criteria": dict(self.criteria),
            "window": self.window,
            "cross_section_nm2": self.cross_section_nm2,
            "quality": self.quality,
        }


def bet_area_from_monolayer(monolayer_cm3_per_g: float, cross_section_nm2: float) -> float:
    """Specific surface area (m2/g) covered by a monolayer of n_m cm3(STP)/g.

    Parameters
    ----------
    monolayer_cm3_per_g
        Monolayer amount as gas at STP.
    cross_section_nm2
        Area one molecule covers.

    Returns
    -------
    float
        n_m / 22414 * N_A * sigma, in m2/g.

    Examples
    --------
    >>> round(bet_area_from_monolayer(44.7434, 0.162), 2)  # a Micromeritics report's Qm
    194.75

    References
    ----------
    .. [1] Brunauer S., Emmett P.H., Teller E. (1938), doi:10.1021/ja01269a023.
    """
    return (
        monolayer_cm3_per_g
        / STP_MOLAR_VOLUME_CM3_PER_MOL
        * AVOGADRO_PER_MOL
        * cross_section_nm2
        * 1e-18
    )


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, r2) of a least-squares line."""
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    return float(slope), float(intercept), r2


def _criteria(
    x: np.ndarray, n: np.ndarray, i: int, j: int, slope: float, intercept: float, x_limit: float
) -> tuple[dict[str, bool], dict[str, float]]:
    """The four Rouquerol criteria for the window ``x[i..j]`` and the numbers behind them."""
    w = slice(i, j + 1)
    n1x = n[w] * (1.0 - x[w])
    rise = float(np.min(np.diff(n1x) / n1x[:-1])) if j > i else 0.0
    c = 1.0 + slope / intercept if intercept != 0 else np.nan
    ok_c = bool(intercept > 0 and np.isfinite(c) and c > 0)
    xm = 1.0 / (np.sqrt(c) + 1.0) if ok_c else np.nan
    outside = float(max(x[i] - xm, xm - x[j], 0.0)) if ok_c else np.inf
    nm = 1.0 / (slope + intercept) if slope + intercept > 0 else np.nan
    order = np.argsort(n)
    x_at_nm = float(np.interp(nm, n[order], x[order])) if np.isfinite(nm) else np.nan
    dev = abs(xm - x_at_nm) / xm if ok_c and np.isfinite(x_at_nm) else np.inf
    crit = {
        "n_one_minus_x_increasing": bool(rise > 0 and x[j] <= x_limit + 1e-12),
        "c_positive": ok_c,
        "monolayer_in_window": bool(outside == 0.0),
        "monolayer_consistent": bool(dev <= MONOLAYER_TOLERANCE),
    }
    return crit, {"rise": rise, "outside": outside, "deviation": dev}


def _all_windows(
    x: np.ndarray, y: np.ndarray, last: int, min_points: int
) -> tuple[np.ndarray, ...]:
    """(i, j, slope, intercept, r2) of every window x[i..j] with j < last, by prefix sums."""
    i, j = np.triu_indices(last, k=min_points - 1)
    cx, cy = np.concatenate([[0], np.cumsum(x)]), np.concatenate([[0], np.cumsum(y)])
    cxx = np.concatenate([[0], np.cumsum(x * x)])
    cxy = np.concatenate([[0], np.cumsum(x * y)])
    cyy = np.concatenate([[0], np.cumsum(y * y)])
    m = (j - i + 1).astype(float)
    sx, sy = cx[j + 1] - cx[i], cy[j + 1] - cy[i]
    sxx = cxx[j + 1] - cxx[i] - sx * sx / m
    sxy = cxy[j + 1] - cxy[i] - sx * sy / m
    syy = cyy[j + 1] - cyy[i] - sy * sy / m
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sxy / sxx
        intercept = (sy - slope * sx) / m
        r2 = np.where(syy > 0, sxy * sxy / (sxx * syy), 0.0)
    return i, j, slope, intercept, r2


def _choose_window(
    x: np.ndarray, n: np.ndarray, y: np.ndarray, x_limit: float, min_points: int, min_r2: float
) -> tuple[int, int, str] | None:
    """The window of the Rouquerol rule (module docstring), all windows tested at once."""
    last = int(np.searchsorted(x, x_limit, side="right"))
    if last < min_points:
        return None
    i, j, slope, intercept, r2 = _all_windows(x, y, last, min_points)
    n1x = n * (1.0 - x)
    falls = np.concatenate([[0], np.cumsum(np.diff(n1x) <= 0)])  # non-rises before index
    c1 = falls[j] - falls[i] == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 1.0 + slope / intercept
        c2 = (intercept > 0) & (c > 0) & np.isfinite(c)
        xm = np.where(c2, 1.0 / (np.sqrt(np.where(c2, c, 1.0)) + 1.0), np.nan)
        c3 = c2 & (xm >= x[i]) & (xm <= x[j])
        nm = 1.0 / (slope + intercept)
        order = np.argsort(n)
        x_at_nm = np.interp(nm, n[order], x[order])
        c4 = c2 & (np.abs(xm - x_at_nm) / xm <= MONOLAYER_TOLERANCE) & (slope + intercept > 0)
    ok = c1 & c2 & c3 & c4
    if not ok.any():
        return None
    size = (j - i + 1).astype(float)
    strict = ok & (r2 >= min_r2)
    if strict.any():
        k = int(np.lexsort((np.where(strict, r2, -1), np.where(strict, size, -1)))[-1])
        return int(i[k]), int(j[k]), "rouquerol"
    k = int(np.lexsort((np.where(ok, size, -1), np.where(ok, r2, -1)))[-1])
    return int(i[k]), int(j[k]), "rouquerol-low-r2"


def bet(
    isotherm: Isotherm,
    *,
    p_over_p0_range: tuple[float, float] | None = None,
    cross_section_nm2: float | None = None,
    min_points: int = BET_MIN_POINTS,
    min_r2: float = BET_MIN_R2,
) -> BetResult:
    """BET surface area of the adsorption branch, window by the Rouquerol criteria.

    Parameters
    ----------
    isotherm
        The isotherm (its adsorption branch is used).
    p_over_p0_range
        (low, high) p/p0 of the points to fit; chosen automatically when None.
    cross_section_nm2
        Molecular cross-sectional area; from the adsorptive when None (N2 0.162 nm2,
        Ar 0.142 nm2, Kr 0.202 nm2).
    min_points
        Fewest points of an automatically chosen window (at least 3).
    min_r2
        Smallest r2 of an automatically chosen window.

    Returns
    -------
    BetResult

    Raises
    ------
    ValueError
        One line naming the file: fewer than 3 points in the given window, a negative
        monolayer amount, or no usable point below p/p0 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> from microstructure.physisorption import Isotherm
    >>> x = np.linspace(0.03, 0.3, 10)
    >>> n = 10 * 80 * x / ((1 - x) * (1 - x + 80 * x))  # BET: n_m 10 cm3(STP)/g, C 80
    >>> r = bet(Isotherm.from_arrays(x, n))
    >>> round(r.bet_area_m2_per_g, 2), round(r.c_constant, 1), r.window
    (43.53, 80.0, 'rouquerol')

    References
    ----------
    .. [1] Brunauer S., Emmett P.H., Teller E. (1938), doi:10.1021/ja01269a023.
    .. [2] Rouquerol J., Llewellyn P., Rouquerol F. (2007), doi:10.1016/S0167-2991(07)80008-5.
    .. [3] Thommes M. et al. (2015), doi:10.1515/pac-2014-1117.
    """
    what = f"{isotherm.name}: bet"
    sigma = (
        adsorptive(isotherm.adsorbate, what=what).cross_section_nm2
        if cross_section_nm2 is None
        else float(cross_section_nm2)
    )
    if not sigma > 0:
        raise ValueError(f"{what}: cross_section_nm2 must be > 0, got {cross_section_nm2}")
    if min_points < 3:
        raise ValueError(f"{what}: min_points must be >= 3, got {min_points}")
    xa, na = isotherm.adsorption()
    keep = (xa > 0) & (xa < 0.5) & (na > 0)
    x, n = xa[keep], na[keep]
    if x.size < 3:
        raise ValueError(f"{what}: fewer than 3 adsorption points with 0 < p/p0 < 0.5")
    y = x / (n * (1.0 - x))
    x_limit = float(x[int(np.argmax(n * (1.0 - x)))])
    if p_over_p0_range is not None:
        lo, hi = (float(v) for v in p_over_p0_range)
        idx = np.flatnonzero((x >= lo) & (x <= hi))
        if idx.size < 3:
            raise ValueError(f"{what}: fewer than 3 points in p/p0 {lo:g}-{hi:g}")
        i, j, window = int(idx[0]), int(idx[-1]), "given"
    else:
        chosen = _choose_window(x, n, y, x_limit, min_points, min_r2)
        if chosen is None:
            idx = np.flatnonzero((x >= ISO_DEFAULT_WINDOW[0]) & (x <= ISO_DEFAULT_WINDOW[1]))
            if idx.size < 3:
                raise ValueError(
                    f"{what}: no p/p0 window meets the Rouquerol criteria and fewer than 3 "
                    "points lie in 0.05-0.30"
                )
            i, j, window = int(idx[0]), int(idx[-1]), "iso9277-fallback"
        else:
            i, j, window = chosen
    return _result(x, n, y, i, j, window, x_limit, sigma, min_r2, what)


def _result(
    x: np.ndarray,
    n: np.ndarray,
    y: np.ndarray,
    i: int,
    j: int,
    window: str,
    x_limit: float,
    sigma: float,
    min_r2: float,
    what: str,
) -> BetResult:
    slope, intercept, r2 = _fit(x[i : j + 1], y[i : j + 1])
    if slope + intercept <= 0:
        raise ValueError(f"{what}: the BET plot gives a negative monolayer amount")
    nm = 1.0 / (slope + intercept)
    c = 1.0 + slope / intercept if intercept != 0 else np.inf
    crit, nums = _criteria(x, n, i, j, slope, intercept, x_limit)
    xm = 1.0 / (np.sqrt(c) + 1.0) if np.isfinite(c) and c > 0 else np.nan
    checks = {
        "n_one_minus_x_increasing": check(
            nums["rise"] if x[j] <= x_limit + 1e-12 else -1.0,
            0.0,
            below=False,
            meaning="smallest relative rise of n(1-p/p0) in the window (criterion 1)",
        ),
        "c_positive": check(c, 0.0, below=False, meaning="BET constant C (criterion 2)"),
        "monolayer_in_window": check(
            nums["outside"], 0.0, meaning="p/p0 distance of x_m outside the window (criterion 3)"
        ),
        "monolayer_consistent": check(
            nums["deviation"],
            MONOLAYER_TOLERANCE,
            meaning="relative difference x_m vs p/p0 at n_m on the isotherm (criterion 4)",
        ),
        "r2": check(r2, min_r2, below=False, meaning="r2 of the linear BET plot"),
    }
    notes = []
    if window == "iso9277-fallback":
        notes.append("no window meets the Rouquerol criteria: ISO 9277 range 0.05-0.30 used")
    elif window == "rouquerol-low-r2":
        notes.append(f"no Rouquerol window reaches r2 {min_r2}: the best-r2 one is used")
    fitted = np.zeros(x.size, dtype=bool)
    fitted[i : j + 1] = True
    return BetResult(
        bet_area_m2_per_g=bet_area_from_monolayer(nm, sigma),
        c_constant=float(c),
        p_over_p0_range=(float(x[i]), float(x[j])),
        monolayer_cm3_per_g=float(nm),
        monolayer_mmol_per_g=float(nm / (STP_MOLAR_VOLUME_CM3_PER_MOL / 1000.0)),
        r2=r2,
        n_points=j - i + 1,
        p_over_p0_monolayer=float(xm),
        criteria=crit,
        window=window,
        cross_section_nm2=sigma,
        bet_x=x,
        bet_y=y,
        fitted=fitted,
        slope=slope,
        intercept=intercept,
        quality=quality_block(checks, notes),
    )
