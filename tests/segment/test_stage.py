"""The ``segment`` pipeline stage: labels with voxel size, numbers, tables, overlay figure."""

from __future__ import annotations

import json

import numpy as np
import pytest
from segment_helpers import preprocessed_phantom, sparse_scribbles

from microstructure.io import read_volume, write_volume
from microstructure.pipeline import parse_recipe, run_pipeline
from microstructure.volume import Volume


def _recipe(**params):
    return parse_recipe({"recipe": {"name": "seg"}, "stage": [{"name": "segment", **params}]})


@pytest.fixture(scope="module")
def phantom_tif(tmp_path_factory):
    ph, stack = preprocessed_phantom(seed=1)
    path = tmp_path_factory.mktemp("seg") / "pre.tif"
    write_volume(path, Volume(np.asarray(stack, np.float32), ph.voxel_size_nm))
    return ph, path


def test_stage_writes_labels_numbers_tables_and_overlay(tmp_path, phantom_tif):
    ph, path = phantom_tif
    out = tmp_path / "out"
    report = run_pipeline(_recipe(separate_particles=True), path, out, progress=False)
    nums = report["numbers"]["segment"]
    truth_am = float(np.mean(ph.labels == 1))
    assert abs(nums["am_fraction"] - truth_am) <= 0.01
    assert nums["segmentation"]["method_used"] == "multiotsu"
    assert nums["closed_pore_count"] > 0
    assert "closed_pore_voxels" not in nums  # per-pore values are in the table, not the JSON
    assert 0 < nums["closed_pore_fraction"] < 0.05
    assert nums["particles"]["count"] > 3
    labels = read_volume(out / "01-segment" / "volume.tif")
    assert labels.voxel_size_nm == ph.voxel_size_nm
    assert labels.data.dtype == np.uint8 and set(np.unique(labels.data)) == {0, 1}
    assert labels.data.mean() == pytest.approx(nums["am_fraction"])
    header = (out / "01-segment" / "particles.csv").read_text().splitlines()[0]
    assert "equivalent_diameter_um" in header and "touches_boundary" in header
    assert (out / "01-segment" / "closed_pores.csv").exists()
    png = out / "figures" / "01-segment-segment_overlay.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    meta = json.loads((out / "01-segment" / "params.json").read_text())
    assert meta["figures"] == ["segment_overlay.png"]


def test_stage_trainable_from_a_scribble_file_and_saved_model(tmp_path, phantom_tif):
    ph, path = phantom_tif
    scrib = tmp_path / "scribbles.tif"
    write_volume(scrib, Volume(sparse_scribbles(ph.labels, slices=(8, 24)), ph.voxel_size_nm))
    out = tmp_path / "out"
    rec = _recipe(method="trainable", scribbles=str(scrib), save_model=True, n_estimators=20)
    nums = run_pipeline(rec, path, out, progress=False)["numbers"]["segment"]
    assert nums["training"]["samples_per_phase"]["am"] > 0
    assert abs(nums["am_fraction"] - float(np.mean(ph.labels == 1))) <= 0.015
    model = out / "01-segment" / "segment_model.npz"
    assert model.exists()
    nums2 = run_pipeline(
        _recipe(method="trainable", model=str(model)), path, tmp_path / "out2", progress=False
    )["numbers"]["segment"]
    assert nums2["am_fraction"] == pytest.approx(nums["am_fraction"])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"method": "manual"}, "threshold"),
        ({"method": "trainable"}, "scribbles or model"),
        ({"scribbles": "s.tif"}, "only used with method 'trainable'"),
        ({"closed_pores_per_particle": True}, "separate_particles"),
        ({"block_size_px": 50, "method": "local"}, "odd"),
        ({"method": "watershed"}, "method"),
    ],
)
def test_stage_rejects_bad_parameters_before_running(params, match):
    with pytest.raises(ValueError, match=match):
        _recipe(**params)


def test_stage_missing_scribble_file_and_labels_input(tmp_path, phantom_tif):
    _, path = phantom_tif
    with pytest.raises(ValueError, match="scribbles: file .* not found"):
        run_pipeline(
            _recipe(method="trainable", scribbles=str(tmp_path / "none.tif")),
            path,
            tmp_path / "o",
            progress=False,
        )
    small = tmp_path / "small.tif"
    write_volume(small, Volume(np.ones((4, 16, 16), np.uint8), 10.0))
    with pytest.raises(ValueError, match="scribbles: .* paint on the preprocessed stack"):
        run_pipeline(
            _recipe(method="trainable", scribbles=str(small)), path, tmp_path / "o1", progress=False
        )
    lab = tmp_path / "labels.tif"
    write_volume(lab, Volume(np.zeros((4, 16, 16), np.uint8), 10.0))
    with pytest.raises(ValueError, match="segment"):
        run_pipeline(_recipe(), lab, tmp_path / "o2", progress=False)
