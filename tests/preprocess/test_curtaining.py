"""Curtaining removal against the phantom's known stripe field, analytic stripes, and real
faint streaks (nanomesh)."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.phantom import generate_phantom
from microstructure.preprocess import remove_curtaining, remove_curtaining_report, stripe_metrics
from microstructure.preprocess.curtaining import robust_stripe_estimate


def _ratio(img: np.ndarray, out: np.ndarray, curtain: np.ndarray) -> float:
    """Energy of (removed - true stripes) as a fraction of the true stripe energy."""
    return float(np.mean((img - out - curtain) ** 2) / np.mean(curtain**2))


def test_phantom_residual_well_below_wavelet_fft(curtain_phantom):
    ph = curtain_phantom
    img = ph.image.astype(np.float32) / 255.0
    out, info = remove_curtaining_report(img)  # defaults: robust
    assert info["method"] == "robust"
    robust = _ratio(img, out, ph.curtain)
    wav = _ratio(img, remove_curtaining(img, method="wavelet-fft"), ph.curtain)
    # measured: robust 0.38, wavelet-FFT (automatic level) 3.2 at the phantom's default
    # noise (sigma ~0.07 vs stripe rms 0.015)
    assert robust <= 0.40
    assert robust < 0.5 * wav
    assert info["stripe_likeness"] > 4 * info["isotropic_baseline"]


@pytest.mark.parametrize("seed", [3, 5])
def test_phantom_default_residual_other_seeds(seed):
    """The issue's target (<= 40 % of the stripe energy left, default parameters) on seed 3
    (dense curtains, 42 % of the columns); seed 5 (weak curtains, rms 0.010 against noise
    0.072) does not reach it: the old default left 1.13 there, the new one 0.51."""
    ph = generate_phantom((48, 128, 128), voxel_size_nm=60.0, seed=seed, drift_step_px=0.3)
    img = ph.image.astype(np.float32) / 255.0
    res = _ratio(img, remove_curtaining(img), ph.curtain)
    if seed == 3:
        assert res <= 0.40  # measured 0.35
    else:
        assert res < 0.6  # measured 0.51 (one pass with the old settings: 1.13)


def test_edge_aware_baseline_leaks_less_at_a_noisy_edge():
    """A wavy vertical step edge under noise and no stripes: a centred running median is
    pulled across the edge and leaks a false stripe; the one-sided windows do not."""
    rng = np.random.default_rng(0)
    yy = np.arange(96)[:, None]
    xx = np.arange(96)[None, :]
    clean = np.where(xx < 48 + 3 * np.sin(yy / 15.0), 0.1, 0.8)
    img = (clean[None] + rng.normal(0, 0.07, (8, 96, 96))).astype(np.float32)
    kw = {"z_window": 1, "threshold": 0.0, "iterations": 1}
    plain = robust_stripe_estimate(img, edge_gamma=0.0, **kw)
    aware = robust_stripe_estimate(img, edge_gamma=0.5, **kw)
    # measured rms 0.0117 (centred) vs 0.0066 (edge-aware)
    assert np.mean(aware**2) < 0.5 * np.mean(plain**2)


def test_phantom_no_damage_where_there_are_no_stripes(curtain_phantom):
    ph = curtain_phantom
    img = ph.image.astype(np.float32) / 255.0
    removed = img - remove_curtaining(img)
    free = np.abs(ph.curtain) < 1e-3
    assert free.mean() > 0.5
    noise = float(np.std(img - ph.noise_free))
    assert np.sqrt(np.mean(removed[free] ** 2)) < 0.2 * noise


def test_auto_reports_both_methods_and_keeps_the_better(curtain_phantom):
    img = curtain_phantom.image[:16].astype(np.float32) / 255.0
    _, info = remove_curtaining_report(img, method="auto")
    m = info["metrics"]
    assert set(m) == {"robust", "wavelet-fft"}
    best = min(m, key=lambda k: m[k]["damage_score"])
    assert info["method"] == best


def _stripes(nz: int = 6, ny: int = 96, nx: int = 96) -> np.ndarray:
    field = np.zeros((nz, ny, nx), np.float32)
    for x0, w, a in ((10, 2, 0.3), (40, 4, -0.25), (70, 1, 0.4)):
        field[:, :, x0 : x0 + w] = a
    field[:, 60:, 40:44] = 0.0  # a curtain that stops 60 rows down
    return field


def test_analytic_stripes_on_flat_background_are_removed_exactly():
    stripes = _stripes()
    img = 0.5 + stripes
    # 64-row bands (the default 80 covers most of these 96 rows twice: a curtain stopping at
    # row 60 would fill more than half of both bands)
    out = remove_curtaining(img, z_window=1, length_px=64)
    err = img - out - stripes
    # exact above the centre of the first 64-row band; the curtain that stops at row 60 is
    # localised to half a band (linear interpolation between band centres 31.5 and 63.5)
    assert np.abs(err[:, :32]).max() < 1e-5
    assert np.abs(err[:, :, :40]).max() < 1e-5 and np.abs(err[:, :, 44:]).max() < 1e-5
    assert np.mean(err**2) < 0.05 * np.mean(stripes**2)
    # the wavelet-FFT anchor handles full-height stripes, not the one that stops part-way
    wav = remove_curtaining(img, method="wavelet-fft")
    full = np.r_[0:36, 48:96]
    left_full = float(np.mean((wav - 0.5)[:, :, full] ** 2) / np.mean(stripes[:, :, full] ** 2))
    stop = slice(40, 44)
    left_stop = float(np.mean((wav - 0.5)[:, :, stop] ** 2) / np.mean(stripes[:, :, stop] ** 2))
    assert left_full < 0.35  # measured 0.22 (ringing from the stopping stripe spreads)
    err_stop = float(np.mean(err[:, :, stop] ** 2) / np.mean(stripes[:, :, stop] ** 2))
    assert err_stop < 0.5 * left_stop


def test_horizontal_direction_is_the_transpose():
    img = 0.5 + _stripes()
    v = remove_curtaining(img)
    h = remove_curtaining(np.swapaxes(img, 1, 2), direction="horizontal")
    assert np.allclose(np.swapaxes(h, 1, 2), v, atol=1e-6)


def test_nanomesh_real_streaks_removed_component_is_stripe_like(validation_file):
    vol = np.load(validation_file("nanomesh_nanopores3d.npy"))[:24].astype(np.float32)
    # the faint streaks run along x in these (z, y, x) slices: horizontal stripes
    out, info = remove_curtaining_report(vol, direction="horizontal")
    removed = vol - out
    m = stripe_metrics(np.swapaxes(removed, 1, 2))
    assert m["stripe_likeness"] > 4 * m["isotropic_baseline"]  # measured 0.96 vs 0.16
    assert np.mean(removed**2) < 0.02 * np.var(vol)  # faint: a small part of the signal


def test_bad_inputs():
    img = 0.5 + _stripes()
    with pytest.raises(ValueError, match="level"):
        remove_curtaining(img[:, :16, :16], method="wavelet-fft", level=4)
    with pytest.raises(ValueError, match="too small"):
        remove_curtaining(img[:, :6, :6])
    with pytest.raises(ValueError, match="wavelet"):
        remove_curtaining(img, method="wavelet-fft", wavelet="nope")
    bad = img.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        remove_curtaining(bad)
    with pytest.raises(ValueError, match="method"):
        remove_curtaining(img, method="magic")
    with pytest.raises(ValueError, match="iterations"):
        remove_curtaining(img, iterations=0)
    with pytest.raises(ValueError, match="edge_gamma"):
        remove_curtaining(img, edge_gamma=1.5)


def test_constant_slice_and_dtype_handling():
    img = (100 + 200 * _stripes()).astype(np.uint8)
    img[2] = 77  # a blank slice (e.g. beam off)
    out = remove_curtaining(img, z_window=1, keep_dtype=True)
    assert out.dtype == np.uint8
    assert np.all(out[2] == 77)
    assert np.ptp(out[0, :32].astype(int)) <= 1  # stripes gone, flat background left
    f = remove_curtaining(img, z_window=1)
    assert f.dtype == np.float32
    assert np.all(img[0] == (100 + 200 * _stripes())[0].astype(np.uint8))  # input untouched
