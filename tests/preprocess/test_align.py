"""Slice alignment against known shifts: phantom drift (judged against the undrifted stack)
and exactly shifted copies of one image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from microstructure.preprocess import align_slices, align_slices_report, apply_shifts
from microstructure.preprocess.align import solve_positions


def _rms(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(e**2, axis=1))))


def test_phantom_random_walk_drift_recovered_below_half_pixel(drift_pair):
    """Registered on a given region (with refinement passes), the drifted stack and the
    undrifted one see the same piece of structure: their difference is the drift."""
    from microstructure.preprocess._registration import common_region

    drifted, still = drift_pair
    truth = drifted.shifts_px
    assert np.ptp(truth, axis=0).max() >= 20.0  # >= 20 px of drift over 100 slices
    y0, ly, x0, lx = common_region(truth, drifted.image.shape[1:])
    roi = (y0, y0 + ly + 1, x0, x0 + lx + 1)
    _, s1, _ = align_slices_report(drifted.image, keep_trend=False, roi=roi)
    # the structure's own apparent slant: the aligner's answer on the undrifted stack over
    # the same piece of structure
    _, s0, _ = align_slices_report(still.image, keep_trend=False, roi=roi)
    assert _rms(s0) > 1.0  # the slant is real and would dominate a naive comparison
    err = s1 - s0 - truth
    assert _rms(err) < 0.5
    assert np.abs(err).max() < 1.5


def test_whole_field_registration_is_one_pass_and_closer_to_the_drift(drift_pair):
    """Without a region the slices are registered on the whole field in one pass: a
    refinement on the region common to all pre-shifted slices (smaller) shows more of the
    structure's apparent slant (measured on this stack: 3.1 against 5.0 px RMS)."""
    from microstructure.preprocess._registration import common_region

    drifted, _ = drift_pair
    truth = np.asarray(drifted.shifts_px)
    _, whole, info = align_slices_report(drifted.image, keep_trend=False, refine=3)
    assert info["passes"] == 1
    assert info["registration_roi"] == [0.0, 128.0, 0.0, 128.0]
    y0, ly, x0, lx = common_region(whole, drifted.image.shape[1:])
    roi = (y0, y0 + ly + 1, x0, x0 + lx + 1)
    _, common, _ = align_slices_report(drifted.image, keep_trend=False, roi=roi, refine=3)

    def off(s: np.ndarray) -> float:
        return _rms(s - truth - (s - truth).mean(axis=0))

    assert off(whole) < 0.75 * off(common)


def _shifted_copies(shifts: np.ndarray, seed: int = 0, noise: float = 0.0) -> np.ndarray:
    """One smooth random image moved by ``shifts`` (exact Fourier shift), plus noise."""
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.standard_normal((160, 160)), 2.0)
    f = np.fft.fft2(base)
    out = np.stack(
        [np.fft.ifft2(ndimage.fourier_shift(f, tuple(s))).real[16:-16, 16:-16] for s in shifts]
    )
    out = out / out.std()
    if noise:
        out = out + rng.normal(0.0, noise, out.shape)
    return out.astype(np.float32)


def test_keep_trend_keeps_linear_tilt_and_removes_jitter():
    rng = np.random.default_rng(3)
    nz = 40
    z = np.arange(nz)
    tilt = np.c_[0.30 * z, -0.15 * z]
    jitter = rng.normal(0.0, 0.6, (nz, 2))
    jitter -= jitter[0]
    jitter -= np.column_stack([np.polyval(np.polyfit(z, jitter[:, k], 1), z) for k in range(2)])
    shifts = tilt + jitter
    shifts -= shifts[0]
    stack = _shifted_copies(shifts, noise=0.3)
    aligned, found, info = align_slices_report(stack, keep_trend=True, voxel_size_nm=(20, 10, 10))
    assert _rms(found - shifts) < 0.1
    slope = np.array(info["trend_slope_px_per_slice"])
    assert np.allclose(slope, [0.30, -0.15], atol=0.01)
    assert np.allclose(info["trend_slope_nm_per_slice"], slope * 10.0)
    applied = np.array(info["applied_shifts_px"])
    # what was undone is the jitter only; the tilt stays in the output
    assert _rms(applied - (found - np.array(info["trend_px"]))) < 1e-9
    assert _rms(applied - jitter) < 0.1
    full, found_full = align_slices(stack, keep_trend=False)
    assert np.allclose(found_full, found, atol=1e-6)
    # with the full drift removed, the output slices are copies of each other
    mid = full[:, 10:-10, 10:-10]
    assert np.std(mid - mid.mean(axis=0)) < 0.35 * np.std(mid)


def test_multi_reference_beats_chaining_on_noisy_copies():
    nz = 60
    shifts = np.cumsum(np.random.default_rng(5).normal(0, 1.0, (nz, 2)), axis=0)
    shifts -= shifts[0]
    stack = _shifted_copies(shifts, seed=1, noise=1.5)
    _, chained = align_slices(stack, keep_trend=False, neighbors=1, refine=0)
    _, multi = align_slices(stack, keep_trend=False, neighbors=5)
    assert _rms(multi - shifts) < 0.6 * _rms(chained - shifts)


