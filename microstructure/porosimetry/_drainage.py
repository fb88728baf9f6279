"""In-memory drainage (intrusion) and imbibition (extrusion) fields, shared by the public
functions of :mod:`~microstructure.porosimetry.intrusion` and
:mod:`~microstructure.porosimetry.extrusion` and by the chunked path (private).

References
----------
Hilpert, M. and Miller, C. T. (2001). Pore-morphology-based simulation of drainage in totally
wetting porous media. Advances in Water Resources 24, 243-255.
doi:10.1016/S0309-1708(00)00056-7
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.porosimetry import _core
from microstructure.porosimetry._results import ExtrusionResult
from microstructure.porosimetry.distribution import MipCurve
from microstructure.porosimetry.washburn import washburn_pressure_mpa


def invasion(
    pore: np.ndarray,
    spacing: tuple[float, float, float],
    inlet: Any,
    thickness_axis: Any,
    top_at: Any,
    radii_nm: Any,
    batch_size_nm: Any,
    dt: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Returns (invasion radius, step radii or None, inlet names, inlet seeds, dt, levels).

    ``levels`` holds every distinct positive value of the invasion radius field (the EDT
    levels, or the step radii)."""
    if not pore.any():
        raise ValueError("labels: no pore voxels (phases 0 and 3); nothing can be intruded")
    inlet_mask, names = _core.resolve_inlets(
        pore.shape, inlet, thickness_axis=thickness_axis, top_at=top_at
    )
    seeds = inlet_mask & pore
    if not seeds.any():
        raise ValueError(
            f"inlet: no pore voxel touches the inlet faces {', '.join(names)}; "
            "mercury cannot enter (choose other faces)"
        )
    if dt is None:
        dt = _core.distance_nm(pore, spacing)
    levels = _core.levels_of(dt)
    b = _core.flood(dt, seeds, levels)
    steps = _core.step_radii(radii_nm, batch_size_nm, float(levels[-1]))
    if steps is not None:
        b = _core.quantize(b, steps)
        levels = steps
    inv = _core.paint(b, spacing, levels)
    return inv, steps, names, seeds, dt, levels


def extrusion_curve(
    ext_values: np.ndarray,
    ext_counts: np.ndarray,
    inv_values: np.ndarray,
    steps: np.ndarray | None,
    counts: tuple[float, float, float, float],
    factor: float | None,
    contact_angle_deg: float,
    surface_tension_n_per_m: float,
) -> MipCurve:
    """The extrusion curve, rows by decreasing pressure, from the distinct extrusion radii of
    the leaving voxels (``ext_values`` ascending, ``ext_counts`` voxels each), the distinct
    invasion radii of the filled voxels and ``counts = (n_filled, n_trapped, n_pore,
    n_total)``: first the state at the highest pressure (everything intruded still filled),
    then after the pressure has dropped to each step ``P(r)``: mercury remains where it is
    entrapped or where the local thickness is above ``r``."""
    _n_filled, n_trapped, n_pore, n_total = counts
    radii = np.asarray(ext_values, dtype=np.float64)
    cum = np.concatenate(([0], np.cumsum(np.asarray(ext_counts, dtype=np.int64))))
    if steps is None:
        step_r = np.unique(np.concatenate((radii, np.asarray(inv_values, dtype=np.float64))))
    else:
        step_r = np.asarray(steps, dtype=np.float64)
    step_r = np.concatenate(([step_r[0]], step_r))
    remaining = cum[-1] - cum[np.searchsorted(radii, step_r * (1 + 1e-6), side="right")]
    remaining[0] = cum[-1]
    held = remaining + n_trapped
    diameter = 2.0 * step_r
    return MipCurve(
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


def extrusion_result(
    curve: MipCurve,
    n_filled: float,
    n_trapped: float,
    n_pore: float,
    ext: np.ndarray | None = None,
    entrapped: np.ndarray | None = None,
) -> ExtrusionResult:
    """:class:`ExtrusionResult` from the curve and the voxel counts (fields when known)."""
    return ExtrusionResult(
        extrusion_radius_nm=ext,
        entrapped=entrapped,
        curve=curve,
        entrapped_fraction=n_trapped / n_filled if n_filled else 0.0,
        entrapped_pore_fraction=n_trapped / n_pore,
    )


def extrude(
    inv: np.ndarray,
    seeds: np.ndarray,
    spacing: tuple[float, float, float],
    dt: np.ndarray,
    steps: np.ndarray | None,
    sizes: tuple[float, float],
    factor: float | None,
    contact_angle_deg: float,
    surface_tension_n_per_m: float,
    dt_levels: np.ndarray | None = None,
) -> ExtrusionResult:
    """Extrusion with entrapment after intrusion to the highest pressure (in memory).

    ``sizes = (n_pore, n_total)`` in voxels; ``dt_levels``: the distinct positive EDT values
    when already known (saves a sort)."""
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
    values, counts = np.unique(ext[leaving], return_counts=True)
    curve = extrusion_curve(
        values,
        counts,
        np.unique(inv[filled]),
        steps,
        (n_filled, n_trapped, *sizes),
        factor,
        contact_angle_deg,
        surface_tension_n_per_m,
    )
    return extrusion_result(curve, n_filled, n_trapped, sizes[0], ext, entrapped)
