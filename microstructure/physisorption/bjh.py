"""BJH pore size distribution (Barrett, Joyner and Halenda 1951) of cylindrical mesopores.

The branch is walked from the highest p/p0 down. At step k (p/p0 from x_{k-1} to x_k) the
amount given off, as liquid volume dv_k, is the sum of

- the film thinning on all pores emptied before: sum_j A_j dt_k (r_j - t_mean_k) / r_j with
  the film thickness t(x) of :mod:`~microstructure.physisorption.thickness` (dt_k =
  t_{k-1} - t_k, A_j = 2 V_j / r_j the wall area of group j), and
- the cores of the pores emptied in the step, of radius r_k = mean of r_p(x_{k-1}), r_p(x_k),
  r_p = r_Kelvin + t; they keep a film t_k, so their volume is
  V_k = (dv_k - film) * r_k^2 / (r_k - t_k)^2 (the BJH factor R_k = r_p^2/(r_K + dt/2)^2).

When the film term exceeds dv_k no pores are emptied in that step (V_k = 0). The Kelvin radius
uses a hemispherical meniscus on desorption (f = 2) and a cylindrical one on adsorption
(f = 1). The distribution is reported between ``diameter_range_nm`` (1.7-300 nm by default,
the usual mesopore/small macropore range of instrument software).

On desorption, N2 at 77 K cannot stay condensed below p/p0 about 0.42 (cavitation): a loop
closing there produces an artificial BJH peak near 3.5-4 nm (Thommes et al. 2015, section
5.2); the quality block flags a mode at that pressure.

References
----------
.. [1] Barrett E.P., Joyner L.G., Halenda P.P. (1951), J. Am. Chem. Soc. 73, 373-380,
   doi:10.1021/ja01145a126.
.. [2] Thommes M. et al. (2015), Pure Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
.. [3] Harkins W.D., Jura G. (1944), doi:10.1021/ja01236a048.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.physisorption.constants import ADSORPTIVES, DEFAULT_N2_TEMPERATURE_K
from microstructure.physisorption.isotherm import Isotherm
from microstructure.physisorption.thickness import (
    DEFAULT_THICKNESS,
    kelvin_radius_nm,
    thickness_nm,
)
from microstructure.physisorption.tplot import liquid_factor
from microstructure.quality import check, quality_block

__all__ = ["bjh", "BjhResult", "BJH_DIAMETER_RANGE_NM", "CAVITATION_P_OVER_P0"]

#: Pore diameters reported, nm.
BJH_DIAMETER_RANGE_NM = (1.7, 300.0)
#: Largest BJH pore volume / top-of-isotherm liquid volume accepted (BJH's core-to-pore factor
#: routinely gives 1.1-1.2 on mesoporous solids; far above means the model does not hold).
VOLUME_RATIO_LIMIT = 1.25
#: p/p0 band of cavitation-induced desorption of N2 at 77 K (artificial BJH peak).
CAVITATION_P_OVER_P0 = (0.40, 0.50)


@dataclass(frozen=True, eq=False)
class BjhResult:
    """Result of :func:`bjh` (arrays ordered by increasing diameter).

    Attributes
    ----------
    diameter_nm
        Mean pore diameter of each step.
    diameter_bounds_nm
        (n, 2) lower and upper diameter of each step.
    pore_volume_cm3_per_g
        Pore volume (liquid) of each step.
    dv_dlogd_cm3_per_g
        Pore volume per decade of diameter.
    cumulative_volume_cm3_per_g
        Volume of pores larger than or equal to each diameter.
    pore_area_m2_per_g
        Wall area of each step.
    bjh_d50_nm
        Diameter splitting the pore volume in halves.
    mode_nm
        Diameter of the largest dV/dlogD.
    total_volume_cm3_per_g, total_area_m2_per_g
        Sums over the reported range.
    branch, thickness
        What was used.
    p_over_p0_at_mode
        p/p0 at which the mode's pores emptied (filled, on adsorption).
    quality
        Quality block.
    """

    diameter_nm: np.ndarray
    diameter_bounds_nm: np.ndarray = field(repr=False)
    pore_volume_cm3_per_g: np.ndarray = field(repr=False)
    dv_dlogd_cm3_per_g: np.ndarray = field(repr=False)
    cumulative_volume_cm3_per_g: np.ndarray = field(repr=False)
    pore_area_m2_per_g: np.ndarray = field(repr=False)
    bjh_d50_nm: float = float("nan")
    mode_nm: float = float("nan")
    total_volume_cm3_per_g: float = 0.0
    total_area_m2_per_g: float = 0.0
    branch: str = "desorption"
    thickness: str = "harkins-jura"
    p_over_p0_at_mode: float = float("nan")
    quality: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (key of the command-line contract first)."""
        return {
            "bjh_d50_nm": self.bjh_d50_nm,
            "mode_nm": self.mode_nm,
            "total_volume_cm3_per_g": self.total_volume_cm3_per_g,
            "total_area_m2_per_g": self.total_area_m2_per_g,
            "branch": self.branch,
            "thickness": self.thickness,
            "p_over_p0_at_mode": self.p_over_p0_at_mode,
            "n_steps": int(self.diameter_nm.size),
            "quality": self.quality,
        }

    def columns(self) -> dict[str, np.ndarray]:
        """The distribution as CSV columns."""
        return {
            "diameter_nm": self.diameter_nm,
            "diameter_min_nm": self.diameter_bounds_nm[:, 0],
            "diameter_max_nm": self.diameter_bounds_nm[:, 1],
            "pore_volume_cm3_per_g": self.pore_volume_cm3_per_g,
            "dv_dlogd_cm3_per_g": self.dv_dlogd_cm3_per_g,
            "cumulative_volume_cm3_per_g": self.cumulative_volume_cm3_per_g,
            "pore_area_m2_per_g": self.pore_area_m2_per_g,
        }


