"""Hysteresis loop of an isotherm: found, sized and classified by IUPAC type (H1-H4).

The loop is where the desorption branch lies above the adsorption branch (interpolated at the
desorption pressures) by more than ``tolerance`` times the local adsorbed amount and more than
``LOOP_FLOOR`` times the largest one (a relative test, so that the low-pressure end of a small
loop under a steep type II rise is still seen). Its size:
the lower closure p/p0 (highest desorption p/p0 below the open part where the branches meet
again), the upper end, the largest gap and the area between the branches (cm3(STP)/g, p/p0
dimensionless).

Classification rule (after the shapes of Thommes et al. 2015, Fig. 3; H5 is not assigned):

1. *Plateau*: the adsorption slope over the last 0.05 of p/p0 is below ``PLATEAU_RATIO`` (0.5)
   times the steepest adsorption slope between p/p0 0.05 and there (the pores fill and the
   uptake levels off, type IV); otherwise the uptake keeps rising toward saturation
   (type II-like branch).
2. Without plateau: **H4** when the branch is type I + II composite, i.e. at least
   ``MICROPORE_FRACTION`` (0.4) of the final uptake is reached at p/p0 = 0.1 (micropore
   filling); else **H3** (aggregates of plate-like particles, slit pores, macropore networks
   not filled with condensate).
3. With plateau: **H2** when the desorption branch is much steeper than the adsorption branch
   (p/p0 width over which it covers 20-80 % of the loop amount below ``STEEP_RATIO`` (0.5)
   times that of the adsorption branch: pore blocking or cavitation); else **H1** (narrow,
   nearly parallel branches of uniform mesopores).

The isotherm type is reported too: I (plateau with >= 80 % of the uptake at p/p0 0.3),
IV (plateau otherwise; IV(a) with a loop), II (no plateau).

References
----------
.. [1] Thommes M. et al. (2015), "Physisorption of gases, with special reference to the
   evaluation of surface area and pore size distribution (IUPAC Technical Report)", Pure
   Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.physisorption.isotherm import Isotherm

__all__ = [
    "hysteresis",
    "HysteresisResult",
    "LOOP_TOLERANCE",
    "LOOP_FLOOR",
    "PLATEAU_RATIO",
    "MICROPORE_FRACTION",
    "STEEP_RATIO",
]

#: Gap (fraction of the local adsorbed amount) above which the branches count as separated.
LOOP_TOLERANCE = 0.02
#: ... and at least this fraction of the largest amount adsorbed (noise floor).
LOOP_FLOOR = 0.0005
#: Top slope / steepest loop slope below which the adsorption branch has a plateau.
PLATEAU_RATIO = 0.5
#: Fraction of the final uptake reached at p/p0 0.1 above which a loop is H4 rather than H3.
MICROPORE_FRACTION = 0.4
#: Desorption / adsorption width ratio below which a plateau loop is H2 rather than H1.
STEEP_RATIO = 0.5
#: Fraction of the final uptake at p/p0 0.3 from which a plateau isotherm is type I.
TYPE_I_FRACTION = 0.8


@dataclass(frozen=True)
class HysteresisResult:
    """Result of :func:`hysteresis`.

    Attributes
    ----------
    found
        True when the branches separate by more than the tolerance.
    iupac_type
        ``"H1"``, ``"H2"``, ``"H3"``, ``"H4"``, or ``None`` without a loop.
    isotherm_type
        ``"I"``, ``"II"``, ``"IV(a)"`` or ``"IV(b)"`` by the rule in the module docstring.
    closure_p_over_p0
        Lower closure point (NaN when no loop; the lowest desorption p/p0 when it never closes).
    upper_p_over_p0
        Highest p/p0 at which the loop is open.
    area_cm3_stp_per_g
        Area between the branches over p/p0.
    max_gap_cm3_stp_per_g, p_over_p0_at_max_gap
        Largest separation and where it occurs.
    closed
        False when the loop stays open to the lowest desorption point (low-pressure
        hysteresis: swelling, chemisorption or too short equilibration).
    measures
        The numbers the rule used (top slope ratio, uptake fraction at p/p0 0.1 and 0.3,
        width ratio).
    rule
        The rule as one line.
    """

    found: bool
    iupac_type: str | None
    isotherm_type: str
    closure_p_over_p0: float
    upper_p_over_p0: float
    area_cm3_stp_per_g: float
    max_gap_cm3_stp_per_g: float
    p_over_p0_at_max_gap: float
    closed: bool
    measures: dict[str, float] = field(default_factory=dict)
    rule: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers."""
        return {
            "hysteresis_found": self.found,
            "hysteresis_type": self.iupac_type,
            "isotherm_type": self.isotherm_type,
            "closure_p_over_p0": self.closure_p_over_p0,
            "upper_p_over_p0": self.upper_p_over_p0,
            "area_cm3_stp_per_g": self.area_cm3_stp_per_g,
            "max_gap_cm3_stp_per_g": self.max_gap_cm3_stp_per_g,
            "p_over_p0_at_max_gap": self.p_over_p0_at_max_gap,
            "closed": self.closed,
            "measures": dict(self.measures),
            "rule": self.rule,
        }


_RULE = (
    "no plateau: H4 if >= 40 % of the uptake at p/p0 0.1 else H3; plateau: H2 if the "
    "desorption branch is < 0.5x as wide as the adsorption branch else H1 (Thommes 2015)"
)


def _width(x: np.ndarray, n: np.ndarray, lo: float, hi: float) -> float:
    """p/p0 span over which a branch (x increasing) goes from amount lo to amount hi."""
    order = np.argsort(x)
    xs, ns = x[order], np.maximum.accumulate(n[order])
    if ns[-1] <= lo or ns[0] >= hi:
        return float("nan")
    return float(np.interp(hi, ns, xs) - np.interp(lo, ns, xs))


