"""Curtaining removal against the phantom's known stripe field, analytic stripes, synthetic
dense tilted fading curtains, boundaries, and the honest quality numbers (real data:
test_curtaining_real.py)."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.phantom import generate_phantom
from microstructure.preprocess import remove_curtaining, remove_curtaining_report, stripe_metrics
from microstructure.preprocess._curtain_angle import estimate_curtain_angle, shear_rows
from microstructure.preprocess._curtain_metrics import curtain_quality, wedge_numbers
from microstructure.preprocess._curtain_synth import synthetic_curtains
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
    # measured: robust 0.37 (0.38 before the mirrored row ends and the shifted z windows),
    # wavelet-FFT (automatic level) 3.2 at the phantom's default noise (sigma ~0.07 vs
    # stripe rms 0.015)
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
        assert res <= 0.35  # measured 0.29 (0.35 before the dense-curtain noise floor)
    else:
        assert res < 0.5  # measured 0.45 (0.51 before; one pass, old settings: 1.13)


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
    with pytest.raises(ValueError, match="angle_deg"):
        remove_curtaining(img, angle_deg=20.0)


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


@pytest.fixture(scope="module")
def tilted():
    """Dense (35 % of the columns), narrow (1-3 px) curtains tilted 2 deg, fading out over
    0.3-1.5 slice heights, over two phases with sharp edges and noise 0.03."""
    return synthetic_curtains((24, 160, 160), angle_deg=2.0, seed=1)


def test_dense_tilted_fading_curtains_are_removed_and_edges_kept(tilted):
    s = tilted
    out, info = remove_curtaining_report(s.image)
    assert abs(info["angle_deg"] - 2.0) < 0.3  # measured 1.98
    assert _ratio(s.image, out, s.curtain) <= 0.35  # measured 0.21 (0.56 before: no tilt)
    # the honest numbers agree and their checks pass
    assert info["stripe_energy_left_fraction"] <= 0.35  # measured 0.24
    assert info["removed_is_stripe_like"]
    q = info["quality"]
    assert q["ok"] and q["checks"]["stripe_energy_left"]["passed"]
    assert q["checks"]["energy_changed_outside_wedge"]["passed"]
    # structure: at the phase edges the edit is the curtain, not the edge
    gy, gx = np.gradient(s.clean, axis=(1, 2))
    edge = np.hypot(gy, gx) > 0.1
    assert edge.mean() > 0.05
    err = (s.image - out - s.curtain)[edge]
    assert np.mean(err**2) <= 0.35 * np.mean(s.curtain**2)  # measured 0.2
    # without the tilt the same curtains are removed much worse
    flat = remove_curtaining(s.image, angle_deg=0.0)
    assert _ratio(s.image, flat, s.curtain) > 1.5 * _ratio(s.image, out, s.curtain)


@pytest.mark.parametrize("angle", [-2.0, 1.0, 3.0])
def test_curtain_angle_is_estimated(angle):
    s = synthetic_curtains((8, 160, 160), angle_deg=angle, seed=2)
    est, prominence = estimate_curtain_angle(s.image)
    assert abs(est - angle) < 0.3, (est, prominence)
    rng = np.random.default_rng(0)
    clean = s.clean + rng.normal(0, 0.03, s.clean.shape)
    assert estimate_curtain_angle(clean)[0] == 0.0  # nothing to tilt


def test_shear_is_exactly_invertible():
    rng = np.random.default_rng(3)
    x = rng.random((3, 50, 41)).astype(np.float32)
    back = shear_rows(shear_rows(x, 2.5), 2.5, inverse=True, nx=41)
    assert np.abs(back - x).max() < 1e-5


def _vertical_pores(nz: int = 32, ny: int = 96, nx: int = 96) -> np.ndarray:
    """No curtains: vertical pores (3 px wide, 30-50 rows long, in 4 slices) at the last and
    first columns and slices and inside, on a flat background with noise."""
    rng = np.random.default_rng(0)
    img = np.full((nz, ny, nx), 0.6, np.float32)
    yy = np.arange(ny)[:, None]
    xx = np.arange(nx)[None, :]
    for z0, x0 in [
        (nz - 3, nx - 3),
        (nz - 4, nx - 9),
        (nz - 2, 40),
        (10, nx - 2),
        (12, 20),
        (0, 2),
    ]:
        length = int(rng.integers(30, 50))
        y0 = int(rng.integers(0, ny - length))
        pore = (np.abs(xx - x0) <= 1.6) & (yy >= y0) & (yy < y0 + length)
        img[z0 : z0 + 4][:, pore] = 0.15
    return img + rng.normal(0, 0.02, img.shape).astype(np.float32)


def test_boundaries_are_not_special_vertical_pores_left_alone():
    """The last slice and the last columns used to take the largest edits (0.43 of the range
    here: the z median repeated the end slice, the row baseline the end pixel)."""
    img = _vertical_pores()
    removed = np.abs(img - remove_curtaining(img))
    rng = float(np.ptp(img))
    for part in (removed[-1], removed[:, :, -8:], removed[0], removed[:, :, :8]):
        assert part.max() < 0.02 * rng  # measured 0.0025 / 0.6
    _, info = remove_curtaining_report(img)
    assert not info["curtains_detected"]
    assert info["quality"]["ok"]


def test_quality_checks_fail_on_bad_results(tilted):
    s = tilted
    sample = s.image[::3]
    nothing = wedge_numbers(sample, sample, 2.0)
    nothing["removed_energy"] = 0.0
    q = curtain_quality(nothing)
    assert not q["ok"] and not q["checks"]["stripe_energy_left"]["passed"]
    assert any("stripe_energy_left" in f for f in q["flags"])
    # "removing" structure (the phase edges, no curtain) fails the outside-wedge and the
    # stripe-like checks
    structure = sample - 0.5 * (s.clean[::3] - s.clean[::3].mean())
    bad = wedge_numbers(sample, structure, 2.0)
    bad["removed_energy"] = 1.0
    q = curtain_quality(bad)
    assert not q["checks"]["energy_changed_outside_wedge"]["passed"]
    assert not q["checks"]["removed_is_stripe_like"]["passed"]
    assert not bad["removed_is_stripe_like"]


def test_removed_is_stripe_like_is_false_for_short_vertical_segments():
    """Short vertical segments (edges of vertical pores, 6-16 rows) are not curtains: the old
    metric (power in a 14 deg wedge >= twice the isotropic share) called them stripe-like."""
    rng = np.random.default_rng(0)
    removed = np.zeros((8, 128, 128), np.float32)
    for z in range(8):
        for _ in range(60):
            y, x, length = rng.integers(0, 110), rng.integers(0, 126), rng.integers(6, 17)
            removed[z, y : y + length, x : x + 2] += rng.choice([-1.0, 1.0]) * 0.05
    base = (0.5 + rng.normal(0, 0.03, removed.shape)).astype(np.float32)
    old = stripe_metrics(removed)
    assert old["stripe_likeness"] >= 2 * old["isotropic_baseline"]  # the old verdict: true
    new = wedge_numbers(base + removed, base, 0.0)
    assert not new["removed_is_stripe_like"]
    assert new["removed_stripe_fraction"] < 0.5
