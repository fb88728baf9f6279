"""Analysis of a measured MIP export as the instrument software does it (e.g. SOLID).

From the intrusion and extrusion branches (:func:`~microstructure.porosimetry.measured.
read_mip_export`): the log-differential PSD ``dV/dlogD``, D10/D50/D90 and the PSD modes, the
Hg entrapment after extrusion, the bulk density from the Hg bulk volume, the apparent
density (Beuse et al. 2021, eq. 2), the eq. 3 porosities with the crystal, skeletal and
apparent densities (the columns of their Table 2) and the specific pore surface
``sigma_pore`` under a pore-shape model; optional blank (empty cell) and sample
compressibility corrections.

Pore surface (``pore_surface_m2_per_g``): each volume increment ``dV`` intruded between two
pressures is assigned their mean pressure ``P`` (trapezoid rule) and its Washburn diameter
``D = -4 gamma cos(theta) / P``:

- ``cylindrical`` (also ``plate``): ``dS = P dV / (gamma |cos theta|) = 4 dV / D``, the
  work-of-immersion integral of Rootare & Prenzlow (1967); for slits of width ``w`` entered
  at ``P = 2 gamma |cos theta| / w`` the same integral gives ``S/V = 2/w``, hence one model;
- ``conical``: a cone of half-angle ``alpha`` filled from its wide mouth; the slab at
  diameter ``D`` has ``dS/dV = 4 / (D cos alpha)`` (lateral area of a frustum over its
  volume), i.e. the cylinder value over ``cos alpha`` (default 45 deg: x 1.414);
- ``spherical``: spherical cavities of diameter ``D`` entered at their diameter,
  ``dS/dV = 6 / D`` (x 1.5).

References
----------
Rootare, H. M., Prenzlow, C. F. (1967). Surface areas from mercury porosimeter
measurements. J. Phys. Chem. 71, 2733-2736. doi:10.1021/j100867a057

Giesche, H. (2006). Mercury porosimetry: a general (practical) overview. Part. Part. Syst.
Charact. 23, 9-19. doi:10.1002/ppsc.200601009

Beuse, T. et al. (2021). Comprehensive insights into the porosity of lithium-ion battery
electrodes. Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from microstructure.porosimetry.distribution import BINS_PER_DECADE, log_differential
from microstructure.porosimetry.measured import MipExport
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    check_mercury_parameters,
    washburn_diameter_nm,
)

__all__ = [
    "PORE_SHAPES",
    "CONE_HALF_ANGLE_DEG",
    "MIP_VOLUME_UNCERTAINTY_MM3",
    "MIP_BULK_VOLUME_UNCERTAINTY_MM3",
    "MipAnalysis",
    "pore_surface_m2_per_g",
    "psd_modes_nm",
    "blank_correction",
    "compressibility_correction",
    "analyze_mip",
]

#: pore-shape models of the specific pore surface (``plate`` = ``cylindrical``)
PORE_SHAPES = ("cylindrical", "plate", "conical", "spherical")
#: cone half-angle of the conical model (deg)
CONE_HALF_ANGLE_DEG = 45.0
#: realistic accuracy of the intruded Hg volume for porosities (mm3; Beuse et al. 2021, from
#: the instrument distributor)
MIP_VOLUME_UNCERTAINTY_MM3 = 2.0
#: realistic accuracy of the Hg bulk volume for densities (mm3; same source)
MIP_BULK_VOLUME_UNCERTAINTY_MM3 = 5.0
#: a PSD peak counts as a mode above this fraction of the highest peak
MODE_MIN_FRACTION = 0.1


def _shape_factor(pore_shape: str, cone_half_angle_deg: float) -> float:
    if pore_shape in ("cylindrical", "plate"):
        return 1.0
    if pore_shape == "spherical":
        return 1.5
    if pore_shape == "conical":
        a = float(cone_half_angle_deg)
        if not (math.isfinite(a) and 0 <= a < 90):
            raise ValueError(f"cone_half_angle_deg: expected 0 <= angle < 90, got {a!r}")
        return 1.0 / math.cos(math.radians(a))
    raise ValueError(f"pore_shape: expected one of {PORE_SHAPES}, got {pore_shape!r}")


def pore_surface_m2_per_g(
    pressure_mpa: np.ndarray,
    volume_mm3_per_g: np.ndarray,
    *,
    pore_shape: str = "cylindrical",
    cone_half_angle_deg: float = CONE_HALF_ANGLE_DEG,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
) -> float:
    """Specific pore surface (m2/g) of a cumulative intrusion curve under a pore shape.

    ``S = k / (gamma |cos theta|) * sum(P_mean dV)`` with ``k`` = 1 (cylindrical/plate,
    Rootare & Prenzlow 1967, doi:10.1021/j100867a057), ``1 / cos(alpha)`` (conical) or 1.5
    (spherical); see the module notes.

    Parameters
    ----------
    pressure_mpa, volume_mm3_per_g
        Intrusion branch (any order; sorted by pressure), cumulative mm3/g.
    pore_shape
        One of ``PORE_SHAPES``.
    cone_half_angle_deg
        Half-angle of the conical model (deg).
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters.
    """
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    k = _shape_factor(pore_shape, cone_half_angle_deg)
    p = np.asarray(pressure_mpa, dtype=float)
    v = np.asarray(volume_mm3_per_g, dtype=float)
    if p.shape != v.shape or p.ndim != 1 or p.size < 2:
        raise ValueError("pressure_mpa, volume_mm3_per_g: expected two 1D arrays of >= 2 values")
    order = np.argsort(p, kind="stable")
    p, v = p[order], np.maximum.accumulate(v[order])
    dv = np.diff(v) * 1e-9  # m3/g
    pm = 0.5 * (p[1:] + p[:-1]) * 1e6  # Pa
    gamma_cos = surface_tension_n_per_m * abs(math.cos(math.radians(contact_angle_deg)))
    return float(k * np.sum(pm * dv) / gamma_cos)


def psd_modes_nm(diameter_nm: np.ndarray, dv_dlogd: np.ndarray) -> list[float]:
    """Diameters (nm) of the PSD peaks whose prominence exceeds ``MODE_MIN_FRACTION`` of the
    highest value (steps of a coarse measured grid are not modes), highest peak first."""
    from scipy.signal import find_peaks

    d = np.asarray(diameter_nm, dtype=float)
    y = np.asarray(dv_dlogd, dtype=float)
    if y.size == 0 or not np.any(y > 0):
        return []
    padded = np.concatenate([[0.0], y, [0.0]])
    idx, _ = find_peaks(padded, prominence=MODE_MIN_FRACTION * float(y.max()))
    idx = idx - 1
    idx = idx[np.argsort(-y[idx])]
    return [float(d[i]) for i in idx]


def blank_correction(
    pressure_mpa: np.ndarray,
    volume_mm3: np.ndarray,
    blank_pressure_mpa: np.ndarray,
    blank_volume_mm3: np.ndarray,
) -> np.ndarray:
    """Subtract an empty-cell (blank) run: the blank's apparent volume (mercury and cell
    compression, thermal effects), interpolated at the sample's pressures, in absolute mm3
    (Giesche 2006, doi:10.1002/ppsc.200601009). The blank is re-zeroed at its first point."""
    bp = np.asarray(blank_pressure_mpa, dtype=float)
    bv = np.asarray(blank_volume_mm3, dtype=float)
    if bp.size < 2 or bp.shape != bv.shape:
        raise ValueError("blank: expected a blank run with >= 2 pressure/volume points")
    order = np.argsort(bp)
    bp, bv = bp[order], bv[order] - bv[order][0]
    p = np.asarray(pressure_mpa, dtype=float)
    if p.max() > bp.max() * 1.001:
        raise ValueError(
            f"blank: the blank run stops at {bp.max():.4g} MPa, below the sample's "
            f"{p.max():.4g} MPa"
        )
    return np.asarray(volume_mm3, dtype=float) - np.interp(p, bp, bv)


def compressibility_correction(
    pressure_mpa: np.ndarray,
    volume_mm3_per_g: np.ndarray,
    *,
    compressibility_per_mpa: float,
    skeletal_density_g_per_cm3: float,
    onset_pressure_mpa: float,
) -> np.ndarray:
    """Remove the solid's elastic compression from the intrusion above ``onset_pressure_mpa``:
    ``V_corr = V - beta * V_solid * (P - P_onset)`` with ``V_solid = 1 / rho_skel`` per gram
    (Giesche 2006, doi:10.1002/ppsc.200601009)."""
    beta = float(compressibility_per_mpa)
    rho = float(skeletal_density_g_per_cm3)
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"compressibility_per_mpa: expected a number >= 0, got {beta!r}")
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"skeletal_density_g_per_cm3: expected a positive density, got {rho!r}")
    p = np.asarray(pressure_mpa, dtype=float)
    v_solid_mm3_per_g = 1000.0 / rho
    return np.asarray(volume_mm3_per_g, float) - beta * v_solid_mm3_per_g * np.clip(
        p - float(onset_pressure_mpa), 0, None
    )


@dataclass
class MipAnalysis:
    """Numbers of a measured MIP analysis (snake_case, units in names; NaN when unknown).

    Densities in g/cm3, porosities 0..1 with ``*_uncertainty`` one standard uncertainty
    propagated from the Hg volume (``MIP_VOLUME_UNCERTAINTY_MM3``), bulk volume and
    density uncertainties.
    """

    intruded_volume_mm3_per_g: float
    intruded_volume_uncertainty_mm3_per_g: float
    d10_nm: float
    d50_nm: float
    d90_nm: float
    modes_nm: list[float]
    hg_entrapment_fraction: float
    pore_shape: str
    pore_surface_m2_per_g: float
    bulk_density_hg_g_per_cm3: float = float("nan")
    apparent_density_g_per_cm3: float = float("nan")
    apparent_density_uncertainty_g_per_cm3: float = float("nan")
    porosity_xtal: float = float("nan")
    porosity_xtal_uncertainty: float = float("nan")
    porosity_skel: float = float("nan")
    porosity_skel_uncertainty: float = float("nan")
    porosity_app: float = float("nan")
    porosity_app_uncertainty: float = float("nan")
    pressure_window_mpa: list[float] = field(default_factory=list)
    psd_diameter_nm: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    psd_dv_dlogd_mm3_per_g: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    corrections: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (NaN -> None; the PSD arrays as lists)."""
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if isinstance(v, np.ndarray):
                out[k] = [float(x) for x in v]
            elif isinstance(v, float):
                out[k] = v if math.isfinite(v) else None
            else:
                out[k] = v
        return out


