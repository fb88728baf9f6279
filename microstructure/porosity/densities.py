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
]


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
