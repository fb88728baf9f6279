"""The noise estimate holds for band-limited, correlated noise (the finest-scale wavelet
estimate does not), NLM set from it removes the noise, and the quality checks fail when NLM
does nothing or over-flattens; on the real nanopore EM volume when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.restoration import estimate_sigma

from microstructure.preprocess import denoise_nl_means_report
from microstructure.preprocess.denoise import estimate_noise

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"

SIGMA = 0.08


def _band_limited(nz: int = 8, n: int = 128, filt_px: float = 1.0, seed: int = 0):
    """A two-phase structure changing slowly in z plus Gaussian-filtered white noise of std
    exactly ``SIGMA`` (independent between slices)."""
    rng = np.random.default_rng(seed)
    f = ndimage.gaussian_filter(rng.standard_normal((nz * 4, n, n)), (8, 4, 4))
    clean = ((f[::4] > 0) * 0.6 + 0.2).astype(np.float32)
    noise = ndimage.gaussian_filter(rng.standard_normal(clean.shape), (0, filt_px, filt_px))
    noise *= SIGMA / noise.std()
    return clean, (clean + noise).astype(np.float32)


def test_estimate_within_20_percent_on_band_limited_noise_where_finest_scale_fails():
    for filt in (1.0, 1.5):
        _, img = _band_limited(filt_px=filt)
        est = estimate_noise(img)
        assert est["method"] == "z-difference"
        assert abs(est["sigma"] - SIGMA) < 0.2 * SIGMA  # measured 0.0802, 0.0791
        assert est["pair_spread"] < 0.2
        # the noise lives at a few px: its correlation length is reported
        assert 1.2 < est["correlation_length_px"] < 4.0  # measured 1.77, 2.70
        # the old estimate (finest wavelet scale) misses most of it
        old = float(np.median([estimate_sigma(s) for s in img]))
        assert old < 0.25 * SIGMA  # measured 0.0154, 0.0046
        assert est["sigma_finest_scale"] == pytest.approx(old, rel=0.05)


def test_nlm_from_the_estimate_removes_the_noise_and_keeps_the_structure():
    clean, img = _band_limited()
    out, info = denoise_nl_means_report(img)
    assert info["sigma_estimated"] and abs(info["sigma"] - SIGMA) < 0.2 * SIGMA
    assert info["patch_size"] >= 2 * info["correlation_length_px"]
    assert info["noise_reduction_factor"] > 2.0  # measured 2.2
    # against the clean truth: the error falls (edges included)
    assert np.std(out - clean) < np.std(img - clean) / 1.4  # measured 1.64
    assert info["edge_contrast_kept"] > 0.95
    assert info["z_streak_ratio"] < 1.0
    assert info["quality"]["ok"], info["quality"]["flags"]


def test_quality_fails_when_nlm_does_nothing_or_over_flattens():
    _, img = _band_limited(nz=6)
    # the old estimate's sigma: NLM does (almost) nothing while the noise is visible
    tiny = float(np.median([estimate_sigma(s) for s in img]))
    _, info = denoise_nl_means_report(img, sigma=tiny)
    assert info["noise_reduction_factor"] < 1.5
    q = info["quality"]
    assert not q["ok"] and not q["checks"]["noise_reduction_factor"]["passed"]
    # far too strong a filter: the noise is gone, and so is structure
    _, info = denoise_nl_means_report(img, h_factor=8.0)
    q = info["quality"]
    assert not q["ok"]
    failed = {k for k, c in q["checks"].items() if not c["passed"]}
    assert failed & {"edge_contrast_kept", "removed_structure_correlation"}


def test_chunked_report_equals_in_memory():
    da = pytest.importorskip("dask.array")
    _, img = _band_limited(nz=6, n=64)
    ref, a = denoise_nl_means_report(img)
    got, b = denoise_nl_means_report(da.from_array(img, chunks=(2, 64, 64)))
    np.testing.assert_array_equal(got.compute(), ref)
    for key in ("sigma", "sigma_after", "noise_reduction_factor", "edge_contrast_kept"):
        assert a[key] == b[key]
    assert a["quality"] == b["quality"]
    assert a["removed_std"] == pytest.approx(b["removed_std"], rel=1e-5)


def test_nanomesh_volume_noise_is_found_and_reduced():
    path = VALIDATION / "nanomesh_nanopores3d.npy"
    if not path.exists():
        pytest.skip("validation data not available")
    vol = np.load(path)[:24].astype(np.float32) / 255.0
    est = estimate_noise(vol)
    rng = est["value_range"]
    # the finest-scale estimate gave 0.0036 of the range: NLM then did nothing
    assert est["sigma_finest_scale"] < 0.006 * rng
    assert est["sigma"] > 3.0 * 0.0036 * rng  # measured 0.017 of the range
    assert est["correlation_length_px"] > 1.5  # band-limited: measured 2.5 px
    _, info = denoise_nl_means_report(vol)
    # its structure changes from slice to slice (slice-difference std at lag 2 / lag 1 =
    # 1.54): averaging neighbouring slices cannot help, and auto does not choose it
    assert info["mode"] == "slices" and info["noise_lag_ratio"] > 1.4
    assert info["noise_reduction_factor"] > 1.1  # measured 1.19: reduced, but weakly ...
    assert info["edge_contrast_kept"] > 0.95
    # ... and the report says so instead of claiming success
    nrf = info["quality"]["checks"]["noise_reduction_factor"]
    assert nrf["passed"] == (info["noise_reduction_factor"] >= 1.5)