def _step_psd(
    d_nm: np.ndarray, v: np.ndarray, bins_per_decade: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """``dV/dlogD`` per measured step (at the geometric mean diameter of its two ends, the
    instruments' log-differential intrusion), or binned with ``bins_per_decade`` (default:
    binned at ``BINS_PER_DECADE`` when the curve has more than twice as many steps per
    decade, where per-step differences are noise)."""
    decades = float(np.log10(d_nm.max() / d_nm.min())) if d_nm.size > 1 else 0.0
    if bins_per_decade is None and decades > 0 and d_nm.size / decades > 2 * BINS_PER_DECADE:
        bins_per_decade = BINS_PER_DECADE
    if bins_per_decade is not None:
        t = log_differential(d_nm, v, bins_per_decade=bins_per_decade, quantity="mm3_per_g")
        return t.diameter_nm, t.dv_dlogd
    dlog = np.abs(np.diff(np.log10(d_nm)))
    ok = dlog > 0
    mid = np.sqrt(d_nm[1:] * d_nm[:-1])[ok]
    y = (np.diff(v)[ok]) / dlog[ok]
    order = np.argsort(mid)
    return mid[order], y[order]


def _eq3(v_cm3_per_g: float, sv: float, rho: float | None, srho: float) -> tuple[float, float]:
    """eq. 3 porosity and its propagated uncertainty (first order)."""
    if rho is None or not v_cm3_per_g >= 0:
        return float("nan"), float("nan")
    eps = v_cm3_per_g / (v_cm3_per_g + 1.0 / rho)
    denom = (v_cm3_per_g * rho + 1.0) ** 2
    d_dv = rho / denom
    d_drho = v_cm3_per_g / denom
    return eps, math.hypot(d_dv * sv, d_drho * srho)


def _corrected(
    export: MipExport,
    mass: float | None,
    blank: MipExport | None,
    compressibility_per_mpa: float | None,
    onset_mpa: float,
    skeletal_density: float | None,
) -> tuple[np.ndarray, list[str]]:
    """The intrusion volumes (mm3/g) after the optional blank and compressibility corrections."""
    p = export.intrusion_pressure_mpa.astype(float)
    v = export.intrusion_volume_mm3_per_g.astype(float)
    corrections: list[str] = []
    if blank is not None:
        if mass is None:
            raise ValueError("blank: the blank correction needs sample_mass_g")
        bv = blank.intrusion_volume_mm3_per_g * (blank.sample_mass_g or 1.0)
        v = blank_correction(p, v * mass, blank.intrusion_pressure_mpa, bv) / mass
        corrections.append(f"blank {blank.path}")
    if compressibility_per_mpa is not None:
        if skeletal_density is None:
            raise ValueError("compressibility_per_mpa: needs skeletal_density_g_per_cm3")
        v = compressibility_correction(
            p,
            v,
            compressibility_per_mpa=compressibility_per_mpa,
            skeletal_density_g_per_cm3=skeletal_density,
            onset_pressure_mpa=onset_mpa,
        )
        corrections.append(f"compressibility {compressibility_per_mpa:g} 1/MPa")
    return v, corrections


def analyze_mip(
    export: MipExport,
    *,
    crystal_density_g_per_cm3: float | None = None,
    skeletal_density_g_per_cm3: float | None = None,
    skeletal_density_uncertainty_g_per_cm3: float = 0.0,
    bulk_volume_mm3: float | None = None,
    sample_mass_g: float | None = None,
    pore_shape: str = "cylindrical",
    cone_half_angle_deg: float = CONE_HALF_ANGLE_DEG,
    min_pressure_mpa: float | None = None,
    max_pressure_mpa: float | None = None,
    blank: MipExport | None = None,
    compressibility_per_mpa: float | None = None,
    compressibility_onset_mpa: float = 100.0,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
    bins_per_decade: int | None = None,
) -> MipAnalysis:
    """Analyse a measured MIP export: PSD, D-values, modes, entrapment, densities, eq. 3
    porosities and the specific pore surface.

    Parameters
    ----------
    export
        :func:`~microstructure.porosimetry.measured.read_mip_export` result.
    crystal_density_g_per_cm3, skeletal_density_g_per_cm3
        rho_xtal and rho_skel (He pycnometry) for eps_xtal(Hg) and eps_skel(Hg).
    skeletal_density_uncertainty_g_per_cm3
        Standard uncertainty of rho_skel.
    bulk_volume_mm3
        Sample bulk volume from Hg envelopment (default: the export's header); with the
        mass gives the bulk density and eq. 2's apparent density and eps_app(Hg).
    sample_mass_g
        Sample mass (default: the export's).
    pore_shape, cone_half_angle_deg
        Pore-shape model of ``sigma_pore`` (module notes).
    min_pressure_mpa, max_pressure_mpa
        Pressure window of the analysis (Beuse et al. 2021 used 0.1-400 MPa).
    blank
        Empty-cell run in absolute volumes (needs the sample mass).
    compressibility_per_mpa, compressibility_onset_mpa
        Solid compressibility (1/MPa) removed above the onset pressure (needs rho_skel).
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters.
    bins_per_decade
        None: ``dV/dlogD`` per measured step (as the instruments report it), binned at
        ``BINS_PER_DECADE`` for curves with more than twice as many steps per decade; else
        binned with this many bins per decade.
    """
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    p = export.intrusion_pressure_mpa.astype(float)
    mass = sample_mass_g if sample_mass_g is not None else export.sample_mass_g
    v, corrections = _corrected(
        export, mass, blank, compressibility_per_mpa, compressibility_onset_mpa,
        skeletal_density_g_per_cm3,
    )  # fmt: skip
    lo = -np.inf if min_pressure_mpa is None else float(min_pressure_mpa)
    hi = np.inf if max_pressure_mpa is None else float(max_pressure_mpa)
    sel = (p >= lo) & (p <= hi) & (p > 0)
    if np.count_nonzero(sel) < 2:
        raise ValueError(
            f"min_pressure_mpa/max_pressure_mpa: fewer than two points of {export.path}"
        )
    p, v = p[sel], np.maximum.accumulate(v[sel]) - v[sel][0]
    total = float(v[-1])
    if not total > 0:
        raise ValueError(f"{export.path}: no volume intruded in the pressure window")
    d = washburn_diameter_nm(
        p, contact_angle_deg=contact_angle_deg, surface_tension_n_per_m=surface_tension_n_per_m
    )
    psd_d, psd_y = _step_psd(d, v, bins_per_decade)
    from microstructure.porosimetry.distribution import d_values

    dv = d_values(d, v / total)
    sv_mm3 = MIP_VOLUME_UNCERTAINTY_MM3 / mass if mass else 0.0
    res = MipAnalysis(
        intruded_volume_mm3_per_g=total,
        intruded_volume_uncertainty_mm3_per_g=sv_mm3 if mass else float("nan"),
        d10_nm=dv["d10_nm"],
        d50_nm=dv["d50_nm"],
        d90_nm=dv["d90_nm"],
        modes_nm=psd_modes_nm(psd_d, psd_y),
        hg_entrapment_fraction=export.entrapment_fraction,
        pore_shape=pore_shape,
        pore_surface_m2_per_g=pore_surface_m2_per_g(
            p,
            v,
            pore_shape=pore_shape,
            cone_half_angle_deg=cone_half_angle_deg,
            contact_angle_deg=contact_angle_deg,
            surface_tension_n_per_m=surface_tension_n_per_m,
        ),
        pressure_window_mpa=[float(p[0]), float(p[-1])],
        psd_diameter_nm=psd_d,
        psd_dv_dlogd_mm3_per_g=psd_y,
        corrections=corrections,
    )
    _densities(res, export, mass, bulk_volume_mm3, crystal_density_g_per_cm3)
    vc, svc = total * 1e-3, sv_mm3 * 1e-3
    res.porosity_xtal, res.porosity_xtal_uncertainty = _eq3(vc, svc, crystal_density_g_per_cm3, 0)
    res.porosity_skel, res.porosity_skel_uncertainty = _eq3(
        vc, svc, skeletal_density_g_per_cm3, skeletal_density_uncertainty_g_per_cm3
    )
    if math.isfinite(res.apparent_density_g_per_cm3):
        res.porosity_app, res.porosity_app_uncertainty = _eq3(
            vc, svc, res.apparent_density_g_per_cm3, res.apparent_density_uncertainty_g_per_cm3
        )
    return res


def _densities(
    res: MipAnalysis,
    export: MipExport,
    mass: float | None,
    bulk_volume_mm3: float | None,
    crystal_density: float | None,
) -> None:
    """Bulk density from the Hg bulk volume and eq. 2's apparent density (with uncertainty)."""
    vb = bulk_volume_mm3 if bulk_volume_mm3 is not None else export.bulk_volume_mm3
    if vb is None and export.bulk_density_g_per_cm3 and mass:
        vb = 1000.0 * mass / export.bulk_density_g_per_cm3
    if vb is None or mass is None:
        return
    vb = float(vb)
    if not (math.isfinite(vb) and vb > 0):
        raise ValueError(f"bulk_volume_mm3: expected a positive volume, got {vb!r}")
    v_hg = res.intruded_volume_mm3_per_g * mass
    if v_hg >= vb:
        raise ValueError(
            f"bulk_volume_mm3: the intruded {v_hg:.4g} mm3 exceeds the bulk volume {vb:.4g} mm3"
        )
    res.bulk_density_hg_g_per_cm3 = 1000.0 * mass / vb
    rho_app = 1000.0 * mass / (vb - v_hg)
    res.apparent_density_g_per_cm3 = rho_app
    # eq. 2: d rho / d(Vb - VHg) = -rho / (Vb - VHg); both volumes +- their uncertainties
    s = math.hypot(MIP_BULK_VOLUME_UNCERTAINTY_MM3, MIP_VOLUME_UNCERTAINTY_MM3)
    res.apparent_density_uncertainty_g_per_cm3 = rho_app * s / (vb - v_hg)
    if crystal_density is not None and rho_app > crystal_density * 1.02:
        res.corrections.append(
            f"warning: apparent density {rho_app:.3f} exceeds the crystal density"
        )
