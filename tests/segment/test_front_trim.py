"""The lit particle fronts of shine-through (pore backs in front of the particles) trimmed:
:func:`microstructure.segment.front_trim.trim_lit_fronts` and its use by the segmentation."""

from __future__ import annotations

import numpy as np
import pytest
from segment_helpers import dice, preprocessed_phantom

from microstructure.phantom import generate_phantom
from microstructure.segment import segmentation
from microstructure.segment.front_trim import trim_lit_fronts

T, HI = 0.5, 0.8  # threshold and solid median: front level 0.62 at the default 0.4


def _column(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    img = np.asarray(values, np.float32).reshape(-1, 1, 1)
    return img, img > T


def test_dim_fronts_trimmed_up_to_max_slices_backs_and_interior_kept() -> None:
    # pore, two dim pore backs, the cut (at the solid's level), a noisy dip, a dim back end
    img, mask = _column([0.1, 0.55, 0.6, 0.8, 0.58, 0.8, 0.55, 0.1])
    out, info = trim_lit_fronts(img, mask, threshold=T, solid_level=HI)
    assert out.ravel().tolist() == [0, 0, 0, 1, 1, 1, 1, 0]
    assert info["trimmed_voxels"] == 2 and info["per_pass"] == [1, 1]
    assert info["front_level"] == pytest.approx(0.62)
    # three dim slices in front: only two go with the default
    img, mask = _column([0.1, 0.55, 0.55, 0.6, 0.8, 0.8])
    out, _ = trim_lit_fronts(img, mask, threshold=T, solid_level=HI)
    assert out.ravel().tolist() == [0, 0, 0, 1, 1, 1]
    out, _ = trim_lit_fronts(img, mask, threshold=T, solid_level=HI, max_slices=3)
    assert out.ravel().tolist() == [0, 0, 0, 0, 1, 1]
    # a run starting in slice 0 has no slice before it: not a front
    img, mask = _column([0.55, 0.8, 0.8])
    out, info = trim_lit_fronts(img, mask, threshold=T, solid_level=HI)
    assert out.all() and info["trimmed_voxels"] == 0
    # level 0: the front level is the threshold, nothing in the mask is below it
    img, mask = _column([0.1, 0.55, 0.8])
    out, _ = trim_lit_fronts(img, mask, threshold=T, solid_level=HI, level=0.0)
    assert np.array_equal(out, mask)


def test_bad_options_are_one_line_errors() -> None:
    img, mask = _column([0.1, 0.8])
    with pytest.raises(ValueError, match="same 3D shape"):
        trim_lit_fronts(img, mask[:1], threshold=T, solid_level=HI)
    with pytest.raises(ValueError, match="level"):
        trim_lit_fronts(img, mask, threshold=T, solid_level=HI, level=1.5)
    with pytest.raises(ValueError, match="max_slices"):
        trim_lit_fronts(img, mask, threshold=T, solid_level=HI, max_slices=-1)


#: drift, curtains and charging off: the denoised render shares the truth's frame
_PLAIN = {
    "drift_step_px": 0.0,
    "drift_jump_probability": 0.0,
    "dense_curtain_strength": 0.0,
    "charging_strength": 0.0,
}


def _denoised_realistic(seed: int, shape=(48, 128, 128)):
    from microstructure.preprocess.denoise import denoise_nl_means

    ph = generate_phantom(shape, seed=seed, preset="realistic", **_PLAIN)
    labels = ph.labels_sectioned if ph.labels_sectioned is not None else ph.labels
    return denoise_nl_means(ph.image), labels == 1, float(ph.truth["closed_porosity"])


@pytest.mark.parametrize("seed", [2, 3])
def test_realistic_phantom_am_fraction_within_a_percent(seed: int) -> None:
    """Realistic phantom (shine-through with bright pore backs), 48 x 128 x 128, NLM only.
    Measured (eighth session: the phantom's shine-through no longer lights pore pixels next to
    the solid): AM error +0.014 / +0.014 without the trim and the closed-pore steps, +0.0016 /
    -0.0005 with them; Dice 0.9739 -> 0.9748, 0.9742 -> 0.9738; closed pores 0.0025 / 0.0030
    -> 0.0053 / 0.0065 (truth 0.0069 / 0.0072)."""
    img, truth, closed_truth = _denoised_realistic(seed)
    seg = segmentation(img, method="auto")
    plain = segmentation(img, method="auto", pore_backs="off")
    shine = seg.info["shine_through"]
    assert shine["seen_in_front"] and shine["front_trim"]["applied"]
    err, err_plain = seg.am_fraction - truth.mean(), plain.am_fraction - truth.mean()
    assert err_plain > 0.01  # the bias of the pore backs
    assert abs(err) < 0.011, err
    assert dice(np.asarray(seg.am), truth) > dice(np.asarray(plain.am), truth) - 0.001
    # the self-report: handled
    assert seg.info["quality"]["checks"]["shine_through_unhandled"]["passed"]
    assert not plain.info["quality"]["checks"]["shine_through_unhandled"]["passed"]
    # closed pores: more than the plain threshold finds, still below the truth
    closed = seg.closed_pore_stats()["closed_pore_fraction"]
    assert plain.closed_pore_stats()["closed_pore_fraction"] < closed < closed_truth


def test_no_shine_through_nothing_trimmed() -> None:
    """Without shine-through nothing is seen in front of the solid and nothing is trimmed
    (the default phantom with shine-through off, curtains removed and denoised)."""
    _, stack = preprocessed_phantom(seed=1, shine_through=0.0)
    seg = segmentation(stack, method="auto")
    shine = seg.info["shine_through"]
    assert not shine["seen_in_front"] and "front_trim" not in shine
    assert seg.info["quality"]["checks"]["shine_through_unhandled"]["passed"]
    plain = segmentation(stack, method="auto", pore_backs="off")
    np.testing.assert_array_equal(np.asarray(seg.am), np.asarray(plain.am))


def test_chunked_equals_in_memory_or_says_it_did_not_run(monkeypatch) -> None:
    """The chunked path trims on the whole volume (with the closed-pore completion) when it
    fits the memory budget: the same voxels and description as in memory; without the memory,
    recorded as not done (and then the check is not passed as handled)."""
    import dask
    import dask.array as da

    import microstructure.parallel.support as support

    img = generate_phantom((40, 96, 96), seed=1, preset="realistic").image
    ref = segmentation(img, method="auto")
    trim = ref.info["shine_through"]["front_trim"]
    assert trim["applied"] and trim["trimmed_voxels"] > 0
    with dask.config.set(scheduler="synchronous"):
        lazy = segmentation(da.from_array(img, chunks=(7, -1, -1)), method="auto")
        am = np.asarray(lazy.am.compute())
    np.testing.assert_array_equal(am, ref.am)
    assert lazy.info["shine_through"]["front_trim"] == trim
    assert lazy.am_voxels == ref.am_voxels
    monkeypatch.setattr(support, "memory_budget_bytes", lambda: 1000)
    with dask.config.set(scheduler="synchronous"):
        small = segmentation(da.from_array(img, chunks=(7, -1, -1)), method="auto")
    assert "front_trim" not in small.info["shine_through"]
    assert "not trimmed" in small.info["shine_through"]["closed_pore_backs"]["note"]
    assert not small.info["quality"]["checks"]["shine_through_unhandled"]["passed"]
