"""Mercury extrusion on pressure decrease, with entrapment (snap-off behind narrow throats).

Model (morphological, consistent with the intrusion): at pressure ``P`` (Washburn radius
``r``) mercury can only be sustained where a ball of radius ``>= r`` fits, i.e. where the local
thickness ``lt`` of the pore space is ``>= r``. When the pressure drops, mercury retracts from
voxels with ``lt < r`` only if that mercury is still connected, through mercury, to the
reservoir at the inlet faces; a mercury cluster cut off from the reservoir stays (entrapped).

Decreasing the pressure step by step, a voxel ``x`` leaves at ``r = lt(x)`` exactly when some
path from the inlets to ``x`` through initially filled voxels has ``lt >= lt(x)`` everywhere
(those voxels still hold connected mercury at that moment). With ``m(x)`` the maximin of
``lt`` over such paths (the same bottleneck flood as for intrusion), ``x`` is entrapped iff
``m(x) < lt(x)``. One pass, all pressures. :func:`~microstructure.porosimetry.simulate_mip`
with ``extrusion=True`` runs the same model, in memory or chunk by chunk.

References
----------
Hilpert, M. and Miller, C. T. (2001). Pore-morphology-based simulation of drainage in totally
wetting porous media. Advances in Water Resources 24, 243-255.
doi:10.1016/S0309-1708(00)00056-7

Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from microstructure.porosimetry import _core
from microstructure.porosimetry._drainage import extrude, invasion
from microstructure.porosimetry._results import ExtrusionResult
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    check_mercury_parameters,
)

__all__ = ["ExtrusionResult", "simulate_extrusion"]


def simulate_extrusion(
    pore_mask: np.ndarray,
    *,
    voxel_size_nm: float | Sequence[float] | str,
    inlet: str | Iterable[str] = "all",
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    radii_nm: Sequence[float] | np.ndarray | None = None,
    batch_size_nm: float | None = None,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
) -> ExtrusionResult:
    """Intrude to the highest pressure, then extrude with entrapment.

    Parameters
    ----------
    pore_mask
        Boolean (z, y, x) array, True in the pore space.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    inlet, thickness_axis, top_at
        Reservoir faces, as in :func:`~microstructure.porosimetry.simulate_mip`.
    radii_nm, batch_size_nm
        Optional discrete radii (nm) or diameter step (nm).
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters.

    Returns
    -------
    ExtrusionResult
    """
    pore = _core.check_mask(pore_mask, name="pore_mask")
    spacing = _core.spacing_of(voxel_size_nm)
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    inv, steps, _names, seeds, dt, _levels = invasion(
        pore, spacing, inlet, thickness_axis, top_at, radii_nm, batch_size_nm
    )
    return extrude(
        inv,
        seeds,
        spacing,
        dt,
        steps,
        (float(pore.sum()), float(pore.size)),
        None,
        contact_angle_deg,
        surface_tension_n_per_m,
    )
