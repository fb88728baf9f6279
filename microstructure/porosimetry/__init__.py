"""Simulated mercury intrusion porosimetry (intrusion, extrusion), granulometry, PSDs.

Public entry points: :func:`simulate_mip` (labels -> :class:`MipResult`), :func:`local_thickness`
and :func:`granulometry`, the curve table :class:`MipCurve` (CSV, D-values, PSD), Washburn
conversions, measured curve files, the hybrid / resolution corrections, the simulated-vs-
measured comparison and the curve figures. The algorithms take numpy arrays (numpy results)
or Dask / Zarr arrays (chunked, resumable, the same numbers).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module defining it (imported on first use: ``import
#: microstructure.porosimetry.washburn`` for a constant does not load numba or matplotlib)
_MEMBERS = {
    "simulate_mip": "microstructure.porosimetry.intrusion",
    "MipResult": "microstructure.porosimetry.intrusion",
    "invasion_radius": "microstructure.porosimetry.intrusion",
    "simulate_extrusion": "microstructure.porosimetry.extrusion",
    "ExtrusionResult": "microstructure.porosimetry.extrusion",
    "local_thickness": "microstructure.porosimetry.granulometry",
    "granulometry": "microstructure.porosimetry.granulometry",
    "GranulometryResult": "microstructure.porosimetry.granulometry",
    "shielding_comparison": "microstructure.porosimetry.granulometry",
    "MipCurve": "microstructure.porosimetry.distribution",
    "PsdTable": "microstructure.porosimetry.distribution",
    "CURVE_COLUMNS": "microstructure.porosimetry.distribution",
    "curve_from_radii": "microstructure.porosimetry.distribution",
    "d_values": "microstructure.porosimetry.distribution",
    "log_differential": "microstructure.porosimetry.distribution",
    "washburn_diameter_nm": "microstructure.porosimetry.washburn",
    "washburn_pressure_mpa": "microstructure.porosimetry.washburn",
    "CONTACT_ANGLE_DEG": "microstructure.porosimetry.washburn",
    "SURFACE_TENSION_N_PER_M": "microstructure.porosimetry.washburn",
    "hybrid_curve": "microstructure.porosimetry.hybrid",
    "cbd_access_radius": "microstructure.porosimetry.hybrid",
    "nanopore_survival": "microstructure.porosimetry.hybrid",
    "resolution_correction": "microstructure.porosimetry.hybrid",
    "plot_mip_curves": "microstructure.porosimetry.figures",
    "subvoxel_correction": "microstructure.porosimetry.hybrid",
    "MipComparison": "microstructure.porosimetry.compare",
    "compare_mip_curves": "microstructure.porosimetry.compare",
    "read_mip_file": "microstructure.porosimetry.measured",
    "read_curve_csv": "microstructure.porosimetry.measured",
    "load_mip_curve": "microstructure.porosimetry.measured",
    "PRESSURE_UNITS": "microstructure.porosimetry.measured",
    "VOLUME_UNITS": "microstructure.porosimetry.measured",
    "mip_curve_figure": "microstructure.porosimetry.figures",
    "mip_curves_figure": "microstructure.porosimetry.figures",
    "mip_comparison_figure": "microstructure.porosimetry.figures",
    "draw_curve_pair": "microstructure.porosimetry.figures",
    "area_between_curves": "microstructure.porosimetry.compare",
    "plot_mip_curve": "microstructure.porosimetry.figures",
    "plot_mip_comparison": "microstructure.porosimetry.figures",
    "read_mip_export": "microstructure.porosimetry.measured",
    "MipExport": "microstructure.porosimetry.measured",
    "analyze_mip": "microstructure.porosimetry.measured_analysis",
    "MipAnalysis": "microstructure.porosimetry.measured_analysis",
    "pore_surface_m2_per_g": "microstructure.porosimetry.measured_analysis",
    "PORE_SHAPES": "microstructure.porosimetry.measured_analysis",
}

__all__ = list(_MEMBERS)


def __getattr__(name: str) -> Any:
    module = _MEMBERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MEMBERS])