def _bjh_steps(
    x: np.ndarray, v: np.ndarray, rp: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pore volume and mean radius of each step (x decreasing, v liquid volume)."""
    n_steps = x.size - 1
    volumes = np.zeros(n_steps)
    radii = 0.5 * (rp[:-1] + rp[1:])
    areas = np.zeros(n_steps)  # wall area per unit (cm3/nm): 2 V / r
    for k in range(n_steps):
        dv = v[k] - v[k + 1]
        dt = t[k] - t[k + 1]
        t_mean = 0.5 * (t[k] + t[k + 1])
        prev = slice(0, k)
        wall = np.clip(radii[prev] - t_mean, 0.0, None) / radii[prev]
        film = float(np.sum(areas[prev] * dt * wall))
        core = dv - film
        if core <= 0 or radii[k] <= t[k + 1]:
            continue
        volumes[k] = core * radii[k] ** 2 / (radii[k] - t[k + 1]) ** 2
        areas[k] = 2.0 * volumes[k] / radii[k]
    return volumes, radii


def bjh(
    isotherm: Isotherm,
    *,
    branch: str = "desorption",
    thickness: str = DEFAULT_THICKNESS,
    diameter_range_nm: tuple[float, float] = BJH_DIAMETER_RANGE_NM,
) -> BjhResult:
    """BJH pore size distribution of an N2 isotherm at 77 K.

    Parameters
    ----------
    isotherm
        The isotherm (N2).
    branch
        ``"desorption"`` (hemispherical meniscus; the default, as in most electrode studies)
        or ``"adsorption"`` (cylindrical meniscus).
    thickness
        Thickness curve (``"harkins-jura"``, ``"halsey"``, ``"broekhoff-de-boer"``).
    diameter_range_nm
        Smallest and largest pore diameter reported.

    Returns
    -------
    BjhResult

    Raises
    ------
    ValueError
        One line naming the file: not N2, no desorption branch, or fewer than 3 points in
        the diameter range.

    References
    ----------
    .. [1] Barrett E.P., Joyner L.G., Halenda P.P. (1951), doi:10.1021/ja01145a126.
    .. [2] Thommes M. et al. (2015), doi:10.1515/pac-2014-1117.
    """
    what = f"{isotherm.name}: bjh"
    if isotherm.adsorbate != "N2":
        raise ValueError(f"{what}: the BJH constants are for N2 at 77 K, not {isotherm.adsorbate}")
    if branch == "desorption":
        if not isotherm.has_desorption:
            raise ValueError(
                f"{what}: the isotherm has no desorption branch; use --branch adsorption"
            )
        x, n = isotherm.desorption()
        meniscus = "hemispherical"
    elif branch == "adsorption":
        xa, na = isotherm.adsorption()
        x, n = xa[::-1], na[::-1]
        meniscus = "cylindrical"
    else:
        raise ValueError(f"{what}: branch must be 'desorption' or 'adsorption', got {branch!r}")
    keep = (x > 0) & (x < 1)
    x, n = x[keep], n[keep]
    order = np.argsort(-x, kind="stable")
    x, n = x[order], n[order]
    n2 = ADSORPTIVES["N2"]
    temperature = isotherm.temperature_k or DEFAULT_N2_TEMPERATURE_K
    t = thickness_nm(x, thickness)
    rp = (
        kelvin_radius_nm(
            x,
            meniscus=meniscus,
            temperature_k=temperature,
            surface_tension_n_per_m=n2.surface_tension_n_per_m or 8.85e-3,
            molar_volume_cm3_per_mol=n2.liquid_molar_volume_cm3_per_mol or 34.67,
        )
        + t
    )
    dmin, dmax = (float(v) for v in diameter_range_nm)
    # every point down to the smallest diameter is walked (pores above the range still give
    # off their film further down); only steps inside the range are reported
    sel = 2 * rp >= dmin
    if int(sel.sum()) < 3:
        raise ValueError(
            f"{what}: fewer than 3 {branch} points with pore diameters {dmin:g}-{dmax:g} nm"
        )
    x, n, t, rp = x[sel], n[sel], t[sel], rp[sel]
    v = n * liquid_factor("N2")
    volumes, radii = _bjh_steps(x, v, rp, t)
    keep = 2 * radii <= dmax
    if int(keep.sum()) < 2:
        raise ValueError(f"{what}: fewer than 2 BJH steps with pore diameters below {dmax:g} nm")
    first = int(np.argmax(keep))  # steps are ordered from large to small pores
    volumes, radii, rp, x = volumes[first:], radii[first:], rp[first:], x[first:]
    top_volume = float(np.max(isotherm.amount_cm3_stp_per_g)) * liquid_factor("N2")
    return _result(volumes, radii, rp, x, branch, thickness, top_volume)


def _result(
    volumes: np.ndarray,
    radii: np.ndarray,
    rp: np.ndarray,
    x: np.ndarray,
    branch: str,
    thickness: str,
    top_volume: float,
) -> BjhResult:
    d = 2.0 * radii[::-1]
    bounds = np.column_stack([2.0 * rp[1:], 2.0 * rp[:-1]])[::-1]
    vol = volumes[::-1]
    width = np.log10(bounds[:, 1] / bounds[:, 0])
    dvdlogd = np.divide(vol, width, out=np.zeros_like(vol), where=width > 0)
    cumulative = np.cumsum(vol[::-1])[::-1]  # pores >= d
    area = np.divide(2.0 * vol, d / 2.0, out=np.zeros_like(vol), where=d > 0) * 1000.0
    total = float(vol.sum())
    if total > 0:
        from_small = np.cumsum(vol)
        k = int(np.searchsorted(from_small, 0.5 * total))
        lo_v = from_small[k - 1] if k > 0 else 0.0
        frac = (0.5 * total - lo_v) / vol[k] if vol[k] > 0 else 0.0
        d50 = float(10 ** (np.log10(bounds[k, 0]) + frac * np.log10(bounds[k, 1] / bounds[k, 0])))
        m = int(np.argmax(dvdlogd))
        mode, x_mode = float(d[m]), float(np.sqrt(x[::-1][m] * x[::-1][m + 1]))
    else:
        d50 = mode = x_mode = float("nan")
    cav_lo, cav_hi = CAVITATION_P_OVER_P0
    in_band = branch == "desorption" and cav_lo <= x_mode <= cav_hi
    checks = {
        "pore_volume": check(total, 0.0, below=False, meaning="BJH pore volume, cm3/g (> 0)"),
        "mode_not_cavitation": check(
            1.0 if in_band else 0.0,
            0.0,
            meaning="mode emptied at p/p0 0.40-0.50 (1 = likely the cavitation artefact)",
        ),
        "volume_vs_uptake": check(
            total / top_volume if top_volume > 0 else np.inf,
            VOLUME_RATIO_LIMIT,
            meaning="BJH pore volume / liquid volume adsorbed at the top of the isotherm "
            "(well above 1: cylinders and thickness curve do not hold, e.g. micropores)",
        ),
    }
    notes = ["BJH pore volume is zero: no mesopores in the range"] if total <= 0 else []
    return BjhResult(
        diameter_nm=d,
        diameter_bounds_nm=bounds,
        pore_volume_cm3_per_g=vol,
        dv_dlogd_cm3_per_g=dvdlogd,
        cumulative_volume_cm3_per_g=cumulative,
        pore_area_m2_per_g=area,
        bjh_d50_nm=d50,
        mode_nm=mode,
        total_volume_cm3_per_g=total,
        total_area_m2_per_g=float(area.sum()),
        branch=branch,
        thickness=thickness,
        p_over_p0_at_mode=x_mode,
        quality=quality_block(checks, notes),
    )
