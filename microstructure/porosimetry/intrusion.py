"""Simulated mercury intrusion porosimetry: Hilpert-Miller drainage for all pressures at once.

Algorithm (one pass, exact fractional radii):

1. ``dt``: Euclidean distance transform of the pore space in nm (anisotropic voxels), the
   distance from each pore voxel centre to the nearest solid voxel centre.
2. ``b``: bottleneck (maximin) field from the inlet faces by a priority flood with
   6-connectivity: the largest ball radius that can travel from the reservoir to each centre,
   i.e. the largest ``r`` for which the centre belongs to an inlet-connected component of
   ``{dt >= r}``.
3. Every centre ``c`` paints the open ball ``{x : |x - c| < b(c)}`` with its value; each voxel
   keeps the largest value: the largest radius (smallest pressure) at which mercury reaches it.

A ball (everywhere in this package) is the set of voxel centres at physical Euclidean distance
strictly below ``r`` from the centre (ties decided with a 1e-6 relative tolerance on ``r^2``).
With a discrete radius list (``radii_nm``, PoreSpy's ``sizes``; or ``batch_size_nm``,
GeoDict's batch size = diameter step) the bottleneck field is floored to the list first, which
reproduces a step-by-step morphological drainage at exactly those radii.

The same functions run chunk by chunk on a Dask or Zarr array (or with ``chunks``), with the
same numbers (:mod:`~microstructure.porosimetry._intrusion_chunked`).

References
----------
Washburn, E. W. (1921). The dynamics of capillary flow. Physical Review 17, 273-283.
doi:10.1103/PhysRev.17.273

Hilpert, M. and Miller, C. T. (2001). Pore-morphology-based simulation of drainage in totally
wetting porous media. Advances in Water Resources 24, 243-255.
doi:10.1016/S0309-1708(00)00056-7

Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from microstructure.parallel.support import check_chunked, chunked_support
from microstructure.porosimetry import _core
from microstructure.porosimetry._drainage import extrude, invasion
from microstructure.porosimetry._results import MipResult
from microstructure.porosimetry.distribution import curve_from_radii
from microstructure.porosimetry.hybrid import (
    CBD_MEAN_DIAMETER_NM,
    CBD_STD_DIAMETER_NM,
    MAX_PRESSURE_MPA,
    hybrid_curve,
)
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

__all__ = ["MipResult", "simulate_mip", "invasion_radius"]


def _chunk_opts(chunks, resume_dir, max_radius_nm, work_dir, out_zarr, max_passes) -> dict:
    return {
        "chunks": chunks,
        "resume_dir": resume_dir,
        "max_radius_nm": max_radius_nm,
        "work_dir": work_dir,
        "out_zarr": out_zarr,
        "max_passes": max_passes,
    }


@chunked_support()
def invasion_radius(
    pore_mask: Any,
    *,
    voxel_size_nm: float | Sequence[float] | str,
    inlet: str | Iterable[str] = "all",
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    radii_nm: Sequence[float] | np.ndarray | None = None,
    batch_size_nm: float | None = None,
    chunks: int | tuple[int, int, int] | None = None,
    resume_dir: str | os.PathLike | None = None,
    max_radius_nm: float | None = None,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
    max_passes: int = 1000,
) -> Any:
    """Per-voxel radius (nm) at which mercury first reaches each voxel of a pore mask.

    Parameters
    ----------
    pore_mask
        Boolean (z, y, x) array, True in the pore space: numpy, or Dask / Zarr (chunked).
    voxel_size_nm
        Voxel size (z, y, x) in nm, or one number for cubic voxels.
    inlet
        Faces in contact with the mercury reservoir: ``all``, ``top``, ``all-but-bottom``,
        ``z-`` ... or a comma-separated list / sequence of them.
    thickness_axis, top_at
        Electrode orientation used by the ``top``/``bottom`` aliases.
    radii_nm
        Optional discrete radius list (nm); default exact fractional radii.
    batch_size_nm
        Optional diameter step (nm): radii ``batch/2, batch, 3 batch/2, ...``.
    chunks
        Run chunk by chunk (Dask tasks over Zarr intermediates) with work chunks of this edge
        (voxels, or three edges). Implied (128) by a Dask or Zarr input; a numpy input with
        ``chunks`` is copied chunk-wise. The chunked numbers equal the in-memory ones (radii
        to float32 rounding of the chunked distance transform).
    resume_dir
        Chunked only: resumable work folder; an interrupted call repeated with the same input
        and arguments computes only the unfinished chunks (removed on success).
    max_radius_nm
        Chunked only: largest radius considered (nm), the chunk overlap; wider pores are
        intruded at its pressure. Default: the radius list's largest radius, else the largest
        pore radius (found by a capped distance transform whose cap doubles until no distance
        reaches it): the in-memory result.
    work_dir, out_zarr, max_passes
        Chunked only: folder for the temporary work folder; a Zarr array to keep the per-voxel
        field in (returned instead of an in-memory one); bound on the flood's relaxation
        passes.

    Returns
    -------
    float32 array of radii in nm; 0 where mercury never enters (solid, or pore not connected
    to the inlets, or finer than the smallest discrete radius). Numpy for a numpy input (a
    Zarr array with ``out_zarr``), a Dask array for a Dask input.

    Raises
    ------
    ValueError
        No pore voxel, or no pore voxel on the inlet faces; bad radius or chunk size.
    """
    from microstructure.porosimetry import _intrusion_chunked as IC

    require_3d(np.shape(pore_mask), name="pore_mask", what="mercury intrusion")
    if IC.wants_chunked(pore_mask, chunks):
        refuse_all_pore(pore_mask, (1,), name="pore_mask", what="mercury intrusion")
        return IC.invasion_radius_chunked(
            pore_mask,
            voxel_size_nm=voxel_size_nm,
            inlet=inlet,
            thickness_axis=thickness_axis,
            top_at=top_at,
            radii_nm=radii_nm,
            batch_size_nm=batch_size_nm,
            opts=_chunk_opts(chunks, resume_dir, max_radius_nm, work_dir, out_zarr, max_passes),
        )
    pore = _core.check_mask(pore_mask, name="pore_mask")
    spacing = _core.spacing_of(voxel_size_nm)
    if pore.any():
        require_pore_and_solid(pore, name="pore_mask", what="mercury intrusion")
    return invasion(pore, spacing, inlet, thickness_axis, top_at, radii_nm, batch_size_nm)[0]


@chunked_support(
    cbd_porosity=(
        bool,
        "in-memory only (the hybrid curve labels the CBD clusters of the whole volume); "
        "leave it out to run chunked",
    )
)
def simulate_mip(
    labels: Any,
    *,
    voxel_size_nm: float | Sequence[float] | str,
    inlet: str | Iterable[str] = "all",
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    radii_nm: Sequence[float] | np.ndarray | None = None,
    batch_size_nm: float | None = None,
    densities_g_per_cm3: Mapping[Any, float] | None = None,
    extrusion: bool = False,
    cbd_porosity: float | None = None,
    cbd_mean_diameter_nm: float = CBD_MEAN_DIAMETER_NM,
    cbd_std_diameter_nm: float = CBD_STD_DIAMETER_NM,
    max_pressure_mpa: float = MAX_PRESSURE_MPA,
    pore_phases: Sequence[int] = PORE_PHASES,
    chunks: int | tuple[int, int, int] | None = None,
    resume_dir: str | os.PathLike | None = None,
    max_radius_nm: float | None = None,
    work_dir: str | os.PathLike | None = None,
    out_zarr: str | os.PathLike | None = None,
    max_passes: int = 1000,
) -> MipResult:
    """Simulate mercury intrusion (and optionally extrusion) on a labels volume.

    Parameters
    ----------
    labels
        uint8 labels (z, y, x): 0 pore, 1 AM, 2 CBD, 3 CBD pore. Pore = ``pore_phases``.
        Numpy, or Dask / Zarr (chunked: the curves from per-chunk counts).
    voxel_size_nm
        Voxel size (z, y, x) in nm (or one number).
    inlet
        Inlet faces (``all``, ``top``, ``all-but-bottom``, ``z-``, ...); Beuse et al. (2021)
        used ``all-but-bottom`` and ``top``.
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters (Hg: :data:`~microstructure.porosimetry.washburn.CONTACT_ANGLE_DEG`,
        :data:`~microstructure.porosimetry.washburn.SURFACE_TENSION_N_PER_M`).
    thickness_axis, top_at
        Electrode orientation for the face aliases (default y, top at index 0).
    radii_nm, batch_size_nm
        Discrete radius list (nm) or diameter step (nm); default exact fractional radii.
    densities_g_per_cm3
        Skeletal densities of the solid phases (``{1: 4.76, 2: 1.935}`` or by name) to
        report ``specific_volume_mm3_per_g``.
    extrusion
        Also simulate extrusion with mercury entrapment (costs a local-thickness pass and a
        second flood; in memory and chunked).
    cbd_porosity
        Unresolved nanoporosity (0..1) of the CBD phase (label 2): enables the hybrid curve
        (see :mod:`microstructure.porosimetry.hybrid`). In memory only.
    cbd_mean_diameter_nm, cbd_std_diameter_nm
        Gaussian diameter distribution of the unresolved CBD nanopores (nm).
    max_pressure_mpa
        Highest pressure of the hybrid curve (MPa).
    pore_phases
        Labels that are pore space.
    chunks, resume_dir, max_radius_nm, work_dir, out_zarr, max_passes
        The chunked path, as :func:`invasion_radius` (``out_zarr`` keeps the invasion
        radius field): the same curves and numbers from per-chunk counts.

    Returns
    -------
    MipResult
        After a chunked run ``curve`` and ``resolved_curve`` are the same (no hybrid curve),
        ``invasion_radius_nm`` is the ``out_zarr`` array (``None`` without it) and the
        extrusion fields are ``None`` (its curve and numbers are there).

    Raises
    ------
    ValueError
        Bad labels or voxel size, no pore voxels, no pore voxel on the inlet faces, a
        contact angle <= 90 deg, bad densities; ``cbd_porosity`` on a chunked input.

    Notes
    -----
    Peak memory in memory (measured on 650 x 395 x 481 = 123 Mvoxel, porosity 0.32): 1.9 GB
    above the labels, about 15 bytes per voxel (mask, float32 EDT, int32 ranks and flood
    links, float32 bottleneck and invasion fields, not all alive at once); with
    ``extrusion=True`` 4.7 GB (about 38 bytes per voxel). See docs/performance.md. Chunked:
    a few work chunks (with their overlap) per worker.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.ones((20, 20, 20), np.uint8)      # 1 = active material
    >>> labels[:, 5:15, 5:15] = 0                     # a 1 um square pore channel along z
    >>> mip = simulate_mip(labels, voxel_size_nm=100.0)
    >>> mip.porosity
    0.25
    >>> bool(600.0 <= mip.curve.d_values()["d50_nm"] <= 1000.0)
    True
    """
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    cbd_porosity = _checked_inputs(labels, cbd_porosity)
    from microstructure.porosimetry import _intrusion_chunked as IC

    if IC.wants_chunked(labels, chunks):
        check_chunked(simulate_mip, {"cbd_porosity": cbd_porosity})
        refuse_all_pore(labels, pore_phases, name="labels", what="simulated mercury intrusion")
        return IC.simulate_mip_chunked(
            labels,
            voxel_size_nm=voxel_size_nm,
            inlet=inlet,
            washburn=(float(contact_angle_deg), float(surface_tension_n_per_m)),
            orientation=(thickness_axis, top_at),
            radii=(radii_nm, batch_size_nm),
            densities_g_per_cm3=densities_g_per_cm3,
            extrusion=extrusion,
            pore_phases=pore_phases,
            opts=_chunk_opts(chunks, resume_dir, max_radius_nm, work_dir, out_zarr, max_passes),
        )
    return _simulate_in_memory(
        labels,
        voxel_size_nm=voxel_size_nm,
        inlet=inlet,
        washburn={
            "contact_angle_deg": contact_angle_deg,
            "surface_tension_n_per_m": surface_tension_n_per_m,
        },
        orientation=(thickness_axis, top_at),
        radii=(radii_nm, batch_size_nm),
        densities_g_per_cm3=densities_g_per_cm3,
        extrusion=extrusion,
        cbd=(cbd_porosity, cbd_mean_diameter_nm, cbd_std_diameter_nm, max_pressure_mpa),
        pore_phases=pore_phases,
    )


def _checked_inputs(labels: Any, cbd_porosity: float | None) -> float | None:
    """The checks of :func:`simulate_mip` before any work: a 3D volume, ``cbd_porosity``."""
    require_3d(np.shape(labels), name="labels", what="simulated mercury intrusion")
    if cbd_porosity is not None:
        cbd_porosity = float(cbd_porosity)
        if not 0.0 <= cbd_porosity < 1.0:
            raise ValueError(f"cbd_porosity: expected a fraction in [0, 1), got {cbd_porosity}")
    return cbd_porosity


def _simulate_in_memory(
    labels: Any,
    *,
    voxel_size_nm: Any,
    inlet: Any,
    washburn: Mapping[str, float],
    orientation: tuple[Any, Any],
    radii: tuple[Any, Any],
    densities_g_per_cm3: Mapping[Any, float] | None,
    extrusion: bool,
    cbd: tuple[float | None, float, float, float],
    pore_phases: Sequence[int],
) -> MipResult:
    """:func:`simulate_mip` on a numpy labels volume. ``orientation`` is (thickness axis,
    top_at), ``radii`` (radius list, batch size), ``cbd`` (porosity, mean and std diameter,
    hybrid curve's highest pressure)."""
    lab = check_labels(labels, name="labels")
    spacing = _core.spacing_of(voxel_size_nm)
    pore = _core.pore_mask_of(lab, pore_phases)
    if pore.any():  # no pore at all: the drainage names it
        require_pore_and_solid(pore, name="labels", what="simulated mercury intrusion")
    thickness_axis, top_at = orientation
    cbd_porosity, cbd_mean_diameter_nm, cbd_std_diameter_nm, max_pressure_mpa = cbd
    inv, steps, names, seeds, dt, levels = invasion(
        pore, spacing, inlet, thickness_axis, top_at, *radii
    )
    n_total = float(lab.size)
    n_pore = float(np.count_nonzero(pore))
    vv = spacing[0] * spacing[1] * spacing[2]
    mass = _core.phase_masses(
        lab,
        densities_g_per_cm3,
        vv,
        porosity_of_phase={2: cbd_porosity} if cbd_porosity else None,
    )
    factor = None if mass is None else vv * 1e-18 / mass
    intruded = inv[inv > 0]
    resolved = curve_from_radii(
        intruded,
        pore_volume=n_pore,
        sample_volume=n_total,
        steps_radius_nm=steps,
        levels_nm=levels,
        mm3_per_g_per_unit=factor,
        label="simulated MIP",
        **washburn,
    )
    meta = {"inlet": list(names), "voxel_size_nm": list(spacing)}
    resolved.metadata.update(meta)
    curve = resolved
    if cbd_porosity:
        curve = hybrid_curve(
            lab,
            inv,
            seeds_mask=_core.resolve_inlets(
                lab.shape, inlet, thickness_axis=thickness_axis, top_at=top_at
            )[0],
            cbd_porosity=cbd_porosity,
            cbd_mean_diameter_nm=cbd_mean_diameter_nm,
            cbd_std_diameter_nm=cbd_std_diameter_nm,
            max_pressure_mpa=max_pressure_mpa,
            pore_phases=pore_phases,
            mm3_per_g_per_voxel=factor,
            **washburn,
        )
        curve.metadata.update(meta)
    result = MipResult(
        invasion_radius_nm=inv,
        curve=curve,
        resolved_curve=resolved,
        voxel_size_nm=spacing,
        porosity=n_pore / n_total,
        accessible_fraction=float(intruded.size) / n_pore,
        inlet=names,
        contact_angle_deg=float(washburn["contact_angle_deg"]),
        surface_tension_n_per_m=float(washburn["surface_tension_n_per_m"]),
        step_radii_nm=steps,
    )
    if extrusion:
        result.extrusion = extrude(
            inv,
            seeds,
            spacing,
            dt,
            steps,
            (n_pore, n_total),
            factor,
            washburn["contact_angle_deg"],
            washburn["surface_tension_n_per_m"],
            dt_levels=levels if steps is None else None,
        )
    return result
