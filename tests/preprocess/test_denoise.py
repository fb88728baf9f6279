"""Non-local means against the phantom's noise-free rendering and scikit-image itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.preprocess import denoise_nl_means, denoise_nl_means_report
from microstructure.preprocess.denoise import estimate_noise_sigma


def _psnr(a: np.ndarray, ref: np.ndarray) -> float:
    return 10.0 * math.log10(1.0 / float(np.mean((a - ref) ** 2)))


def test_psnr_gain_at_least_6_db_on_phantom(curtain_phantom):
    ph = curtain_phantom
    img = ph.image[:12].astype(np.float32) / 255.0
    ref = ph.noise_free[:12]
    out, info = denoise_nl_means_report(img)
    gain = _psnr(out, ref) - _psnr(img, ref)
    assert gain >= 6.0  # measured 7.8 dB
    true_sigma = float(np.std(img - ref))
    assert info["sigma_estimated"]
    assert abs(info["sigma"] - true_sigma) < 0.15 * true_sigma


def test_slices_mode_is_skimage_per_slice():
    skr = pytest.importorskip("skimage.restoration")
    rng = np.random.default_rng(0)
    img = (rng.random((3, 40, 40)) > 0.5).astype(np.float32) + rng.normal(0, 0.2, (3, 40, 40))
    out = denoise_nl_means(img, sigma=0.2, workers=2)
    for k in range(3):
        ref = skr.denoise_nl_means(
            img[k], patch_size=5, patch_distance=5, h=0.16, sigma=0.2, fast_mode=True
        )
        assert np.allclose(out[k], ref, atol=1e-5)


def test_3d_chunks_match_unchunked():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:24, 0:24]
    clean = np.repeat((((yy // 6) + (xx // 6)) % 2)[None].astype(np.float32), 10, axis=0)
    img = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)
    kw = dict(mode="3d", sigma=0.1, patch_size=3, patch_distance=2)
    whole = denoise_nl_means(img, chunk_slices=64, **kw)
    chunked = denoise_nl_means(img, chunk_slices=3, **kw)
    assert np.allclose(whole, chunked, atol=1e-5)
    assert np.std(whole - clean) < 0.5 * np.std(img - clean)


def test_constant_stack_is_returned_unchanged_with_reason():
    img = np.full((3, 20, 20), 5, np.uint16)
    out, info = denoise_nl_means_report(img)
    assert info["sigma"] == 0.0 and "skipped" in info
    assert out.dtype == np.float32 and np.all(out == 5)
    assert estimate_noise_sigma(img) == 0.0


def test_bad_inputs():
    img = np.zeros((2, 10, 10), np.float32)
    img[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        denoise_nl_means(img)
    with pytest.raises(ValueError, match="mode"):
        denoise_nl_means(np.zeros((2, 10, 10)), mode="4d")
    with pytest.raises(ValueError, match="sigma"):
        denoise_nl_means(np.ones((2, 10, 10)), sigma=-1.0)
    with pytest.raises(ValueError, match="3D"):
        denoise_nl_means(np.zeros((10, 10)))
