"""Result containers of the simulated MIP (private module; the public names are re-exported
by :mod:`microstructure.porosimetry`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.porosimetry.distribution import MipCurve

__all__ = ["MipResult", "ExtrusionResult"]


@dataclass
class ExtrusionResult:
    """Extrusion after intrusion to the highest pressure.

    Attributes
    ----------
    extrusion_radius_nm
        Radius (nm) at which mercury leaves each voxel on pressure decrease (the voxel's local
        thickness); 0 where it never leaves (entrapped) or never entered. ``None`` after a
        chunked simulation (only the curve and the numbers are assembled, from chunk counts).
    entrapped
        Boolean mask of the voxels whose mercury stays at zero pressure (``None`` chunked).
    curve
        Extrusion curve, rows by decreasing pressure; ``saturation`` is the mercury still in
        the sample / pore volume.
    entrapped_fraction
        Entrapped mercury / mercury intruded at the highest pressure.
    entrapped_pore_fraction
        Entrapped mercury / pore volume.
    """

    extrusion_radius_nm: np.ndarray | None
    entrapped: np.ndarray | None
    curve: MipCurve
    entrapped_fraction: float
    entrapped_pore_fraction: float


@dataclass
class MipResult:
    """Result of :func:`simulate_mip`.

    Attributes
    ----------
    invasion_radius_nm
        Per-voxel radius (nm) at which mercury enters; 0 where it never does. After a chunked
        simulation a Zarr (or Dask) array when ``out_zarr`` was given, else ``None``.
    curve
        Intrusion curve (:class:`MipCurve`); the hybrid curve when CBD nanoporosity was given.
    resolved_curve
        Intrusion curve of the resolved pore space alone.
    porosity
        Resolved pore volume fraction (phases 0 and 3).
    accessible_fraction
        Fraction of the resolved pore volume intruded at the highest pressure.
    inlet
        Resolved inlet face names.
    extrusion
        :class:`~microstructure.porosimetry.extrusion.ExtrusionResult` when requested.
    """

    invasion_radius_nm: Any
    curve: MipCurve
    resolved_curve: MipCurve
    voxel_size_nm: tuple[float, float, float]
    porosity: float
    accessible_fraction: float
    inlet: tuple[str, ...]
    contact_angle_deg: float
    surface_tension_n_per_m: float
    step_radii_nm: np.ndarray | None = None
    extrusion: ExtrusionResult | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def d_values(self) -> dict[str, float]:
        """D10/D50/D90 (nm) of the intrusion curve."""
        return self.curve.d_values()

    def to_csv(self, path: Any) -> Any:
        """Write the intrusion curve CSV (contract columns)."""
        return self.curve.to_csv(path)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (snake_case keys with units)."""
        out: dict[str, Any] = {
            "voxel_size_nm": list(self.voxel_size_nm),
            "inlet": list(self.inlet),
            "contact_angle_deg": self.contact_angle_deg,
            "surface_tension_n_per_m": self.surface_tension_n_per_m,
            "porosity": self.porosity,
            "accessible_fraction": self.accessible_fraction,
            "intruded_porosity": self.curve.total_intruded_fraction,
            "n_steps": len(self.curve),
            "min_diameter_nm": float(self.curve.diameter_nm.min()) if len(self.curve) else None,
            **self.curve.d_values(),
        }
        if self.curve.specific_volume_mm3_per_g is not None and len(self.curve):
            out["specific_volume_mm3_per_g"] = float(self.curve.specific_volume_mm3_per_g.max())
        if self.extrusion is not None:
            out["entrapped_fraction"] = self.extrusion.entrapped_fraction
        out.update(self.metadata)
        return out
