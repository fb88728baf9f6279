"""Simulated intrusion: PoreSpy agreement, analytic geometries, inlets, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from porosimetry_shapes import ball_mask, overlapping_spheres

from microstructure.faces import face_mask, parse_faces
from microstructure.porosimetry import (
    invasion_radius,
    simulate_mip,
    washburn_pressure_mpa,
)


def _porespy_porosimetry(im, faces, sizes):
    ps = pytest.importorskip("porespy")
    ps.settings.tqdm["disable"] = True
    inlets = face_mask(im.shape, parse_faces(faces))
    return ps.filters.porosimetry(im, inlets=inlets, sizes=sizes)


@pytest.mark.parametrize("faces", ["all", "x-", "all-but-bottom"])
def test_integer_radii_identical_to_porespy(spheres_image, faces):
    im = spheres_image
    sizes = np.arange(1, 12)
    ref = _porespy_porosimetry(im, faces, sizes)
    ours = invasion_radius(im, voxel_size_nm=1.0, inlet=faces, radii_nm=sizes)
    assert ref[im].max() > 3  # a real range of radii
    np.testing.assert_array_equal(ours, ref)


def test_integer_radii_identical_to_porespy_scaled_voxels(spheres_image):
    """Same result in nm with 37.2 nm voxels and radii k * 37.2 nm."""
    im = spheres_image
    sizes = np.arange(1, 12)
    ref = _porespy_porosimetry(im, "y-", sizes)
    ours = invasion_radius(im, voxel_size_nm=37.2, inlet="top", radii_nm=sizes * 37.2)
    np.testing.assert_allclose(ours, ref * 37.2, rtol=1e-6)


def test_exact_saturation_close_to_porespy():
    """Exact radii vs PoreSpy's integer radii: within 0.02 at every integer radius once
    features span several voxels (spheres of radius 8; on radius-5 spheres the
    discretization alone differs by ~0.025)."""
    im = overlapping_spheres((48, 48, 48), 8, 0.3, seed=7)
    sizes = np.arange(1, 20)
    ref = _porespy_porosimetry(im, "all", sizes)
    exact = invasion_radius(im, voxel_size_nm=1.0, inlet="all")
    # exact radii are never smaller than the integer-floored ones
    assert np.all(exact >= ref)
    for r in sizes:
        s_ref = np.mean(ref[im] >= r)
        s_exact = np.mean(exact[im] >= r)
        assert abs(s_exact - s_ref) <= 0.02, (r, s_ref, s_exact)


@pytest.mark.parametrize("spacing", [(10.0, 10.0, 10.0), (20.0, 10.0, 15.0)])
def test_cylinder_intrudes_at_its_radius(spacing):
    """A straight cylinder of radius R (a lattice distance) intrudes at exactly P(R)."""
    shape = (30, 21, 21)
    radius = 5 * spacing[1]  # lattice distance along y
    zz, yy, xx = np.indices(shape, dtype=float)
    pore = ((yy - 10) * spacing[1]) ** 2 + ((xx - 10) * spacing[2]) ** 2 < radius**2
    labels = np.where(pore, 0, 1).astype(np.uint8)
    res = simulate_mip(labels, voxel_size_nm=spacing, inlet="z-")
    inv = res.invasion_radius_nm
    np.testing.assert_allclose(inv[pore], radius, rtol=1e-6)
    assert np.all(inv[~pore] == 0)
    assert len(res.curve) == 1
    np.testing.assert_allclose(res.curve.diameter_nm[0], 2 * radius, rtol=1e-6)
    np.testing.assert_allclose(
        res.curve.pressure_mpa[0], washburn_pressure_mpa(2 * radius), rtol=1e-6
    )
    assert res.curve.saturation[0] == pytest.approx(1.0)
    assert res.curve.intruded_fraction[0] == pytest.approx(pore.mean())


def _ink_bottle(spacing=(1.0, 1.0, 1.0)):
    """Throat radius 2 from the x- face into a closed spherical body of radius 7."""
    shape = (21, 21, 30)
    body = ball_mask(shape, (10, 10, 18), 7.0)
    zz, yy, xx = np.indices(shape, dtype=float)
    throat = ((zz - 10) ** 2 + (yy - 10) ** 2 < 4.0) & (xx <= 12)
    return throat, body


def test_ink_bottle_intrudes_at_throat_pressure():
    throat, body = _ink_bottle()
    pore = throat | body
    labels = np.where(pore, 0, 1).astype(np.uint8)
    res = simulate_mip(labels, voxel_size_nm=10.0, inlet="x-")
    inv = res.invasion_radius_nm
    np.testing.assert_allclose(inv[pore], 20.0, rtol=1e-6)  # 2 voxels x 10 nm everywhere
    # from the far side nothing enters (closed body)
    with pytest.raises(ValueError, match="inlet"):
        simulate_mip(labels, voxel_size_nm=10.0, inlet="x+")


def test_inlet_choice_matters():
    throat, body = _ink_bottle()
    # open the body to the x+ face with a wide channel
    wide = ball_mask(body.shape, (10, 10, 29), 6.0)
    pore = throat | body | wide
    labels = np.where(pore, 0, 1).astype(np.uint8)
    from_throat = simulate_mip(labels, voxel_size_nm=10.0, inlet="x-").invasion_radius_nm
    from_both = simulate_mip(labels, voxel_size_nm=10.0, inlet="x-,x+").invasion_radius_nm
    assert np.all(from_both >= from_throat)
    assert from_both[body].max() > 2.5 * from_throat[body].max()
    # aliases: thickness axis x with the top at the end -> top = x+
    top = simulate_mip(labels, voxel_size_nm=10.0, inlet="top", thickness_axis="x", top_at=-1)
    xp = simulate_mip(labels, voxel_size_nm=10.0, inlet="x+")
    np.testing.assert_array_equal(top.invasion_radius_nm, xp.invasion_radius_nm)


def test_batch_size_gives_multiples_of_half_batch(random_image):
    labels = np.where(random_image, 0, 1).astype(np.uint8)
    res = simulate_mip(labels, voxel_size_nm=37.2, batch_size_nm=37.2)
    vals = np.unique(res.invasion_radius_nm[res.invasion_radius_nm > 0])
    np.testing.assert_allclose(vals / 18.6, np.round(vals / 18.6), atol=1e-4)
    exact = simulate_mip(labels, voxel_size_nm=37.2)
    assert np.all(exact.invasion_radius_nm >= res.invasion_radius_nm)
    # every accessible pore voxel is intruded at the smallest step (half a voxel)
    assert res.accessible_fraction == pytest.approx(exact.accessible_fraction)


def test_curve_is_consistent_with_the_field(random_image):
    labels = np.where(random_image, 0, 1).astype(np.uint8)
    labels[:, :, :3][random_image[:, :, :3]] = 3  # CBD pores count as pore space
    before = labels.copy()
    res = simulate_mip(labels, voxel_size_nm=(20.0, 30.0, 30.0), inlet="all-but-bottom")
    np.testing.assert_array_equal(labels, before)  # input untouched
    c = res.curve
    assert np.all(np.diff(c.pressure_mpa) > 0) and np.all(np.diff(c.saturation) >= 0)
    inv = res.invasion_radius_nm
    pore = random_image
    for i in (0, len(c) // 2, len(c) - 1):
        r = c.diameter_nm[i] / 2
        expected = np.count_nonzero(inv >= r * (1 - 1e-6)) / pore.sum()
        assert c.saturation[i] == pytest.approx(expected)
    assert c.intruded_fraction[-1] == pytest.approx(np.count_nonzero(inv) / inv.size)


def test_specific_volume_from_densities():
    labels = np.ones((10, 10, 10), dtype=np.uint8)
    labels[:, 3:7, 3:7] = 0  # square channel through z
    labels[:, 0, :] = 2
    res = simulate_mip(
        labels, voxel_size_nm=100.0, inlet="z-", densities_g_per_cm3={"am": 4.0, "cbd": 2.0}
    )
    n_am, n_cbd, n_pore = (labels == 1).sum(), (labels == 2).sum(), (labels == 0).sum()
    mass_g = (n_am * 4.0 + n_cbd * 2.0) * 1e6 * 1e-21
    expected = n_pore * 1e6 * 1e-18 / mass_g
    assert res.curve.specific_volume_mm3_per_g[-1] == pytest.approx(expected)
    with pytest.raises(ValueError, match="densities_g_per_cm3"):
        simulate_mip(labels, voxel_size_nm=100.0, densities_g_per_cm3={"am": 4.0})


def test_bad_input_errors():
    solid = np.ones((5, 5, 5), dtype=np.uint8)
    with pytest.raises(ValueError, match="no pore voxels"):
        simulate_mip(solid, voxel_size_nm=10.0)
    closed = solid.copy()
    closed[2, 2, 2] = 0
    with pytest.raises(ValueError, match="inlet"):
        simulate_mip(closed, voxel_size_nm=10.0)
    open_ = solid.copy()
    open_[:, 2, 2] = 0
    with pytest.raises(ValueError, match="contact_angle_deg"):
        simulate_mip(open_, voxel_size_nm=10.0, contact_angle_deg=80.0)
    with pytest.raises(ValueError, match="inlet"):
        simulate_mip(open_, voxel_size_nm=10.0, inlet="sideways")
    with pytest.raises(ValueError, match="voxel_size_nm"):
        simulate_mip(open_, voxel_size_nm=-1)
    # a boolean array is a pore mask (True = pore, issue 24): the same curve as the labels
    as_mask = simulate_mip(open_ == 0, voxel_size_nm=10.0)
    as_labels = simulate_mip(open_, voxel_size_nm=10.0)
    np.testing.assert_array_equal(as_mask.invasion_radius_nm, as_labels.invasion_radius_nm)
    with pytest.raises(ValueError, match="radii_nm"):
        simulate_mip(open_, voxel_size_nm=10.0, radii_nm=[0.0, 1.0])
