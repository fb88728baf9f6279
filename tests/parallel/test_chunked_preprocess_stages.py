"""The builtin ``geometry``, ``curtaining`` and ``denoise`` stages on the chunked path (their
``chunks`` option, or a volume above the runner's size threshold): through ``run_pipeline`` on
a crop of the phantom's FIB/SEM stack, on a two-worker dask.distributed cluster, every stage's
output is bit-identical to the in-memory run, stored as Zarr, with the same numbers and
figures; the in-memory-only options are a clear one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microstructure.io import read_volume, write_volume
from microstructure.io.ome import is_ome_zarr, read_ome_zarr
from microstructure.pipeline import parse_recipe
from microstructure.pipeline.runner import run_pipeline
from microstructure.volume import Volume

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
STAGES = ("01-geometry", "02-curtaining", "03-denoise")
GEOMETRY = {
    "crop_x": [2, -3],
    "tilt_correction": "always",
    "angle_deg": 52.0,
    "background_sigma_px": 12.0,
}
CURTAINING = {"z_window": 5, "iterations": 2, "length_px": 24}


@pytest.fixture(scope="module")
def fibsem_file(tmp_path_factory) -> Path:
    """A 21 x 40 x 44 crop of the bundled phantom's FIB/SEM stack (uint8, 60 nm voxels)."""
    vol = read_volume(SAMPLE / "fibsem.tif")
    path = tmp_path_factory.mktemp("fibsem") / "stack.tif"
    data = np.ascontiguousarray(vol.data[10:31, 60:100, 50:94])
    write_volume(path, Volume(data, vol.voxel_size_nm, {"tilt_corrected": False}))
    return path


def _recipe(chunks: int | None, **denoise: object) -> object:
    extra = {} if chunks is None else {"chunks": chunks}
    return parse_recipe(
        {
            "recipe": {"name": "chunked-preprocess"},
            "stage": [
                {"name": "geometry", **GEOMETRY, **extra},
                {"name": "curtaining", **CURTAINING, **extra},
                {"name": "denoise", **denoise, **extra},
            ],
        }
    )


def _assert_close(got, ref, path="numbers") -> None:
    """Equal structure and values; floats to rtol 1e-6 (the chunked variances are summed per
    slab in float64, the in-memory ones by numpy in float32)."""
    if isinstance(ref, dict):
        assert set(got) == set(ref), path
        for k in ref:
            _assert_close(got[k], ref[k], f"{path}.{k}")
    elif isinstance(ref, list | tuple):
        assert len(got) == len(ref), path
        for i, (g, r) in enumerate(zip(got, ref, strict=True)):
            _assert_close(g, r, f"{path}[{i}]")
    elif isinstance(ref, float):
        assert got == pytest.approx(ref, rel=1e-6, nan_ok=True), path
    else:
        assert got == ref, path


def _without_chunked(numbers: dict) -> dict:
    return {s: {k: v for k, v in n.items() if k != "chunked"} for s, n in numbers.items()}


