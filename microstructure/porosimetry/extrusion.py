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
``m(x) < lt(x)``. One pass, all pressures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from microstructure.porosimetry import _core
from microstructure.porosimetry.distribution import MipCurve
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    check_mercury_parameters,
    washburn_pressure_mpa,
)

__all__ = ["ExtrusionResult", "simulate_extrusion"]


@dataclass
class ExtrusionResult:
    """Extrusion after intrusion to the highest pressure.

    Attributes
    ----------
    extrusion_radius_nm
        Radius (nm) at which mercury leaves each voxel on pressure decrease (the voxel's local
        thickness); 0 where it never leaves (entrapped) or never entered.
    entrapped
        Boolean mask of the voxels whose mercury stays at zero pressure.
    curve
        Extrusion curve, rows by decreasing pressure; ``saturation`` is the mercury still in
        the sample / pore volume.
    entrapped_fraction
        Entrapped mercury / mercury intruded at the highest pressure.
    entrapped_pore_fraction
        Entrapped mercury / pore volume.
    """

    extrusion_radius_nm: np.ndarray
    entrapped: np.ndarray
    curve: MipCurve
    entrapped_fraction: float
    entrapped_pore_fraction: float


def _extrude(
    pore: np.ndarray,
    inv: np.ndarray,
    seeds: np.ndarray,
    spacing: tuple[float, float, float],
    dt: np.ndarray,
    steps: np.ndarray | None,
    n_pore: float,
    n_total: float,
    factor: float | None,
    contact_angle_deg: float,
    surface_tension_n_per_m: float,
    dt_levels: np.ndarray | None = None,
) -> ExtrusionResult:
    """``dt_levels``: the distinct positive EDT values when already known (saves a sort)."""
    filled = inv > 0
    if dt_levels is None:
        dt_levels = _core.levels_of(dt)
    lt = _core.paint(dt, spacing, dt_levels)
    if steps is not None:
        lt = _core.quantize(lt, steps)
    field = np.where(filled, lt, np.float32(0.0))
    m = _core.flood(field, seeds & filled, dt_levels if steps is None else steps)
    entrapped = filled & (m < field)
    leaving = filled & ~entrapped
    ext = np.where(leaving, field, np.float32(0.0))
    n_filled = float(np.count_nonzero(filled))
    n_trapped = float(np.count_nonzero(entrapped))
    # extrusion curve, rows by decreasing pressure: first the state at the highest pressure
    # (everything intruded still filled), then after the pressure has dropped to each step
    # P(r): mercury remains where it is entrapped or where lt > r
    radii = np.sort(ext[leaving].astype(np.float64))
    if steps is None:
        step_r = np.unique(np.concatenate((radii, inv[filled])))
    else:
        step_r = np.asarray(steps, dtype=np.float64)
    step_r = np.concatenate(([step_r[0]], step_r))
    remaining = radii.size - np.searchsorted(radii, step_r * (1 + 1e-6), side="right")
    remaining[0] = radii.size
    held = remaining + n_trapped
    diameter = 2.0 * step_r
    base = MipCurve(
        diameter_nm=diameter,
        pressure_mpa=washburn_pressure_mpa(
            diameter,
            contact_angle_deg=contact_angle_deg,
            surface_tension_n_per_m=surface_tension_n_per_m,
        ),
        saturation=held / n_pore,
        intruded_fraction=held / n_total,
        specific_volume_mm3_per_g=None if factor is None else held * factor,
        porosity=n_pore / n_total,
        label="simulated extrusion",
    )
    return ExtrusionResult(
        extrusion_radius_nm=ext,
        entrapped=entrapped,
        curve=base,
        entrapped_fraction=n_trapped / n_filled if n_filled else 0.0,
        entrapped_pore_fraction=n_trapped / n_pore,
    )


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
    from microstructure.porosimetry.intrusion import _invasion

    pore = _core.check_mask(pore_mask, name="pore_mask")
    spacing = _core.spacing_of(voxel_size_nm)
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    inv, steps, _names, seeds, dt, _levels = _invasion(
        pore, spacing, inlet, thickness_axis, top_at, radii_nm, batch_size_nm
    )
    return _extrude(
        pore,
        inv,
        seeds,
        spacing,
        dt,
        steps,
        float(pore.sum()),
        float(pore.size),
        None,
        contact_angle_deg,
        surface_tension_n_per_m,
    )
