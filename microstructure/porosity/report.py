"""One JSON-serialisable porosity report of a labels volume (used by the CLI and the pipeline)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from microstructure.porosity.connectivity import find_closed_pores
from microstructure.porosity.densities import (
    bulk_density_from_labels,
    porosity_from_densities,
    theoretical_density_from_labels,
)
from microstructure.porosity.fractions import _count_phases, _total_from_fractions, check_fraction
from microstructure.porosity.profiles import porosity_profile
from microstructure.porosity.surface import specific_surface_area
from microstructure.volume import PHASE_NAMES, check_labels, parse_voxel_size

__all__ = ["porosity_report", "format_porosity_report"]

_MASSLESS = ("pore", "cbd_pore")


def _check_densities(densities: Any) -> dict[str, float]:
    if not isinstance(densities, Mapping):
        raise ValueError(
            f"densities_g_per_cm3: expected a mapping phase -> g/cm3, got {densities!r}"
        )
    out: dict[str, float] = {}
    for key, value in densities.items():
        name = str(key).strip().lower()
        if name not in PHASE_NAMES.values():
            raise ValueError(
                f"densities_g_per_cm3: unknown phase {key!r}; use am, cbd (pore, cbd_pore = 0)"
            )
        try:
            rho = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"densities_g_per_cm3: {key} is not a number: {value!r}") from None
        if name in _MASSLESS:
            if rho != 0.0:
                raise ValueError(
                    f"densities_g_per_cm3: {key} is pore space and carries no mass; omit it"
                )
            continue
        if not (math.isfinite(rho) and rho > 0):
            raise ValueError(f"densities_g_per_cm3: {key} must be > 0 g/cm3, got {value!r}")
        out[name] = rho
    return out


def porosity_report(
    labels: Any,
    *,
    voxel_size_nm: Any = None,
    faces: str = "all",
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    densities_g_per_cm3: Mapping[str, float] | None = None,
    cbd_nanoporosity: float = 0.0,
    connectivity: int = 6,
    surface: bool = True,
    surface_method: str = "crofton",
    smoothing_iterations: int = 20,
) -> dict[str, Any]:
    """Porosity metrics of a labels volume as a JSON-serialisable dict.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x): 0 pore, 1 AM, 2 CBD solid, 3 CBD pore.
    voxel_size_nm
        Voxel size (z, y, x) in nm (or one number); enables sizes, surfaces and the profile's
        depth in um. ``None`` when unknown.
    faces
        Faces a pore must connect to to count as accessible (contract names, default ``all``).
    thickness_axis, top_at
        Electrode orientation (thickness axis, index of the separator side: 0 or -1).
    densities_g_per_cm3
        Phase densities, e.g. ``{"am": 4.76, "cbd": 1.935}`` (every solid phase present needs
        one); enables bulk/theoretical density and the specific surface in m^2/g.
    cbd_nanoporosity
        Unresolved pore fraction inside CBD-solid voxels (0 <= value < 1), added to the total
        porosity and removed from the CBD mass.
    connectivity
        6 or 26 for the closed-pore analysis.
    surface
        Compute interface areas (marching cubes; the slowest part) when the voxel size is known.
    surface_method
        ``"crofton"`` (default: one fast pass, a few % high on curved digitised surfaces) or
        ``"mesh"`` (smoothed marching cubes, about 1 % accurate, 10-30x slower); see
        :func:`microstructure.porosity.surface.interface_areas_um2`.
    smoothing_iterations
        Mesh smoothing for the areas (see :func:`microstructure.porosity.surface_area_um2`).

    Returns
    -------
    dict
        ``shape``, ``n_voxels``, ``phase_fractions`` (pore, am, cbd, cbd_pore), ``total_porosity``,
        ``resolved_porosity``, ``closed_porosity``, ``accessible_porosity``,
        ``n_closed_pores``, ``largest_closed_pore_voxels``, ``faces``, ``connectivity``; with a
        voxel size ``voxel_size_nm``, ``size_um``, ``volume_um3``, ``surface`` (areas, 1/um)
        and ``profile``; without it ``profile`` has no ``depth_um``; with densities
        ``density`` (bulk, theoretical, porosity from eq. 1 and its difference to the voxel
        count) and ``surface.specific_surface_m2_per_g``. All fractions 0..1.
    """
    arr = check_labels(labels)
    npor = check_fraction(cbd_nanoporosity, name="cbd_nanoporosity")
    vs = parse_voxel_size(voxel_size_nm) if voxel_size_nm is not None else None
    dens = _check_densities(densities_g_per_cm3) if densities_g_per_cm3 is not None else None

    counts = _count_phases(arr)
    n_vox = int(arr.size)
    fractions = {PHASE_NAMES[p]: int(counts[p]) / n_vox for p in range(4)}
    total = _total_from_fractions(fractions, npor)
    closed = find_closed_pores(
        arr, faces=faces, thickness_axis=thickness_axis, top_at=top_at, connectivity=connectivity
    )
    report: dict[str, Any] = {
        "shape": [int(s) for s in arr.shape],
        "n_voxels": n_vox,
        "phase_fractions": fractions,
        "resolved_porosity": fractions["pore"] + fractions["cbd_pore"],
        "cbd_nanoporosity": npor,
        "total_porosity": total,
        "closed_porosity": closed.closed_porosity,
        "accessible_porosity": closed.accessible_porosity,
        "n_closed_pores": closed.n_closed_pores,
        "largest_closed_pore_voxels": (
            int(closed.closed_sizes_voxels[0]) if closed.n_closed_pores else 0
        ),
        "faces": closed.face_names,
        "connectivity": closed.connectivity,
    }
    if vs is not None:
        report["voxel_size_nm"] = list(vs)
        report["size_um"] = [n * v / 1000.0 for n, v in zip(arr.shape, vs, strict=True)]
        report["volume_um3"] = float(np.prod(report["size_um"]))
        report["largest_closed_pore_um3"] = report["largest_closed_pore_voxels"] * (
            vs[0] * vs[1] * vs[2] * 1e-9
        )

    if dens is not None:
        report["density"] = _density_numbers(arr, fractions, dens, npor, total)

    if vs is not None and surface:
        ssa = specific_surface_area(
            arr,
            voxel_size_nm=vs,
            am_density_g_per_cm3=dens.get("am") if dens else None,
            cbd_density_g_per_cm3=dens.get("cbd") if dens else None,
            cbd_nanoporosity=npor,
            method=surface_method,
            smoothing_iterations=smoothing_iterations,
        )
        ssa.pop("volume_um3", None)
        ssa.pop("bulk_density_g_per_cm3", None)
        report["surface"] = ssa

    report["profile"] = {
        "thickness_axis": "zyx"[_axis(thickness_axis)],
        **porosity_profile(
            arr,
            thickness_axis=thickness_axis,
            top_at=top_at,
            voxel_size_nm=vs,
            cbd_nanoporosity=npor,
        ),
    }
    return report


def _density_numbers(
    arr: np.ndarray,
    fractions: Mapping[str, float],
    dens: Mapping[str, float],
    npor: float,
    total: float,
) -> dict[str, Any]:
    """Bulk and theoretical density of the labels and the porosity from them (eq. 1)."""
    missing = [name for name in ("am", "cbd") if fractions[name] > 0 and name not in dens]
    if missing:
        raise ValueError(
            f"densities_g_per_cm3: no density for phase(s) {', '.join(missing)} "
            "present in the volume"
        )
    if fractions["am"] + fractions["cbd"] * (1.0 - npor) <= 0:
        raise ValueError("labels: the volume holds no solid; densities are undefined")
    kw = {
        "am_density_g_per_cm3": dens.get("am", 1.0),
        "cbd_density_g_per_cm3": dens.get("cbd", 1.0),
        "cbd_nanoporosity": npor,
    }
    bulk = bulk_density_from_labels(arr, **kw)
    theo = theoretical_density_from_labels(arr, **kw)
    eps_rho = porosity_from_densities(bulk, theo)
    return {
        "phase_densities_g_per_cm3": dict(dens),
        "bulk_density_g_per_cm3": bulk,
        "theoretical_density_g_per_cm3": theo,
        "porosity_from_densities": eps_rho,
        "porosity_consistency_difference": eps_rho - total,
    }


def _axis(axis: str | int) -> int:
    from microstructure.faces import axis_index

    return axis_index(axis, name="thickness_axis")


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f} %"


def format_porosity_report(report: Mapping[str, Any]) -> str:
    """Human-readable text of a :func:`porosity_report` (percent in text only)."""
    lines: list[str] = []
    shape = report.get("shape")
    if shape:
        line = "volume: " + " x ".join(str(s) for s in shape) + " voxels (z, y, x)"
        if "size_um" in report:
            line += " = " + " x ".join(f"{s:.2f}" for s in report["size_um"]) + " um"
        lines.append(line)
    fr = report["phase_fractions"]
    lines.append(
        "phases: "
        + ", ".join(f"{k} {_pct(v)}" for k, v in fr.items() if v > 0 or k in ("pore", "am"))
    )
    lines.append(f"total porosity: {_pct(report['total_porosity'])}")
    if report.get("cbd_nanoporosity"):
        lines.append(
            f"  (resolved {_pct(report['resolved_porosity'])} + CBD nanopores at "
            f"{_pct(report['cbd_nanoporosity'])} of the CBD)"
        )
    faces = ",".join(report.get("faces", []))
    lines.append(f"accessible porosity: {_pct(report['accessible_porosity'])} (from faces {faces})")
    closed = (
        f"closed porosity: {_pct(report['closed_porosity'])} in {report['n_closed_pores']} pores"
    )
    if report.get("n_closed_pores"):
        if "largest_closed_pore_um3" in report:
            closed += f" (largest {report['largest_closed_pore_um3']:.3g} um3)"
        else:
            closed += f" (largest {report['largest_closed_pore_voxels']} voxels)"
    lines.append(closed)
    dens = report.get("density")
    if dens:
        lines.append(
            f"bulk density: {dens['bulk_density_g_per_cm3']:.3f} g/cm3, theoretical "
            f"{dens['theoretical_density_g_per_cm3']:.3f} g/cm3 -> porosity "
            f"{_pct(dens['porosity_from_densities'])} (eq. 1)"
        )
    surf = report.get("surface")
    if surf:
        line = (
            f"pore/solid surface ({surf.get('method', 'mesh')}): "
            f"{surf['specific_surface_per_um']:.3f} 1/um"
        )
        if surf.get("specific_surface_m2_per_g") is not None:
            line += f" = {surf['specific_surface_m2_per_g']:.3f} m2/g"
        lines.append(line)
    prof = report.get("profile")
    if prof and prof.get("porosity"):
        por = prof["porosity"]
        lines.append(
            f"porosity along {prof.get('thickness_axis', '?')} (top to bottom): "
            f"min {_pct(min(por))}, max {_pct(max(por))}, first {_pct(por[0])}, "
            f"last {_pct(por[-1])}"
        )
    return "\n".join(lines)
