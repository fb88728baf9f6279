"""The builtin ``mip`` and ``granulometry`` stages on the chunked path (``chunks`` option, or
labels above the runner's size threshold): the same numbers, tables and figures as in memory,
through ``run_pipeline`` on the phantom, on a two-worker dask.distributed cluster; resumable
inside the stage; clear errors for the options that are in-memory only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from microstructure.io import read_volume, write_volume
from microstructure.parallel import dask_scheduler, set_chunk_hook
from microstructure.pipeline import parse_recipe
from microstructure.pipeline.runner import run_pipeline
from microstructure.volume import Volume

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
MIP = {
    "inlet": "all-but-bottom",
    "max_diameter_nm": 600.0,
    "extrusion": False,
    "compare_inlets": ["top"],
    "subvoxel_fraction": 0.037,
    "densities_g_per_cm3": {"am": 4.76, "cbd": 1.935},
}
GRAN = {"max_diameter_nm": 600.0}


@pytest.fixture(scope="module")
def phantom_file(tmp_path_factory) -> Path:
    """A 32 x 48 x 40 crop of the bundled phantom's labels (60 nm voxels, AM and CBD)."""
    vol = read_volume(SAMPLE / "truth_labels.tif")
    path = tmp_path_factory.mktemp("phantom") / "labels.tif"
    write_volume(path, Volume(np.ascontiguousarray(vol.data[:32, :48, :40]), vol.voxel_size_nm))
    return path


def _recipe(chunks: int | None) -> object:
    extra = {} if chunks is None else {"chunks": chunks}
    return parse_recipe(
        {
            "recipe": {"name": "chunked-porosimetry"},
            "stage": [
                {"name": "mip", **MIP, **extra},
                {"name": "granulometry", **GRAN, **extra},
            ],
        }
    )


