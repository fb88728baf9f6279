"""Closed pores, specks, small holes, particle separation and the particle table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.segment import (
    closed_pore_stats,
    closed_pores,
    fill_small_holes,
    particle_table,
    remove_specks,
    separate_particles,
)


def _ball(shape, center, radius):
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return (z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2 <= radius**2


def _hollow_spheres():
    """AM shells in a pore matrix; returns (am, expected closed-pore mask).

    A intact -> closed; B crack from the cavity to the outside -> open; C cut by the z = 0
    face -> open; D blind crack that stops short of the cavity -> closed; E a crack reaching
    the cavity only through a voxel corner (26-connected pore space) -> open.
    """
    shape = (40, 60, 140)
    am = np.zeros(shape, bool)
    expected = np.zeros(shape, bool)
    centers = {
        "A": (20, 30, 15),
        "B": (20, 30, 42),
        "C": (3, 30, 69),
        "D": (20, 30, 96),
        "E": (20, 30, 123),
    }
    cav = {}
    for k, c in centers.items():
        am |= _ball(shape, c, 11)
        cav[k] = _ball(shape, c, 6)
    for k in centers:
        am &= ~cav[k]
    # B: a 1-voxel-wide planar crack along +y from the cavity through the shell
    c = centers["B"]
    am[c[0] - 2 : c[0] + 3, c[1] : c[1] + 13, c[2]] = False
    # D: a blind crack from outside that stops 2 voxels before the cavity
    c = centers["D"]
    am[c[0] - 2 : c[0] + 3, c[1] + 8 : c[1] + 13, c[2]] = False
    # E: straight crack along +y whose inner end meets the cavity only diagonally
    c = centers["E"]
    y_in = c[1] + 6  # last cavity voxel on the axis is at radius 6
    am[c[0], y_in + 1 :, c[2] + 1] = False  # offset by one in x: corner/edge contact only
    assert am[c[0], y_in + 1, c[2]] and am[c[0], y_in, c[2] + 1]  # no face contact
    expected |= cav["A"] | cav["D"]
    return am, expected


def test_closed_pores_exact_on_hollow_spheres():
    am, expected = _hollow_spheres()
    got = closed_pores(am)
    np.testing.assert_array_equal(got, expected)
    stats = closed_pore_stats(got, voxel_size_nm=(10.0, 10.0, 10.0))
    assert stats["closed_pore_count"] == 2
    n_cav = int(np.count_nonzero(_ball((40, 60, 140), (20, 30, 15), 6)))
    assert stats["closed_pore_voxels"] == [n_cav, n_cav]
    d = (6 * n_cav * 1000.0 / math.pi) ** (1 / 3)
    np.testing.assert_allclose(stats["closed_pore_equivalent_diameters_nm"], [d, d])
    assert stats["closed_pore_fraction"] == pytest.approx(2 * n_cav / am.size)


def test_six_connected_pore_space_keeps_corner_contact_closed():
    am, expected = _hollow_spheres()
    got6 = closed_pores(am, connectivity=6)
    cav_e = _ball(am.shape, (20, 30, 123), 6)
    # with 6-connected pores, the diagonal-only crack of E no longer opens the cavity
    np.testing.assert_array_equal(got6 & cav_e, cav_e)
    np.testing.assert_array_equal(got6 & ~cav_e & ~expected, np.zeros_like(am))


def test_per_particle_closed_pores_excludes_pores_between_two_particles():
    shape = (20, 20, 40)
    am = np.zeros(shape, bool)
    am[2:18, 2:18, 2:38] = True
    particles = np.zeros(shape, np.int32)
    particles[2:18, 2:18, 2:20] = 1
    particles[2:18, 2:18, 20:38] = 2
    inside = np.zeros(shape, bool)
    inside[8:11, 8:11, 8:11] = True  # hole of particle 1
    between = np.zeros(shape, bool)
    between[8:11, 8:11, 18:22] = True  # straddles the contact of particles 1 and 2
    am &= ~(inside | between)
    particles[~am] = 0
    np.testing.assert_array_equal(closed_pores(am), inside | between)
    np.testing.assert_array_equal(closed_pores(am, particles=particles), inside)
    with pytest.raises(ValueError, match="particles"):
        closed_pores(am, particles=particles[:-1])


def test_remove_specks_and_fill_small_holes():
    am = np.zeros((20, 20, 20), bool)
    am[2:12, 2:12, 2:12] = True
    am[15, 15, 15] = True  # speck
    am[15:17, 2:4, 2:4] = True  # 8-voxel speck
    am[6, 6, 6] = False  # 1-voxel enclosed hole
    am[4:7, 8:10, 8:10] = False  # 12-voxel enclosed hole
    before = am.copy()
    out = remove_specks(am, min_size_voxels=9)
    assert not out[15, 15, 15] and not out[15:17, 2:4, 2:4].any()
    assert out[2:12, 2:12, 2:12].sum() == before[2:12, 2:12, 2:12].sum()
    filled = fill_small_holes(out, max_size_voxels=8)
    assert filled[6, 6, 6]
    assert not filled[4:7, 8:10, 8:10].any()  # larger than the limit: a real pore
    # an open pore of one voxel at the face is never filled
    face = np.ones((6, 6, 6), bool)
    face[0, 3, 3] = False
    assert not fill_small_holes(face, max_size_voxels=8)[0, 3, 3]
    np.testing.assert_array_equal(am, before)
    with pytest.raises(ValueError, match="am_mask"):
        fill_small_holes(np.full((4, 4, 4), 2))


def test_separate_two_touching_spheres_and_table():
    shape = (50, 50, 90)
    r1, r2 = 14, 10
    a = _ball(shape, (25, 25, 25), r1)
    b = _ball(shape, (25, 25, 25 + r1 + r2 - 3), r2)  # overlap 3 voxels: a neck
    am = a | b
    lab = separate_particles(am, voxel_size_nm=(20.0, 20.0, 20.0))
    assert lab.max() == 2
    assert set(np.unique(lab[am])) == {1, 2}
    table = particle_table(lab, voxel_size_nm=(20.0, 20.0, 20.0))
    d = np.sort(table["equivalent_diameter_um"])
    np.testing.assert_allclose(d, [2 * r2 * 0.02, 2 * r1 * 0.02], rtol=0.06)
    assert table["touches_boundary"].tolist() == [0, 0]
    big = int(np.argmax(table["voxels"]))
    assert table["centroid_x_um"][big] == pytest.approx(25.5 * 0.02, abs=0.03)
    # a particle cut by the volume face is flagged
    cut = particle_table(lab[:, :, :30], voxel_size_nm=20.0)
    assert cut["touches_boundary"].tolist() == [1]
