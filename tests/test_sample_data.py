"""The bundled sample in ``data_samples/`` is what its README says, and the Quick start runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from microstructure.io import read_volume
from microstructure.phantom import generate_phantom
from microstructure.pipeline import run_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data_samples" / "phantom"


@pytest.fixture(scope="module")
def regenerated():
    truth = json.loads((SAMPLE / "truth.json").read_text())
    return truth, generate_phantom(tuple(truth["shape"]), seed=truth["seed"])


def test_sample_is_the_documented_phantom_bit_for_bit(regenerated) -> None:
    truth, ph = regenerated
    assert truth["seed"] == 0 and truth["shape"] == [96, 192, 192]
    image = read_volume(SAMPLE / "fibsem.tif")
    labels = read_volume(SAMPLE / "truth_labels.tif")
    assert image.voxel_size_nm == (60.0, 60.0, 60.0)
    np.testing.assert_array_equal(image.data, ph.image)
    np.testing.assert_array_equal(labels.data, ph.labels)


def test_sample_truth_fractions_match_its_labels() -> None:
    truth = json.loads((SAMPLE / "truth.json").read_text())
    labels = read_volume(SAMPLE / "truth_labels.tif").data
    counts = np.bincount(labels.ravel(), minlength=3) / labels.size
    for name, code in truth["phase_codes"].items():
        assert counts[code] == pytest.approx(truth["phase_fractions"][name], abs=1e-12)


def test_quick_start_recipe_runs_on_the_sample(tmp_path) -> None:
    out = tmp_path / "run"
    run_pipeline(
        REPO_ROOT / "pipelines" / "labels_analysis.toml",
        SAMPLE / "truth_labels.tif",
        out,
        progress=False,
    )
    report = json.loads((out / "report.json").read_text())
    truth = json.loads((SAMPLE / "truth.json").read_text())
    fractions = report["numbers"]["porosity"]["phase_fractions"]
    for name in ("pore", "am", "cbd"):
        assert fractions[name] == pytest.approx(truth["phase_fractions"][name], abs=1e-9)
    assert report["status"] == "finished"


def test_full_fibsem_recipe_on_a_crop_of_the_sample(tmp_path) -> None:
    """The README's main job, on a crop (the same recipe file, the same stages)."""
    from microstructure.io import write_volume
    from microstructure.volume import Volume

    stack = read_volume(SAMPLE / "fibsem.tif")
    crop = stack.data[:24, :96, :96]
    write_volume(tmp_path / "crop.tif", Volume(crop, stack.voxel_size_nm, stack.metadata))
    report = run_pipeline(
        REPO_ROOT / "pipelines" / "fibsem_nmc622.toml",
        tmp_path / "crop.tif",
        tmp_path / "run",
        progress=False,
    )
    assert report["status"] == "finished"
    names = [s["name"] for s in report["stages"]]
    assert names == [
        "geometry",
        "curtaining",
        "denoise",
        "align",
        "segment",
        "cbd",
        "nanopores",
        "porosity",
        "mip",
        "granulometry",
        "mfactor",
    ]
    n = report["numbers"]
    assert n["geometry"]["tilt"]["applied"] is False  # the sample says it is not foreshortened
    truth = read_volume(SAMPLE / "truth_labels.tif").data[:24, :96, :96]
    assert n["segment"]["am_fraction"] == pytest.approx((truth == 1).mean(), abs=0.03)
    # the CBD amount follows seed 000 Table 1 from the segmented AM, exactly
    cbd = n["cbd"]
    assert cbd["cbd_envelope_fraction"] == pytest.approx(cbd["target_envelope_fraction"], abs=1e-4)
    assert n["nanopores"]["cbd_porosity"] == pytest.approx(0.502, abs=1e-3)
    # each voxel's inscribed sphere is at least its invasion radius, so the granulometry sits at
    # or above the MIP curve (D50s compared over their own volumes: equal within a few %)
    assert n["mip"]["d50_nm"] > 0
    assert n["granulometry"]["shielding"]["d50_ratio"] > 0.95
    for axis in ("y", "x"):
        m = n["mfactor"]["axes"][axis]
        assert 0 <= m["m_factor"] < n["porosity"]["total_porosity"]
        assert (m["m_factor"] > 0) == m["percolating"]
    assert (tmp_path / "run" / "report.html").exists()
