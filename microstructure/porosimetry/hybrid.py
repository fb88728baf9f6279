"""Extending a simulated curve below the voxel size.

Two corrections of the resolution limit of Beuse et al. (2021) (the model resolves throats
down to half a voxel, the experiment down to 3.7 nm):

:func:`hybrid_curve`
    The CBD (label 2) carries unresolved nanoporosity ``cbd_porosity`` with a Gaussian
    nanopore diameter distribution. A CBD voxel becomes accessible at the resolved radius of
    the largest intruded pore voxel touching its CBD cluster (or at once when the cluster
    touches an inlet face); once accessible it holds ``porosity x P(D >= D_Washburn(P))`` of
    its volume as mercury at pressure ``P``.
:func:`resolution_correction`
    Adds the fraction of the measured intrusion that lies below a diameter limit (e.g. half a
    voxel), shaped like the measured curve and scaled to the simulated volume at that limit.
:func:`bridge_to_limit`
    Spreads the smallest resolved class (one-voxel channels, reported at the voxel length)
    down to half a voxel, where the sub-voxel correction starts: no empty band between them.
:func:`subvoxel_correction`
    The same correction when only the measured fraction below the limit is known (Beuse et al. 2021:
    3.7 % of the accessible porosity below 18.6 nm), spread log-uniformly in diameter down to
    the smallest diameter the measurement reached (3.7 nm).

References
----------
Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from microstructure.porosimetry.distribution import MipCurve
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    washburn_diameter_nm,
    washburn_pressure_mpa,
)
from microstructure.volume import PORE_PHASES

#: defaults of the unresolved CBD nanopore diameter distribution (nm) and of the hybrid curve's
#: highest pressure (MPa)
CBD_MEAN_DIAMETER_NM = 100.0
CBD_STD_DIAMETER_NM = 30.0
MAX_PRESSURE_MPA = 400.0
#: smallest diameter (nm) of the sub-voxel volume: the 400 MPa end of Beuse et al.'s instrument
LOWEST_DIAMETER_NM = 3.7

__all__ = [
    "cbd_access_radius",
    "nanopore_survival",
    "hybrid_curve",
    "resolution_correction",
    "subvoxel_correction",
    "bridge_to_limit",
]


def nanopore_survival(
    diameter_nm: np.ndarray | float, *, mean_diameter_nm: float, std_diameter_nm: float
) -> np.ndarray:
    """``P(D >= diameter)`` for a Gaussian nanopore diameter distribution truncated at 0."""
    if not (mean_diameter_nm > 0 and std_diameter_nm > 0):
        raise ValueError("cbd_mean_diameter_nm / cbd_std_diameter_nm: expected positive numbers")
    d = np.asarray(diameter_nm, dtype=float)
    z = (d - mean_diameter_nm) / std_diameter_nm
    tail = 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2.0))
    norm = 0.5 * math.erfc(-mean_diameter_nm / std_diameter_nm / math.sqrt(2.0))
    return np.clip(tail / norm, 0.0, 1.0)


def cbd_access_radius(
    labels: np.ndarray,
    invasion_radius_nm: np.ndarray,
    *,
    seeds_mask: np.ndarray,
    cbd_phase: int = 2,
    pore_phases: Sequence[int] = PORE_PHASES,
) -> np.ndarray:
    """Resolved radius (nm) at which mercury first touches each CBD voxel's cluster.

    CBD clusters are 6-connected components of ``cbd_phase``; a cluster's access radius is
    the largest invasion radius among the pore voxels face-adjacent to it, ``inf`` when it
    touches an inlet face (``seeds_mask``), 0 when mercury never reaches it. Returns a float
    array, 0 outside the CBD.
    """
    cbd = labels == cbd_phase
    out = np.zeros(labels.shape, dtype=np.float64)
    if not cbd.any():
        return out
    lab, n = ndi.label(cbd)
    best = np.zeros(n + 1, dtype=np.float64)
    pore = np.isin(labels, np.asarray(tuple(pore_phases)))
    inv = np.where(pore, invasion_radius_nm, 0.0)
    for axis in range(3):
        for shift in (1, -1):
            a = [slice(None)] * 3
            b = [slice(None)] * 3
            if shift == 1:
                a[axis], b[axis] = slice(1, None), slice(None, -1)
            else:
                a[axis], b[axis] = slice(None, -1), slice(1, None)
            la = lab[tuple(a)]
            ib = inv[tuple(b)]
            sel = (la > 0) & (ib > 0)
            np.maximum.at(best, la[sel], ib[sel])
    touching = np.unique(lab[seeds_mask & cbd])
    best[touching[touching > 0]] = np.inf
    best[0] = 0.0
    out = best[lab]
    return out


def hybrid_curve(
    labels: np.ndarray,
    invasion_radius_nm: np.ndarray,
    *,
    seeds_mask: np.ndarray,
    cbd_porosity: float,
    cbd_mean_diameter_nm: float = CBD_MEAN_DIAMETER_NM,
    cbd_std_diameter_nm: float = CBD_STD_DIAMETER_NM,
    max_pressure_mpa: float = MAX_PRESSURE_MPA,
    points_per_decade: int = 20,
    pore_phases: Sequence[int] = PORE_PHASES,
    cbd_phase: int = 2,
    mm3_per_g_per_voxel: float | None = None,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
) -> MipCurve:
    """Intrusion curve of resolved pores plus unresolved CBD nanopores.

    Parameters
    ----------
    labels
        uint8 labels volume.
    invasion_radius_nm
        Resolved invasion radius per voxel (from the intrusion).
    seeds_mask
        Boolean mask of the inlet faces.
    cbd_porosity
        Nanoporosity of the CBD phase (0..1); the pore volume grows by ``porosity x CBD``.
    cbd_mean_diameter_nm, cbd_std_diameter_nm
        Gaussian nanopore diameter distribution (nm).
    max_pressure_mpa
        The curve runs from the resolved steps up to this pressure (400 MPa: 3.7 nm).
    points_per_decade
        Extra pressure points per decade (log-spaced) over the whole range.
    mm3_per_g_per_voxel
        Factor for the specific volume (None: not reported).

    Returns
    -------
    MipCurve (saturation relative to resolved + nanopore volume).
    """
    if not 0.0 <= cbd_porosity < 1.0:
        raise ValueError(f"cbd_porosity: expected a fraction in [0, 1), got {cbd_porosity}")
    if not (np.isfinite(max_pressure_mpa) and max_pressure_mpa > 0):
        raise ValueError(f"max_pressure_mpa: expected a positive pressure, got {max_pressure_mpa}")
    wash = {
        "contact_angle_deg": contact_angle_deg,
        "surface_tension_n_per_m": surface_tension_n_per_m,
    }
    inv = np.asarray(invasion_radius_nm, dtype=np.float64)
    res = np.sort(inv[inv > 0])
    access = cbd_access_radius(
        labels, inv, seeds_mask=seeds_mask, cbd_phase=cbd_phase, pore_phases=pore_phases
    )
    acc = np.sort(access[access > 0])
    n_cbd = float(np.count_nonzero(labels == cbd_phase))
    n_pore = float(np.count_nonzero(np.isin(labels, np.asarray(tuple(pore_phases)))))
    total_pore = n_pore + cbd_porosity * n_cbd
    d_min = float(washburn_diameter_nm(max_pressure_mpa, **wash))
    d_res = np.unique(2.0 * res)[::-1] if res.size else np.zeros(0)
    d_max = max(float(d_res[0]) if d_res.size else 0.0, cbd_mean_diameter_nm * 3.0, d_min * 10)
    grid = np.logspace(
        math.log10(d_max), math.log10(d_min), int(points_per_decade * math.log10(d_max / d_min)) + 2
    )
    diam = np.unique(np.concatenate((d_res, grid, [d_min])))[::-1]
    diam = diam[diam >= d_min * (1 - 1e-9)]
    r = 0.5 * diam
    n_res = res.size - np.searchsorted(res, r * (1 - 1e-6), side="left")
    n_acc = acc.size - np.searchsorted(acc, r * (1 - 1e-6), side="left")
    surv = nanopore_survival(
        diam, mean_diameter_nm=cbd_mean_diameter_nm, std_diameter_nm=cbd_std_diameter_nm
    )
    vol = n_res + cbd_porosity * surv * n_acc
    vol = np.maximum.accumulate(vol)
    spec = None if mm3_per_g_per_voxel is None else vol * mm3_per_g_per_voxel
    curve = MipCurve(
        diameter_nm=diam,
        pressure_mpa=washburn_pressure_mpa(diam, **wash),
        saturation=vol / total_pore if total_pore > 0 else np.zeros_like(vol),
        intruded_fraction=vol / labels.size,
        specific_volume_mm3_per_g=spec,
        porosity=total_pore / labels.size,
        label="simulated MIP (hybrid)",
        metadata={
            "cbd_porosity": cbd_porosity,
            "cbd_mean_diameter_nm": cbd_mean_diameter_nm,
            "cbd_std_diameter_nm": cbd_std_diameter_nm,
        },
    )
    return curve


def resolution_correction(
    simulated: MipCurve, measured: MipCurve, *, min_diameter_nm: float
) -> MipCurve:
    """Add the measured intrusion below ``min_diameter_nm`` to a simulated curve.

    With ``f`` the fraction of the measured intruded volume in throats smaller than
    ``min_diameter_nm``, the simulated volume ``V`` (resolved down to that diameter) is taken
    as ``1 - f`` of the total: rows are appended at the measured diameters below the limit,
    ``V_corr(D) = V * s(D) / s(D_min)`` with ``s`` the measured normalized cumulative curve,
    so ``f / (1 - f) x V`` is added in total (Beuse et al. 2021: 3.7 % of the measured accessible
    porosity below 18.6 nm -> +0.6 percentage points). Saturation is renormalized to the
    enlarged pore volume.

    Parameters
    ----------
    simulated
        Simulated intrusion curve.
    measured
        Measured intrusion curve reaching below ``min_diameter_nm``.
    min_diameter_nm
        Smallest diameter resolved by the simulation (nm), e.g. half the voxel length.
    """
    dmin = float(min_diameter_nm)
    if not (math.isfinite(dmin) and dmin > 0):
        raise ValueError(f"min_diameter_nm: expected a positive diameter, got {min_diameter_nm}")
    md = measured.diameter_nm
    s = measured.normalized()
    order = np.argsort(md)
    s_at = float(np.interp(math.log10(dmin), np.log10(md[order]), s[order]))
    below = md < dmin
    if s_at <= 0 or not np.any(below):
        raise ValueError(
            f"measured: no measured intrusion at or below {dmin:g} nm to add (the measured "
            "curve does not reach below the simulation's resolution)"
        )
    keep = simulated.diameter_nm >= dmin
    if not np.any(keep):
        raise ValueError(f"simulated: no simulated step at or above {dmin:g} nm")
    scale = s[below] / s_at  # >= 1, ascending as D decreases
    d_new = md[below]
    order_new = np.argsort(-d_new)
    d_new, scale = d_new[order_new], scale[order_new]
    scale = np.maximum.accumulate(scale)
    f_total = float(scale.max())

    def ext(values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        v = values[keep]
        return np.concatenate((v, v[-1] * scale))

    frac = ext(simulated.intruded_fraction)
    added = float(simulated.intruded_fraction[keep][-1]) * (f_total - 1.0)
    porosity = simulated.porosity + added if math.isfinite(simulated.porosity) else float("nan")
    if math.isfinite(porosity) and porosity > 0:
        sat = frac / porosity
    else:
        sat = ext(simulated.saturation)
    pressure = np.concatenate(
        (
            simulated.pressure_mpa[keep],
            washburn_pressure_mpa(
                d_new,
                contact_angle_deg=measured.metadata.get("contact_angle_deg", CONTACT_ANGLE_DEG),
                surface_tension_n_per_m=measured.metadata.get(
                    "surface_tension_n_per_m", SURFACE_TENSION_N_PER_M
                ),
            ),
        )
    )
    return MipCurve(
        diameter_nm=np.concatenate((simulated.diameter_nm[keep], d_new)),
        pressure_mpa=pressure,
        saturation=sat,
        intruded_fraction=frac,
        specific_volume_mm3_per_g=ext(simulated.specific_volume_mm3_per_g),
        porosity=porosity,
        label=f"{simulated.label} + measured < {dmin:g} nm".strip(),
        metadata={
            **simulated.metadata,
            "resolution_correction_min_diameter_nm": dmin,
            "added_fraction_of_total": 1.0 - 1.0 / f_total,
        },
    )


def bridge_to_limit(simulated: MipCurve, *, min_diameter_nm: float, n_points: int = 6) -> MipCurve:
    """Spread the smallest resolved class down to the resolution limit (no empty band).

    A voxel of edge ``h`` resolves throats down to ``h / 2`` (Beuse et al. 2021, section
    3.5: at 37.2 nm voxels "pore throat diameters smaller than 18.6 nm were not covered"),
    but the smallest intrusion step of a voxel model is reported at ``D = h`` (one-voxel
    channels, invasion radius ``h / 2``). Those channels stand for throats between ``h`` and
    ``h / 2``: their volume is spread linearly in log D from the last resolved diameter down to
    ``min_diameter_nm``, so the resolved curve and a sub-voxel correction starting at
    ``min_diameter_nm`` meet there. Curves that already reach ``min_diameter_nm`` are
    returned unchanged.

    Parameters
    ----------
    simulated
        Simulated (resolved) curve, diameters descending.
    min_diameter_nm
        Resolution limit (nm), half the voxel edge.
    n_points
        Rows over the bridged band.
    """
    d = simulated.diameter_nm
    if d.size < 2 or float(d.min()) <= min_diameter_nm * (1 + 1e-9):
        return simulated
    order = np.argsort(-d, kind="stable")
    d = d[order]
    x = np.log10(d[-1]) - np.log10(np.geomspace(d[-1], min_diameter_nm, n_points + 1))
    frac = x / (math.log10(d[-1]) - math.log10(min_diameter_nm))
    d_new = np.geomspace(d[-1], min_diameter_nm, n_points + 1)

    def bridge(values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        v = np.asarray(values, dtype=float)[order]
        lo, hi = v[-2], v[-1]
        return np.concatenate((v[:-1], lo + (hi - lo) * frac))

    angle = simulated.metadata.get("contact_angle_deg", CONTACT_ANGLE_DEG)
    tension = simulated.metadata.get("surface_tension_n_per_m", SURFACE_TENSION_N_PER_M)
    return MipCurve(
        diameter_nm=np.concatenate((d[:-1], d_new)),
        pressure_mpa=washburn_pressure_mpa(
            np.concatenate((d[:-1], d_new)),
            contact_angle_deg=angle,
            surface_tension_n_per_m=tension,
        ),
        saturation=bridge(simulated.saturation),
        intruded_fraction=bridge(simulated.intruded_fraction),
        specific_volume_mm3_per_g=bridge(simulated.specific_volume_mm3_per_g),
        porosity=simulated.porosity,
        label=simulated.label,
        metadata={**simulated.metadata, "bridged_to_nm": float(min_diameter_nm)},
    )


def subvoxel_correction(
    simulated: MipCurve,
    *,
    fraction_below: float,
    min_diameter_nm: float,
    lowest_diameter_nm: float = LOWEST_DIAMETER_NM,
    n_points: int = 12,
) -> MipCurve:
    """Add a known fraction of pore volume in throats below the resolution limit.

    Beuse et al. (2021, section 3.5): a voxel of 37.2 nm resolves throats down to 18.6 nm; the
    measured MIP had 3.7 % of the accessible porosity in smaller throats (down to 3.7 nm), so 0.6
    percentage points belong to the simulated 16.1 %. Given that fraction ``f`` (from a
    measurement of the same electrode), the simulated intruded volume ``V`` is taken as
    ``1 - f`` of the total and ``f / (1 - f) x V`` is added below ``min_diameter_nm``
    (the smallest resolved class is first spread down to ``min_diameter_nm`` by
    :func:`bridge_to_limit`, so both parts meet there with no empty band),
    linearly in log D down to ``lowest_diameter_nm`` (the measured shape is unknown; with a
    measured curve use :func:`resolution_correction`, which follows its shape).

    Parameters
    ----------
    simulated
        Simulated intrusion curve.
    fraction_below
        Fraction (0 <= f < 1) of the total intruded volume in throats below
        ``min_diameter_nm``.
    min_diameter_nm
        Smallest throat diameter the simulation resolves (nm), e.g. half the voxel length.
    lowest_diameter_nm
        Smallest diameter of the added volume (nm); the instrument of Beuse et al.
        (2021): 3.7 nm.
    n_points
        Rows added below the limit.

    Returns
    -------
    MipCurve
        The corrected curve (label ``... + f below D``); with ``f == 0`` the curve bridged
        down to ``min_diameter_nm`` only.
    """
    f = float(fraction_below)
    if not (math.isfinite(f) and 0.0 <= f < 1.0):
        raise ValueError(f"fraction_below: expected 0 <= f < 1, got {fraction_below}")
    dmin, dlow = float(min_diameter_nm), float(lowest_diameter_nm)
    if not (math.isfinite(dmin) and dmin > 0):
        raise ValueError(f"min_diameter_nm: expected a positive diameter, got {min_diameter_nm}")
    if not (math.isfinite(dlow) and 0 < dlow < dmin):
        raise ValueError(
            f"lowest_diameter_nm: expected 0 < lowest_diameter_nm < min_diameter_nm "
            f"({dmin:g}), got {lowest_diameter_nm}"
        )
    if int(n_points) < 1:
        raise ValueError(f"n_points: expected >= 1, got {n_points}")
    simulated = bridge_to_limit(simulated, min_diameter_nm=dmin)
    if f == 0.0:
        return simulated
    below = np.logspace(math.log10(dmin), math.log10(dlow), int(n_points) + 1)[1:]
    x = (math.log10(dmin) - np.log10(below)) / (math.log10(dmin) - math.log10(dlow))
    diam = np.concatenate(([10.0 * dmin, dmin], below))
    sat = np.concatenate(([0.0, 1.0 - f], 1.0 - f + f * x))
    angle = simulated.metadata.get("contact_angle_deg", CONTACT_ANGLE_DEG)
    tension = simulated.metadata.get("surface_tension_n_per_m", SURFACE_TENSION_N_PER_M)
    shape = MipCurve(
        diameter_nm=diam,
        pressure_mpa=washburn_pressure_mpa(
            diam, contact_angle_deg=angle, surface_tension_n_per_m=tension
        ),
        saturation=sat,
        intruded_fraction=np.full(diam.size, np.nan),
        metadata={"contact_angle_deg": angle, "surface_tension_n_per_m": tension},
    )
    out = resolution_correction(simulated, shape, min_diameter_nm=dmin)
    out.label = f"{simulated.label} + {100 * f:.3g} % below {dmin:.3g} nm".strip()
    out.metadata["subvoxel_fraction"] = f
    return out
