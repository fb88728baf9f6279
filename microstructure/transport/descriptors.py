"""Geometric descriptors of transport: geodesic tortuosity, constrictivity, Stenzel's M.

* :func:`geodesic_tortuosity` - mean length of the shortest paths through the phase from the
  inlet plane to each reachable outlet voxel, divided by the thickness (Dijkstra on the voxel
  graph, 26-connected with anisotropic step lengths; the path costs of
  ``skimage.graph.MCP_Geometric`` with a memory-lean numba implementation, about 13 bytes per
  voxel instead of about 110).
* :func:`constrictivity` - ``beta = (r_min / r_max) ** 2``, ``r_min`` the volume median of
  the simulated-MIP (invasion) radius and ``r_max`` the volume median of the granulometry
  (local-thickness) radius, both given as per-voxel radius arrays (Stenzel et al. 2016 /
  Holzer et al. 2013).
* :func:`transport_descriptors` - both, with the Stenzel et al. (2016) predictions
  ``M = eps**1.15 beta**0.37 / tau**4.39`` and ``eps beta**0.36 / tau**5.17``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from microstructure.faces import AXES, axis_index
from microstructure.transport._geodesic import inlet_distances
from microstructure.transport.formulas import stenzel_m_factor
from microstructure.volume import PORE_PHASES, check_volume, parse_voxel_size

__all__ = [
    "GeodesicTortuosity",
    "Constrictivity",
    "TransportDescriptors",
    "geodesic_tortuosity",
    "constrictivity",
    "transport_descriptors",
]


@dataclass(frozen=True)
class GeodesicTortuosity:
    """Attributes: ``mean`` (dimensionless, >= 1), ``median``, ``std``, ``n_paths`` (reachable
    outlet voxels), ``axis``, ``thickness_nm``. ``mean`` is ``nan`` without a connected path."""

    mean: float
    median: float
    std: float
    n_paths: int
    axis: str
    thickness_nm: float


@dataclass(frozen=True)
class Constrictivity:
    """Attributes: ``constrictivity`` (beta, 0..1), ``r_min_nm``, ``r_max_nm``."""

    constrictivity: float
    r_min_nm: float
    r_max_nm: float


@dataclass(frozen=True)
class TransportDescriptors:
    """Descriptors and Stenzel predictions beside the simulated M-factor (if given)."""

    porosity: float
    geodesic_tortuosity: float
    constrictivity: float
    r_min_nm: float
    r_max_nm: float
    m_stenzel: float
    m_stenzel_simplified: float
    m_simulated: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``nan`` becomes ``None``)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def _phase_mask(labels: Any, phases: Iterable[int] | int, name: str = "labels") -> np.ndarray:
    arr = check_volume(labels, name=name)
    if arr.dtype == np.bool_:
        return arr
    if isinstance(phases, int | np.integer):
        phases = (int(phases),)
    return np.isin(arr, np.asarray(list(phases)))


def geodesic_tortuosity(
    labels: Any,
    *,
    voxel_size_nm: Any,
    axis: str | int,
    phases: Iterable[int] | int = PORE_PHASES,
    fully_connected: bool = True,
) -> GeodesicTortuosity:
    """Mean geodesic tortuosity of a phase along an axis.

    For every phase voxel in the outlet plane (index ``n - 1`` along ``axis``) that is connected
    to the inlet plane (index 0), the shortest path inside the phase from any inlet voxel is
    found; its length plus one voxel (half a voxel at each face) divided by the thickness
    ``n h`` is the voxel's tortuosity. A straight channel gives exactly 1.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x), or a boolean mask of the phase.
    voxel_size_nm
        Voxel size (z, y, x) in nm (anisotropic voxels give the right step lengths).
    axis
        ``"z"``, ``"y"`` or ``"x"``.
    phases
        Labels forming the phase (ignored for a boolean mask).
    fully_connected
        26-connected steps (closer to Euclidean lengths) instead of 6-connected.

    Returns
    -------
    GeodesicTortuosity
        ``mean`` etc.; ``nan`` and ``n_paths = 0`` when the phase does not connect the planes.
    """
    mask = _phase_mask(labels, phases)
    vs = parse_voxel_size(voxel_size_nm)
    ax = axis_index(axis)
    if not mask.any():
        raise ValueError(f"phases: the phase set {phases!r} does not occur in labels")
    m = np.moveaxis(mask, ax, 0)
    sampling = tuple(vs[a] for a in [ax] + [a for a in range(3) if a != ax])
    n0 = m.shape[0]
    thickness = n0 * sampling[0]
    # Dijkstra from the whole inlet plane: only voxels connected to it get a finite length,
    # so the outlet voxels with a path are those of the clusters touching both planes
    last = inlet_distances(m, sampling, fully_connected=fully_connected)
    out = last[np.isfinite(last)]
    if out.size == 0:
        return GeodesicTortuosity(math.nan, math.nan, math.nan, 0, AXES[ax], thickness)
    tau = (out + sampling[0]) / thickness
    return GeodesicTortuosity(
        mean=float(tau.mean()),
        median=float(np.median(tau)),
        std=float(tau.std()),
        n_paths=int(tau.size),
        axis=AXES[ax],
        thickness_nm=float(thickness),
    )


def _float_radii(arr: Any) -> np.ndarray:
    arr = np.asarray(arr)
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def constrictivity(
    mip_radius_nm: Any, granulometry_radius_nm: Any, mask: Any | None = None
) -> Constrictivity:
    """Constrictivity ``beta = (r_min / r_max) ** 2``.

    Parameters
    ----------
    mip_radius_nm
        Per-voxel radius (nm) at which simulated mercury enters the voxel (0 or NaN where
        never): its volume median over the intruded phase voxels is ``r_min`` (the bottleneck
        size).
    granulometry_radius_nm
        Per-voxel radius (nm) of the largest inscribed sphere covering the voxel (local
        thickness / continuous PSD): its volume median over the phase is ``r_max``.
    mask
        Boolean mask of the phase (same shape); default: voxels with a positive granulometry
        radius.

    Returns
    -------
    Constrictivity
        ``beta`` clipped to [0, 1] (``r_min > r_max`` can only come from inconsistent inputs).

    Raises
    ------
    ValueError
        On shape mismatch, negative radii or an empty phase.
    """
    # float32 radii stay float32 (no whole-volume float64 copies); medians in float64 below
    rmip = _float_radii(check_volume(mip_radius_nm, name="mip_radius_nm", allow_nan=True))
    rgr = _float_radii(check_volume(granulometry_radius_nm, name="granulometry_radius_nm"))
    if rmip.shape != rgr.shape:
        raise ValueError(
            f"mip_radius_nm, granulometry_radius_nm: shapes differ {rmip.shape} vs {rgr.shape}"
        )
    if np.nanmin(rmip) < 0 or rgr.min() < 0:
        raise ValueError("mip_radius_nm, granulometry_radius_nm: radii must be >= 0")
    if mask is None:
        sel = rgr > 0
    else:
        sel = np.asarray(mask, bool)
        if sel.shape != rgr.shape:
            raise ValueError(f"mask: shape {sel.shape} differs from the radii {rgr.shape}")
    if not sel.any():
        raise ValueError("mask: the phase is empty")
    r_max = float(np.median(rgr[sel].astype(np.float64)))
    intr = rmip[sel].astype(np.float64)
    intr = intr[np.isfinite(intr) & (intr > 0)]
    r_min = float(np.median(intr)) if intr.size else 0.0
    beta = min(1.0, (r_min / r_max) ** 2) if r_max > 0 else 0.0
    return Constrictivity(constrictivity=beta, r_min_nm=r_min, r_max_nm=r_max)


def transport_descriptors(
    labels: Any,
    *,
    voxel_size_nm: Any,
    axis: str | int,
    mip_radius_nm: Any,
    granulometry_radius_nm: Any,
    phases: Iterable[int] | int = PORE_PHASES,
    m_simulated: float | None = None,
) -> TransportDescriptors:
    """Geodesic tortuosity, constrictivity and Stenzel's M-factor predictions.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x).
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    axis
        Transport direction.
    mip_radius_nm, granulometry_radius_nm
        Per-voxel radii in nm (see :func:`constrictivity`), e.g. from
        ``microstructure.porosimetry.simulate_mip(...).invasion_radius_nm`` and
        ``microstructure.porosimetry.local_thickness``.
    phases
        Labels of the transporting phase.
    m_simulated
        The image-based M-factor (:func:`microstructure.transport.m_factor`) to report beside
        the predictions.
    """
    mask = _phase_mask(labels, phases)
    eps = float(mask.mean())
    geo = geodesic_tortuosity(mask, voxel_size_nm=voxel_size_nm, axis=axis)
    con = constrictivity(mip_radius_nm, granulometry_radius_nm, mask)
    if geo.n_paths == 0:
        m_full = m_simp = 0.0
    else:
        tau = max(1.0, geo.mean)
        m_full = float(stenzel_m_factor(eps, con.constrictivity, tau))
        m_simp = float(stenzel_m_factor(eps, con.constrictivity, tau, form="simplified"))
    return TransportDescriptors(
        porosity=eps,
        geodesic_tortuosity=geo.mean,
        constrictivity=con.constrictivity,
        r_min_nm=con.r_min_nm,
        r_max_nm=con.r_max_nm,
        m_stenzel=m_full,
        m_stenzel_simplified=m_simp,
        m_simulated=m_simulated,
    )
