"""Porosity and phase fractions slice by slice along the electrode thickness."""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.faces import axis_index
from microstructure.porosity.fractions import check_fraction
from microstructure.volume import PHASE_NAMES, check_labels, parse_voxel_size

__all__ = ["porosity_profile"]


def porosity_profile(
    labels: Any,
    *,
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    voxel_size_nm: Any = None,
    cbd_nanoporosity: float = 0.0,
) -> dict[str, list[float] | list[int]]:
    """Porosity and phase fractions of each slice across the thickness axis.

    Rows run from the top of the electrode (separator side) to the bottom (current collector).

    Parameters
    ----------
    labels
        3D labels volume (z, y, x), phase codes 0..3.
    thickness_axis
        Axis across the electrode thickness (``"z"``, ``"y"`` or ``"x"``; default ``"y"``).
    top_at
        0 when the top (separator side) is at index 0 of that axis, -1 when at the end.
    voxel_size_nm
        Voxel size (z, y, x) in nm, or one number; when given, ``depth_um`` is added.
    cbd_nanoporosity
        Unresolved pore fraction inside CBD-solid voxels, added to ``porosity``.

    Returns
    -------
    dict
        Equal-length lists: ``slice_index`` (array index along the axis), ``porosity``,
        ``pore``, ``am``, ``cbd``, ``cbd_pore`` (fractions of each slice, 0..1) and, with a voxel
        size, ``depth_um`` (distance of the slice centre from the top face, um).
    """
    arr = check_labels(labels)
    axis = axis_index(thickness_axis, name="thickness_axis")
    if top_at in (0, "0", "start", "-"):
        from_top = True
    elif top_at in (-1, "-1", "end", "+"):
        from_top = False
    else:
        raise ValueError(f"top_at: expected 0 (start) or -1 (end), got {top_at!r}")
    npor = check_fraction(cbd_nanoporosity, name="cbd_nanoporosity")
    moved = np.moveaxis(arr, axis, 0)
    n = moved.shape[0]
    per_slice = moved[0].size
    counts = np.empty((n, 4), dtype=np.int64)
    for i in range(n):
        counts[i] = np.bincount(moved[i].ravel(), minlength=4)[:4]
    frac = counts / per_slice
    order = np.arange(n) if from_top else np.arange(n)[::-1]
    out: dict[str, list[float] | list[int]] = {"slice_index": [int(i) for i in order]}
    if voxel_size_nm is not None:
        vs = parse_voxel_size(voxel_size_nm)
        step_um = vs[axis] / 1000.0
        out["depth_um"] = [float((k + 0.5) * step_um) for k in range(n)]
    porosity = frac[:, 0] + frac[:, 3] + npor * frac[:, 2]
    out["porosity"] = [float(x) for x in porosity[order]]
    for p in range(4):
        out[PHASE_NAMES[p]] = [float(x) for x in frac[order, p]]
    return out
