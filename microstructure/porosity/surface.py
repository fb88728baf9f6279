"""Interface areas and specific surface areas from marching-cubes meshes.

Method
------
The binary mask of a phase is meshed with :func:`skimage.measure.marching_cubes` (Lewiner) at
level 0.5, in voxel-index coordinates. On binary data that mesh is a staircase: for curved
surfaces it overestimates the area by about 9 % (a digitised sphere of radius 20 voxels:
+9.3 %), while axis-aligned planes are exact. The vertices are therefore relaxed with a
*constrained Taubin smoothing* (alternating Laplacian steps ``lambda = 0.5``,
``mu = -0.53``, which does not shrink the surface; every vertex stays within half a voxel of
its marching-cubes position along each axis, so the mesh remains consistent with the voxels and
thin features such as one-voxel CBD films survive, unlike with a Gaussian pre-blur). With the
default 20 iterations a sphere of radius 10 / 20 / 30 voxels comes out +1.3 / +0.7 / +0.6 %.
``smoothing_iterations=0`` gives the raw marching-cubes area. The mesh is then scaled by the
(possibly anisotropic) voxel size and measured with the triangle areas (as
:func:`skimage.measure.mesh_surface_area`).

Volume boundary
---------------
By default (``include_boundary=False``) the outer faces of the box are not surfaces: the mask is
padded by repeating its edge voxels, so the iso-surface runs straight out of the box, and the
mesh is clipped at the box faces (half a voxel beyond the outer voxel centres). The area then
belongs to the box of ``shape * voxel_size``, which is also the bulk volume used for the
specific surface. With ``include_boundary=True`` the mask is padded with background instead, so
the parts of the box faces covered by the phase are counted as surface (closed meshes).

Large volumes are meshed in slabs along z (``chunk_voxels`` voxels each, plus a halo of
``halo`` slices so that the smoothing near a cut sees its neighbours); each triangle is counted
in exactly one slab (by the centroid of its unsmoothed position). Peak memory: about
``chunk_voxels * 4`` bytes for the float slab plus the mesh of that slab.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from skimage.measure import marching_cubes

from microstructure.porosity.fractions import _count_phases, phase_fractions
from microstructure.volume import PORE_PHASES, check_labels, check_volume, parse_voxel_size

__all__ = ["surface_area_um2", "interface_areas_um2", "specific_surface_area"]

_TAUBIN_LAMBDA = 0.5
_TAUBIN_MU = -0.53


def _taubin(
    verts: np.ndarray, faces: np.ndarray, pinned: np.ndarray, iterations: int
) -> np.ndarray:
    """Constrained Taubin smoothing in voxel-index coordinates (vertices stay within 0.5)."""
    nv = verts.shape[0]
    if iterations <= 0 or nv == 0:
        return verts
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adj = sp.coo_matrix(
        (np.ones(2 * i.size, dtype=np.float64), (np.concatenate([i, j]), np.concatenate([j, i]))),
        shape=(nv, nv),
    ).tocsr()
    adj.data[:] = 1.0  # an edge shared by two triangles was summed twice
    deg = np.diff(adj.indptr).astype(np.float64)
    # averaging operator; pinned vertices (and isolated ones) map to themselves
    weight = np.where(pinned | (deg == 0), 0.0, 1.0 / np.maximum(deg, 1.0))
    walk = sp.diags(weight) @ adj + sp.diags(np.where(weight == 0.0, 1.0, 0.0))
    walk = walk.tocsr().astype(np.float32)
    v0 = verts.astype(np.float32)
    lo, hi = v0 - 0.5, v0 + 0.5
    x = v0.copy()
    for _ in range(iterations):
        for step in (_TAUBIN_LAMBDA, _TAUBIN_MU):
            y = walk @ x
            x *= np.float32(1.0 - step)
            y *= np.float32(step)
            x += y
            np.clip(x, lo, hi, out=x)
    return x


def _triangle_areas(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a = verts[faces[:, 1]] - verts[faces[:, 0]]
    b = verts[faces[:, 2]] - verts[faces[:, 0]]
    return 0.5 * np.linalg.norm(np.cross(a, b), axis=1)


def _check_iterations(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"smoothing_iterations: expected an integer >= 0, got {value!r}")
    return int(value)


def surface_area_um2(
    mask: Any,
    *,
    voxel_size_nm: Any,
    smoothing_iterations: int = 20,
    include_boundary: bool = False,
    chunk_voxels: int = 16_000_000,
    halo: int = 8,
) -> float:
    """Area of the boundary of a 3D binary mask, um^2.

    Parameters
    ----------
    mask
        3D array (z, y, x); nonzero voxels belong to the phase.
    voxel_size_nm
        Voxel size (z, y, x) in nm, or one number for cubic voxels.
    smoothing_iterations
        Constrained Taubin iterations (0 = raw marching cubes, which overestimates curved
        surfaces by about 9 %). Default 20.
    include_boundary
        Count the parts of the outer box faces covered by the phase (default False: the box
        faces are cuts through the material, not surfaces).
    chunk_voxels
        Voxels per z-slab (memory bound); results do not depend on it beyond about 1e-3.
    halo
        Extra slices around each slab for the smoothing.

    Returns
    -------
    float
        Surface area in um^2.
    """
    arr = check_volume(mask, name="mask")
    vs = parse_voxel_size(voxel_size_nm)
    iterations = _check_iterations(smoothing_iterations)
    if int(chunk_voxels) < 1:
        raise ValueError(f"chunk_voxels: expected a positive integer, got {chunk_voxels!r}")
    binary = arr.astype(bool, copy=False)
    if not binary.any() or binary.all() and not include_boundary:
        return 0.0
    shape = np.array(binary.shape)
    mode = "constant" if include_boundary else "edge"
    padded = np.pad(binary, 1, mode=mode)  # original index = padded index - 1
    nz = binary.shape[0]
    # cells between consecutive padded centres along z: original cell c spans [c, c + 1],
    # c = -1 .. nz - 1
    per_slice = int(shape[1] + 2) * int(shape[2] + 2)
    cells_per_chunk = max(1, int(chunk_voxels) // per_slice)
    halo = max(0, int(halo)) if iterations > 0 else 0
    total = 0.0
    scale = np.asarray(vs, dtype=np.float64) / 1000.0  # nm -> um
    for c0 in range(-1, nz, cells_per_chunk):
        c1 = min(c0 + cells_per_chunk, nz)  # cells [c0, c1)
        s0 = max(c0 - halo, -1)  # first centre (original index)
        s1 = min(c1 + halo, nz)  # last centre
        slab = padded[s0 + 1 : s1 + 2].astype(np.float32)
        if slab.min() == slab.max():
            continue
        verts, faces, _, _ = marching_cubes(slab, 0.5, allow_degenerate=False)
        verts = verts.astype(np.float64)
        verts[:, 0] += s0
        verts[:, 1:] -= 1.0
        pinned = np.zeros(verts.shape[0], dtype=bool)
        if s0 > -1:
            pinned |= verts[:, 0] <= s0
        if s1 < nz:
            pinned |= verts[:, 0] >= s1
        if not include_boundary:
            pinned |= ((verts < 0) | (verts > shape - 1)).any(axis=1)
        centroid_z = verts[faces, 0].mean(axis=1)
        keep = (centroid_z >= c0) & (centroid_z < c1)
        smoothed = _taubin(verts, faces, pinned, iterations).astype(np.float64)
        np.clip(smoothed, -0.5, shape - 0.5, out=smoothed)
        total += float(_triangle_areas(smoothed * scale, faces[keep]).sum())
    return total


def interface_areas_um2(
    labels: Any,
    *,
    voxel_size_nm: Any,
    method: str = "mesh",
    smoothing_iterations: int = 20,
    include_boundary: bool = False,
) -> dict[str, Any]:
    """Pore/solid interface area and the boundary area of each phase, um^2.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x), phase codes 0..3.
    voxel_size_nm, smoothing_iterations, include_boundary
        See :func:`surface_area_um2`.
    method
        ``"mesh"`` (smoothed marching cubes, accurate to about 1 % on curved surfaces, about
        1-3 us per voxel and phase) or ``"crofton"`` (intercept counts along 13 directions in
        one pass for all phases, about 0.1 us per voxel, a few % high on digitised curved
        surfaces; see :mod:`microstructure.porosity.crofton`). Crofton never counts the box
        faces (``include_boundary`` must be False).

    Returns
    -------
    dict
        ``pore_solid_um2`` (boundary of phases 0 and 3 against 1 and 2) and ``phases_um2``
        (``pore``, ``am``, ``cbd``, ``cbd_pore``: boundary of each phase against all others).
    """
    arr = check_labels(labels)
    if method == "crofton":
        if include_boundary:
            raise ValueError("include_boundary: not available with method='crofton'")
        from microstructure.porosity.crofton import crofton_areas_um2

        names = ("pore", "am", "cbd", "cbd_pore")
        groups = {"pore_solid": PORE_PHASES, **{n: (i,) for i, n in enumerate(names)}}
        areas = crofton_areas_um2(arr, voxel_size_nm=voxel_size_nm, groups=groups)
        present = _count_phases(arr)
        return {
            "pore_solid_um2": areas["pore_solid"],
            "phases_um2": {n: (areas[n] if present[i] else 0.0) for i, n in enumerate(names)},
        }
    if method != "mesh":
        raise ValueError(f"method: expected 'mesh' or 'crofton', got {method!r}")
    opts = {
        "voxel_size_nm": voxel_size_nm,
        "smoothing_iterations": smoothing_iterations,
        "include_boundary": include_boundary,
    }
    pore_mask = arr == PORE_PHASES[0]
    for p in PORE_PHASES[1:]:
        pore_mask |= arr == p
    pore_solid = surface_area_um2(pore_mask, **opts)
    del pore_mask
    present = _count_phases(arr)
    names = ("pore", "am", "cbd", "cbd_pore")
    phases: dict[str, float] = {}
    for p in range(4):
        if present[p] == 0:
            phases[names[p]] = 0.0
        elif p == 0 and present[3] == 0 or p == 1 and present[2] == 0 and present[3] == 0:
            phases[names[p]] = pore_solid  # the same boundary: skip a second mesh
        else:
            phases[names[p]] = surface_area_um2(arr == p, **opts)
    return {"pore_solid_um2": pore_solid, "phases_um2": phases}


def specific_surface_area(
    labels: Any,
    *,
    voxel_size_nm: Any,
    am_density_g_per_cm3: float | None = None,
    cbd_density_g_per_cm3: float | None = None,
    cbd_nanoporosity: float = 0.0,
    method: str = "mesh",
    smoothing_iterations: int = 20,
    include_boundary: bool = False,
) -> dict[str, Any]:
    """Specific surface areas of a labels volume.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x), phase codes 0..3.
    voxel_size_nm
        Voxel size (z, y, x) in nm, or one number.
    am_density_g_per_cm3, cbd_density_g_per_cm3
        Phase densities; when the phases present have densities, the pore/solid area per solid
        mass is returned in m^2/g (1/um divided by g/cm^3 is m^2/g).
    cbd_nanoporosity
        Unresolved pore fraction in CBD voxels (only reduces the CBD mass here: the surface
        of unresolved pores is not seen by the image).
    method
        ``"mesh"`` or ``"crofton"``, see :func:`interface_areas_um2`.
    smoothing_iterations, include_boundary
        See :func:`surface_area_um2`.

    Returns
    -------
    dict
        ``method``, ``volume_um3`` (bulk volume of the box), ``pore_solid_area_um2``,
        ``phase_areas_um2``, ``specific_surface_per_um`` (pore/solid area per bulk volume),
        ``phase_specific_surface_per_um``, ``am_specific_surface_per_um`` (AM surface per AM
        volume, 1/um) and, with densities, ``bulk_density_g_per_cm3`` and
        ``specific_surface_m2_per_g``.
    """
    from microstructure.porosity.densities import bulk_density_from_labels

    arr = check_labels(labels)
    vs = parse_voxel_size(voxel_size_nm)
    areas = interface_areas_um2(
        arr,
        voxel_size_nm=vs,
        method=method,
        smoothing_iterations=smoothing_iterations,
        include_boundary=include_boundary,
    )
    volume_um3 = float(np.prod(arr.shape)) * vs[0] * vs[1] * vs[2] * 1e-9
    fr = phase_fractions(arr)
    out: dict[str, Any] = {
        "method": method,
        "volume_um3": volume_um3,
        "pore_solid_area_um2": areas["pore_solid_um2"],
        "phase_areas_um2": areas["phases_um2"],
        "specific_surface_per_um": areas["pore_solid_um2"] / volume_um3,
        "phase_specific_surface_per_um": {
            k: v / volume_um3 for k, v in areas["phases_um2"].items()
        },
        "am_specific_surface_per_um": (
            areas["phases_um2"]["am"] / (fr["am"] * volume_um3) if fr["am"] > 0 else None
        ),
    }
    need_am = fr["am"] > 0
    need_cbd = fr["cbd"] > 0
    have = (not need_am or am_density_g_per_cm3 is not None) and (
        not need_cbd or cbd_density_g_per_cm3 is not None
    )
    if have and (need_am or need_cbd):
        rho = bulk_density_from_labels(
            arr,
            am_density_g_per_cm3=am_density_g_per_cm3 if need_am else 1.0,
            cbd_density_g_per_cm3=cbd_density_g_per_cm3 if need_cbd else 1.0,
            cbd_nanoporosity=cbd_nanoporosity,
        )
        out["bulk_density_g_per_cm3"] = rho
        out["specific_surface_m2_per_g"] = out["specific_surface_per_um"] / rho
    return out
