"""The ``fade`` curtaining model (per-column start row and fade, structure masked, noise
measured): known curtains over a flat field, the realistic phantom (issue 19), the noise
levels it measures, and an honest report where it falls short of the target."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.phantom import generate_phantom
from microstructure.preprocess import remove_curtaining, remove_curtaining_report
from microstructure.preprocess._curtain_fade import (
    fade_noise_levels,
    fade_noise_pairs,
    fade_stripe_estimate,
)
from microstructure.preprocess._curtain_synth import synthetic_curtains
from microstructure.preprocess._curtaining_chunked import curtaining_z_halo


def _residual(removed: np.ndarray, curtain: np.ndarray) -> float:
    return float(np.mean((removed - curtain) ** 2) / np.mean(curtain.astype(np.float64) ** 2))


def test_noise_pairs_are_neighbours_and_inside_the_stack():
    idx = fade_noise_pairs(64).reshape(-1, 2)
    assert len(idx) == 8
    assert np.all(idx[:, 1] == idx[:, 0] + 1) and idx.min() == 0 and idx.max() == 63
    assert fade_noise_pairs(1).size == 0


def test_noise_levels_measure_the_noise_and_ignore_curtains():
    rng = np.random.default_rng(0)
    sigma = 0.05
    noise = rng.normal(0.0, sigma, (16, 96, 96)).astype(np.float32)
    sig_s, var_row = fade_noise_levels(noise, 4.0, 0.5)
    # white noise: the row-sample variance is sigma^2 (x the 1.3 safety factor, less what
    # the running-median baseline takes); the smoothed residual is quieter than sigma
    assert 0.9 * sigma**2 < var_row < 1.5 * sigma**2
    assert 0.1 * sigma < sig_s < 0.6 * sigma
    # curtains constant over the pair cancel in the differences: the same numbers
    curtain = np.zeros_like(noise)
    curtain[:, :, ::7] = 0.2
    with_c = fade_noise_levels(noise + curtain, 4.0, 0.5)
    assert with_c[1] == pytest.approx(var_row, rel=0.1)
    assert with_c[0] == pytest.approx(sig_s, rel=0.1)


def test_known_fading_curtains_on_a_flat_field():
    """Dense 1-3 px curtains fading out over random lengths on a flat field with noise: the
    estimate recovers them (true residual measured 0.06, the robust method 0.12) and is
    (almost) zero without curtains."""
    flat = np.full((24, 128, 128), 0.5, np.float32)
    s = synthetic_curtains(flat.shape, angle_deg=0.0, seed=2, clean=flat, noise=0.03)
    out = remove_curtaining(s.image, method="fade", angle_deg=0.0)
    assert _residual(s.image - out, s.curtain) < 0.15
    rng = np.random.default_rng(1)
    plain = flat + rng.normal(0, 0.03, flat.shape).astype(np.float32)
    est = fade_stripe_estimate(
        plain,
        noise=fade_noise_levels(plain[fade_noise_pairs(24)], 4.0, 0.5),
        stripe_width_px=4.0,
        z_window=9,
        threshold=3.0,
        iterations=2,
        edge_gamma=0.5,
    )
    # pure noise: (almost) nothing is taken for curtain
    assert np.mean(est.astype(np.float64) ** 2) < 0.02 * 0.03**2


def test_realistic_phantom_residual_and_honest_report():
    """Seed 3 of the realistic phantom (64 x 160 x 160): the robust method leaves 0.83 of
    the curtain energy, the fade model (defaults) 0.53 - better, but above the issue's
    0.35, and its report says so (stripe energy left 0.55 > 0.35)."""
    ph = generate_phantom((64, 160, 160), seed=3, preset="realistic")
    img = ph.image.astype(np.float32) / 255.0
    curtain = np.asarray(ph.curtain, dtype=np.float32)
    out, info = remove_curtaining_report(img, method="fade")
    res = _residual(img - out, curtain)
    robust = _residual(img - remove_curtaining(img), curtain)
    assert res < 0.6  # measured 0.529
    assert res < robust - 0.2  # robust measured 0.826
    assert info["method"] == "fade" and info["curtains_detected"]
    assert info["energy_changed_outside_wedge"] < 0.25
    check = info["quality"]["checks"]["stripe_energy_left"]
    assert not check["passed"] and not info["quality"]["ok"]  # measured 0.55 left


def test_fade_halo_covers_the_long_window():
    assert curtaining_z_halo(21, 3, "fade") == 3 * (63 // 2) + 10
    assert curtaining_z_halo(21, 3, "robust") == 3 * 10
    assert curtaining_z_halo(21, 3, "wavelet-fft") == 0


def test_fade_stage_chunked_equals_in_memory(tmp_path):
    """The ``curtaining`` stage with ``method = "fade"``: slabs of 5 slices with the fade
    halo (2 passes x (15 // 2) + 5 // 2 = 16 slices) give the in-memory volume."""
    from microstructure.io import read_volume, write_volume
    from microstructure.pipeline import parse_recipe
    from microstructure.pipeline.runner import run_pipeline
    from microstructure.volume import Volume

    stack = synthetic_curtains((21, 48, 48), angle_deg=2.0, seed=4).image
    path = tmp_path / "stack.tif"
    write_volume(path, Volume(stack, (60.0, 60.0, 60.0), {"tilt_corrected": True}))

    def recipe(extra: dict) -> object:
        curt = {"name": "curtaining", "method": "fade", "z_window": 5, "iterations": 2}
        return parse_recipe({"recipe": {"name": "fade"}, "stage": [{**curt, **extra}]})

    ref = run_pipeline(recipe({}), path, tmp_path / "mem", progress=False)
    got = run_pipeline(recipe({"chunks": 5}), path, tmp_path / "chk", progress=False)
    curt = got["numbers"]["curtaining"]
    assert curt["method"] == "fade" and curt["chunked"]["z_halo"] == 16
    assert curt["fade_noise"] == ref["numbers"]["curtaining"]["fade_noise"]
    a = read_volume(tmp_path / "chk" / "01-curtaining" / "volume.tif").data
    b = read_volume(tmp_path / "mem" / "01-curtaining" / "volume.tif").data
    np.testing.assert_array_equal(np.asarray(a), b)
    assert float(np.mean((stack - b) ** 2)) > 0  # it removed something
