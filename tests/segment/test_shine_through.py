"""Shine-through (pore backs): detection, removal by the default, quality checks that fail.

Ground truth: solid spheres in a pore space rendered slice by slice, a pore pixel showing the
solid first met behind it at depth d with weight exp(-d / lambda)
(:func:`segment_helpers.shine_through_spheres`)."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from segment_helpers import dice, shine_through_spheres

from microstructure.pipeline import parse_recipe, run_pipeline
from microstructure.segment import segment_am, segment_am_report, segmentation
from microstructure.segment.shine import SHINE_DETECTION_LIMIT, grey_stats


@pytest.mark.parametrize("lam", [2.0, 3.0, 4.0])
def test_default_removes_pore_backs_where_the_global_threshold_fails(lam) -> None:
    """Measured (seed 0, 48 x 96 x 96, noise 0.03): AM fraction error / Dice of the default
    vs the global threshold alone: lambda 2: -0.003 / 0.990 vs +0.026 / 0.972;
    lambda 3: +0.003 / 0.989 vs +0.042 / 0.955; lambda 4: +0.0098 / 0.984 vs +0.058 / 0.940."""
    truth, img = shine_through_spheres(attenuation_slices=lam)
    am, info = segment_am_report(img, method="auto")
    # the global threshold alone: no pore-back removal and no local-means refinement
    glob, _ = segment_am_report(img, method="auto", pore_backs="off", refine="none")
    shine = info["shine_through"]
    assert shine["detected"] and shine["removed"]
    assert shine["excess"] > SHINE_DETECTION_LIMIT
    err, err_glob = am.mean() - truth.mean(), glob.mean() - truth.mean()
    assert abs(err) <= 0.01
    assert dice(am, truth) >= 0.95
    # the global threshold alone is clearly worse
    assert err_glob > 0.02 and err_glob > 2.5 * abs(err)
    assert dice(glob, truth) < dice(am, truth) - 0.015
    assert info["quality"]["ok"], info["quality"]["flags"]
    assert any("shine-through detected" in f for f in info["quality"]["flags"])


@pytest.mark.parametrize("z_blur", [0.0, 1.0])
def test_without_shine_through_the_default_is_todays_result(z_blur) -> None:
    truth, img = shine_through_spheres(strength=0.0, z_blur=z_blur)
    am, info = segment_am_report(img)
    off, off_info = segment_am_report(img, pore_backs="off")
    assert not info["shine_through"]["detected"] and not info["shine_through"]["removed"]
    assert abs(info["shine_through"]["excess"]) < SHINE_DETECTION_LIMIT / 2
    np.testing.assert_array_equal(am, off)
    assert info["quality"]["ok"] and info["quality"]["flags"] == []
    assert abs(am.mean() - truth.mean()) < 0.005
    assert off_info["shine_through"]["excess"] == info["shine_through"]["excess"]


def test_shine_through_left_in_the_mask_fails_the_quality_check() -> None:
    _, img = shine_through_spheres()
    _, info = segment_am_report(img, pore_backs="off")
    q = info["quality"]
    assert not q["ok"]
    assert not q["checks"]["shine_through_left"]["passed"]
    assert q["checks"]["shine_through_left"]["value"] > SHINE_DETECTION_LIMIT
    assert any(f.startswith("shine_through_left") for f in q["flags"])


def test_forcing_pore_back_removal_without_shine_through_fails_its_check() -> None:
    truth, img = shine_through_spheres(strength=0.0)
    am, info = segment_am_report(img, pore_backs="on")
    q = info["quality"]
    share = q["checks"]["pore_back_symmetric_share"]
    assert not share["passed"] and share["value"] > 0.9  # rims, not pore backs, were removed
    assert not q["ok"]
    assert am.mean() < truth.mean() - 0.01  # real material lost
    assert any("although not detected" in f for f in q["flags"])


def test_a_stack_against_the_milling_direction_is_reported_not_corrected() -> None:
    _, img = shine_through_spheres()
    rev = np.ascontiguousarray(img[::-1])
    am, info = segment_am_report(rev)
    shine = info["shine_through"]
    assert shine["reversed_direction_suspected"] and not shine["removed"]
    assert any("against the milling direction" in f for f in info["quality"]["flags"])
    np.testing.assert_array_equal(am, segment_am(rev, pore_backs="off"))


def test_a_brightness_trend_along_z_is_not_taken_for_shine_through() -> None:
    _, img = shine_through_spheres(strength=0.0)
    """A steady brightening (0.5 over 48 slices, 0.7 x the contrast) and slice-to-slice
    flicker (0.03 rms): the median step between slices is removed before looking for rises."""
    rng = np.random.default_rng(3)
    drift = np.linspace(0.0, 0.5, img.shape[0]) + rng.normal(0, 0.03, img.shape[0])
    trend = img + drift.astype(np.float32)[:, None, None]
    am, info = segment_am_report(trend)
    shine = info["shine_through"]
    assert not shine["detected"] and not shine["removed"], shine
    assert shine["slice_brightness_drift"] == pytest.approx(drift[-1] - drift[0], abs=0.05)
    np.testing.assert_array_equal(am, segment_am(trend, pore_backs="off"))
    # shine-through under the same drift is still found and removed
    truth, shiny = shine_through_spheres()
    am, info = segment_am_report(shiny + drift.astype(np.float32)[:, None, None])
    assert info["shine_through"]["removed"]
    assert abs(am.mean() - truth.mean()) <= 0.01


def test_threshold_checks_fail_on_a_unimodal_stack() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(0.5, 0.1, (8, 48, 48)).astype(np.float32)
    _, info = segment_am_report(img, method="otsu", min_speck_voxels=0, max_hole_voxels=0)
    checks = info["quality"]["checks"]
    assert not checks["threshold_separability"]["passed"]
    assert checks["threshold_separability"]["value"] == pytest.approx(2 / np.pi, abs=0.03)
    assert not checks["near_threshold_fraction"]["passed"]
    assert not info["quality"]["ok"]


def test_grey_stats_of_two_levels() -> None:
    v = np.r_[np.zeros(600), np.ones(400)]
    s = grey_stats(v, 0.5)
    assert s["class_medians"] == [0.0, 1.0] and s["contrast"] == 1.0
    assert s["separability"] == pytest.approx(1.0)
    assert s["near_threshold_fraction"] == 0.0


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"pore_backs": "yes"}, "pore_backs: expected one of"),
        ({"pore_back_slices": 0}, "pore_back_slices"),
        ({"pore_back_rise": 0.0}, "pore_back_rise"),
        ({"method": "local", "pore_backs": "on"}, "needs a global threshold"),
    ],
)
def test_bad_pore_back_options_are_one_line_errors(options, needle) -> None:
    _, img = shine_through_spheres()
    with pytest.raises(ValueError, match=needle):
        segment_am(img, **options)


def test_local_threshold_notes_that_shine_through_was_not_checked() -> None:
    _, img = shine_through_spheres()
    _, info = segment_am_report(img[:8], method="local")
    assert "not checked" in info["shine_through"]["note"]
    assert any("not checked" in f for f in info["quality"]["flags"])


@pytest.mark.parametrize("options", [{}, {"hysteresis_width": 0.05, "method": "otsu"}])
def test_chunked_pore_back_removal_equals_in_memory(tmp_path, options) -> None:
    """Slabs of 3 slices (smaller than the 5-slice z halo) and a resume folder."""
    _, img = shine_through_spheres()
    ref = segmentation(img, **options)
    assert ref.info["shine_through"]["removed"]
    for slices, resume in ((3, None), (7, tmp_path / "work")):
        with dask.config.set(scheduler="synchronous"):
            seg = segmentation(
                da.from_array(img, chunks=(slices, -1, -1)), resume_dir=resume, **options
            )
            am, closed = dask.compute(seg.am, seg.closed)
        np.testing.assert_array_equal(am, ref.am)
        np.testing.assert_array_equal(closed, ref.closed)
        assert seg.info == ref.info
        assert seg.am_voxels == ref.am_voxels
    # resumed: the counts come from the work folder
    assert (tmp_path / "work").exists()
    with dask.config.set(scheduler="synchronous"):
        again = segmentation(
            da.from_array(img, chunks=(7, -1, -1)), resume_dir=tmp_path / "work", **options
        )
    assert again.info == ref.info


@pytest.mark.parametrize("chunks", [None, 8])
def test_stage_reports_shine_through_and_quality(tmp_path, chunks) -> None:
    """The default recipe stage, in memory and chunked (same numbers)."""
    from microstructure.io import write_volume
    from microstructure.volume import Volume

    truth, img = shine_through_spheres()
    src = tmp_path / "stack.tif"
    write_volume(src, Volume(np.asarray(img), (30.0, 30.0, 30.0)))
    stage = {"name": "segment"} if chunks is None else {"name": "segment", "chunks": chunks}
    recipe = parse_recipe({"recipe": {"name": "s"}, "stage": [stage]})
    with dask.config.set(scheduler="synchronous"):
        report = run_pipeline(recipe, src, tmp_path / "out", progress=False)
    nums = report["numbers"]["segment"]
    ref, info = segment_am_report(img, method="auto")  # the stage's default method
    info.pop("quality")
    assert nums["segmentation"] == info
    assert nums["am_fraction"] == pytest.approx(ref.mean())
    assert nums["segmentation"]["shine_through"]["removed"]
    assert "quality" not in nums["segmentation"]
    assert nums["quality"]["ok"] and "shine_through_left" in nums["quality"]["checks"]
    assert abs(nums["am_fraction"] - truth.mean()) <= 0.01
