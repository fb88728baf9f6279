"""Surface areas: analytic sphere (iso- and anisotropic voxels), planes, box handling."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.porosity import interface_areas_um2, specific_surface_area, surface_area_um2


def _ball(shape, radius_um, voxel_um):
    grids = np.indices(shape).astype(float)
    r2 = sum(((g - (n - 1) / 2) * v) ** 2 for g, n, v in zip(grids, shape, voxel_um, strict=True))
    return r2 <= radius_um**2


def test_sphere_area_within_two_percent():
    r = 20
    ball = _ball((50, 50, 50), r, (1, 1, 1))
    area = surface_area_um2(ball, voxel_size_nm=1000.0)
    assert area == pytest.approx(4 * np.pi * r**2, rel=0.02)
    # the raw marching-cubes staircase is clearly biased high (so smoothing matters)
    raw = surface_area_um2(ball, voxel_size_nm=1000.0, smoothing_iterations=0)
    assert raw > 1.06 * 4 * np.pi * r**2


def test_sphere_with_anisotropic_voxels():
    r_um = 3.0  # voxels 0.2 x 0.1 x 0.1 um
    ball = _ball((40, 70, 70), r_um, (0.2, 0.1, 0.1))
    area = surface_area_um2(ball, voxel_size_nm=(200.0, 100.0, 100.0))
    assert area == pytest.approx(4 * np.pi * r_um**2, rel=0.025)


def test_axis_plane_is_exact_and_boundary_not_counted():
    mask = np.zeros((20, 30, 40), dtype=bool)
    mask[:10] = True
    vs = (5.0, 7.0, 11.0)
    expected = 30 * 7 * 40 * 11 * 1e-6  # um^2
    assert surface_area_um2(mask, voxel_size_nm=vs) == pytest.approx(expected, rel=1e-9)
    # complement has the same interface
    assert surface_area_um2(~mask, voxel_size_nm=vs) == pytest.approx(expected, rel=1e-6)
    # with the box faces: plane + covered part of the box (edges chamfered by <1 voxel)
    with_box = surface_area_um2(mask, voxel_size_nm=vs, include_boundary=True)
    box = 2 * expected + 2 * 10 * 5 * (30 * 7 + 40 * 11) * 1e-6
    assert with_box == pytest.approx(box, rel=0.05)
    assert with_box > 1.9 * expected


def test_tilted_plane():
    n = 60
    g = np.indices((n, n, n))
    mask = (g[0] + g[1]) < n - 0.5  # plane z + y = n - 0.5 through the box
    expected = (n - 0.5) * np.sqrt(2) * n
    assert surface_area_um2(mask, voxel_size_nm=1000) == pytest.approx(expected, rel=0.015)


def test_chunking_does_not_change_the_area():
    ball = _ball((50, 40, 40), 15, (1, 1, 1)) | _ball((50, 40, 40), 24, (1, 1, 1)) & (
        np.indices((50, 40, 40))[0] > 30
    )
    whole = surface_area_um2(ball, voxel_size_nm=37.2)
    sliced = surface_area_um2(ball, voxel_size_nm=37.2, chunk_voxels=5 * 42 * 42)
    assert sliced == pytest.approx(whole, rel=2e-3)


def test_specific_surface_units_and_phases():
    labels = np.ones((40, 40, 40), dtype=np.uint8)
    labels[_ball((40, 40, 40), 12, (1, 1, 1))] = 0  # spherical pore in AM
    vs = 100.0  # nm
    res = specific_surface_area(labels, voxel_size_nm=vs, am_density_g_per_cm3=4.76)
    area = 4 * np.pi * (12 * 0.1) ** 2
    assert res["pore_solid_area_um2"] == pytest.approx(area, rel=0.02)
    assert res["volume_um3"] == pytest.approx(4.0**3)
    assert res["specific_surface_per_um"] == pytest.approx(res["pore_solid_area_um2"] / 64.0)
    # 1/um divided by g/cm3 is m2/g
    assert res["specific_surface_m2_per_g"] == pytest.approx(
        res["specific_surface_per_um"] / res["bulk_density_g_per_cm3"]
    )
    areas = interface_areas_um2(labels, voxel_size_nm=vs)
    assert areas["phases_um2"]["am"] == pytest.approx(areas["pore_solid_um2"], rel=1e-6)
    assert areas["phases_um2"]["cbd"] == 0.0


def test_surface_validation():
    with pytest.raises(ValueError, match="voxel_size_nm"):
        surface_area_um2(np.ones((3, 3, 3)), voxel_size_nm=-1)
    with pytest.raises(ValueError, match="smoothing_iterations"):
        surface_area_um2(np.ones((3, 3, 3)), voxel_size_nm=1, smoothing_iterations=-2)
    with pytest.raises(ValueError, match="mask"):
        surface_area_um2(np.ones((3, 3)), voxel_size_nm=1)
