"""Crofton (13-direction intercept) surface areas: analytic shapes and agreement with meshes."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.porosity.crofton import crofton_areas_um2, crofton_weights
from microstructure.porosity.surface import surface_area_um2


def _ball(radius_vox: float, voxel_size_nm=(1000.0, 1000.0, 1000.0)) -> np.ndarray:
    vs = np.asarray(voxel_size_nm)
    half = np.ceil(radius_vox * vs.min() / vs).astype(int) + 3
    grids = np.meshgrid(
        *[np.arange(-h, h + 1) * v for h, v in zip(half, vs, strict=True)], indexing="ij"
    )
    return (sum(g**2 for g in grids) <= (radius_vox * vs.min()) ** 2).astype(np.uint8)


def test_weights_are_solid_angle_fractions():
    w = crofton_weights((1.0, 1.0, 1.0))
    assert w.sum() == pytest.approx(1.0)
    # cubic lattice symmetry: the 3 axes, the 6 face diagonals and the 4 space diagonals
    assert np.ptp(w[:3]) < 1e-3 and np.ptp(w[3:9]) < 1e-3 and np.ptp(w[9:]) < 1e-3
    w2 = crofton_weights((3.0, 1.0, 1.0))
    assert w2.sum() == pytest.approx(1.0) and w2[0] < w2[1]  # long z voxels: z-lines cover less


@pytest.mark.parametrize(("radius", "tol"), [(10, 0.09), (20, 0.045), (30, 0.035)])
def test_sphere_area_bias_is_small_and_shrinks_with_radius(radius, tol):
    area = crofton_areas_um2(_ball(radius), voxel_size_nm=1000.0)["1"]
    exact = 4 * np.pi * radius**2
    assert 0 < area / exact - 1 < tol


def test_anisotropic_voxels_sphere():
    ball = _ball(16, voxel_size_nm=(2000.0, 1000.0, 1000.0))
    area = crofton_areas_um2(ball, voxel_size_nm=(2000.0, 1000.0, 1000.0))["1"]
    assert area / (4 * np.pi * 16**2) == pytest.approx(1.0, abs=0.08)


@pytest.mark.parametrize("voxel_size_nm", [(100.0, 100.0, 100.0), (50.0, 100.0, 200.0)])
def test_axis_aligned_plane_within_orientation_error_and_box_faces_do_not_count(voxel_size_nm):
    # 13 discrete directions: a single orientation is off by a few % (here -4 % for cubic
    # voxels, -6.5 % for 1:2:4 voxels);
    # the error averages out over the orientations of a real pore surface.
    vol = np.zeros((20, 30, 40), np.uint8)
    vol[:, :12, :] = 1  # plane y = 11.5 across the whole box
    areas = crofton_areas_um2(vol, voxel_size_nm=voxel_size_nm)
    exact = (20 * voxel_size_nm[0]) * (40 * voxel_size_nm[2]) * 1e-6  # um^2
    assert areas["1"] == pytest.approx(exact, rel=0.08)
    assert areas["0"] == pytest.approx(areas["1"])


def test_phase_groups_share_one_pass():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=(12, 13, 14)).astype(np.uint8)
    areas = crofton_areas_um2(
        labels, voxel_size_nm=10.0, groups={"a": (0,), "rest": (1, 2), "b": (1,)}
    )
    assert areas["a"] == pytest.approx(areas["rest"])  # complement has the same boundary
    assert areas["b"] > 0


def test_agrees_with_smoothed_mesh_on_real_electrode(validation_file):
    import tifffile

    labels = tifffile.imread(validation_file("matbox_nmc-1-cal_generatedCBD_bridge.tif"))[:40]
    pore = np.isin(labels, (0, 3))
    mesh = surface_area_um2(pore, voxel_size_nm=398.0)
    crof = crofton_areas_um2(labels, voxel_size_nm=398.0, groups={"ps": (0, 3)})["ps"]
    assert crof / mesh == pytest.approx(1.0, abs=0.04)
