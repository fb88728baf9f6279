"""Tests of the fibrous CBD nanopores (resolved) and the unresolved CBD properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from microstructure.cbd.insertion import insert_cbd
from microstructure.cbd.nanopores import (
    add_nanopores,
    nanopore_diameters,
    unresolved_cbd_properties,
)


@pytest.fixture(scope="module")
def electrode():
    """Two AM slabs joined by a ridge, with 20 % CBD filled into the narrowest pores."""
    lab = np.zeros((40, 40, 40), dtype=np.uint8)
    lab[:, :, :8] = 1
    lab[:, :, 32:] = 1
    lab[18:22, :, :] = 1
    return insert_cbd(lab, voxel_size_nm=37.2, volume_fraction=0.2, method="bridge")


@pytest.mark.parametrize("porosity", [0.502, 0.2, 0.7])
def test_porosity_hit_exactly_only_cbd_changes(electrode, porosity):
    before = electrode.copy()
    out = add_nanopores(electrode, voxel_size_nm=37.2, porosity=porosity, seed=1)
    assert np.array_equal(electrode, before), "input modified"
    env = (out == 2) | (out == 3)
    assert np.array_equal(env, before == 2)  # pores only inside the former CBD
    assert np.array_equal(out == 1, before == 1)
    measured = (out == 3).sum() / env.sum()
    assert (out == 3).sum() == round(porosity * env.sum())
    assert abs(measured - porosity) < 0.005


def test_seeded(electrode):
    a = add_nanopores(electrode, voxel_size_nm=37.2, seed=5)
    b = add_nanopores(electrode, voxel_size_nm=37.2, seed=5)
    c = add_nanopores(electrode, voxel_size_nm=37.2, seed=6)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("mean", "std"), [(100.0, 30.0), (60.0, 15.0)])
def test_diameter_distribution_measured_back_within_a_voxel(mean, std):
    """Granulometry of label 3 in a CBD block vs the set truncated Gaussian, both per pore
    volume (weight D^2 for equally long cylinders)."""
    vs = 10.0
    block = np.full((56, 56, 56), 2, dtype=np.uint8)
    out, info = add_nanopores(
        block, voxel_size_nm=vs, mean_diameter_nm=mean, std_diameter_nm=std, return_info=True
    )
    meas = nanopore_diameters(out, voxel_size_nm=vs)
    want = info["set_distribution"]
    assert meas["volume_mean_nm"] == pytest.approx(want["volume_weighted_mean_nm"], abs=vs)
    assert meas["volume_std_nm"] == pytest.approx(want["volume_weighted_std_nm"], abs=vs)
    # the 1/D^2 number conversion amplifies voxel noise at small D: biased low, ~1-2 voxels
    assert want["truncated_mean_nm"] - 2.5 * vs < meas["number_mean_nm"] < want["truncated_mean_nm"]
    # the cylinders drawn follow the set truncated Gaussian
    assert info["cylinder_diameter_mean_nm"] == pytest.approx(want["truncated_mean_nm"], rel=0.2)


def test_single_diameter_and_truncation():
    """std = 0: one diameter; the volume-weighted granulometry is that diameter."""
    vs = 10.0
    block = np.full((48, 48, 48), 2, dtype=np.uint8)
    out = add_nanopores(
        block, voxel_size_nm=vs, porosity=0.3, mean_diameter_nm=80.0, std_diameter_nm=0.0
    )
    meas = nanopore_diameters(out, voxel_size_nm=vs)
    assert meas["volume_d50_nm"] == pytest.approx(80.0, abs=vs)
    # truncation: diameters never below the minimum (the voxel length by default)
    d = stats.truncnorm((37.2 - 30.0) / 20.0, np.inf, loc=30.0, scale=20.0)
    _, info = add_nanopores(
        block, voxel_size_nm=37.2, mean_diameter_nm=30.0, std_diameter_nm=20.0, return_info=True
    )
    assert info["set_distribution"]["min_diameter_nm"] == 37.2
    assert info["set_distribution"]["truncated_mean_nm"] == pytest.approx(d.mean())
    assert info["cylinder_diameter_mean_nm"] >= 37.2


def test_anisotropic_voxels(electrode):
    out = add_nanopores(electrode, voxel_size_nm=(20.0, 37.2, 37.2), porosity=0.4)
    env = (out == 2) | (out == 3)
    assert (out == 3).sum() == round(0.4 * env.sum())


@pytest.mark.parametrize(
    ("labels", "kwargs", "match"),
    [
        (np.zeros((8, 8, 8), np.uint8), {}, "no CBD"),
        (None, {"porosity": 1.0}, "porosity"),
        (None, {"porosity": -0.1}, "porosity"),
        (None, {"std_diameter_nm": -1.0}, "std_diameter_nm"),
        (None, {"mean_diameter_nm": 0.0}, "mean_diameter_nm"),
        (None, {"mean_diameter_nm": 1.0, "std_diameter_nm": 0.0}, "below min_diameter_nm"),
        (None, {"length_nm": -5.0}, "length_nm"),
    ],
)
def test_bad_input(labels, kwargs, match):
    if labels is None:
        labels = np.full((8, 8, 8), 2, np.uint8)
    with pytest.raises(ValueError, match=match):
        add_nanopores(labels, voxel_size_nm=37.2, **kwargs)


def test_porosity_below_existing_raises():
    lab = np.full((8, 8, 8), 3, np.uint8)
    lab[0] = 2
    with pytest.raises(ValueError, match="already present"):
        add_nanopores(lab, voxel_size_nm=37.2, porosity=0.5)


def test_unresolved_properties():
    p = unresolved_cbd_properties()
    assert p["porosity"] == 0.502
    assert p["m_factor"] == pytest.approx(0.502**1.5)
    assert p["tortuosity_factor"] == pytest.approx(0.502 / 0.502**1.5)
    assert p["pore_diameter"]["min_nm"] == 37.2
    assert p["pore_diameter"]["truncated_mean_nm"] > 100.0  # truncation lifts the mean
    q = unresolved_cbd_properties(porosity=0.4, m_factor=0.1)
    assert q["m_factor"] == 0.1 and q["m_factor_source"] == "given"
    with pytest.raises(ValueError, match="m_factor"):
        unresolved_cbd_properties(porosity=0.4, m_factor=0.5)
