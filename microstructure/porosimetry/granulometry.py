"""Granulometry: exact local thickness of the pore space and its volume-weighted PSD.

The local thickness of a pore voxel is the radius of the largest inscribed ball that contains
it: ``lt(x) = max{dt(c) : |x - c| < dt(c)}`` over all pore centres ``c`` (open balls, physical
distances, ``dt`` the EDT in nm). Unlike intrusion it ignores access through throats, so its
PSD sits at larger sizes than MIP when bodies hide behind narrow entries (pore shielding,
Beuse et al. 2021, Fig. 8c). Both functions run chunk by chunk on a Dask or Zarr array (or
with ``chunks``), with the same numbers (:mod:`~microstructure.porosimetry._granulometry_chunked`).

References
----------
Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from microstructure.parallel.support import chunked_support
from microstructure.porosimetry import _core
from microstructure.porosimetry.distribution import MipCurve, curve_from_radii
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    check_mercury_parameters,
)
from microstructure.volume import (
    PORE_PHASES,
    check_labels,
    refuse_all_pore,
    require_3d,
    require_pore_and_solid,
)

__all__ = ["GranulometryResult", "local_thickness", "granulometry", "shielding_comparison"]


@chunked_support()
def local_thickness(
    pore_mask: Any,
    *,
    voxel_size_nm: float | Sequence[float] | str,
    radii_nm: Sequence[float] | np.ndarray | None = None,
    chunks: int | tuple[int, int, int] | None = None,
    resume_dir: str | os.PathLike | None = None,
    max_radius_nm: float | None = None,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
) -> Any:
    """Exact local thickness (radius, nm) of every pore voxel; 0 in the solid.

    Parameters
    ----------
    pore_mask
        Boolean (z, y, x) array, True in the pore space: numpy, or Dask / Zarr (chunked).
    voxel_size_nm
        Voxel size (z, y, x) in nm (anisotropic allowed).
    radii_nm
        Optional discrete radius list (nm): ball radii are floored to it first (PoreSpy's
        integer ``sizes``). Default: exact fractional radii.
    chunks
        Run chunk by chunk (Dask tasks over Zarr intermediates) with work chunks of this edge
        (voxels, or three edges). Implied (128) by a Dask or Zarr input; a numpy input with
        ``chunks`` is copied chunk-wise. The chunked numbers equal the in-memory ones (radii
        to float32 rounding of the chunked distance transform).
    resume_dir
        Chunked only: resumable work folder; an interrupted call repeated with the same input
        and arguments computes only the unfinished chunks (removed on success).
    max_radius_nm
        Chunked only: largest inscribed-ball radius considered (nm), the chunk overlap; wider
        pores count at it. Default: the radius list's largest radius, else the largest pore
        radius (found by a capped distance transform whose cap doubles until no distance
        reaches it): the in-memory result.
    work_dir, out_zarr
        Chunked only: folder for the temporary work folder; a Zarr array to keep the local
        thickness in (returned instead of an in-memory one).

    Returns
    -------
    float32 array of radii in nm (largest inscribed ball containing each voxel): numpy for a
    numpy input (a Zarr array with ``out_zarr``), a Dask array for a Dask input.

    Examples
    --------
    >>> import numpy as np
    >>> pore = np.zeros((20, 20, 20), bool)
    >>> pore[:, 5:15, 5:15] = True                    # 10 voxels = 1 um wide
    >>> float(local_thickness(pore, voxel_size_nm=100.0).max())   # largest inscribed radius
    500.0
    """
    from microstructure.porosimetry import _granulometry_chunked as GC
    from microstructure.porosimetry._intrusion_chunked import wants_chunked

    require_3d(np.shape(pore_mask), name="pore_mask", what="local thickness")
    if wants_chunked(pore_mask, chunks):
        refuse_all_pore(pore_mask, (1,), name="pore_mask", what="local thickness")
        opts = _chunk_opts(chunks, resume_dir, max_radius_nm, work_dir, out_zarr)
        return GC.local_thickness_chunked(
            pore_mask, voxel_size_nm=voxel_size_nm, radii_nm=radii_nm, opts=opts
        )
    pore = _core.check_mask(pore_mask, name="pore_mask")
    spacing = _core.spacing_of(voxel_size_nm)
    require_pore_and_solid(pore, name="pore_mask", what="local thickness")
    dt = _core.distance_nm(pore, spacing)
    return _lt_from_dt(dt, spacing, radii_nm)[0]


def _chunk_opts(chunks, resume_dir, max_radius_nm, work_dir, out_zarr) -> dict[str, Any]:
    return {
        "chunks": chunks,
        "resume_dir": resume_dir,
        "max_radius_nm": max_radius_nm,
        "work_dir": work_dir,
        "out_zarr": out_zarr,
    }


def _lt_from_dt(
    dt: np.ndarray, spacing: tuple[float, float, float], radii_nm: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Local thickness and the distinct values it can take (EDT levels or step radii)."""
    if radii_nm is None:
        levels = _core.levels_of(dt)
        return _core.paint(dt, spacing, levels), levels
    steps = _core.check_radii(radii_nm)
    return _core.paint(_core.quantize(dt, steps), spacing, steps), steps


