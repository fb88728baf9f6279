"""Threshold methods on synthetic stacks with known phase fractions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from microstructure.segment import (
    has_middle_mode,
    hysteresis_mask,
    refine_local_means,
    segment_am,
    segment_am_report,
    threshold_value,
)


def _phases(shape=(24, 64, 64), seed=0):
    """Smooth random three-phase structure: 0 pore 30 %, 2 CBD 15 %, 1 AM 55 %."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 2.5)
    q1, q2 = np.quantile(field, [0.30, 0.45])
    lab = np.where(field < q1, 0, np.where(field < q2, 2, 1)).astype(np.uint8)
    return lab


def _render(lab, grey=(30.0, 200.0, 110.0), noise=12.0, seed=1):
    rng = np.random.default_rng(seed)
    img = np.asarray(grey)[lab] + rng.normal(0, noise, lab.shape)
    return np.clip(img, 0, 255).astype(np.float32)


def test_auto_uses_upper_multiotsu_on_three_phases_and_recovers_am_fraction():
    lab = _phases()
    img = _render(lab)
    found, (t1, t2) = has_middle_mode(img)
    assert found
    assert 30 < t1 < 110 < t2 < 200
    mask, info = segment_am_report(img, method="auto", min_speck_voxels=0, max_hole_voxels=0)
    assert info["method_used"] == "multiotsu"
    truth = lab == 1
    assert abs(mask.mean() - truth.mean()) < 0.01
    # plain Otsu is pulled towards the grey CBD and over-segments the AM
    otsu = segment_am(img, method="otsu", min_speck_voxels=0, max_hole_voxels=0)
    assert otsu.mean() - truth.mean() > mask.mean() - truth.mean()


def test_auto_falls_back_to_otsu_on_two_phases():
    lab = _phases()
    two = np.where(lab == 1, 1, 0).astype(np.uint8)
    img = _render(two, grey=(60.0, 180.0, 0.0), noise=20.0)
    found, _ = has_middle_mode(img)
    assert not found
    t, info = threshold_value(img)
    assert info["method_used"] == "otsu"
    assert 100 < t < 140
    mask = segment_am(img, method="auto", min_speck_voxels=0, max_hole_voxels=0)
    assert abs(mask.mean() - two.mean()) < 0.01


def test_manual_threshold_is_exact_and_input_unchanged():
    img = np.arange(4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8)
    before = img.copy()
    mask = segment_am(img, method="manual", threshold=99.5, min_speck_voxels=0, max_hole_voxels=0)
    assert np.count_nonzero(mask) == img.size - 100
    np.testing.assert_array_equal(img, before)


def test_local_threshold_handles_shading_that_breaks_a_global_one():
    lab = _phases(shape=(8, 96, 96))
    truth = lab == 1
    img = _render(np.where(truth, 1, 0).astype(np.uint8), grey=(60.0, 140.0, 0.0), noise=5.0)
    img = img + np.linspace(0, 120, 96)[None, None, :]  # strong left-right shading
    glob = segment_am(img, method="otsu", min_speck_voxels=0, max_hole_voxels=0)
    loc = segment_am(img, method="local", block_size_px=31, min_speck_voxels=0, max_hole_voxels=0)
    acc_glob = np.mean(glob == truth)
    acc_loc = np.mean(loc == truth)
    assert acc_loc > 0.9
    assert acc_loc > acc_glob + 0.05


def test_hysteresis_keeps_weak_voxels_connected_to_strong_ones():
    img = np.zeros((3, 20, 20), np.float32)
    img[1, 5, 2:10] = 0.6  # weak line
    img[1, 5, 10] = 1.0  # touching a strong voxel
    img[1, 15, 2:10] = 0.6  # weak line, isolated
    m = hysteresis_mask(img, 0.5, 0.9)
    assert m[1, 5, 2:11].all()
    assert not m[1, 15].any()
    mask = segment_am(img, method="manual", threshold=0.7, hysteresis_width=0.2, min_speck_voxels=0)
    np.testing.assert_array_equal(mask, m)


def test_local_means_refinement_makes_fraction_independent_of_the_start():
    """Blurred two-phase volume: different global thresholds converge to one fraction."""
    lab = _phases(shape=(24, 64, 64), seed=3)
    two = (lab == 1).astype(np.float32)
    img = ndimage.gaussian_filter(two * 100.0 + 50.0, 1.5)  # partial-volume blur
    img += np.random.default_rng(0).normal(0, 3.0, img.shape)
    fractions = []
    for t in (80.0, 100.0, 120.0):
        start = img > t
        refined, info = refine_local_means(img, start, sigma_px=4.0, max_iterations=20)
        fractions.append(refined.mean())
        assert info["iterations"] >= 1
    starts = [np.mean(img > t) for t in (80.0, 100.0, 120.0)]
    assert np.ptp(starts) > 0.1  # the starts really differ
    assert np.ptp(fractions) < 0.01
    assert abs(np.mean(fractions) - two.mean()) < 0.02


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "nope"}, "method"),
        ({"method": "manual"}, "threshold"),
        ({"method": "manual", "threshold": float("nan")}, "threshold"),
        ({"method": "multiotsu", "classes": 9}, "classes"),
        ({"method": "local", "block_size_px": 10}, "block_size_px"),
        ({"method": "local", "hysteresis_width": 3.0}, "hysteresis"),
        ({"method": "otsu", "hysteresis": (5.0, 1.0)}, "hysteresis"),
        ({"method": "otsu", "refine": "snake"}, "refine"),
        ({"method": "otsu", "scribbles": np.zeros((4, 16, 16))}, "scribbles"),
    ],
)
def test_bad_options_raise_naming_the_parameter(kwargs, match):
    img = np.random.default_rng(0).random((4, 16, 16)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        segment_am(img, **kwargs)


def test_bad_stacks_raise():
    with pytest.raises(ValueError, match="stack"):
        segment_am(np.zeros((16, 16)))
    with pytest.raises(ValueError, match="stack"):
        segment_am(np.full((4, 8, 8), 3.0))
    with pytest.raises(ValueError, match="NaN"):
        segment_am(np.full((4, 8, 8), np.nan))
