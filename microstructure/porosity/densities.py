"""Porosity from densities and from mercury intrusion (Beuse et al. 2021 [1]_, equations 1-3).

Densities are in g/cm^3, volumes in cm^3, specific volumes in cm^3/g, porosities 0..1.

- Eq. 1: ``eps = 1 - rho_bulk / rho_theo`` (total porosity from bulk and theoretical density).
- Eq. 2: ``rho_app = m_sample / (V_bulk(Hg) - V_Hg)`` (apparent density from MIP).
- Eq. 3: ``eps(Hg) = v_Hg / (v_Hg + 1 / rho)`` with the crystal (total porosity), skeletal
  (He-accessible porosity) or apparent (Hg-accessible porosity) density.

The digital twin of a labels volume has a bulk density (mass of the solid phases per whole
volume) and a theoretical density (mass per solid volume); with the recipe's phase densities
they reproduce the paper's 16.1 % porosity -> 3.72 g/cm^3 at rho_theo = 4.436 g/cm^3 [1]_.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from microstructure.porosity.fractions import check_fraction, phase_fractions

__all__ = [
    "porosity_from_densities",
    "bulk_density_from_porosity",
    "bulk_density_from_loading",
    "apparent_density",
    "porosity_from_intruded_volume",
    "intruded_volume_from_porosity",
    "closed_porosity_from_skeletal_density",
    "bulk_density_from_labels",
    "theoretical_density_from_labels",
    "PorosityBudget",
    "porosity_budget",
    "mip_porosities",
    "SKELETAL_DENSITY_UNCERTAINTY_G_PER_CM3",
    "GAUGE_THICKNESS_UNCERTAINTY_UM",
]

#: He-pycnometry uncertainty of the skeletal density (Beuse et al. 2021, sec. 3.3), g/cm^3
SKELETAL_DENSITY_UNCERTAINTY_G_PER_CM3 = 0.01
#: gauge thickness uncertainty (Beuse et al. 2021, sec. 3.1), um
GAUGE_THICKNESS_UNCERTAINTY_UM = 1.0


def _positive(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return x


def _non_negative(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}") from None
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
    return x


def porosity_from_densities(
    bulk_density_g_per_cm3: float, theoretical_density_g_per_cm3: float
) -> float:
    """Total porosity from bulk and theoretical density (Beuse et al. 2021, eq. 1).

    ``eps = 1 - rho_bulk / rho_theo``. With the skeletal (He-pycnometry) density in place of the
    theoretical one the result is the accessible porosity.

    Parameters
    ----------
    bulk_density_g_per_cm3
        Coating mass per coating volume including pores, g/cm^3.
    theoretical_density_g_per_cm3
        Density of the pore-free solid (crystal density of the recipe), g/cm^3.

    Returns
    -------
    float
        Porosity 0..1.

    Raises
    ------
    ValueError
        If a density is not positive or the bulk density exceeds the theoretical one.
    """
    rb = _positive(bulk_density_g_per_cm3, "bulk_density_g_per_cm3")
    rt = _positive(theoretical_density_g_per_cm3, "theoretical_density_g_per_cm3")
    if rb > rt:
        raise ValueError(
            f"bulk_density_g_per_cm3: {rb} exceeds the theoretical density {rt} "
            "(porosity would be negative)"
        )
    return 1.0 - rb / rt


def bulk_density_from_porosity(porosity: float, theoretical_density_g_per_cm3: float) -> float:
    """Bulk density from porosity and theoretical density (inverse of eq. 1), g/cm^3."""
    eps = check_fraction(porosity, name="porosity")
    rt = _positive(theoretical_density_g_per_cm3, "theoretical_density_g_per_cm3")
    return rt * (1.0 - eps)


def bulk_density_from_loading(mass_loading_mg_per_cm2: float, thickness_um: float) -> float:
    """Bulk density of a coating from its mass loading and thickness (Beuse et al. 2021, sec. 1.1).

    Parameters
    ----------
    mass_loading_mg_per_cm2
        Coating mass per electrode area (without the current collector), mg/cm^2.
    thickness_um
        Coating thickness (without the current collector), um.

    Returns
    -------
    float
        Bulk density in g/cm^3 (``10 * loading / thickness`` in these units).
    """
    load = _positive(mass_loading_mg_per_cm2, "mass_loading_mg_per_cm2")
    thick = _positive(thickness_um, "thickness_um")
    return (load * 1e-3) / (thick * 1e-4)


def apparent_density(
    sample_mass_g: float, bulk_volume_cm3: float, intruded_volume_cm3: float
) -> float:
    """Apparent density from MIP (Beuse et al. 2021, eq. 2): ``m / (V_bulk(Hg) - V_Hg)``, g/cm^3.

    Parameters
    ----------
    sample_mass_g
        Sample (coating) mass, g.
    bulk_volume_cm3
        Sample bulk volume measured by Hg envelopment before intrusion, cm^3.
    intruded_volume_cm3
        Total intruded Hg volume, cm^3 (must be smaller than the bulk volume).
    """
    m = _positive(sample_mass_g, "sample_mass_g")
    vb = _positive(bulk_volume_cm3, "bulk_volume_cm3")
    vhg = _non_negative(intruded_volume_cm3, "intruded_volume_cm3")
    if vhg >= vb:
        raise ValueError(f"intruded_volume_cm3: {vhg} must be smaller than bulk_volume_cm3 ({vb})")
    return m / (vb - vhg)


def porosity_from_intruded_volume(
    intruded_volume_cm3_per_g: float, density_g_per_cm3: float
) -> float:
    """Porosity from the specific intruded Hg volume (Beuse et al. 2021, eq. 3).

    ``eps(Hg) = v_Hg / (v_Hg + 1 / rho)``: with the crystal density this is the total porosity
    eps_xtal(Hg), with the skeletal density the accessible eps_skel(Hg), with the apparent
    density (eq. 2) the Hg-accessible eps_app(Hg).

    Parameters
    ----------
    intruded_volume_cm3_per_g
        Specific intruded volume v_Hg, cm^3 per g of sample (1 mm^3/g = 1e-3 cm^3/g).
    density_g_per_cm3
        Crystal, skeletal or apparent density, g/cm^3.

    Returns
    -------
    float
        Porosity 0..1.
    """
    v = _non_negative(intruded_volume_cm3_per_g, "intruded_volume_cm3_per_g")
    rho = _positive(density_g_per_cm3, "density_g_per_cm3")
    return v / (v + 1.0 / rho)


def intruded_volume_from_porosity(porosity: float, density_g_per_cm3: float) -> float:
    """Specific intruded volume giving a porosity through eq. 3 (its inverse), cm^3/g.

    ``v_Hg = eps / ((1 - eps) * rho)``.
    """
    eps = check_fraction(porosity, name="porosity")
    rho = _positive(density_g_per_cm3, "density_g_per_cm3")
    return eps / ((1.0 - eps) * rho)


def closed_porosity_from_skeletal_density(
    total_porosity: float,
    skeletal_density_g_per_cm3: float,
    theoretical_density_g_per_cm3: float,
) -> float:
    """Closed porosity from He-pycnometry (Beuse et al. 2021, sec. 3.3).

    The skeletal density counts closed pores as solid, so eq. 1 with it gives the accessible
    porosity; the difference to the total porosity is the closed porosity,
    ``eps_inacc = (1 - eps) * (rho_theo / rho_skel - 1)``, a fraction of the whole volume.
    (``1 - rho_skel / rho_theo`` alone is the closed fraction of the solid-plus-closed-pore
    volume, Beuse et al. 2021: 3.7 % .. 2.8 %.)

    Parameters
    ----------
    total_porosity
        Total porosity eps (0..1).
    skeletal_density_g_per_cm3, theoretical_density_g_per_cm3
        He-pycnometry and crystal densities, g/cm^3 (skeletal <= theoretical).
    """
    eps = check_fraction(total_porosity, name="total_porosity")
    rs = _positive(skeletal_density_g_per_cm3, "skeletal_density_g_per_cm3")
    rt = _positive(theoretical_density_g_per_cm3, "theoretical_density_g_per_cm3")
    if rs > rt:
        raise ValueError(f"skeletal_density_g_per_cm3: {rs} exceeds the theoretical density {rt}")
    return (1.0 - eps) * (rt / rs - 1.0)


def _solid_mass_and_volume(
    fractions: dict[str, float],
    am_density_g_per_cm3: float,
    cbd_density_g_per_cm3: float,
    cbd_nanoporosity: float,
) -> tuple[float, float]:
    """Mass (g per cm^3 of volume) and solid volume fraction of a phase-fraction dict."""
    rho_am = _positive(am_density_g_per_cm3, "am_density_g_per_cm3")
    rho_cbd = _positive(cbd_density_g_per_cm3, "cbd_density_g_per_cm3")
    np_cbd = check_fraction(cbd_nanoporosity, name="cbd_nanoporosity")
    solid_am = fractions["am"]
    solid_cbd = fractions["cbd"] * (1.0 - np_cbd)
    return solid_am * rho_am + solid_cbd * rho_cbd, solid_am + solid_cbd


def bulk_density_from_labels(
    labels: Any,
    *,
    am_density_g_per_cm3: float = 4.76,
    cbd_density_g_per_cm3: float = 1.935,
    cbd_nanoporosity: float = 0.0,
) -> float:
    """Bulk density of a digital electrode: solid mass per whole volume, g/cm^3.

    ``rho_bulk = f_am * rho_am + f_cbd * (1 - cbd_nanoporosity) * rho_cbd``; pore phases (0, 3)
    carry no mass.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x), phase codes 0..3.
    am_density_g_per_cm3
        Active-material density (default 4.76, NMC622 of Beuse et al. 2021).
    cbd_density_g_per_cm3
        Density of the pore-free CBD solid (default 1.935, CB + PVdF 2:3 by mass, Beuse et
        al. 2021).
    cbd_nanoporosity
        Unresolved pore fraction inside phase-2 voxels (0 <= value < 1).
    """
    mass, _ = _solid_mass_and_volume(
        phase_fractions(labels), am_density_g_per_cm3, cbd_density_g_per_cm3, cbd_nanoporosity
    )
    return mass


def theoretical_density_from_labels(
    labels: Any,
    *,
    am_density_g_per_cm3: float = 4.76,
    cbd_density_g_per_cm3: float = 1.935,
    cbd_nanoporosity: float = 0.0,
) -> float:
    """Theoretical (pore-free) density of a digital electrode: solid mass per solid volume.

    Equals the recipe's crystal density when the AM : CBD volume ratio of the labels matches the
    recipe. Parameters as in :func:`bulk_density_from_labels`; g/cm^3.

    Raises
    ------
    ValueError
        If the volume holds no solid.
    """
    mass, solid = _solid_mass_and_volume(
        phase_fractions(labels), am_density_g_per_cm3, cbd_density_g_per_cm3, cbd_nanoporosity
    )
    if solid <= 0:
        raise ValueError("labels: the volume holds no solid phase, its density is undefined")
    return mass / solid


@dataclass
class PorosityBudget:
    """Total, closed and accessible porosity from gauge and He pycnometry (eq. 1, sec. 3.3
    of Beuse et al. 2021, doi:10.3390/batteries7040070), each with its standard uncertainty
    propagated to first order (independent inputs). Densities g/cm^3, porosities 0..1."""

    bulk_density_g_per_cm3: float
    bulk_density_uncertainty_g_per_cm3: float
    crystal_density_g_per_cm3: float
    total_porosity: float
    total_porosity_uncertainty: float
    skeletal_density_g_per_cm3: float = float("nan")
    skeletal_density_uncertainty_g_per_cm3: float = float("nan")
    accessible_porosity: float = float("nan")
    accessible_porosity_uncertainty: float = float("nan")
    closed_porosity: float = float("nan")
    closed_porosity_uncertainty: float = float("nan")
    closed_solid_fraction: float = float("nan")

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready numbers (NaN -> None)."""
        return {k: (v if math.isfinite(v) else None) for k, v in asdict(self).items()}


