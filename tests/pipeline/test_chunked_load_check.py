"""The runner refuses, before any work, a stage that will run chunked with an option it cannot
honour chunked (``Stage.chunked_refusals``), naming the stage and every refused key."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import Field

from microstructure.io import write_volume
from microstructure.pipeline import Stage, StageOutput, StageParams, parse_recipe, register
from microstructure.pipeline.runner import (
    check_chunked_phantom,
    check_chunked_stages,
    run_pipeline,
)
from microstructure.pipeline.stages import ZARR_THRESHOLD_BYTES
from microstructure.volume import Volume

VS = (20.0, 25.0, 25.0)
RAN: list[str] = []


class _PickyParams(StageParams):
    method: str = "global"
    smooth: bool = False
    chunks: int | None = Field(None, ge=1)


@register
class _PickyChunkedStage(Stage):
    """A grayscale -> labels stage whose ``method = "local"`` and ``smooth = true`` cannot run
    chunked (declared the way the real stages answer from their function's declaration)."""

    name = "test-picky-chunked"
    Params = _PickyParams
    consumes = "grayscale"
    produces = "labels"
    supports_dask = True

    def chunked_refusals(self, params):
        out = []
        if params.method == "local":
            out.append("method: local thresholds need the whole volume")
        if params.smooth:
            out.append("smooth: needs the whole volume")
        return out

    def run(self, volume, params, ctx):
        RAN.append(self.name)
        data = np.asarray(volume.data)
        return StageOutput(
            volume=Volume((data > data.mean()).astype(np.uint8), volume.voxel_size_nm)
        )


@register
class _CountStage(Stage):
    name = "test-count-before"
    consumes = "grayscale"
    produces = "none"

    def run(self, volume, params, ctx):
        RAN.append(self.name)
        return StageOutput(numbers={"n": int(np.asarray(volume.data).size)})


def _recipe(**picky):
    return parse_recipe(
        {
            "recipe": {"name": "t"},
            "stage": [{"name": "test-count-before"}, {"name": "test-picky-chunked", **picky}],
        },
        path="t.toml",
    )


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "stack.tif"
    write_volume(path, Volume((rng.random((6, 20, 24)) * 200).astype(np.uint8), VS))
    return path


def test_refused_above_the_threshold_before_any_stage_folder(tmp_path, stack) -> None:
    RAN.clear()
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        run_pipeline(
            _recipe(method="local", smooth=True),
            stack,
            out,
            progress=False,
            zarr_threshold_bytes=0,
        )
    msg = str(err.value)
    assert msg.startswith("t.toml: stage 2 'test-picky-chunked' cannot run chunked: ")
    assert "method: local thresholds" in msg and "smooth: needs" in msg
    assert "\n" not in msg
    assert RAN == []  # not even the first (in-memory) stage ran
    assert not out.exists() or not any(out.iterdir())


def test_refused_when_chunks_is_set_whatever_the_size(tmp_path, stack) -> None:
    RAN.clear()
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"stage 2 'test-picky-chunked'.*method: local.*chunks"):
        run_pipeline(_recipe(method="local", chunks=2), stack, out, progress=False)
    assert RAN == [] and (not out.exists() or not any(out.iterdir()))


def test_runs_in_memory_below_a_large_threshold(tmp_path, stack) -> None:
    RAN.clear()
    report = run_pipeline(
        _recipe(method="local", smooth=True),
        stack,
        tmp_path / "out",
        progress=False,
        zarr_threshold_bytes=1 << 40,
    )
    assert RAN == ["test-count-before", "test-picky-chunked"]
    assert [s["status"] for s in report["stages"]] == ["computed", "computed"]
    # the default threshold (2 GiB) is far above this stack too
    RAN.clear()
    run_pipeline(_recipe(method="local"), stack, tmp_path / "default", progress=False)
    assert RAN == ["test-count-before", "test-picky-chunked"]


def test_chunk_safe_options_run_chunked(tmp_path, stack) -> None:
    RAN.clear()
    run_pipeline(_recipe(chunks=2), stack, tmp_path / "out", progress=False, zarr_threshold_bytes=0)
    assert RAN == ["test-count-before", "test-picky-chunked"]


def test_estimate_assumes_float32_for_grayscale_stages() -> None:
    recipe = _recipe(method="local")
    shape = (10, 100, 100)  # 100 000 voxels: 100 kB as uint8, 400 kB as float32
    check_chunked_stages(recipe, shape, np.uint8, kind="grayscale", zarr_threshold_bytes=400_000)
    with pytest.raises(ValueError, match="cannot run chunked"):
        check_chunked_stages(
            recipe, shape, np.uint8, kind="grayscale", zarr_threshold_bytes=399_999
        )
    check_chunked_stages(recipe, shape, np.uint8, kind="grayscale")
    assert ZARR_THRESHOLD_BYTES == 2 * 1024**3


def test_a_phantom_recipe_is_checked_before_the_phantom_is_generated() -> None:
    doc = {
        "recipe": {"name": "t"},
        "phantom": {"shape": [8, 40, 40]},
        "stage": [{"name": "test-picky-chunked", "method": "local"}],
    }
    recipe = parse_recipe(doc, path="p.toml")
    with pytest.raises(ValueError, match=r"p.toml: stage 1 'test-picky-chunked' cannot run"):
        check_chunked_phantom(recipe, zarr_threshold_bytes=0)
    check_chunked_phantom(recipe, zarr_threshold_bytes=8 * 40 * 40 * 4)
    with pytest.raises(ValueError, match="cannot run chunked"):
        check_chunked_phantom(recipe, shape=(9, 40, 40), zarr_threshold_bytes=8 * 40 * 40 * 4)


def test_a_whole_volume_step_that_does_not_fit_is_refused_at_load_time(monkeypatch) -> None:
    """The segment stage's particle watershed runs chunked on the gathered AM mask: accepted
    when it fits the available memory, refused naming stage and key when it does not."""
    recipe = parse_recipe({"stage": [{"name": "segment", "separate_particles": True, "chunks": 4}]})
    check_chunked_stages(recipe, (64, 64, 64), np.float32, kind="grayscale")
    monkeypatch.setattr("microstructure.parallel.support.memory_budget_bytes", lambda: 10**6)
    monkeypatch.setattr("microstructure.pipeline.chunked_check.memory_budget_bytes", lambda: 10**6)
    with pytest.raises(
        ValueError,
        match=r"stage 1 'segment' cannot run chunked: "
        r"separate_particles: the particle watershed",
    ) as err:
        check_chunked_stages(recipe, (64, 64, 64), np.float32, kind="grayscale")
    assert "\n" not in str(err.value)
