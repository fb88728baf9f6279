"""Geometry builders shared by the porosimetry tests (a module of its own: ``conftest`` is a
name every test folder uses, so test modules import these from here)."""

from __future__ import annotations

import numpy as np


def ball_mask(shape, centre, radius_nm, spacing=(1.0, 1.0, 1.0)):
    """Voxel centres at physical distance < radius_nm from centre (voxel indices)."""
    zz, yy, xx = np.indices(shape, dtype=float)
    d2 = (
        ((zz - centre[0]) * spacing[0]) ** 2
        + ((yy - centre[1]) * spacing[1]) ** 2
        + ((xx - centre[2]) * spacing[2]) ** 2
    )
    return d2 < radius_nm**2


def overlapping_spheres(shape, radius, porosity, seed):
    """Pore space between randomly placed overlapping solid spheres (True = pore)."""
    rng = np.random.default_rng(seed)
    solid = np.zeros(shape, dtype=bool)
    zz, yy, xx = np.indices(shape)
    while 1.0 - solid.mean() > porosity:
        c = rng.uniform(0, shape)
        solid |= (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < radius**2
    return ~solid
