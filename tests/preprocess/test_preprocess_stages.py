"""The four preprocessing stages chained by the runner, and the shipped recipe."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from microstructure.io import read_volume
from microstructure.phantom import generate_phantom, save_phantom
from microstructure.pipeline import load_recipe, parse_recipe, run_pipeline

REPO = Path(__file__).resolve().parents[2]


def test_shipped_recipe_parses_with_the_four_stages_first():
    recipe = load_recipe(REPO / "pipelines" / "fibsem_nmc622.toml")
    assert [s.name for s in recipe.stages[:4]] == ["geometry", "curtaining", "denoise", "align"]


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom")
    ph = generate_phantom((24, 64, 64), voxel_size_nm=60.0, seed=5, tilt=True, drift_step_px=0.7)
    save_phantom(out, ph)
    return out / "fibsem.tif", ph


def test_four_stages_chained_with_figures_and_numbers(small_stack, tmp_path):
    stack, ph = small_stack
    doc = {
        "recipe": {"name": "pre"},
        "stage": [
            {"name": "geometry", "tilt_correction": "auto", "angle_deg": 52.0},
            {"name": "curtaining", "length_px": 32},
            {"name": "denoise"},
            {"name": "align", "neighbors": 3, "refine": 1},
        ],
    }
    report = run_pipeline(parse_recipe(doc), stack, tmp_path / "run", progress=False)
    assert report["status"] == "finished"
    figs = sorted(p.name for p in (tmp_path / "run" / "figures").glob("*.png"))
    assert figs == [
        "01-geometry-geometry.png",
        "02-curtaining-curtaining.png",
        "03-denoise-denoise.png",
        "04-align-align.png",
        "04-align-align_shifts.png",
    ]
    n = report["numbers"]
    # geometry: the phantom is foreshortened (tilt on) and its metadata says not corrected
    assert n["geometry"]["tilt"]["applied"] is True
    # acquired: round(64 sin 52) = 50 rows of 60 nm apparent pitch, each 60 / sin 52 nm of
    # true height; stretched to round(50 / sin 52) = 63 rows of 60 / sin 52 * 50 / 63 nm
    assert n["geometry"]["shape_out"][1] == 63
    vol = read_volume(tmp_path / "run" / "01-geometry" / "volume.tif")
    assert vol.voxel_size_nm[1] == pytest.approx(60.0 / math.sin(math.radians(52)) * 50 / 63)
    assert vol.metadata.get("tilt_corrected") is True
    assert n["curtaining"]["removed_is_stripe_like"] is True
    assert n["denoise"]["noise_reduction_factor"] > 2.0
    shifts = (tmp_path / "run" / "04-align" / "shifts.csv").read_text().splitlines()
    assert shifts[0].startswith("z,dy_px,dx_px")
    assert len(shifts) == 1 + 24
    assert "trend_slope_nm_per_slice" in n["align"]
    meta = json.loads((tmp_path / "run" / "04-align" / "params.json").read_text())
    assert meta["volume"] == "volume.tif"
    out = read_volume(tmp_path / "run" / "04-align" / "volume.tif").data
    assert out.dtype == np.float32 and out.shape[0] == 24


def test_stage_errors_name_the_stage(small_stack, tmp_path):
    stack, _ = small_stack
    doc = {"stage": [{"name": "curtaining", "method": "wavelet-fft", "level": 9}]}
    with pytest.raises(ValueError, match="stage 1 'curtaining': level"):
        run_pipeline(parse_recipe(doc), stack, tmp_path / "bad", progress=False)
    with pytest.raises(ValueError, match="bandpass_px"):
        parse_recipe({"stage": [{"name": "align", "bandpass_px": [5.0, 2.0]}]})


def test_curtaining_stage_takes_the_cap_rows(small_stack, tmp_path):
    """``cap_rows`` reaches the destriper: the given rows come back untouched and are
    reported; a negative count is refused naming the key."""
    stack, _ = small_stack
    doc = {"stage": [{"name": "curtaining", "length_px": 32, "cap_rows": 10}]}
    report = run_pipeline(parse_recipe(doc), stack, tmp_path / "cap", progress=False)
    assert report["numbers"]["curtaining"]["cap_rows"] == 10
    src = read_volume(stack).data.astype(np.float32)
    out = read_volume(tmp_path / "cap" / "01-curtaining" / "volume.tif").data
    np.testing.assert_allclose(out[:, :10], src[:, :10], atol=1e-3 * float(np.ptp(src)))
    assert not np.allclose(out[:, 10:], src[:, 10:], atol=1e-3 * float(np.ptp(src)))
    with pytest.raises(ValueError, match="cap_rows"):
        parse_recipe({"stage": [{"name": "curtaining", "cap_rows": -1}]})
