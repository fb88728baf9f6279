"""Porosity metrics: phase fractions, closed/accessible porosity, densities (eq. 1-3 of [1]_),
specific surface area, profiles along the thickness, and a combined report.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from microstructure.porosity.connectivity import (
    ClosedPores,
    accessible_porosity,
    closed_porosity,
    find_closed_pores,
    label_components,
)
from microstructure.porosity.densities import (
    PorosityBudget,
    apparent_density,
    bulk_density_from_labels,
    bulk_density_from_loading,
    bulk_density_from_porosity,
    closed_porosity_from_skeletal_density,
    intruded_volume_from_porosity,
    mip_porosities,
    porosity_budget,
    porosity_from_densities,
    porosity_from_intruded_volume,
    theoretical_density_from_labels,
)
from microstructure.porosity.fractions import phase_counts, phase_fractions, total_porosity
from microstructure.porosity.profiles import porosity_profile
from microstructure.porosity.report import format_porosity_report, porosity_report
from microstructure.porosity.surface import (
    interface_areas_um2,
    specific_surface_area,
    surface_area_um2,
)

__all__ = [
    "ClosedPores",
    "PorosityBudget",
    "mip_porosities",
    "porosity_budget",
    "accessible_porosity",
    "apparent_density",
    "bulk_density_from_labels",
    "bulk_density_from_loading",
    "bulk_density_from_porosity",
    "closed_porosity",
    "closed_porosity_from_skeletal_density",
    "find_closed_pores",
    "format_porosity_report",
    "interface_areas_um2",
    "intruded_volume_from_porosity",
    "label_components",
    "phase_counts",
    "phase_fractions",
    "porosity_from_densities",
    "porosity_from_intruded_volume",
    "porosity_profile",
    "porosity_report",
    "specific_surface_area",
    "surface_area_um2",
    "theoretical_density_from_labels",
    "total_porosity",
]
