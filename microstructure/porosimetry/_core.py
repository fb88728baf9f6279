"""Shared steps of intrusion, extrusion and granulometry (private)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import edt
import numpy as np

from microstructure.faces import face_mask, face_name, parse_faces
from microstructure.porosimetry import _kernels as K
from microstructure.volume import PHASE_NAMES, check_volume, parse_voxel_size

#: lattice points budget of the exact containment table, and of the stored ball profiles
TABLE_POINTS = 2_000_000
PROFILE_BUDGET = 20_000_000


def n_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def check_mask(mask: Any, *, name: str = "pore_mask") -> np.ndarray:
    """Validate a boolean 3D mask (0/1 integers accepted) and return a C-contiguous bool."""
    arr = check_volume(mask, name=name)
    if arr.dtype != np.bool_:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name}: expected a boolean mask (True = pore), got values != 0/1")
    return np.ascontiguousarray(arr, dtype=bool)


def distance_nm(pore: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """EDT of the pore space in nm (distance to the nearest solid voxel centre), float32.

    The array border is not solid (``black_border=False``): the sample continues outside.
    """
    return edt.edt(
        np.ascontiguousarray(pore, dtype=bool),
        anisotropy=spacing,
        black_border=False,
        parallel=n_threads(),
    ).astype(np.float32, copy=False)


def resolve_inlets(
    shape: tuple[int, ...],
    inlet: str | Iterable[str],
    *,
    thickness_axis: str | int,
    top_at: int | str,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Face mask of the inlet faces and their resolved names."""
    faces = parse_faces(inlet, thickness_axis=thickness_axis, top_at=top_at, name="inlet")
    return face_mask(shape, faces), tuple(face_name(f) for f in faces)


def check_radii(radii_nm: Any, *, name: str = "radii_nm") -> np.ndarray:
    """Validate a discrete radius list (nm) and return it as sorted unique float32."""
    try:
        r = np.unique(np.asarray(radii_nm, dtype=float).ravel())
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a list of radii in nm, got {radii_nm!r}") from None
    if r.size == 0 or not np.all(np.isfinite(r)) or r[0] <= 0:
        raise ValueError(f"{name}: expected one or more positive finite radii in nm")
    return r.astype(np.float32)


def step_radii(
    radii_nm: Any, batch_size_nm: float | None, max_radius_nm: float
) -> np.ndarray | None:
    """The discrete radius list: explicit radii, or multiples of ``batch_size_nm / 2``."""
    if radii_nm is not None and batch_size_nm is not None:
        raise ValueError("radii_nm and batch_size_nm: give one of them, not both")
    if radii_nm is not None:
        return check_radii(radii_nm)
    if batch_size_nm is not None:
        try:
            b = float(batch_size_nm)
        except (TypeError, ValueError):
            raise ValueError(f"batch_size_nm: expected a number, got {batch_size_nm!r}") from None
        if not (np.isfinite(b) and b > 0):
            raise ValueError(f"batch_size_nm: expected a positive diameter step, got {b}")
        n = max(1, int(np.floor(2.0 * max_radius_nm / b * (1 + 1e-6))))
        return (0.5 * b * np.arange(1, n + 1)).astype(np.float32)
    return None


def quantize(field: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Largest step <= value (within the ball tolerance); 0 where below the smallest step."""
    idx = np.searchsorted(steps, field * np.float32(1.0 + 2.0 * K.BALL_TOL), side="right") - 1
    out = np.where(idx >= 0, steps[np.maximum(idx, 0)], np.float32(0.0))
    return out.astype(np.float32, copy=False)


def levels_of(field: np.ndarray) -> np.ndarray:
    """Distinct positive values of a float32 field, ascending."""
    vals = field[field > 0]
    return np.unique(vals).astype(np.float32, copy=False)


def flood(field: np.ndarray, seeds: np.ndarray, levels: np.ndarray | None = None) -> np.ndarray:
    """Maximin (bottleneck) value of ``field`` from ``seeds`` over voxels with field > 0."""
    if field.size >= 2**31 - 1:
        raise ValueError(f"volume: {field.size} voxels exceed the 2**31 limit of the flood")
    if levels is None:
        levels = levels_of(field)
    rank = K.ranks_of(field, levels)
    return K.bottleneck_flood(rank, levels, np.ascontiguousarray(seeds, dtype=bool))


def paint(
    field: np.ndarray, spacing: tuple[float, float, float], levels: np.ndarray | None = None
) -> np.ndarray:
    """``max(field[x], max{field[c] : |x - c| < field[c]})`` (exact, open balls)."""
    field = np.ascontiguousarray(field, dtype=np.float32)
    if levels is None:
        levels = levels_of(field)
    wz, wy, wx = (float(v) for v in spacing)
    table = K.containment_table(levels, wz, wy, wx, K.BALL_TOL, TABLE_POINTS)
    threads = n_threads()
    centres = K.select_centres(field, levels, table, wz, wy, wx, K.BALL_TOL, threads)
    slabs = max(1, min(field.shape[0], 8 * threads))
    return K.paint_max_balls(
        field, centres, levels, wz, wy, wx, K.BALL_TOL, slabs, PROFILE_BUDGET, threads
    )


def phase_masses(
    labels: np.ndarray,
    densities_g_per_cm3: Mapping[Any, float] | None,
    voxel_volume_nm3: float,
    *,
    porosity_of_phase: Mapping[int, float] | None = None,
) -> float | None:
    """Sample mass (g) from skeletal phase densities; None when no densities are given.

    Keys may be phase codes (1, 2) or names (``"am"``, ``"cbd"``). Solid phases without a
    density raise. ``porosity_of_phase`` scales a phase's mass by ``1 - porosity``
    (unresolved nanoporosity).
    """
    if densities_g_per_cm3 is None:
        return None
    names = {v: k for k, v in PHASE_NAMES.items()}
    dens: dict[int, float] = {}
    for key, value in dict(densities_g_per_cm3).items():
        code = names.get(str(key).lower()) if not isinstance(key, int | np.integer) else int(key)
        if code is None or code not in PHASE_NAMES:
            raise ValueError(f"densities_g_per_cm3: unknown phase {key!r} (use 1/'am', 2/'cbd')")
        v = float(value)
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"densities_g_per_cm3: density of {key!r} must be positive, got {v}")
        dens[code] = v
    counts = np.bincount(labels.ravel(), minlength=4)
    mass = 0.0
    for code in (1, 2):
        if counts[code] == 0:
            continue
        if code not in dens:
            raise ValueError(
                f"densities_g_per_cm3: no density for phase {PHASE_NAMES[code]!r}, "
                f"present in {int(counts[code])} voxels"
            )
        scale = 1.0 - (porosity_of_phase or {}).get(code, 0.0)
        mass += counts[code] * voxel_volume_nm3 * 1e-21 * dens[code] * scale
    if mass <= 0:
        raise ValueError("densities_g_per_cm3: the sample has no solid mass")
    return mass


def pore_mask_of(labels: np.ndarray, pore_phases: Sequence[int]) -> np.ndarray:
    """Boolean mask of the pore phases of a uint8 labels volume (lookup table, one pass)."""
    lut = np.zeros(256, dtype=bool)
    for p in pore_phases:
        if not 0 <= int(p) <= 255:
            raise ValueError(f"pore_phases: expected phase codes 0..255, got {p!r}")
        lut[int(p)] = True
    return lut[np.asarray(labels, dtype=np.uint8)]


def spacing_of(voxel_size_nm: Any) -> tuple[float, float, float]:
    return parse_voxel_size(voxel_size_nm, name="voxel_size_nm")