def test_solve_positions_rejects_outlier_pair():
    p = np.array([[0, 0], [1.0, -2.0], [2.5, -1.0], [3.0, 0.5]])
    pairs = [(i, j) for i in range(4) for j in range(i)]
    meas = np.array([p[i] - p[j] for i, j in pairs])
    meas[2] += [8.0, -6.0]  # one gross mismatch
    pos, info = solve_positions(4, np.array(pairs), meas)
    assert np.allclose(pos, p, atol=1e-6)
    assert info["rejected_pairs"] == 1


def test_apply_shifts_sign_and_crop():
    img = np.zeros((3, 20, 20), np.float32)
    img[:, 8, 9] = 1.0
    out, crop = apply_shifts(img, np.array([[0, 0], [2, -1], [1, 3]]), order=1)
    # content moves by +shift, the crop keeps rows/cols valid in every slice
    assert crop["y"] == [2, 20] and crop["x"] == [3, 19]
    assert out[1, 10 - 2, 8 - 3] == 1.0
    assert out[2, 9 - 2, 12 - 3] == 1.0


def test_bad_inputs_give_clear_errors():
    stack = _shifted_copies(np.zeros((6, 2)))
    with pytest.raises(ValueError, match="mask"):
        align_slices(stack, mask=np.ones((10, 10), bool))
    bad = stack.copy()
    bad[2, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        align_slices(bad)
    with pytest.raises(ValueError, match="too small"):
        align_slices(np.zeros((4, 6, 6)))
    with pytest.raises(ValueError, match="roi"):
        align_slices(stack, roi=(0, 8, 0, 8))


def test_constant_slice_is_interpolated_and_reported():
    nz = 12
    shifts = np.c_[np.linspace(0, 3.3, nz), np.linspace(0, -2.2, nz)]
    stack = _shifted_copies(shifts, noise=0.05)
    stack[5] = 0.7
    _, found, info = align_slices_report(stack, keep_trend=False)
    assert info["featureless_slices"] == [5]
    assert np.allclose(found[5], (found[4] + found[6]) / 2, atol=0.05)
    keep = np.arange(nz) != 5
    assert _rms(found[keep] - shifts[keep]) < 0.1


def test_tile_median_shift_recovers_a_subpixel_shift() -> None:
    from microstructure.preprocess._registration import tile_median_shift

    rng = np.random.default_rng(5)
    base = ndimage.gaussian_filter(rng.standard_normal((200, 200)), 2.0)
    f = np.fft.fft2(base)
    true = np.array([3.3, -5.7])
    moved = np.fft.ifft2(ndimage.fourier_shift(f, tuple(true))).real
    a, b = base[20:-20, 20:-20], moved[20:-20, 20:-20]
    got = tile_median_shift(a, b, np.array([3.0, -6.0]), 40)
    assert got is not None and np.abs(got - true).max() < 0.08
    # too small for six tiles: None (the caller keeps its whole-field shift)
    assert tile_median_shift(a[:50, :50], b[:50, :50], np.zeros(2), 40) is None


def test_tile_median_ignores_a_region_that_moves_on_its_own() -> None:
    """A bright patch (a tenth of the field) moves 0.4 px per slice on top of the drift (a
    slanted particle's cross-section): one correlation per pair follows it in part, the
    median of the tiles, most of which do not see it, much less."""
    rng = np.random.default_rng(7)
    nz, n = 24, 160
    big = ndimage.gaussian_filter(rng.standard_normal((n + 64, n + 64)), 2.0)
    blob = ndimage.gaussian_filter(rng.standard_normal((n + 64, n + 64)), 2.0) * 2.0
    truth = np.cumsum(rng.normal(0.0, 0.7, (nz, 2)), axis=0)
    truth -= truth[0]
    fb, fo = np.fft.fft2(big), np.fft.fft2(blob)
    region = np.zeros((n, n), bool)
    region[40:90, 60:110] = True
    slices = []
    for z in range(nz):
        s = truth[z]
        bg = np.fft.ifft2(ndimage.fourier_shift(fb, tuple(s))).real[32:-32, 32:-32]
        own = s + np.array([0.0, 0.4 * z])
        fg = np.fft.ifft2(ndimage.fourier_shift(fo, tuple(own))).real[32:-32, 32:-32]
        slices.append(np.where(region, fg, bg))
    stack = np.stack(slices).astype(np.float32)

    def off(tile_px: int) -> float:
        _, found, _ = align_slices_report(stack, tile_px=tile_px)
        e = found - truth
        return _rms(e - e.mean(axis=0))

    whole, tiles = off(0), off(40)
    assert whole > 1.0
    assert tiles < 0.35 * whole


def test_tile_px_is_validated() -> None:
    stack = np.zeros((3, 64, 64), np.float32)
    for bad in (8, -1, 2.5, True, "40"):
        with pytest.raises(ValueError, match="tile_px"):
            align_slices_report(stack, tile_px=bad)
