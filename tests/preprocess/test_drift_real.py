"""Drift: all of it is removed by default, a kept trend must be explained by the geometry the
user gives, and the residual between aligned neighbours is re-measured on the output; on the
real FEI Helios slices (26-38 px apart in x) when present."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from scipy.signal.windows import tukey

from microstructure.preprocess import align_slices_report
from microstructure.preprocess._align_quality import drift_numbers, face_recession_nm_per_slice

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"
HELIOS_NM = 8.99306


def _rms(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(e**2, axis=1))))


def _shifted_copies(shifts: np.ndarray, n: int = 192, seed: int = 0, noise: float = 0.3):
    """One smooth random image moved by ``shifts`` (exact Fourier shift), plus noise."""
    rng = np.random.default_rng(seed)
    pad = int(np.ceil(np.abs(shifts).max())) + 8
    base = ndimage.gaussian_filter(rng.standard_normal((n + 2 * pad, n + 2 * pad)), 2.0)
    f = np.fft.fft2(base)
    out = np.stack(
        [np.fft.ifft2(ndimage.fourier_shift(f, tuple(s))).real[pad:-pad, pad:-pad] for s in shifts]
    )
    out = out / out.std() + rng.normal(0.0, noise, out.shape)
    return out.astype(np.float32)


def _walk_and_jumps(nz: int = 30, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.8, (nz, 2))
    steps[9] += [6.0, -14.0]  # stage jumps
    steps[21] += [-9.0, 11.0]
    s = np.cumsum(steps, axis=0)
    return s - s[0]


def test_random_walk_with_jumps_is_removed_by_default():
    truth = _walk_and_jumps()
    stack = _shifted_copies(truth)
    aligned, found, info = align_slices_report(stack)
    assert info["keep_trend"] is False
    assert _rms(found - truth) <= 0.5  # measured 0.016
    assert np.allclose(info["trend_px"], 0.0)
    assert info["drift_removed_max_px"] == pytest.approx(np.hypot(*found.T).max())
    assert info["drift_removed_rms_px"] > 5.0
    assert info["residual_max_px"] <= 0.5
    assert info["quality"]["ok"], info["quality"]["flags"]


def test_kept_trend_must_be_explained_by_the_geometry():
    nz = 20
    z = np.arange(nz)
    dy_nm = face_recession_nm_per_slice(30.0, 52.0)  # 30 nm slices, y tilt-corrected
    assert dy_nm == pytest.approx(30.0 / math.tan(math.radians(52.0)))
    px = 10.0
    rng = np.random.default_rng(4)
    jitter = rng.normal(0.0, 0.5, (nz, 2))
    truth = np.c_[dy_nm / px * z, 0.0 * z] + jitter
    truth -= truth[0]
    stack = _shifted_copies(truth, seed=3)
    vs = (30.0, px, px)
    # the face recession the geometry explains is kept: passes
    _, _, ok = align_slices_report(
        stack, keep_trend=True, voxel_size_nm=vs, slice_thickness_nm=30.0, tilt_deg=52.0
    )
    assert ok["drift_kept_nm_per_slice"][0] == pytest.approx(dy_nm, abs=0.5)
    assert ok["quality"]["ok"], ok["quality"]["flags"]
    # a kept trend with no geometry: flagged and failed
    _, _, bare = align_slices_report(stack, keep_trend=True, voxel_size_nm=vs)
    assert not bare["quality"]["ok"]
    assert any("no geometry" in f for f in bare["quality"]["flags"])
    # geometry that explains only a third of the trend: failed
    _, _, small = align_slices_report(
        stack, keep_trend=True, voxel_size_nm=vs, expected_trend_nm_per_slice=(dy_nm / 3, 0.0)
    )
    assert not small["quality"]["checks"]["kept_trend_unexplained_px"]["passed"]
    with pytest.raises(ValueError, match="tilt_deg"):
        align_slices_report(stack, slice_thickness_nm=30.0)


def test_residual_check_fails_on_a_misaligned_output():
    pos = np.zeros((4, 2))
    bad = drift_numbers(
        pos,
        np.zeros((4, 2)),
        np.array([[0.1, 0.0], [0.0, 1.3]]),
        np.array([0, 2]),
        keep_trend=False,
        expected_nm=None,
        expected_source=None,
        pixel_nm=None,
    )
    assert not bad["quality"]["ok"]
    assert bad["quality"]["checks"]["residual_shift_px"]["value"] == pytest.approx(1.3)


def _helios() -> np.ndarray:
    folder = VALIDATION / "helios_slices"
    files = sorted(folder.glob("SEM_Image_-_SliceImage_-_00*.tif"))
    if len(files) != 3:
        pytest.skip("validation data not available")
    import tifffile

    return np.stack([tifffile.imread(f) for f in files]).astype(np.float32) / 255.0


def _window(img: np.ndarray) -> np.ndarray:
    im = img.astype(np.float64) - float(img.mean())
    return im * np.outer(tukey(im.shape[0], 0.3), tukey(im.shape[1], 0.3))


def test_helios_slices_aligned_below_one_pixel():
    from skimage.registration import phase_cross_correlation

    stack = _helios()
    vs = (10.0, HELIOS_NM, HELIOS_NM)
    aligned, found, info = align_slices_report(stack, voxel_size_nm=vs)
    steps = np.diff(found, axis=0)
    # the drift is found: 26-38 px in x between consecutive slices
    assert np.all((np.abs(steps[:, 1]) > 24) & (np.abs(steps[:, 1]) < 40)), steps
    assert info["drift_removed_max_px"] > 60
    # re-measured on the output by phase correlation (independently of the aligner)
    for k in range(2):
        shift, _, _ = phase_cross_correlation(
            _window(aligned[k]), _window(aligned[k + 1]), upsample_factor=20
        )
        assert np.hypot(*shift) < 1.0  # measured 0.59, 0.58
    assert info["residual_max_px"] <= 0.5
    assert info["quality"]["ok"], info["quality"]["flags"]
    # the old default kept 288 nm/slice as a "trend" without a word: now it is flagged
    # (on a 1024 x 1024 crop, one refinement pass: the same drift, a quarter of the time)
    _, _, kept = align_slices_report(
        stack[:, :1024, :1024], keep_trend=True, voxel_size_nm=vs, refine=1
    )
    assert abs(kept["drift_kept_nm_per_slice"][1]) > 250
    assert not kept["quality"]["ok"]
    assert kept["quality"]["checks"]["kept_trend_unexplained_px"]["value"] > 60
