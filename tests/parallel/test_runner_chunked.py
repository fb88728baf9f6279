"""The runner and chunked stages: resume inside an interrupted stage from its finished chunks,
Dask arrays handed only to stages that declare ``supports_dask``."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from microstructure.io import write_volume
from microstructure.parallel import dask_scheduler, set_chunk_hook
from microstructure.pipeline import Stage, StageOutput, StageParams, parse_recipe, register
from microstructure.pipeline.runner import hash_volume, run_pipeline
from microstructure.porosimetry import invasion_radius
from microstructure.volume import Volume

VS = (20.0, 25.0, 25.0)
SEEN: list[str] = []


class Interrupt(RuntimeError):
    pass


class _ChunkedMipParams(StageParams):
    chunks: int = 16


@register
class _ChunkedMipStage(Stage):
    name = "test-chunked-mip"
    Params = _ChunkedMipParams
    consumes = "labels"
    produces = "none"

    def run(self, volume, params, ctx):
        pore = np.asarray(volume.data) == 0
        inv = invasion_radius(
            da.from_array(pore),
            voxel_size_nm=volume.voxel_size_nm,
            max_radius_nm=400.0,
            chunks=params.chunks,
            resume_dir=ctx.chunk_dir / "mip",
        )
        return StageOutput(
            numbers={"intruded": int(np.count_nonzero(inv)), "sum": float(inv.sum())}
        )


@register
class _DaskProbeStage(Stage):
    name = "test-dask-probe"
    consumes = "labels"
    produces = "same"
    supports_dask = True

    def run(self, volume, params, ctx):
        SEEN.append(type(volume.data).__module__.split(".")[0])
        return StageOutput(volume=Volume(volume.data + 0, volume.voxel_size_nm))


@register
class _NumpyProbeStage(Stage):
    name = "test-numpy-probe"
    consumes = "labels"
    produces = "none"

    def run(self, volume, params, ctx):
        SEEN.append(type(volume.data).__module__.split(".")[0])
        return StageOutput(numbers={"n_pore": int(np.count_nonzero(volume.data == 0))})


def _labels(seed: int = 7, shape=(30, 44, 38)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    solid = np.zeros(shape, bool)
    for _ in range(30):
        c = rng.uniform(0, shape)
        r = rng.uniform(3.0, 8.0)
        solid |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
    return solid.astype(np.uint8)  # 0 pore, 1 AM


def test_runner_resumes_an_interrupted_chunked_stage_from_its_finished_chunks(tmp_path) -> None:
    labels = _labels()
    src = tmp_path / "labels.tif"
    write_volume(src, Volume(labels, VS))
    recipe = parse_recipe(
        {
            "recipe": {"name": "t"},
            "stage": [{"name": "test-numpy-probe"}, {"name": "test-chunked-mip"}],
        }
    )
    out = tmp_path / "out"
    calls: list[tuple[str, tuple]] = []

    def hook(phase: str, block: tuple) -> None:
        calls.append((phase, block))
        if phase == "paint-inv" and sum(p == phase for p, _ in calls) == 6:
            raise Interrupt("stop after 6 painted chunks")

    old = set_chunk_hook(hook)
    try:
        with dask_scheduler("synchronous"), pytest.raises(Interrupt):
            run_pipeline(recipe, src, out, progress=False)
        chunk_dir = out / ".02-test-chunked-mip.chunks"
        assert (chunk_dir / "mip" / "manifest.json").is_file()
        assert not (out / "02-test-chunked-mip").exists()
        first = [b for p, b in calls if p == "paint-inv"]
        calls.clear()
        set_chunk_hook(lambda phase, block: calls.append((phase, block)))
        with dask_scheduler("synchronous"):
            report = run_pipeline(recipe, src, out, progress=False)
    finally:
        set_chunk_hook(old)
    # stage 1 finished before the interruption: cached; stage 2 resumed inside
    assert [s["status"] for s in report["stages"]] == ["cached", "computed"]
    assert {p for p, _ in calls} == {"paint-inv"}  # mask, distance and flood not redone
    assert len(calls) == 2 * 3 * 3 - len(first) and not {b for _, b in calls} & set(first)
    assert not chunk_dir.exists()  # removed once the stage finished
    ref = invasion_radius(labels == 0, voxel_size_nm=VS)
    numbers = report["numbers"]["test-chunked-mip"]
    assert numbers["intruded"] == int(np.count_nonzero(ref))
    assert numbers["sum"] == pytest.approx(float(ref.sum()), rel=1e-6)


def test_dask_arrays_reach_only_stages_that_support_them(tmp_path) -> None:
    labels = _labels(shape=(12, 20, 16))
    src = tmp_path / "labels.zarr"
    write_volume(src, Volume(da.from_array(labels, chunks=(4, 20, 16)), VS))
    recipe = parse_recipe(
        {
            "recipe": {"name": "t"},
            "stage": [{"name": "test-dask-probe"}, {"name": "test-numpy-probe"}],
        }
    )
    SEEN.clear()
    report = run_pipeline(recipe, src, tmp_path / "out", progress=False, zarr_threshold_bytes=0)
    assert SEEN == ["dask", "numpy"]
    assert report["numbers"]["test-numpy-probe"]["n_pore"] == int(np.count_nonzero(labels == 0))
    assert (tmp_path / "out" / "01-test-dask-probe" / "volume.zarr").is_dir()
    # a lazily read input has the same content key as in memory (cache stays valid)
    lazy = Volume(da.from_array(labels, chunks=(5, 7, 16)), VS)
    assert hash_volume(lazy) == hash_volume(Volume(labels, VS))
    again = run_pipeline(recipe, src, tmp_path / "out", progress=False, zarr_threshold_bytes=0)
    assert [s["status"] for s in again["stages"]] == ["cached", "cached"]
