"""Stages are refused before they allocate when their memory estimate (bytes per voxel of
their input, measured per stage) does not fit the machine's available memory: one line naming
the stage, the estimate, the available memory and the remedy; cached stages are not refused;
chunked stages have no whole-volume estimate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from microstructure.cli import main
from microstructure.io import write_volume
from microstructure.pipeline import memory, parse_recipe, run_pipeline
from microstructure.pipeline.memory import (
    STAGE_BYTES_PER_VOXEL,
    MemoryEstimateError,
    check_run_memory,
    check_stage_memory,
    stage_bytes_per_voxel,
)
from microstructure.pipeline.stages import available_stages
from microstructure.volume import Volume

SHAPE = (8, 16, 16)


@pytest.fixture
def labels_file(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random(SHAPE) < 0.6).astype(np.uint8)
    path = tmp_path / "labels.tif"
    write_volume(path, Volume(labels, (50.0, 50.0, 50.0)))
    return path


def _recipe(*stages):
    return parse_recipe({"recipe": {"name": "m"}, "stage": [dict(s) for s in stages]})


def _limit(monkeypatch, nbytes: int) -> None:
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: int(nbytes))


def test_every_volume_stage_has_a_measured_factor() -> None:
    builtin = {
        name
        for name, cls in available_stages().items()
        if cls.__module__.startswith("microstructure.pipeline.builtin")
    }
    expected = {
        "geometry", "curtaining", "denoise", "align", "segment", "cbd", "nanopores",
        "porosity", "mip", "granulometry", "mfactor",
    }  # fmt: skip
    assert expected <= builtin
    for name in expected:
        factor = stage_bytes_per_voxel(available_stages()[name])
        # at least the input and output arrays, at most a few hundred bytes per voxel
        assert factor is not None and 2.0 <= factor <= 400.0, (name, factor)
    # the M-factor solve (float64 iterate and reductions, face conductances) needs far more
    # than a threshold
    assert STAGE_BYTES_PER_VOXEL["mfactor"] > 10 * STAGE_BYTES_PER_VOXEL["porosity"]


def test_run_is_refused_before_any_stage_with_estimate_and_available_memory(
    tmp_path, labels_file, monkeypatch
) -> None:
    n = int(np.prod(SHAPE))
    need = int(STAGE_BYTES_PER_VOXEL["mfactor"] * n)
    _limit(monkeypatch, need // 2)  # the porosity stage fits, the M-factor does not
    out = tmp_path / "out"
    rec = _recipe({"name": "porosity"}, {"name": "mfactor", "axes": ["x"]})
    with pytest.raises(MemoryEstimateError) as info:
        run_pipeline(rec, labels_file, out, progress=False)
    msg = str(info.value)
    assert "\n" not in msg and isinstance(info.value, ValueError)
    assert "stage 2 'mfactor'" in msg and "stage 1" not in msg
    assert f"{need / 2**30:.2f} GiB" in msg and f"{need // 2 / 2**30:.2f} GiB available" in msg
    assert f"x {n} voxels" in msg and "cannot run chunked" in msg
    # refused before anything ran: no folder left behind
    assert not out.exists()


def test_chunkable_stage_names_the_zarr_threshold_and_chunks(tmp_path, labels_file, monkeypatch):
    _limit(monkeypatch, 1024)
    with pytest.raises(MemoryEstimateError, match=r"stage 1 'mip'.*chunks = .*--zarr-threshold"):
        run_pipeline(_recipe({"name": "mip"}), labels_file, tmp_path / "out", progress=False)
    # run chunked (threshold 0): no whole-volume estimate, so no refusal from it
    rec = _recipe({"name": "mip"})
    assert check_run_memory(rec.stages, SHAPE, np.uint8, zarr_threshold_bytes=0) == {}


def test_cached_stages_are_not_refused(tmp_path, labels_file, monkeypatch) -> None:
    rec = _recipe({"name": "porosity"})
    first = run_pipeline(rec, labels_file, tmp_path / "out", progress=False)
    _limit(monkeypatch, 1)
    again = run_pipeline(rec, labels_file, tmp_path / "out", progress=False)
    assert [st["status"] for st in again["stages"]] == ["cached"]
    assert again["numbers"] == first["numbers"]
    with pytest.raises(MemoryEstimateError, match="stage 1 'porosity'"):
        run_pipeline(rec, labels_file, tmp_path / "out", progress=False, force=True)


def test_each_stage_checks_its_real_input(monkeypatch) -> None:
    """A stage whose input grew (e.g. the tilt stretch) is checked on what it receives."""
    rec = _recipe({"name": "porosity"})
    spec = rec.stages[0]
    small = Volume(np.zeros((4, 4, 4), np.uint8), (1.0, 1.0, 1.0))
    big = Volume(np.zeros((40, 40, 40), np.uint8), (1.0, 1.0, 1.0))
    factor = STAGE_BYTES_PER_VOXEL["porosity"]
    _limit(monkeypatch, 10 * factor * 64)
    assert check_stage_memory(spec, small, 2**40) == int(factor * 64)
    with pytest.raises(MemoryEstimateError, match=r"\(40, 40, 40\)"):
        check_stage_memory(spec, big, 2**40)


def test_cli_run_refusal_is_one_line_and_json(tmp_path, labels_file, monkeypatch, capsys) -> None:
    _limit(monkeypatch, 1024)
    (tmp_path / "r.toml").write_text('[[stage]]\nname = "granulometry"\n')
    argv = ["run", str(tmp_path / "r.toml"), "--input", str(labels_file), "--out"]
    code = main([*argv, str(tmp_path / "o1"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "stage 1 'granulometry'" in err[0] and "GiB available" in err[0]
    assert "--zarr-threshold" in err[0]
    code = main([*argv, str(tmp_path / "o2"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and "stage 1 'granulometry'" in data["error"]
