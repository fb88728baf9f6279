"""t-plot (Lippens and de Boer): external area, micropore volume and micropore area.

The amount adsorbed n (cm3(STP)/g) is plotted against the statistical thickness t of the
adsorbed film on a non-porous reference (:mod:`microstructure.physisorption.thickness`). Where
the micropores are full and multilayers grow only on the external (non-micropore) surface the
plot is linear, n = n_micro + S_ext t / D, with D = V_m(liquid) / V_STP (0.001547 cm3 liquid
per cm3(STP) for N2): the slope gives the external area S_ext = slope * D (m2/g when t is in
nm: 1 cm3/(g nm) = 1000 m2/g), the intercept the micropore volume V_micro = n_micro * D
(cm3 liquid/g); the micropore area is the BET area minus S_ext (the convention of ISO
15901-3 and of instrument software).

Default fitting window: t = 0.35-0.50 nm (p/p0 about 0.08-0.30 on the Harkins-Jura curve),
past micropore filling and below capillary condensation.

References
----------
.. [1] Lippens B.C., de Boer J.H. (1965), "Studies on pore systems in catalysts V. The t
   method", J. Catal. 4, 319-323.
.. [2] Harkins W.D., Jura G. (1944), doi:10.1021/ja01236a048.
.. [3] Halsey G. (1948), doi:10.1063/1.1746689.
.. [4] Thommes M. et al. (2015), Pure Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.physisorption.constants import ADSORPTIVES, STP_MOLAR_VOLUME_CM3_PER_MOL
from microstructure.physisorption.isotherm import Isotherm
from microstructure.physisorption.thickness import DEFAULT_THICKNESS, thickness_nm
from microstructure.quality import check, quality_block

__all__ = ["tplot", "TplotResult", "T_WINDOW_NM", "TPLOT_MIN_R2", "liquid_factor"]

#: Default t window of the linear fit, nm.
T_WINDOW_NM = (0.35, 0.50)
#: Smallest r2 of the linear t-plot fit for the quality block.
TPLOT_MIN_R2 = 0.995


def liquid_factor(adsorbate: str = "N2") -> float:
    """cm3 of liquid adsorptive per cm3(STP) of gas (0.0015468 for N2 at 77 K).

    Parameters
    ----------
    adsorbate
        Canonical adsorptive name with a tabulated liquid molar volume.

    Returns
    -------
    float
        V_m(liquid) / V_STP.
    """
    props = ADSORPTIVES.get(adsorbate)
    vm = props.liquid_molar_volume_cm3_per_mol if props is not None else None
    if vm is None:
        raise ValueError(f"no liquid molar volume tabulated for adsorptive {adsorbate!r}")
    return vm / STP_MOLAR_VOLUME_CM3_PER_MOL


@dataclass(frozen=True, eq=False)
class TplotResult:
    """Result of :func:`tplot`.

    Attributes
    ----------
    micropore_area_m2_per_g
        BET area minus external area (0 when the external area exceeds it).
    external_area_m2_per_g
        From the slope.
    micropore_volume_cm3_per_g
        Liquid volume, from the intercept (0 when the intercept is negative).
    intercept_cm3_stp_per_g, slope_cm3_stp_per_g_nm
        Of the fit n = intercept + slope t.
    t_range_nm, p_over_p0_range
        First and last t and p/p0 of the fitted points.
    r2, n_points
        Of the fit.
    thickness
        Thickness curve used.
    bet_area_m2_per_g
        The BET area the micropore area was taken from.
    t_nm, amount_cm3_stp_per_g, fitted
        All adsorption points (t, n) and the mask of the fitted ones (for plotting).
    quality
        Quality block (r2, intercept sign, external <= BET).
    """

    micropore_area_m2_per_g: float
    external_area_m2_per_g: float
    micropore_volume_cm3_per_g: float
    intercept_cm3_stp_per_g: float
    slope_cm3_stp_per_g_nm: float
    t_range_nm: tuple[float, float]
    p_over_p0_range: tuple[float, float]
    r2: float
    n_points: int
    thickness: str
    bet_area_m2_per_g: float
    t_nm: np.ndarray = field(repr=False)
    amount_cm3_stp_per_g: np.ndarray = field(repr=False)
    fitted: np.ndarray = field(repr=False)
    quality: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (keys of the command-line contract first)."""
        return {
            "micropore_area_m2_per_g": self.micropore_area_m2_per_g,
            "external_area_m2_per_g": self.external_area_m2_per_g,
            "micropore_volume_cm3_per_g": self.micropore_volume_cm3_per_g,
            "bet_area_m2_per_g": self.bet_area_m2_per_g,
            "t_range_nm": list(self.t_range_nm),
            "p_over_p0_range": list(self.p_over_p0_range),
            "thickness": self.thickness,
            "r2": self.r2,
            "n_points": self.n_points,
            "intercept_cm3_stp_per_g": self.intercept_cm3_stp_per_g,
            "slope_cm3_stp_per_g_nm": self.slope_cm3_stp_per_g_nm,
            "quality": self.quality,
        }


