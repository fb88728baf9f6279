"""Tilt foreshortening correction against the phantom's tilted acquisition; crop and
normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.phantom import generate_phantom
from microstructure.preprocess import correct_tilt, crop_stack, normalize_intensity
from microstructure.preprocess.geometry import correct_tilt_report, tilt_factor


def test_tilt_factor():
    assert tilt_factor(52.0) == pytest.approx(1.0 / math.sin(math.radians(52.0)))
    assert tilt_factor(52.0) == pytest.approx(1.2690, abs=1e-4)
    assert tilt_factor(90.0) == 1.0
    for bad in (0.0, -5.0, 95.0, float("nan")):
        with pytest.raises(ValueError, match="angle_deg"):
            tilt_factor(bad)


def test_correct_tilt_undoes_phantom_foreshortening():
    kw = dict(
        voxel_size_nm=60.0,
        seed=3,
        curtain_strength=0.0,
        noise_sigma=0.0,
        poisson_counts=0.0,
        drift_step_px=0.0,
    )
    ph = generate_phantom((8, 96, 64), tilt=True, **kw)
    assert ph.stripe_free.shape[1] == round(96 * math.sin(math.radians(52.0)))
    out, info = correct_tilt_report(ph.stripe_free, angle_deg=52.0, order=3)
    assert out.shape == ph.clean.shape  # 76 rows back to 96
    assert info["actual_factor"] == pytest.approx(96 / 76)
    err = float(np.sqrt(np.mean((out - ph.clean)[:, 2:-2] ** 2)))
    naive = float(np.sqrt(np.mean((ph.stripe_free[:, :76] - ph.clean[:, :76]) ** 2)))
    assert err < 0.05  # interpolation error of a band-limited image
    assert err < 0.25 * naive


def test_correct_tilt_linear_ramp_exact_and_no_input_change():
    ramp = np.tile(np.arange(50, dtype=np.float32)[None, :, None], (2, 1, 3))
    before = ramp.copy()
    out = correct_tilt(ramp, angle_deg=30.0)  # factor 2
    assert out.shape == (2, 100, 3)
    assert np.allclose(out[0, 1:-1, 0], (np.arange(1, 99) + 0.5) / 2 - 0.5, atol=1e-5)
    assert np.array_equal(ramp, before)


def test_crop_and_normalize():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 65535, (5, 20, 30), dtype=np.uint16)
    c = crop_stack(stack, z=(1, 4), y=(-10, 20), x=None)
    assert c.shape == (3, 10, 30) and np.array_equal(c, stack[1:4, 10:])
    with pytest.raises(ValueError, match="crop y"):
        crop_stack(stack, y=(15, 12))
    n = normalize_intensity(stack)
    assert n.dtype == np.float32 and n.min() == 0.0 and n.max() == 1.0
    lo, hi = np.percentile(stack, [0.5, 99.5])
    mid = stack[2, 5, 5]
    if lo < mid < hi:
        assert n[2, 5, 5] == pytest.approx((mid - lo) / (hi - lo), rel=1e-5)
    with pytest.raises(ValueError, match="constant"):
        normalize_intensity(np.full((2, 8, 8), 3.0))


def test_background_removal_flattens_shading():
    yy, xx = np.mgrid[0:64, 0:64]
    shading = 1.0 + 0.5 * xx / 63.0
    checker = ((yy // 4) + (xx // 4)) % 2 == 1
    stack = np.stack([shading * (1.0 + 0.1 * checker)] * 2).astype(np.float32)

    def shading_over_texture(img: np.ndarray) -> float:
        left, right = np.s_[:, 16:24], np.s_[:, 40:48]
        step = (
            img[8:56, 8:56][checker[8:56, 8:56]].mean()
            - img[8:56, 8:56][~checker[8:56, 8:56]].mean()
        )
        return abs(float(img[right].mean() - img[left].mean())) / float(step)

    kw = dict(low_percentile=0.0, high_percentile=100.0, clip=False)
    raw = shading_over_texture(normalize_intensity(stack, **kw)[0])
    flat = shading_over_texture(normalize_intensity(stack, background_sigma_px=16.0, **kw)[0])
    assert raw > 1.5
    assert flat < 0.25 * raw