def _table(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    head, body = rows[0], rows[1:]
    return {h: np.array([float(r[i]) for r in body]) for i, h in enumerate(head)}


def _assert_close(got, ref, path="numbers") -> None:
    """Equal structure; numbers to rtol 1e-6 (radii to float32 rounding of the chunked EDT)."""
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


def test_chunked_mip_and_granulometry_stages_equal_in_memory_on_a_cluster(
    cluster, phantom_file, tmp_path
) -> None:
    ref = run_pipeline(_recipe(None), phantom_file, tmp_path / "mem", progress=False)
    got = run_pipeline(_recipe(24), phantom_file, tmp_path / "chunked", progress=False)
    _assert_close(got["numbers"], ref["numbers"])
    # the chunked run really compared inlets, corrected for sub-voxel throats, used densities
    mip = got["numbers"]["mip"]
    assert set(mip["inlet_settings"]) == {"all-but-bottom", "top"}
    assert mip["inlet_settings"]["top"]["intruded_porosity"] < mip["intruded_porosity"]
    assert mip["subvoxel"]["d50_corrected_nm"] < mip["d50_nm"]
    assert mip["specific_volume_mm3_per_g"] > 0
    assert got["numbers"]["granulometry"]["shielding"] is not None  # MIP D50 reached it
    for stage in ("01-mip", "02-granulometry"):
        mem, chk = tmp_path / "mem" / stage, tmp_path / "chunked" / stage
        tables = sorted(p.name for p in mem.glob("*.csv"))
        assert tables == sorted(p.name for p in chk.glob("*.csv")) and tables
        for name in tables:
            a, b = _table(chk / name), _table(mem / name)
            assert a.keys() == b.keys(), name
            for col in b:
                np.testing.assert_allclose(a[col], b[col], rtol=1e-6, err_msg=f"{name}:{col}")
        figs = sorted(p.name for p in mem.glob("*.png"))
        assert figs == sorted(p.name for p in chk.glob("*.png")) and figs
    assert not list((tmp_path / "chunked").glob(".*.chunks"))  # chunk folders removed


class Interrupt(RuntimeError):
    pass


def test_interrupted_chunked_mip_stage_resumes_inside_its_second_inlet(
    phantom_file, tmp_path
) -> None:
    """Interrupted while painting the compared inlet: the rerun recomputes neither the main
    inlet (its counts were kept) nor the compared inlet's finished phases and chunks."""
    from microstructure.porosimetry import simulate_mip

    recipe = parse_recipe(
        {"recipe": {"name": "t"}, "stage": [{"name": "mip", **MIP, "chunks": 24}]}
    )
    calls: list[str] = []

    def hook(phase: str, block: tuple) -> None:
        calls.append(phase)
        # the main inlet paints its 8 chunks first; stop after 3 of the second inlet's
        if calls.count("paint-inv") == 8 + 3:
            raise Interrupt("stop")

    out = tmp_path / "out"
    old = set_chunk_hook(hook)
    try:
        with dask_scheduler("synchronous"), pytest.raises(Interrupt):
            run_pipeline(recipe, phantom_file, out, progress=False)
        assert (out / ".01-mip.chunks" / "mip-0-all_but_bottom" / "result.npz").is_file()
        calls.clear()
        set_chunk_hook(lambda phase, block: calls.append(phase))
        with dask_scheduler("synchronous"):
            report = run_pipeline(recipe, phantom_file, out, progress=False)
    finally:
        set_chunk_hook(old)
    assert calls == ["paint-inv"] * (8 - 3)  # nothing else was computed again
    vol = read_volume(phantom_file)
    kw = {"voxel_size_nm": vol.voxel_size_nm, "extrusion": False}
    from microstructure.pipeline.builtin.porosimetry import capped_radii_nm

    kw["radii_nm"] = capped_radii_nm(None, 600.0, 40, vol.voxel_size_nm)
    numbers = report["numbers"]["mip"]
    for inlet in ("all-but-bottom", "top"):
        ref = simulate_mip(vol.data, inlet=inlet, **kw).curve
        got = numbers["inlet_settings"][inlet]
        assert got["intruded_porosity"] == pytest.approx(ref.total_intruded_fraction, rel=1e-6)
        assert got["d50_nm"] == pytest.approx(ref.d_values()["d50_nm"], rel=1e-6)


@pytest.mark.parametrize(
    "stage, options, needle",
    [
        ("mip", {"cbd_porosity": 0.4}, "cbd_porosity: in-memory only"),
    ],
)
def test_in_memory_only_options_are_a_clear_error_on_the_chunked_path(
    phantom_file, tmp_path, stage, options, needle
) -> None:
    base = dict(MIP if stage == "mip" else GRAN)
    base.update(options, chunks=24)
    recipe = parse_recipe({"recipe": {"name": "t"}, "stage": [{"name": stage, **base}]})
    with pytest.raises(ValueError, match=needle):
        run_pipeline(recipe, phantom_file, tmp_path / "out", progress=False)


@pytest.mark.parametrize(
    "stage, options",
    [
        ("mip", {"extrusion": True}),
        ("mip", {"max_diameter_nm": None, "extrusion": True}),
        ("granulometry", {"max_diameter_nm": None}),
    ],
)
def test_extrusion_and_exact_radii_run_chunked_with_the_in_memory_numbers(
    phantom_file, tmp_path, stage, options
) -> None:
    """Formerly refused on the chunked path: extrusion (now chunked too) and no
    max_diameter_nm (the largest pore radius is found by a chunked distance pass)."""
    base = dict(MIP if stage == "mip" else GRAN)
    base.update(options)
    runs = {}
    for extra in ({}, {"chunks": 24}):
        recipe = parse_recipe(
            {"recipe": {"name": "t"}, "stage": [{"name": stage, **base, **extra}]}
        )
        with dask_scheduler("synchronous"):
            runs[bool(extra)] = run_pipeline(
                recipe, phantom_file, tmp_path / f"out{bool(extra)}", progress=False
            )["numbers"]
    _assert_close(runs[True], runs[False])
    if options.get("extrusion"):
        assert 0 < runs[True]["mip"]["entrapped_fraction"] < 1


def test_labels_above_the_size_threshold_run_chunked_as_dask(phantom_file, tmp_path) -> None:
    """A Dask volume above the threshold goes the chunked way (no `chunks` option), one below
    it is loaded and simulated in memory; both give the in-memory numbers."""
    import dask.array as da

    from microstructure.pipeline.builtin.porosimetry import GranulometryStage, chunked_edge
    from microstructure.pipeline.stages import StageContext

    vol = read_volume(phantom_file)
    lazy = Volume(da.from_array(vol.data, chunks=(16, 48, 40)), vol.voxel_size_nm)
    ctx = StageContext(work_dir=tmp_path)
    assert chunked_edge(lazy, None, ctx) is None  # below the runner's default (2 GiB)
    assert chunked_edge(lazy, 32, ctx) == 32
    ctx.zarr_threshold_bytes = lazy.data.nbytes - 1  # as the runner would hand it down
    assert chunked_edge(lazy, None, ctx) == 128
    params = GranulometryStage.Params(**GRAN)
    seen: list[str] = []
    old = set_chunk_hook(lambda phase, block: seen.append(phase))
    try:
        with dask_scheduler("synchronous"):
            got = GranulometryStage().run(lazy, params, ctx).numbers
    finally:
        set_chunk_hook(old)
    assert "paint-lt" in seen  # it did run chunked
    small = StageContext(work_dir=tmp_path)
    ref = GranulometryStage().run(lazy, params, small).numbers
    _assert_close(got, ref)


def test_granulometry_summary_reads_zarr_and_dask_arrays(phantom_file, tmp_path) -> None:
    """``GranulometryResult.summary()`` on a local thickness kept as Zarr (or Dask) equals the
    in-memory summary, computed block by block."""
    import dask.array as da

    from microstructure.porosimetry import GranulometryResult, granulometry

    vol = read_volume(phantom_file)
    vs = vol.voxel_size_nm
    ref = granulometry(vol.data, voxel_size_nm=vs, radii_nm=[40.0, 70.0, 120.0, 200.0, 300.0])
    with dask_scheduler("synchronous"):
        got = granulometry(
            da.from_array(vol.data),
            voxel_size_nm=vs,
            radii_nm=[40.0, 70.0, 120.0, 200.0, 300.0],
            chunks=24,
            out_zarr=tmp_path / "lt.zarr",
        )
        assert not isinstance(got.local_thickness_nm, np.ndarray)  # on disk
        _assert_close(got.summary(), ref.summary())  # mean from the chunk counts
        for lt in (got.local_thickness_nm, da.from_zarr(str(tmp_path / "lt.zarr"))):
            lazy = GranulometryResult(
                local_thickness_nm=lt, curve=got.curve, porosity=got.porosity, voxel_size_nm=vs
            )
            _assert_close(lazy.summary(), ref.summary())


def test_simulate_mip_chunked_with_exact_radii_equals_simulate_mip(phantom_file) -> None:
    """Exact fractional radii (no list; the cap above the largest pore radius), densities:
    the same curve and numbers as the in-memory simulation."""
    import dask.array as da

    from microstructure.porosimetry import _core, simulate_mip

    vol = read_volume(phantom_file)
    vs = vol.voxel_size_nm
    dens = {"am": 4.76, "cbd": 1.935}
    ref = simulate_mip(vol.data, voxel_size_nm=vs, inlet="top", densities_g_per_cm3=dens)
    cap = float(_core.distance_nm(vol.data == 0, vs).max()) + 1.0
    with dask_scheduler("synchronous"):
        got = simulate_mip(
            da.from_array(vol.data),
            voxel_size_nm=vs,
            inlet="top",
            max_radius_nm=cap,
            densities_g_per_cm3=dens,
            chunks=16,
        )
    assert got.invasion_radius_nm is None  # not kept without out_zarr
    _assert_close(got.summary(), ref.summary())
    for col, values in ref.curve.columns().items():
        np.testing.assert_allclose(got.curve.columns()[col], values, rtol=1e-6, err_msg=col)


def test_shielding_comparison_of_chunked_fields_kept_as_zarr(phantom_file, tmp_path) -> None:
    """``shielding_comparison`` on the Zarr fields of chunked runs equals the in-memory one;
    without the fields it is a clear error."""
    import dask.array as da

    from microstructure.porosimetry import granulometry, shielding_comparison, simulate_mip

    vol = read_volume(phantom_file)
    from microstructure.porosimetry import _core

    vs = vol.voxel_size_nm
    ref = shielding_comparison(
        simulate_mip(vol.data, voxel_size_nm=vs, inlet="top"),
        granulometry(vol.data, voxel_size_nm=vs),
    )
    cap = float(_core.distance_nm(vol.data == 0, vs).max()) + 1.0  # exact radii
    kw = {"voxel_size_nm": vs, "max_radius_nm": cap, "chunks": 24}
    with dask_scheduler("synchronous"):
        lazy = da.from_array(vol.data)
        mip = simulate_mip(lazy, inlet="top", out_zarr=tmp_path / "inv.zarr", **kw)
        gran = granulometry(lazy, out_zarr=tmp_path / "lt.zarr", **kw)
        got = shielding_comparison(mip, gran)
        assert 0 < got["shielded_fraction"] < 1
        _assert_close(got, ref)
        mip.invasion_radius_nm = None
        with pytest.raises(ValueError, match="out_zarr"):
            shielding_comparison(mip, gran)