def _sigma(value: Any, name: str) -> float:
    return 0.0 if value is None else _non_negative(value, name)


def porosity_budget(
    *,
    crystal_density_g_per_cm3: float,
    skeletal_density_g_per_cm3: float | None = None,
    skeletal_density_uncertainty_g_per_cm3: float = SKELETAL_DENSITY_UNCERTAINTY_G_PER_CM3,
    bulk_density_g_per_cm3: float | None = None,
    bulk_density_uncertainty_g_per_cm3: float = 0.0,
    mass_loading_mg_per_cm2: float | None = None,
    mass_loading_uncertainty_mg_per_cm2: float = 0.0,
    thickness_um: float | None = None,
    thickness_uncertainty_um: float = GAUGE_THICKNESS_UNCERTAINTY_UM,
    crystal_density_uncertainty_g_per_cm3: float = 0.0,
) -> PorosityBudget:
    """Total (eq. 1), accessible (eq. 1 with rho_skel) and closed porosity with uncertainty.

    The bulk density is given, or the mass loading over the thickness (gauge); then
    ``eps = 1 - rho_bulk / rho_xtal``, ``eps_acc = 1 - rho_bulk / rho_skel`` and
    ``eps_inacc = eps - eps_acc = rho_bulk (1/rho_skel - 1/rho_xtal)`` (equal to
    :func:`closed_porosity_from_skeletal_density`), ``closed_solid_fraction = 1 - rho_skel /
    rho_xtal``. Uncertainties: ``sigma_f^2 = sum (df/dx_i sigma_i)^2``.

    Parameters
    ----------
    crystal_density_g_per_cm3
        rho_xtal of the recipe (4.436 for the NMC622 electrode of Beuse et al. 2021).
    skeletal_density_g_per_cm3, skeletal_density_uncertainty_g_per_cm3
        He-pycnometry density and its uncertainty (default +-0.01, sec. 3.3).
    bulk_density_g_per_cm3, bulk_density_uncertainty_g_per_cm3
        Coating bulk density (or give loading and thickness).
    mass_loading_mg_per_cm2, mass_loading_uncertainty_mg_per_cm2
        Coating mass per area and its uncertainty.
    thickness_um, thickness_uncertainty_um
        Coating thickness (gauge) and its uncertainty (default +-1 um, sec. 3.1).
    crystal_density_uncertainty_g_per_cm3
        Uncertainty of rho_xtal (default 0).

    Raises
    ------
    ValueError
        Neither a bulk density nor loading and thickness; both; impossible densities.
    """
    rx = _positive(crystal_density_g_per_cm3, "crystal_density_g_per_cm3")
    srx = _sigma(crystal_density_uncertainty_g_per_cm3, "crystal_density_uncertainty_g_per_cm3")
    gauge = mass_loading_mg_per_cm2 is not None or thickness_um is not None
    if gauge == (bulk_density_g_per_cm3 is not None):
        raise ValueError(
            "bulk_density_g_per_cm3: give either the bulk density or the mass loading and "
            "thickness (mass_loading_mg_per_cm2, thickness_um)"
        )
    if gauge:
        if mass_loading_mg_per_cm2 is None or thickness_um is None:
            raise ValueError("mass_loading_mg_per_cm2, thickness_um: both are needed")
        rb = bulk_density_from_loading(mass_loading_mg_per_cm2, thickness_um)
        rel_l = _sigma(mass_loading_uncertainty_mg_per_cm2, "mass_loading_uncertainty_mg_per_cm2")
        rel_t = _sigma(thickness_uncertainty_um, "thickness_uncertainty_um")
        srb = rb * math.hypot(rel_l / float(mass_loading_mg_per_cm2), rel_t / float(thickness_um))
    else:
        rb = _positive(bulk_density_g_per_cm3, "bulk_density_g_per_cm3")
        srb = _sigma(bulk_density_uncertainty_g_per_cm3, "bulk_density_uncertainty_g_per_cm3")
    eps = porosity_from_densities(rb, rx)
    out = PorosityBudget(
        bulk_density_g_per_cm3=rb,
        bulk_density_uncertainty_g_per_cm3=srb,
        crystal_density_g_per_cm3=rx,
        total_porosity=eps,
        total_porosity_uncertainty=math.hypot(srb / rx, rb * srx / rx**2),
    )
    if skeletal_density_g_per_cm3 is None:
        return out
    rs = _positive(skeletal_density_g_per_cm3, "skeletal_density_g_per_cm3")
    srs = _sigma(skeletal_density_uncertainty_g_per_cm3, "skeletal_density_uncertainty_g_per_cm3")
    if rs > rx:
        raise ValueError(f"skeletal_density_g_per_cm3: {rs} exceeds the crystal density {rx}")
    out.skeletal_density_g_per_cm3 = rs
    out.skeletal_density_uncertainty_g_per_cm3 = srs
    out.accessible_porosity = porosity_from_densities(rb, rs)
    out.accessible_porosity_uncertainty = math.hypot(srb / rs, rb * srs / rs**2)
    out.closed_porosity = rb * (1.0 / rs - 1.0 / rx)
    out.closed_porosity_uncertainty = math.sqrt(
        ((1.0 / rs - 1.0 / rx) * srb) ** 2 + (rb * srs / rs**2) ** 2 + (rb * srx / rx**2) ** 2
    )
    out.closed_solid_fraction = 1.0 - rs / rx
    return out


def mip_porosities(
    intruded_volume_cm3_per_g: float,
    *,
    crystal_density_g_per_cm3: float | None = None,
    skeletal_density_g_per_cm3: float | None = None,
    apparent_density_g_per_cm3: float | None = None,
) -> dict[str, float]:
    """The eq. 3 porosities of one specific Hg volume (the columns of Beuse et al. 2021,
    Table 2): ``porosity_xtal``, ``porosity_skel``, ``porosity_app`` for the densities given.

    Parameters
    ----------
    intruded_volume_cm3_per_g
        v_Hg, cm^3/g.
    crystal_density_g_per_cm3, skeletal_density_g_per_cm3, apparent_density_g_per_cm3
        rho_xtal, rho_skel (He pycnometry) and rho_app (eq. 2), g/cm^3.
    """
    out = {}
    for key, rho in (
        ("porosity_xtal", crystal_density_g_per_cm3),
        ("porosity_skel", skeletal_density_g_per_cm3),
        ("porosity_app", apparent_density_g_per_cm3),
    ):
        if rho is not None:
            out[key] = porosity_from_intruded_volume(intruded_volume_cm3_per_g, rho)
    return out