def _adsorption_at(xa: np.ndarray, na: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Adsorption branch at ``x`` by monotone cubic (PCHIP) interpolation: a steep convex
    type II rise is followed closely, where straight lines would overestimate it."""
    from scipy.interpolate import PchipInterpolator

    xu, idx = np.unique(xa, return_index=True)
    if xu.size < 3:
        return np.interp(x, xa, na)
    return PchipInterpolator(xu, na[idx], extrapolate=False)(x)


def _shape(xa: np.ndarray, na: np.ndarray) -> dict[str, float]:
    """Measures of the adsorption branch (x increasing) the classification uses."""
    top = float(na[-1])
    x_top = float(xa[-1])
    upper = xa >= x_top - 0.05
    if int(upper.sum()) >= 2:
        top_slope = float(np.polyfit(xa[upper], na[upper], 1)[0])
    else:
        top_slope = float((na[-1] - na[-2]) / (xa[-1] - xa[-2]))
    slopes = np.diff(na) / np.diff(xa)
    mids = 0.5 * (xa[1:] + xa[:-1])
    inner = slopes[(mids >= 0.05) & (mids < x_top - 0.05)]
    steepest = float(inner.max()) if inner.size else float("nan")
    return {
        "top_slope_ratio": top_slope / steepest if steepest > 0 else float("inf"),
        "uptake_fraction_at_0.1": float(np.interp(0.1, xa, na)) / top if top > 0 else 0.0,
        "uptake_fraction_at_0.3": float(np.interp(0.3, xa, na)) / top if top > 0 else 0.0,
    }


def hysteresis(isotherm: Isotherm, *, tolerance: float = LOOP_TOLERANCE) -> HysteresisResult:
    """Find, size and classify the hysteresis loop of an isotherm.

    Parameters
    ----------
    isotherm
        The isotherm (with a desorption branch for a loop to be found).
    tolerance
        Gap, as a fraction of the adsorbed amount at the same p/p0, above which the branches
        count as separated (and above ``LOOP_FLOOR`` of the largest amount).

    Returns
    -------
    HysteresisResult
        ``found=False`` and ``iupac_type=None`` when the isotherm is reversible or has no
        desorption branch.

    References
    ----------
    .. [1] Thommes M. et al. (2015), doi:10.1515/pac-2014-1117.
    """
    xa, na = isotherm.adsorption()
    nan = float("nan")
    shape = _shape(xa, na)
    if not isotherm.has_desorption:
        return _no_loop(shape)
    xd, nd = isotherm.desorption(include_top=False)
    inside = (xd >= xa[0]) & (xd <= xa[-1])
    xd, nd = xd[inside], nd[inside]
    n_at = _adsorption_at(xa, na, xd)
    gap = nd - n_at
    open_ = (gap > tolerance * n_at) & (gap > LOOP_FLOOR * float(na.max()))
    if int(open_.sum()) < 2:
        return _no_loop(shape)
    xs = xd[::-1]  # increasing
    gs, os_ = gap[::-1], open_[::-1]
    first = int(np.argmax(os_))
    closed = first > 0
    closure = float(xs[first - 1]) if closed else float(xs[0])
    upper = float(xs[np.flatnonzero(os_)[-1]])
    seg = slice(max(first - 1, 0), None)
    area = float(np.trapezoid(np.clip(gs[seg], 0, None), xs[seg]))
    k = int(np.argmax(gs))
    # widths of the branches over 20-80 % of the loop amount
    n_lo = float(np.interp(closure, xa, na))
    n_hi = float(na[-1])
    lo, hi = n_lo + 0.2 * (n_hi - n_lo), n_lo + 0.8 * (n_hi - n_lo)
    w_ads = _width(xa[xa >= closure], na[xa >= closure], lo, hi)
    w_des = _width(xd[xd >= closure], nd[xd >= closure], lo, hi)
    shape["width_ratio"] = w_des / w_ads if w_ads and w_ads > 0 else nan
    plateau = shape["top_slope_ratio"] < PLATEAU_RATIO
    if not plateau:
        kind = "H4" if shape["uptake_fraction_at_0.1"] >= MICROPORE_FRACTION else "H3"
    else:
        kind = "H2" if shape["width_ratio"] < STEEP_RATIO else "H1"
    return HysteresisResult(
        found=True,
        iupac_type=kind,
        isotherm_type=_isotherm_type(shape, loop=True),
        closure_p_over_p0=closure,
        upper_p_over_p0=upper,
        area_cm3_stp_per_g=area,
        max_gap_cm3_stp_per_g=float(gs[k]),
        p_over_p0_at_max_gap=float(xs[k]),
        closed=closed,
        measures=shape,
        rule=_RULE,
    )


def _isotherm_type(shape: dict[str, float], *, loop: bool) -> str:
    if shape["top_slope_ratio"] >= PLATEAU_RATIO:
        return "II"
    if shape["uptake_fraction_at_0.3"] >= TYPE_I_FRACTION:
        return "I"
    return "IV(a)" if loop else "IV(b)"


def _no_loop(shape: dict[str, float]) -> HysteresisResult:
    nan = float("nan")
    return HysteresisResult(
        found=False,
        iupac_type=None,
        isotherm_type=_isotherm_type(shape, loop=False),
        closure_p_over_p0=nan,
        upper_p_over_p0=nan,
        area_cm3_stp_per_g=0.0,
        max_gap_cm3_stp_per_g=0.0,
        p_over_p0_at_max_gap=nan,
        closed=True,
        measures=shape,
        rule=_RULE,
    )
