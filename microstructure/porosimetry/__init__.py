"""Simulated mercury intrusion porosimetry (intrusion, extrusion), granulometry, PSDs.

Public entry points: :func:`simulate_mip` (labels -> :class:`MipResult`), :func:`local_thickness`
and :func:`granulometry`, the curve table :class:`MipCurve` (CSV, D-values, PSD), Washburn
conversions, the hybrid / resolution corrections and the simulated-vs-measured comparison.
"""

from microstructure.porosimetry.compare import (
    MipComparison,
    area_between_curves,
    compare_mip_curves,
    compare_mip_files,
    plot_mip_comparison,
    plot_mip_curve,
    plot_mip_curves,
)
from microstructure.porosimetry.distribution import (
    CURVE_COLUMNS,
    MipCurve,
    PsdTable,
    curve_from_radii,
    d_values,
    log_differential,
)
from microstructure.porosimetry.extrusion import ExtrusionResult, simulate_extrusion
from microstructure.porosimetry.granulometry import (
    GranulometryResult,
    granulometry,
    local_thickness,
    shielding_comparison,
)
from microstructure.porosimetry.hybrid import (
    cbd_access_radius,
    hybrid_curve,
    nanopore_survival,
    resolution_correction,
    subvoxel_correction,
)
from microstructure.porosimetry.intrusion import MipResult, invasion_radius, simulate_mip
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    washburn_diameter_nm,
    washburn_pressure_mpa,
)

__all__ = [
    "simulate_mip",
    "MipResult",
    "invasion_radius",
    "simulate_extrusion",
    "ExtrusionResult",
    "local_thickness",
    "granulometry",
    "GranulometryResult",
    "shielding_comparison",
    "MipCurve",
    "PsdTable",
    "CURVE_COLUMNS",
    "curve_from_radii",
    "d_values",
    "log_differential",
    "washburn_diameter_nm",
    "washburn_pressure_mpa",
    "CONTACT_ANGLE_DEG",
    "SURFACE_TENSION_N_PER_M",
    "hybrid_curve",
    "cbd_access_radius",
    "nanopore_survival",
    "resolution_correction",
    "plot_mip_curves",
    "subvoxel_correction",
    "MipComparison",
    "compare_mip_curves",
    "compare_mip_files",
    "area_between_curves",
    "plot_mip_curve",
    "plot_mip_comparison",
]
