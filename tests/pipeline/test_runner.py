"""Stage runner: validation before work, caching by hash, resume, atomic outputs."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from pydantic import Field

from microstructure.io import read_volume, write_volume
from microstructure.pipeline import (
    Stage,
    StageOutput,
    StageParams,
    parse_recipe,
    register,
    run_pipeline,
)
from microstructure.quality import check, quality_block
from microstructure.volume import Volume

CALLS: list[str] = []


class _ScaleParams(StageParams):
    factor: float = Field(2.0, gt=0)


@register
class _ScaleStage(Stage):
    name = "test-scale"
    Params = _ScaleParams
    consumes = "grayscale"
    produces = "grayscale"

    def run(self, volume, params, ctx):
        CALLS.append(self.name)
        out = volume.data.astype(np.float32) * params.factor
        return StageOutput(
            volume=Volume(out, volume.voxel_size_nm),
            numbers={"mean": float(out.mean())},
            tables={"hist": {"bin": np.arange(3), "count": np.array([1, 2, 3])}},
        )


class _ThresholdParams(StageParams):
    level: float = 100.0
    fail: bool = False


@register
class _ThresholdStage(Stage):
    name = "test-threshold"
    Params = _ThresholdParams
    consumes = "grayscale"
    produces = "labels"

    def run(self, volume, params, ctx):
        CALLS.append(self.name)
        if params.fail:
            raise RuntimeError("simulated crash")
        labels = (volume.data > params.level).astype(np.uint8)
        return StageOutput(
            volume=Volume(labels, volume.voxel_size_nm),
            numbers={"am_fraction": float(labels.mean())},
        )


class _QualityParams(StageParams):
    residual: float = 0.1


@register
class _QualityStage(Stage):
    name = "test-runner-quality"
    Params = _QualityParams
    consumes = "grayscale"
    produces = "none"

    def run(self, volume, params, ctx):
        CALLS.append(self.name)
        checks = {"residual": check(params.residual, 0.35, meaning="stripe energy left")}
        return StageOutput(numbers={"quality": quality_block(checks)})


def _recipe(*stages):
    return parse_recipe({"recipe": {"name": "t"}, "stage": [dict(s) for s in stages]})


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 120, size=(4, 8, 8)).astype(np.uint8)
    path = tmp_path / "in.tif"
    write_volume(path, Volume(data, (10.0, 5.0, 5.0)))
    return path, data


def test_run_writes_stage_folders_and_report(tmp_path, stack):
    path, data = stack
    CALLS.clear()
    rec = _recipe({"name": "test-scale", "factor": 2}, {"name": "test-threshold"})
    report = run_pipeline(rec, path, tmp_path / "out", progress=False)
    out = tmp_path / "out"
    assert CALLS == ["test-scale", "test-threshold"]
    assert report["status"] == "finished"
    assert report["numbers"]["test-scale"]["mean"] == pytest.approx(2 * data.mean(), rel=1e-6)
    labels = read_volume(out / "02-test-threshold" / "volume.tif")
    assert np.array_equal(labels.data, (2.0 * data > 100).astype(np.uint8))
    assert labels.voxel_size_nm == (10.0, 5.0, 5.0)
    meta = json.loads((out / "01-test-scale" / "params.json").read_text())
    assert meta["params"] == {"factor": 2.0} and meta["status"] == "finished"
    assert meta["peak_rss_mb"] > 0 and meta["seconds"] >= 0
    assert (out / "01-test-scale" / "hist.csv").read_text().splitlines()[0] == "bin,count"
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["numbers"] == json.loads(json.dumps(report["numbers"]))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_rerun_skips_matching_stages_and_recomputes_changed_ones(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    rec = _recipe({"name": "test-scale"}, {"name": "test-threshold"})
    run_pipeline(rec, path, out, progress=False)
    CALLS.clear()
    report = run_pipeline(rec, path, out, progress=False)
    assert CALLS == [] and [s["status"] for s in report["stages"]] == ["cached", "cached"]
    # Changing the second stage recomputes only it (loading stage 1's volume from disk).
    rec2 = _recipe({"name": "test-scale"}, {"name": "test-threshold", "level": 50})
    report = run_pipeline(rec2, path, out, progress=False)
    assert CALLS == ["test-threshold"]
    assert [s["status"] for s in report["stages"]] == ["cached", "computed"]
    # Changing the first stage invalidates everything downstream.
    CALLS.clear()
    run_pipeline(
        _recipe({"name": "test-scale", "factor": 3}, {"name": "test-threshold", "level": 50}),
        path,
        out,
        progress=False,
    )
    assert CALLS == ["test-scale", "test-threshold"]
    CALLS.clear()
    run_pipeline(rec2, path, out, progress=False, force=True)
    assert CALLS == ["test-scale", "test-threshold"]


def test_changed_input_data_invalidates_the_cache(tmp_path, stack):
    path, data = stack
    out = tmp_path / "out"
    rec = _recipe({"name": "test-scale"})
    run_pipeline(rec, path, out, progress=False)
    write_volume(path, Volume(data[::-1].copy(), (10.0, 5.0, 5.0)))
    CALLS.clear()
    run_pipeline(rec, path, out, progress=False)
    assert CALLS == ["test-scale"]
    CALLS.clear()
    with pytest.warns(UserWarning, match="overrides"):
        run_pipeline(rec, path, out, progress=False, voxel_size_nm=7)  # voxel size is an input
    assert CALLS == ["test-scale"]


def test_interrupted_run_resumes_and_never_touches_input(tmp_path, stack):
    path, _ = stack
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(
            _recipe({"name": "test-scale"}, {"name": "test-threshold", "fail": True}),
            path,
            out,
            progress=False,
        )
    assert (out / "01-test-scale" / "params.json").exists()
    assert not (out / "02-test-threshold").exists()
    assert not list(out.glob(".*tmp"))  # the failed stage left no half-written folder
    assert json.loads((out / "report.json").read_text())["status"] == "running"
    CALLS.clear()
    report = run_pipeline(
        _recipe({"name": "test-scale"}, {"name": "test-threshold"}), path, out, progress=False
    )
    assert CALLS == ["test-threshold"]
    assert report["stages"][0]["status"] == "cached"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_half_written_stage_folder_is_not_trusted(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    rec = _recipe({"name": "test-scale"})
    run_pipeline(rec, path, out, progress=False)
    (out / "01-test-scale" / "volume.tif").unlink()  # e.g. deleted or lost
    CALLS.clear()
    run_pipeline(rec, path, out, progress=False)
    assert CALLS == ["test-scale"]


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"stage": [{"name": "nope"}]}, "stage 1: unknown stage 'nope'"),
        (
            {"stage": [{"name": "test-scale", "fatcor": 2}]},
            "stage 1 'test-scale': unknown parameter 'fatcor'",
        ),
        ({"stage": [{"name": "test-scale", "factor": -1}]}, "parameter 'factor' = -1"),
        ({"stage": [{"name": "test-scale", "factor": "big"}]}, "parameter 'factor'"),
        ({"stage": []}, "no stages"),
        ({"stages": [{"name": "test-scale"}]}, "unknown section"),
        (
            {"electrode": {"thickness_axis": "w"}, "stage": [{"name": "test-scale"}]},
            "thickness_axis",
        ),
        ({"input": {"labels": "pore=x"}, "stage": [{"name": "test-scale"}]}, "not an integer"),
    ],
)
def test_recipe_errors_name_stage_and_key(doc, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_recipe(doc, path="r.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("r.toml")


def test_wrong_volume_kind_fails_before_any_work(tmp_path, stack):
    path, _ = stack
    CALLS.clear()
    rec = _recipe({"name": "test-threshold"}, {"name": "test-scale"})  # scale needs grayscale
    with pytest.raises(ValueError, match="stage 2 'test-scale' needs a grayscale volume"):
        run_pipeline(rec, path, tmp_path / "out", progress=False)
    assert CALLS == [] and not (tmp_path / "out").exists()


def test_output_must_not_be_the_input(tmp_path, stack):
    path, _ = stack
    with pytest.raises(ValueError, match="must not be the input"):
        run_pipeline(_recipe({"name": "test-scale"}), path, path, progress=False)


def test_report_json_carries_the_quality_summary_after_each_stage(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    lines: list[str] = []
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(
            _recipe(
                {"name": "test-runner-quality", "residual": 0.5},
                {"name": "test-threshold", "fail": True},
            ),
            path,
            out,
            progress=False,
            log=lines.append,
        )
    # rewritten after the first stage: its failed check is there while the run is unfinished
    running = json.loads((out / "report.json").read_text())
    assert running["status"] == "running"
    assert running["quality"] == {
        "ok": False,
        "flags": [
            {
                "stage": "test-runner-quality",
                "message": "residual: stripe energy left = 0.5 (limit 0.35)",
            }
        ],
        "checks_passed": 0,
        "checks_failed": 1,
        "stages_checked": 1,
    }
    assert len(lines) == 1 and lines[0].startswith("[1/2] test-runner-quality: computed in ")
    assert lines[0].endswith(" s; quality: 0/1 checks passed, 1 warning")
    lines.clear()
    report = run_pipeline(
        _recipe({"name": "test-runner-quality", "residual": 0.2}, {"name": "test-threshold"}),
        path,
        out,
        progress=False,
        log=lines.append,
    )
    assert report["quality"]["ok"] is True and report["quality"]["checks_passed"] == 1
    assert json.loads((out / "report.json").read_text())["quality"] == report["quality"]
    assert lines[0].endswith("; quality: 1/1 checks passed")
    assert "quality" not in lines[1]  # a stage without a quality block says nothing about it