def tplot(
    isotherm: Isotherm,
    *,
    thickness: str = DEFAULT_THICKNESS,
    p_over_p0_range: tuple[float, float] | None = None,
    t_range_nm: tuple[float, float] = T_WINDOW_NM,
    bet_area_m2_per_g: float | None = None,
) -> TplotResult:
    """t-plot of the adsorption branch of an N2 isotherm at 77 K.

    Parameters
    ----------
    isotherm
        The isotherm (N2; its adsorption branch is used).
    thickness
        Thickness curve: ``"harkins-jura"`` (default), ``"halsey"`` or ``"broekhoff-de-boer"``.
    p_over_p0_range
        (low, high) p/p0 of the points to fit; overrides ``t_range_nm``.
    t_range_nm
        (low, high) t of the points to fit when no p/p0 range is given.
    bet_area_m2_per_g
        BET area for the micropore area; :func:`microstructure.physisorption.bet` with its
        automatic window when None.

    Returns
    -------
    TplotResult

    Raises
    ------
    ValueError
        One line naming the file: not N2, or fewer than 3 points in the window.

    References
    ----------
    .. [1] Lippens B.C., de Boer J.H. (1965), J. Catal. 4, 319-323.
    .. [2] Harkins W.D., Jura G. (1944), doi:10.1021/ja01236a048.
    """
    what = f"{isotherm.name}: t-plot"
    if isotherm.adsorbate != "N2":
        raise ValueError(f"{what}: thickness curves are for N2 at 77 K, not {isotherm.adsorbate}")
    xa, na = isotherm.adsorption()
    keep = (xa > 0) & (xa < 1)
    x, n = xa[keep], na[keep]
    t = thickness_nm(x, thickness)
    if p_over_p0_range is not None:
        lo, hi = (float(v) for v in p_over_p0_range)
        sel = (x >= lo) & (x <= hi)
        window = f"p/p0 {lo:g}-{hi:g}"
    else:
        lo, hi = (float(v) for v in t_range_nm)
        sel = (t >= lo) & (t <= hi)
        window = f"t {lo:g}-{hi:g} nm"
    if int(sel.sum()) < 3:
        raise ValueError(f"{what}: fewer than 3 adsorption points in {window}")
    slope, intercept = np.polyfit(t[sel], n[sel], 1)
    resid = n[sel] - (slope * t[sel] + intercept)
    ss = float(np.sum((n[sel] - n[sel].mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else 0.0
    d = liquid_factor("N2")
    external = float(slope * d * 1000.0)  # cm3 liquid/(g nm) -> m2/g
    if bet_area_m2_per_g is None:
        from microstructure.physisorption.bet import bet

        bet_area_m2_per_g = bet(isotherm).bet_area_m2_per_g
    checks = {
        "r2": check(r2, TPLOT_MIN_R2, below=False, meaning="r2 of the linear t-plot fit"),
        "intercept": check(
            float(intercept), 0.0, below=False, meaning="t-plot intercept, cm3(STP)/g (>= 0)"
        ),
        "external_vs_bet": check(
            external / bet_area_m2_per_g if bet_area_m2_per_g > 0 else np.inf,
            1.05,
            meaning="external area / BET area",
        ),
    }
    return TplotResult(
        micropore_area_m2_per_g=max(float(bet_area_m2_per_g) - external, 0.0),
        external_area_m2_per_g=external,
        micropore_volume_cm3_per_g=max(float(intercept) * d, 0.0),
        intercept_cm3_stp_per_g=float(intercept),
        slope_cm3_stp_per_g_nm=float(slope),
        t_range_nm=(float(t[sel].min()), float(t[sel].max())),
        p_over_p0_range=(float(x[sel].min()), float(x[sel].max())),
        r2=r2,
        n_points=int(sel.sum()),
        thickness=thickness,
        bet_area_m2_per_g=float(bet_area_m2_per_g),
        t_nm=t,
        amount_cm3_stp_per_g=n,
        fitted=sel,
        quality=quality_block(checks),
    )