def test_chunked_preprocess_stages_equal_in_memory_on_a_cluster(
    cluster, fibsem_file, tmp_path, monkeypatch
) -> None:
    """zarr_threshold_bytes = 0: every stage runs chunked and the next one receives a Dask
    array. The automatic slabs are made small here (3-4 slices of 8 KB) so that the 21 slices
    are 6-7 slabs, the curtaining ones with a z halo of 2 x (5 // 2) = 4 slices."""
    from microstructure.pipeline.builtin import preprocess

    monkeypatch.setattr(preprocess, "AUTO_SLAB_BYTES", 30_000)
    ref = run_pipeline(_recipe(None), fibsem_file, tmp_path / "mem", progress=False)
    got = run_pipeline(
        _recipe(None), fibsem_file, tmp_path / "chunked", progress=False, zarr_threshold_bytes=0
    )
    for name in ("geometry", "curtaining", "denoise"):
        assert "chunked" in got["numbers"][name], name  # it really ran on the chunked path
        assert "chunked" not in ref["numbers"][name], name
    _assert_close(_without_chunked(got["numbers"]), ref["numbers"])
    assert got["numbers"]["curtaining"]["chunked"]["z_halo"] == 4
    assert got["numbers"]["geometry"]["chunked"]["slices_per_chunk"] == 4
    assert got["numbers"]["denoise"]["chunked"]["slices_per_chunk"] == 3
    for stage in STAGES:
        mem, chk = tmp_path / "mem" / stage, tmp_path / "chunked" / stage
        assert (mem / "volume.tif").is_file() and (chk / "volume.zarr").is_dir(), stage
        a, b = read_volume(chk / "volume.zarr").data, read_volume(mem / "volume.tif").data
        assert a.dtype == b.dtype == np.float32, stage
        np.testing.assert_array_equal(np.asarray(a), b, err_msg=stage)
        # a chunked stage's stored volume is an OME-Zarr image with the voxel size as scale
        assert is_ome_zarr(chk / "volume.zarr"), stage
        ome = read_ome_zarr(chk / "volume.zarr")
        assert ome.scales_nm[0] == pytest.approx(read_volume(mem / "volume.tif").voxel_size_nm)
        figs = sorted(p.name for p in mem.glob("*.png"))
        assert figs == sorted(p.name for p in chk.glob("*.png")) and figs, stage
    # the chain did something: the stack was stretched by the tilt and denoised
    geo = got["numbers"]["geometry"]
    assert geo["shape_out"][1] > geo["shape_in"][1]
    assert got["numbers"]["denoise"]["noise_reduction_factor"] > 1.5


@pytest.mark.parametrize("method", ["wavelet-fft", "auto"])
def test_chunked_wavelet_and_auto_curtaining_and_given_sigma_equal_in_memory(
    fibsem_file, tmp_path, method
) -> None:
    """The per-slice wavelet-fft method (no z halo; horizontal stripes), ``auto`` (both
    methods on the sample slices, the lower damage score kept) and a given noise level, with
    the stages' ``chunks`` option (slabs of 5 slices) on local threads."""

    def recipe(extra: dict) -> object:
        curt = {"name": "curtaining", "method": method, "direction": "horizontal", **CURTAINING}
        den = {"name": "denoise", "sigma": 6.0, "patch_distance": 3}
        return parse_recipe(
            {"recipe": {"name": "wavelet"}, "stage": [{**curt, **extra}, {**den, **extra}]}
        )

    ref = run_pipeline(recipe({}), fibsem_file, tmp_path / "mem", progress=False)
    got = run_pipeline(recipe({"chunks": 5}), fibsem_file, tmp_path / "chk", progress=False)
    _assert_close(_without_chunked(got["numbers"]), ref["numbers"])
    curt = got["numbers"]["curtaining"]
    assert curt["chunked"]["z_halo"] == (4 if curt["method"] == "robust" else 0)
    if method == "auto":
        assert set(curt["metrics"]) == {"robust", "wavelet-fft"}
    assert got["numbers"]["denoise"]["chunked"]["slices_per_chunk"] == 5
    for stage in ("01-curtaining", "02-denoise"):
        # below the size threshold the runner computes the small Dask result into a TIFF
        a = read_volume(tmp_path / "chk" / stage / "volume.tif").data
        b = read_volume(tmp_path / "mem" / stage / "volume.tif").data
        np.testing.assert_array_equal(a, b, err_msg=stage)


@pytest.mark.parametrize(
    ("stage", "options", "needle"),
    [
        ("curtaining", {"log_transform": True}, "log_transform: in-memory only"),
        ("denoise", {"mode": "3d"}, "mode: in-memory only"),
    ],
)
def test_in_memory_only_preprocess_options_are_a_clear_error(
    fibsem_file, tmp_path, stage, options, needle
) -> None:
    recipe = parse_recipe(
        {"recipe": {"name": "bad"}, "stage": [{"name": stage, "chunks": 8, **options}]}
    )
    with pytest.raises(ValueError, match=needle) as err:
        run_pipeline(recipe, fibsem_file, tmp_path / "out", progress=False)
    assert "\n" not in str(err.value)