@dataclass
class GranulometryResult:
    """Result of :func:`granulometry`.

    Attributes
    ----------
    local_thickness_nm
        Per-voxel local thickness (radius, nm), 0 in the solid.
    curve
        Cumulative volume fraction of the pore space in pores of diameter >= D, in the curve
        table format (``pressure_mpa`` is the Washburn pressure of each diameter).
    porosity
        Pore volume fraction.
    mean_radius_nm
        Mean local thickness (radius, nm) of the pore voxels with a positive one, when known
        without the array (the chunked granulometry computes it from its per-chunk counts);
        ``None``: :meth:`summary` computes it from ``local_thickness_nm``.

    ``local_thickness_nm`` may be a numpy, Zarr or Dask array (the chunked granulometry
    returns a Zarr array when asked to write it to disk); :meth:`summary` reads a Zarr or
    Dask array chunk by chunk.
    """

    local_thickness_nm: Any
    curve: MipCurve
    porosity: float
    voxel_size_nm: tuple[float, float, float]
    mean_radius_nm: float | None = None

    def d_values(self) -> dict[str, float]:
        """D10/D50/D90 (nm) of the volume-weighted local-thickness distribution."""
        return self.curve.d_values()

    def to_csv(self, path: Any) -> Any:
        """Write the cumulative table (contract columns)."""
        return self.curve.to_csv(path)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers."""
        return {
            "voxel_size_nm": list(self.voxel_size_nm),
            "porosity": self.porosity,
            "n_steps": len(self.curve),
            "mean_diameter_nm": 2.0 * self._mean_radius_nm(),
            **self.d_values(),
        }

    def _mean_radius_nm(self) -> float:
        if self.mean_radius_nm is not None:
            return float(self.mean_radius_nm)
        lt = self.local_thickness_nm
        if isinstance(lt, np.ndarray):
            return float(lt[lt > 0].mean())
        # Zarr or Dask: sums block by block, never the whole array in memory
        import dask.array as da

        arr = lt if isinstance(lt, da.Array) else da.from_array(lt, chunks=_chunks_of(lt))
        hit = arr > 0
        total, n = da.compute(da.where(hit, arr, 0).sum(dtype=np.float64), hit.sum())
        return float(total) / float(n) if n else float("nan")


def _chunks_of(array: Any) -> Any:
    """The storage chunks of a Zarr array (Dask's automatic chunks otherwise)."""
    chunks = getattr(array, "chunks", None)
    return chunks if isinstance(chunks, tuple) and len(chunks) == 3 else "auto"


@chunked_support()
def granulometry(
    labels: Any,
    *,
    voxel_size_nm: float | Sequence[float] | str,
    radii_nm: Sequence[float] | np.ndarray | None = None,
    pore_phases: Sequence[int] = PORE_PHASES,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
    chunks: int | tuple[int, int, int] | None = None,
    resume_dir: str | os.PathLike | None = None,
    max_radius_nm: float | None = None,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
) -> GranulometryResult:
    """Granulometry (local-thickness PSD) of the pore phases of a labels volume.

    Parameters
    ----------
    labels
        uint8 labels (z, y, x), pore = ``pore_phases`` (0 and 3): numpy, or Dask / Zarr
        (chunked: the curve from per-chunk counts).
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    radii_nm
        Optional discrete radius list (nm); default exact.
    pore_phases
        Labels counted as pore.
    contact_angle_deg, surface_tension_n_per_m
        Only to express each diameter as a Washburn pressure in the table.
    chunks
        Run chunk by chunk (Dask tasks over Zarr intermediates) with work chunks of this edge
        (voxels, or three edges). Implied (128) by a Dask or Zarr input; a numpy input with
        ``chunks`` is copied chunk-wise. The chunked numbers equal the in-memory ones (radii
        to float32 rounding of the chunked distance transform).
    resume_dir
        Chunked only: resumable work folder; an interrupted call repeated with the same input
        and arguments computes only the unfinished chunks (removed on success).
    max_radius_nm
        Chunked only: largest inscribed-ball radius considered (nm), the chunk overlap; wider
        pores count at it. Default: the radius list's largest radius, else the largest pore
        radius (found by a capped distance transform whose cap doubles until no distance
        reaches it): the in-memory result.
    work_dir, out_zarr
        Chunked only: folder for the temporary work folder; a Zarr array to keep the local
        thickness in (returned instead of an in-memory one).

    Returns
    -------
    GranulometryResult
        Chunked: ``local_thickness_nm`` is the ``out_zarr`` array (or a Dask / numpy array
        without it) and ``mean_radius_nm`` comes from the chunk counts.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.ones((20, 20, 20), np.uint8)
    >>> labels[:, 5:15, 5:15] = 0                     # a 1 um square pore channel
    >>> gran = granulometry(labels, voxel_size_nm=100.0)
    >>> gran.porosity
    0.25
    >>> bool(gran.d_values()["d90_nm"] <= 1000.0)
    True
    """
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    from microstructure.porosimetry import _granulometry_chunked as GC
    from microstructure.porosimetry._intrusion_chunked import wants_chunked

    require_3d(np.shape(labels), name="labels", what="granulometry")
    if wants_chunked(labels, chunks):
        refuse_all_pore(labels, pore_phases, name="labels", what="granulometry")
        lt, curve, porosity, mean_r, spacing = GC.granulometry_chunked(
            labels,
            voxel_size_nm=voxel_size_nm,
            radii_nm=radii_nm,
            pore_phases=pore_phases,
            washburn=(contact_angle_deg, surface_tension_n_per_m),
            opts=_chunk_opts(chunks, resume_dir, max_radius_nm, work_dir, out_zarr),
        )
        return GranulometryResult(
            local_thickness_nm=lt,
            curve=curve,
            porosity=porosity,
            voxel_size_nm=spacing,
            mean_radius_nm=mean_r,
        )
    lab = check_labels(labels, name="labels")
    spacing = _core.spacing_of(voxel_size_nm)
    pore = _core.pore_mask_of(lab, pore_phases)
    if not pore.any():
        raise ValueError("labels: no pore voxels (phases 0 and 3)")
    require_pore_and_solid(pore, name="labels", what="granulometry")
    dt = _core.distance_nm(pore, spacing)
    lt, levels = _lt_from_dt(dt, spacing, radii_nm)
    n_pore = float(np.count_nonzero(pore))
    curve = curve_from_radii(
        lt[pore],
        levels_nm=levels if radii_nm is None else None,
        pore_volume=n_pore,
        sample_volume=float(lab.size),
        steps_radius_nm=None if radii_nm is None else _core.check_radii(radii_nm),
        contact_angle_deg=contact_angle_deg,
        surface_tension_n_per_m=surface_tension_n_per_m,
        label="granulometry",
    )
    return GranulometryResult(
        local_thickness_nm=lt, curve=curve, porosity=n_pore / lab.size, voxel_size_nm=spacing
    )


def shielding_comparison(mip: Any, gran: GranulometryResult) -> dict[str, float]:
    """Compare simulated MIP with granulometry (pore shielding, Beuse et al. 2021, Fig. 8c).

    Parameters
    ----------
    mip
        A :class:`~microstructure.porosimetry.MipResult` on the same volume.
    gran
        The :class:`GranulometryResult` of the same volume.

    Returns
    -------
    ``d50_mip_nm``, ``d50_granulometry_nm``, ``d50_ratio`` (granulometry / MIP, > 1 when
    shielding shifts MIP to smaller sizes) and ``shielded_fraction``: the fraction of the
    intruded pore volume entered at a radius smaller than its own local thickness.
    """
    inv, lt = mip.invasion_radius_nm, gran.local_thickness_nm
    if inv is None or lt is None:
        raise ValueError(
            "mip, gran: the per-voxel fields are needed (a chunked run keeps them only with "
            "out_zarr)"
        )
    if tuple(inv.shape) != tuple(lt.shape):
        raise ValueError(f"mip, gran: volumes differ in shape {inv.shape} vs {lt.shape}")
    d_mip = mip.curve.d_values()["d50_nm"]
    d_gran = gran.curve.d_values()["d50_nm"]
    if isinstance(inv, np.ndarray) and isinstance(lt, np.ndarray):
        intruded = inv > 0
        n = int(np.count_nonzero(intruded))
        shielded = np.count_nonzero(intruded & (inv < lt * np.float32(1 - 1e-6)))
    else:  # Zarr or Dask fields (chunked runs): counted block by block
        import dask.array as da

        a, b = (
            x if isinstance(x, da.Array) else da.from_array(x, chunks=_chunks_of(x))
            for x in (inv, lt)
        )
        b = b.rechunk(a.chunks)
        hit = a > 0
        n, shielded = (
            int(v) for v in da.compute(hit.sum(), (hit & (a < b * np.float32(1 - 1e-6))).sum())
        )
    return {
        "d50_mip_nm": d_mip,
        "d50_granulometry_nm": d_gran,
        "d50_ratio": d_gran / d_mip if d_mip > 0 else float("nan"),
        "shielded_fraction": shielded / n if n else 0.0,
    }
