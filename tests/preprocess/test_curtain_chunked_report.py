"""The curtaining report's stripe-wedge numbers (sample slices averaged with their
neighbours) are the same on the chunked (Dask) path as in memory, for every method and
direction."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.preprocess import remove_curtaining_report
from microstructure.preprocess._curtain_synth import synthetic_curtains

da = pytest.importorskip("dask.array")

KEYS = (
    "method",
    "angle_deg",
    "curtains_detected",
    "stripe_energy_left_fraction",
    "energy_changed_outside_wedge",
    "wedge_energy_overremoved",
    "removed_stripe_fraction",
    "metric_z_window",
)


@pytest.mark.parametrize(
    ("method", "direction"),
    [
        ("robust", "vertical"),
        ("wavelet-fft", "vertical"),
        ("auto", "horizontal"),
        ("fade", "vertical"),
        ("fade", "horizontal"),
    ],
)
def test_chunked_report_equals_in_memory(method, direction):
    stack = synthetic_curtains((20, 96, 96), angle_deg=2.0, seed=3).image
    if direction == "horizontal":
        stack = np.ascontiguousarray(np.swapaxes(stack, 1, 2))
    opts = dict(method=method, direction=direction, z_window=5, iterations=2)
    ref, info = remove_curtaining_report(stack, **opts)
    assert info["curtains_detected"]
    got, cinfo = remove_curtaining_report(da.from_array(stack, chunks=(5, 96, 96)), **opts)
    np.testing.assert_array_equal(np.asarray(got.compute()), ref)
    for key in KEYS:
        assert cinfo[key] == pytest.approx(info[key], rel=1e-9, abs=1e-12), key
    assert cinfo["quality"]["ok"] == info["quality"]["ok"]
    if method == "fade":  # the noise levels are measured once, on the same slice pairs
        assert cinfo["fade_noise"] == info["fade_noise"]
