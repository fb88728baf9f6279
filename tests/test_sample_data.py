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
