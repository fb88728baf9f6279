"""Forward model and misfit of the CBD calibration (:mod:`microstructure.cbd.calibrate`).

:func:`cbd_mip_curve`: CBD insertion into AM/pore labels, fibrous nanopores and the simulated
MIP at the discrete radii of the MIP stage, as in Beuse et al. 2021 [1]_ section 3.5;
:func:`resolved_misfit`: the shape misfit of two curves in the resolved range;
:func:`resolved_range`: the diameters both curves cover.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from microstructure.cbd.defaults import (
    DEFAULT_CBD_POROSITY,
    DEFAULT_CONTACT_ANGLE_DEG,
    DEFAULT_NANOPORE_MEAN_NM,
    DEFAULT_NANOPORE_STD_NM,
)
from microstructure.cbd.insertion import cbd_envelope_fraction, insert_cbd
from microstructure.cbd.nanopores import add_nanopores
from microstructure.volume import Phase, check_labels, parse_voxel_size

__all__ = [
    "CALIBRATION_PARAMETERS",
    "DEFAULT_BOUNDS",
    "DEFAULT_FREE",
    "DEFAULT_MAX_DIAMETER_NM",
    "DEFAULT_MAX_VOID_DIAMETER_NM",
    "DEFAULT_PSD_WEIGHT",
    "JUMPY_PARAMETERS",
    "RADII_PER_DECADE",
    "cbd_mip_curve",
    "default_radii_nm",
    "resolved_misfit",
    "resolved_range",
]

#: Largest gas void (nm) of the void-filling CBD used when none is given.
DEFAULT_MAX_VOID_DIAMETER_NM = 500.0
#: The parameters the fit can vary, with their starting values.
CALIBRATION_PARAMETERS: dict[str, float] = {
    "contact_angle_deg": DEFAULT_CONTACT_ANGLE_DEG,
    "max_void_diameter_nm": DEFAULT_MAX_VOID_DIAMETER_NM,
    "cbd_porosity": DEFAULT_CBD_POROSITY,
    "nanopore_mean_nm": DEFAULT_NANOPORE_MEAN_NM,
    "nanopore_std_nm": DEFAULT_NANOPORE_STD_NM,
}
#: Default bands (low, high); the CBD porosity band is the user's to set (literature: 47-58 %).
DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "contact_angle_deg": (10.0, 70.0),
    "max_void_diameter_nm": (200.0, 1500.0),
    "cbd_porosity": (0.45, 0.58),
    "nanopore_mean_nm": (60.0, 300.0),
    "nanopore_std_nm": (10.0, 120.0),
}
#: Parameters fitted unless ``free`` says otherwise.
DEFAULT_FREE: tuple[str, ...] = (
    "max_void_diameter_nm",
    "cbd_porosity",
    "nanopore_mean_nm",
    "nanopore_std_nm",
)
#: Parameters that act on the voxel configuration of the gas in jumps (they move, add and
#: remove whole gas balls); the search profiles them (``_calibrate_search.profile_polish``).
JUMPY_PARAMETERS: tuple[str, ...] = ("contact_angle_deg", "max_void_diameter_nm")
#: Weight of the PSD term in the objective (see :func:`resolved_misfit`).
DEFAULT_PSD_WEIGHT = 0.5
#: Largest Washburn diameter (nm) of the default intrusion radii (as the twin's MIP stage).
DEFAULT_MAX_DIAMETER_NM = 2000.0
#: Intrusion radii per decade of the default radius list (as the MIP stage).
RADII_PER_DECADE = 20
_GRID_POINTS = 64


def _prepare_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """AM/pore labels without CBD, the closed pores (kept empty) and the AM fraction."""
    from microstructure.segment import closed_pores

    lab = check_labels(labels, name="labels").copy()
    lab[(lab == Phase.CBD) | (lab == Phase.CBD_PORE)] = Phase.PORE
    am = lab == Phase.AM
    if not am.any():
        raise ValueError("labels: no active material (phase 1); the CBD volume comes from it")
    closed = np.asarray(closed_pores(am)) & (lab == Phase.PORE)
    return lab, closed, float(am.mean())


def _check_fits(am_fraction: float, open_pore: float, ratio: float, porosity: float) -> float:
    """The CBD envelope fraction; a one-line error when it exceeds the open pore space."""
    env = cbd_envelope_fraction(am_fraction, cbd_to_am_volume_ratio=ratio, cbd_porosity=porosity)
    if env >= open_pore:
        raise ValueError(
            f"cbd_porosity: at {porosity:.3f} the recipe's CBD envelope ({env:.4f} of the volume; "
            f"solid CBD / AM = {ratio:.4f}) is larger than the open pore space ({open_pore:.4f}); "
            "lower the CBD porosity band or check the recipe and the segmentation"
        )
    return env


def cbd_mip_curve(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    cbd_to_am_volume_ratio: float,
    parameters: Mapping[str, float] | None = None,
    distribution: str = "contact",
    inlet: str = "all-but-bottom",
    thickness_axis: str = "y",
    top_at: int = 0,
    radii_nm: Sequence[float] | None = None,
    seed: int = 0,
    _prepared: tuple[np.ndarray, np.ndarray, float] | None = None,
    _geometry_cache: dict[str, Any] | None = None,
) -> Any:
    """Simulated MIP curve of a labels volume after CBD insertion and nanopores.

    Parameters
    ----------
    labels
        Labels (z, y, x) with AM (1) and pore (0); CBD already present is removed first.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    cbd_to_am_volume_ratio
        Solid CBD volume per AM volume from the recipe (Table 1 of [1]_: 11.46 / 88.54).
    parameters
        Values of :data:`CALIBRATION_PARAMETERS` (missing ones take their defaults).
    distribution
        CBD distribution mode of :func:`~microstructure.cbd.insert_cbd`.
    inlet, thickness_axis, top_at
        Mercury inlet faces and electrode orientation (``simulate_mip``).
    radii_nm
        Discrete intrusion radii (nm); default 20 per decade from half a voxel to 1.5 um.
    seed
        Seed of the insertion and of the nanopores (common random numbers in a fit).

    Returns
    -------
    MipCurve
        The resolved intrusion curve (saturation of the resolved pore space).
    """
    from microstructure.porosimetry import simulate_mip

    vs = parse_voxel_size(voxel_size_nm)
    p = {**CALIBRATION_PARAMETERS, **dict(parameters or {})}
    unknown = set(p) - set(CALIBRATION_PARAMETERS)
    if unknown:
        raise ValueError(
            f"parameters: unknown {sorted(unknown)}; known {list(CALIBRATION_PARAMETERS)}"
        )
    lab, closed, am = _prepared if _prepared is not None else _prepare_labels(labels)
    open_pore = float(np.count_nonzero(lab == Phase.PORE) - np.count_nonzero(closed)) / lab.size
    env = _check_fits(am, open_pore, cbd_to_am_volume_ratio, p["cbd_porosity"])
    dom = lab.copy()
    dom[closed] = Phase.AM
    out = insert_cbd(
        dom,
        voxel_size_nm=vs,
        volume_fraction=env,
        contact_angle_deg=p["contact_angle_deg"],
        max_void_diameter_nm=p["max_void_diameter_nm"],
        distribution=distribution,  # type: ignore[arg-type]
        seed=seed,
        _geometry_cache=_geometry_cache,
    )
    out[closed] = Phase.PORE
    out = add_nanopores(
        out,
        voxel_size_nm=vs,
        porosity=p["cbd_porosity"],
        mean_diameter_nm=p["nanopore_mean_nm"],
        std_diameter_nm=p["nanopore_std_nm"],
        seed=seed,
        centres="volume",
    )
    if radii_nm is None:
        radii_nm = default_radii_nm(vs)
    res = simulate_mip(
        out,
        voxel_size_nm=vs,
        inlet=inlet,
        thickness_axis=thickness_axis,
        top_at=top_at,
        radii_nm=radii_nm,
    )
    return res.curve


def default_radii_nm(
    vs: tuple[float, float, float], max_diameter_nm: float = DEFAULT_MAX_DIAMETER_NM
) -> np.ndarray:
    """Radii (nm) log-spaced at :data:`RADII_PER_DECADE` from half the smallest voxel edge to
    ``max_diameter_nm / 2``: the list of the MIP stage's capped run (``max_diameter_nm``), so
    a fitted curve is the curve the twin reports."""
    lo = 0.5 * min(vs)
    hi = 0.5 * float(max_diameter_nm)
    n = max(2, int(math.ceil(math.log10(hi / lo) * RADII_PER_DECADE)) + 1)
    return np.geomspace(lo, hi, n)


def _cumulative(curve: Any, d_nm: np.ndarray) -> np.ndarray:
    """Saturation intruded at the Washburn diameters ``d_nm`` (log-linear between steps)."""
    d = np.asarray(curve.diameter_nm, dtype=float)
    order = np.argsort(d)
    x = np.log10(d[order])
    y = np.maximum.accumulate(np.asarray(curve.saturation, dtype=float)[order][::-1])[::-1]
    return np.interp(np.log10(d_nm), x, y, left=float(y[0]), right=0.0)


def resolved_misfit(
    simulated: Any,
    measured: Any,
    *,
    d_low_nm: float,
    d_high_nm: float,
    psd_weight: float = DEFAULT_PSD_WEIGHT,
    d50_weight: float = 0.0,
) -> dict[str, Any]:
    """Shape misfit of two intrusion curves inside ``[d_low_nm, d_high_nm]``.

    Each curve is re-normalised to the volume it intrudes between ``d_high_nm`` and
    ``d_low_nm`` (0 at ``d_high_nm``, 1 at ``d_low_nm``). The objective of the fit is
    ``area_decades / width_decades + psd_weight * psd_difference + d50_weight *
    |log10(D50_simulated / D50_measured)|``: the mean absolute difference of the cumulative
    curves over log D, the fraction of the volume the two PSDs (binned at 10 bins per decade)
    put in different bins, and the D50 in the range as a ratio (decades; 0 by default). The
    D50 term weights what a voxel model can match when its PSD is a set of voxel-quantised
    steps and the measured PSD is smooth (the median of the curve) over the fine shape.

    Returns
    -------
    dict
        ``objective``, ``rms``, ``max_abs`` (saturation), ``area_decades`` (area between the
        curves over log10 D), ``psd_difference`` (0..1), ``d50_simulated_nm``,
        ``d50_measured_nm``, ``d50_difference_nm``, ``d50_log_ratio`` (decades),
        ``saturation_at_d50_measured`` (the simulated re-normalised saturation at the
        measured D50, where the measured one is 0.5; smooth in the CBD parameters where the
        D50 of a bimodal curve jumps between its modes), the grid
        ``diameter_nm`` and both re-normalised curves (``simulated``, ``measured``).
    """
    grid = np.geomspace(d_high_nm, d_low_nm, _GRID_POINTS)
    n_bins = max(2, int(math.ceil(10 * math.log10(d_high_nm / d_low_nm))))
    edges = np.geomspace(d_high_nm, d_low_nm, n_bins + 1)
    curves, binned = [], []
    for c in (simulated, measured):
        v = _cumulative(c, np.array([d_high_nm, d_low_nm]))
        span = float(v[1] - v[0])
        if not span > 0:
            raise ValueError(
                f"{c.label or 'curve'}: intrudes no volume between {d_low_nm:.4g} and "
                f"{d_high_nm:.4g} nm (the resolved range)"
            )
        curves.append(np.clip((_cumulative(c, grid) - v[0]) / span, 0.0, 1.0))
        binned.append(np.diff(np.clip((_cumulative(c, edges) - v[0]) / span, 0.0, 1.0)))
    diff = curves[0] - curves[1]
    logd = np.log10(grid)
    area = float(np.sum(0.5 * (np.abs(diff[1:]) + np.abs(diff[:-1])) * np.abs(np.diff(logd))))
    psd = 0.5 * float(np.sum(np.abs(binned[0] - binned[1])))
    width = math.log10(d_high_nm / d_low_nm)

    def d50(y: np.ndarray) -> float:
        return float(10 ** np.interp(0.5, y, logd)) if y[-1] >= 0.5 else float("nan")

    d50_s, d50_m = d50(curves[0]), d50(curves[1])
    s_at = math.nan
    if d50_m > 0:
        v = _cumulative(simulated, np.array([d_high_nm, d_low_nm, d50_m]))
        s_at = float(np.clip((v[2] - v[0]) / (v[1] - v[0]), 0.0, 1.0))
    log_ratio = abs(math.log10(d50_s / d50_m)) if d50_s > 0 and d50_m > 0 else 1.0
    d50_term = float(d50_weight) * log_ratio if d50_weight else 0.0
    return {
        "objective": area / width + float(psd_weight) * psd + d50_term,
        "rms": float(np.sqrt(np.mean(diff**2))),
        "max_abs": float(np.max(np.abs(diff))),
        "area_decades": area,
        "psd_difference": psd,
        "d50_simulated_nm": d50_s,
        "d50_measured_nm": d50_m,
        "d50_difference_nm": d50_s - d50_m,
        "d50_log_ratio": log_ratio,
        "saturation_at_d50_measured": s_at,
        "diameter_nm": grid,
        "simulated": curves[0],
        "measured": curves[1],
    }


def resolved_range(
    measured: Any, vs: tuple[float, float, float], radii_nm: Sequence[float]
) -> tuple[float, float]:
    """Common diameter range (nm) of the resolved simulation and the measured curve.

    Raises a one-line ``ValueError`` naming both ranges when they overlap by less than a
    quarter of a decade.
    """
    sim_lo, sim_hi = 2.0 * float(np.min(radii_nm)), 2.0 * float(np.max(radii_nm))
    d = np.asarray(measured.diameter_nm, dtype=float)
    if d.size < 2:
        raise ValueError("measured: fewer than two points")
    m_lo, m_hi = float(d.min()), float(d.max())
    lo, hi = max(sim_lo, m_lo), min(sim_hi, m_hi)
    if not hi > lo * 10**0.25:
        raise ValueError(
            f"measured: its diameters {m_lo:.4g}-{m_hi:.4g} nm do not overlap the resolved "
            f"range of the simulation {sim_lo:.4g}-{sim_hi:.4g} nm (voxel {min(vs):.4g} nm) "
            "by a quarter decade; nothing to fit"
        )
    return lo, hi
