"""Validation at the boundary (issue 20, build item 4): every bad or edge input of the issue
gives a one-line error naming the file or parameter, or the right number; never NaN/inf with
exit 0."""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from microstructure.cli import main
from microstructure.io import read_volume, write_volume
from microstructure.pipeline.recipe import parse_recipe

# through the package (the submodule ``granulometry`` would shadow the function of the same
# name on the package, which the CLI imports as ``from microstructure.porosimetry import ...``)
from microstructure.porosimetry import granulometry, local_thickness  # isort: skip
from microstructure.porosimetry import invasion_radius, simulate_mip
from microstructure.porosimetry.measured import load_mip_curve, read_curve_csv, read_mip_file
from microstructure.transport.mfactor import m_factor
from microstructure.volume import (
    MAX_VOXEL_SIZE_NM,
    MIN_VOXEL_SIZE_NM,
    Volume,
    check_volume,
    parse_voxel_size,
)

REPO = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _labels(shape=(8, 8, 8)) -> np.ndarray:
    lab = np.ones(shape, np.uint8)
    lab[:, 2:6, 2:6] = 0  # a straight square channel along z
    return lab


# --------------------------------------------------------------------------- voxel sizes


@pytest.mark.parametrize("bad", [1e-300, 1e300, 0.05, 2e6, "1e9", "10,10,1e-5"])
def test_voxel_size_outside_physical_bounds_is_refused(bad):
    with pytest.raises(ValueError, match=r"voxel_size_nm: .*outside the physical range 0\.1 nm"):
        parse_voxel_size(bad)
    with pytest.raises(ValueError, match="outside the physical range"):
        Volume(np.zeros((2, 2, 2)), voxel_size_nm=bad)


def test_voxel_size_bounds_are_inclusive():
    assert parse_voxel_size(MIN_VOXEL_SIZE_NM) == (0.1, 0.1, 0.1)
    assert parse_voxel_size(MAX_VOXEL_SIZE_NM) == (1e6, 1e6, 1e6)


@pytest.mark.parametrize("value", ["1e-300", "1e300"])
def test_cli_info_refuses_absurd_voxel_size(tmp_path, capsys, value):
    path = tmp_path / "v.npy"
    np.save(path, np.zeros((4, 4, 4), np.uint8))
    code, _out, err = run_cli(capsys, "info", path, "--voxel-size-nm", value)
    line = _one_line_error(code, err)
    assert "--voxel-size-nm" in line and "0.1 nm" in line


def test_cli_phantom_voxel_size_names_the_voxel_size(tmp_path, capsys):
    code, _out, err = run_cli(
        capsys, "phantom", tmp_path / "ph", "--shape", "16,16,16", "--voxel-size-nm", "1e9"
    )
    line = _one_line_error(code, err)
    assert "voxel-size" in line and "mean_diameter_um" not in line


def test_metadata_voxel_size_outside_bounds_names_the_file(tmp_path):
    path = tmp_path / "tiny.tif"
    write_volume(path, Volume(np.zeros((3, 4, 4), np.uint8), voxel_size_nm=10.0))
    # rewrite our JSON metadata with an absurd voxel size
    with tifffile.TiffFile(path) as tif:
        info = json.loads(tif.imagej_metadata["Info"])
    info["voxel_size_nm"] = [1e-300, 1e-300, 1e-300]
    tifffile.imwrite(
        path,
        np.zeros((3, 4, 4), np.uint8),
        imagej=True,
        metadata={"axes": "ZYX", "unit": "um", "Info": json.dumps(info)},
    )
    with pytest.raises(ValueError, match=r"tiny\.tif: metadata voxel size.*outside"):
        read_volume(path)
    assert read_volume(path, voxel_size_nm=20).voxel_size_nm == (20.0, 20.0, 20.0)


# --------------------------------------------------------------------------- dtypes


def test_complex_npy_is_refused_at_reading(tmp_path, capsys):
    path = tmp_path / "c.npy"
    np.save(path, (np.ones((4, 4, 4)) + 1j).astype(np.complex64))
    with pytest.raises(ValueError, match=r"c\.npy: complex values"):
        read_volume(path)
    code, _out, err = run_cli(capsys, "info", path)
    assert "complex" in _one_line_error(code, err)


def test_structured_and_object_dtypes_are_refused(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.zeros((4, 4, 4), dtype=[("a", "f4"), ("b", "i4")]))
    with pytest.raises(ValueError, match=r"s\.npy: expected a numeric array"):
        read_volume(path)
    with pytest.raises(ValueError, match="numeric array"):
        check_volume(np.empty((2, 2, 2), dtype=object))


def test_complex_zarr_is_refused_lazily_too(tmp_path):
    import zarr

    path = tmp_path / "c.zarr"
    arr = zarr.create_array(str(path), shape=(4, 4, 4), dtype="complex64", chunks=(4, 4, 4))
    arr[...] = 1 + 1j
    for lazy in (False, True):
        with pytest.raises(ValueError, match=r"c\.zarr: complex values"):
            read_volume(path, lazy=lazy)


def test_boolean_pore_mask_reads_as_pore_and_solid():
    """A boolean mask is a pore mask (True = pore, PoreSpy's ``im``): the same numbers as the
    labels with pore 0 and AM 1, never the inverted phases (issue 24)."""
    labels = _labels((12, 12, 12))
    two_phase = np.where(labels == 0, 0, 1).astype(np.uint8)
    mask = two_phase == 0
    a = granulometry(mask, voxel_size_nm=10)
    b = granulometry(two_phase, voxel_size_nm=10)
    assert a.porosity == pytest.approx(b.porosity)
    assert a.porosity == pytest.approx(mask.mean())
    s1 = simulate_mip(mask, voxel_size_nm=10)
    s2 = simulate_mip(two_phase, voxel_size_nm=10)
    np.testing.assert_allclose(s1.invasion_radius_nm, s2.invasion_radius_nm)
    assert s1.porosity == pytest.approx(float(mask.mean()))
    m1 = m_factor(mask, voxel_size_nm=10, axis="z")
    m2 = m_factor(two_phase, voxel_size_nm=10, axis="z")
    assert m1.m_factor == pytest.approx(m2.m_factor)
    with pytest.raises(ValueError, match="every voxel is pore"):
        granulometry(np.ones((4, 4, 4), bool), voxel_size_nm=10)


# --------------------------------------------------------------------------- z = 1 stacks


def test_single_slice_is_refused_by_3d_algorithms():
    flat = _labels((1, 8, 8))
    with pytest.raises(ValueError, match=r"labels: granulometry needs at least 2 voxels.*z"):
        granulometry(flat, voxel_size_nm=10)
    with pytest.raises(ValueError, match=r"labels: simulated mercury intrusion needs .*z"):
        simulate_mip(flat, voxel_size_nm=10)
    with pytest.raises(ValueError, match=r"labels: the M-factor .*needs at least 2"):
        m_factor(flat, voxel_size_nm=10, axis="y")
    with pytest.raises(ValueError, match=r"pore_mask: local thickness needs"):
        local_thickness(flat == 0, voxel_size_nm=10)
    with pytest.raises(ValueError, match=r"pore_mask: mercury intrusion needs"):
        invasion_radius(flat == 0, voxel_size_nm=10)
    thin_x = _labels((8, 8, 1))
    with pytest.raises(ValueError, match=r"\(x too thin"):
        granulometry(thin_x, voxel_size_nm=10)


def test_single_slice_info_still_works_but_granulometry_refuses(tmp_path, capsys):
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, _labels((1, 8, 8))[0])
    code, out, err = run_cli(capsys, "info", path, "--json")
    assert code == 0, err
    assert json.loads(out)["shape"][0] == 1
    code, _out, err = run_cli(capsys, "granulometry", path, "--voxel-size-nm", "10")
    assert "single slice" in _one_line_error(code, err)


# --------------------------------------------------------------------------- all pore / all solid


def test_all_pore_volume_is_refused_by_pore_size_algorithms():
    pore = np.zeros((6, 6, 6), np.uint8)
    for call in (
        lambda: granulometry(pore, voxel_size_nm=10),
        lambda: simulate_mip(pore, voxel_size_nm=10),
        lambda: local_thickness(pore == 0, voxel_size_nm=10),
        lambda: invasion_radius(pore == 0, voxel_size_nm=10),
    ):
        with pytest.raises(ValueError, match="every voxel is pore"):
            call()


def test_all_pore_volume_is_refused_chunked_too():
    # the chunked distance transform is capped: without the check the cap came out as the
    # pore size (D50 = 320 nm for an 8^3 all-pore cube of 10 nm voxels)
    import dask.array as da

    pore = np.zeros((8, 8, 8), np.uint8)
    for labels in (pore, da.from_array(pore, chunks=4)):
        with pytest.raises(ValueError, match="every voxel is pore"):
            granulometry(labels, voxel_size_nm=10, chunks=4)
        with pytest.raises(ValueError, match="every voxel is pore"):
            simulate_mip(labels, voxel_size_nm=10, chunks=4)
    with pytest.raises(ValueError, match="every voxel is pore"):
        local_thickness(pore == 0, voxel_size_nm=10, chunks=4)
    with pytest.raises(ValueError, match="every voxel is pore"):
        invasion_radius(pore == 0, voxel_size_nm=10, chunks=4)


def test_all_solid_volume_is_refused():
    solid = np.ones((6, 6, 6), np.uint8)
    for call in (
        lambda: granulometry(solid, voxel_size_nm=10),
        lambda: simulate_mip(solid, voxel_size_nm=10),
    ):
        with pytest.raises(ValueError, match="no pore voxels"):
            call()
    with pytest.raises(ValueError, match="none of the transporting phases"):
        m_factor(solid, voxel_size_nm=10, axis="z")


def test_mfactor_of_an_all_pore_volume_is_one():
    # a fully open volume: every path is straight, M = porosity / tortuosity factor = 1
    res = m_factor(np.zeros((6, 6, 6), np.uint8), voxel_size_nm=10, axis="z")
    assert res.m_factor == pytest.approx(1.0, rel=1e-3)
    assert res.tortuosity_factor == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("command", [("granulometry",), ("mip", "simulate", "--inlet", "all")])
def test_cli_all_pore_prints_no_nan(tmp_path, capsys, command):
    path = tmp_path / "pore.npy"
    np.save(path, np.zeros((6, 6, 6), np.uint8))
    code, out, err = run_cli(capsys, *command, path, "--voxel-size-nm", "10")
    line = _one_line_error(code, err)
    assert "every voxel is pore" in line
    assert "nan" not in out.lower() and "inf" not in out.lower()


def test_granulometry_of_a_channel_is_finite():
    summary = granulometry(_labels(), voxel_size_nm=10).summary()
    values = [v for k, v in summary.items() if k.endswith("_nm") and isinstance(v, float)]
    assert len(values) >= 4 and all(math.isfinite(v) for v in values)


# --------------------------------------------------------------------------- MIP files


def _psi_curve() -> tuple[np.ndarray, np.ndarray]:
    psi = np.geomspace(20.0, 50000.0, 30)
    vol = 0.2 / (1.0 + (2000.0 / psi) ** 2)  # mL/g, intrusion around 2000 psi
    return psi, vol


def _write(path: Path, header: str, cols) -> Path:
    rows = "\n".join("\t".join(f"{v:.10g}" for v in row) for row in zip(*cols, strict=True))
    path.write_text(header + "\n" + rows + "\n")
    return path


def test_pressure_and_volume_units_from_headers(tmp_path):
    psi, vol = _psi_curve()
    ref = read_mip_file(_write(tmp_path / "psi.txt", "Pressure (psia)\tVolume (mL/g)", [psi, vol]))
    mpa = psi * 0.00689475729
    cases = {
        "Pressure (Pa)\tVolume (mL/g)": (mpa * 1e6, vol),
        "Pressure (kPa)\tVolume (mL/g)": (mpa * 1e3, vol),
        "Pressure (MPa)\tVolume (cm3/g)": (mpa, vol),
        "Pressure (atm)\tVolume (mL/g)": (mpa / 0.101325, vol),
        "Pressure (bar)\tVolume (mm3/g)": (mpa * 10, vol * 1000),
        "Pressure (psia)\tVolume (L/g)": (psi, vol / 1000),
    }
    for i, (header, (p, v)) in enumerate(cases.items()):
        curve = read_mip_file(_write(tmp_path / f"c{i}.txt", header, [p, v]))
        for key, want in ref.d_values().items():
            assert curve.d_values()[key] == pytest.approx(want, rel=1e-6), header
        np.testing.assert_allclose(
            curve.specific_volume_mm3_per_g, ref.specific_volume_mm3_per_g, rtol=1e-6
        )
    assert 1.0 < ref.d_values()["d50_nm"] < 1000.0


def test_column_order_from_titles(tmp_path):
    psi, vol = _psi_curve()
    ref = read_mip_file(_write(tmp_path / "a.txt", "Pressure (psia)\tVolume (mL/g)", [psi, vol]))
    diam = 1.0e3 * np.ones_like(psi)
    other = _write(
        tmp_path / "b.txt",
        "Diameter (nm)\tPressure (psia)\tCumulative Volume (mL/g)",
        [diam, psi, vol],
    )
    curve = read_mip_file(other)
    assert curve.d_values() == pytest.approx(ref.d_values())
    with pytest.raises(ValueError, match=r"b\.txt: pressure_column 0 is titled 'Diameter"):
        read_mip_file(other, pressure_column=0, volume_column=2)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("negative", "negative intruded volumes"),
        ("decreasing", "cumulative volume decreases"),
        # untitled columns whose order the reader cannot tell are refused before any
        # reading (issue 21): one line asking for pressure_column/volume_column
        ("diameter_first", "cannot be told; give pressure_column and volume_column"),
        ("constant_pressure", "order cannot be told"),
        ("huge_pressure", "exceeds the 1000 MPa"),
        ("flat_volume", "no volume is intruded"),
    ],
)
def test_bad_curve_files_are_refused(tmp_path, name, match):
    psi, vol = _psi_curve()
    diam = 1e-3 * 1.0 / (psi * 0.00689475729)
    cols = {
        "negative": [psi, vol - 0.1],
        "decreasing": [psi, vol[::-1]],
        "diameter_first": [diam, psi, vol],  # no titles, three columns
        "constant_pressure": [np.full_like(psi, 100.0), vol],
        "huge_pressure": [psi * 1e300, vol],
        "flat_volume": [psi, np.full_like(vol, 0.1)],
    }[name]
    path = _write(tmp_path / f"{name}.txt", "", cols)
    with pytest.raises(ValueError, match=match) as err:
        read_mip_file(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_cli_mip_read_pa_header(tmp_path, capsys):
    psi, vol = _psi_curve()
    path = _write(tmp_path / "pa.txt", "Pressure (Pa)\tVolume (mL/g)", [psi * 6894.75729, vol])
    code, out, err = run_cli(capsys, "mip", "read", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    text = json.dumps(data)
    assert "NaN" not in text and "Infinity" not in text
    d50 = next(v for k, v in _items(data) if k == "d50_nm")
    ref = read_mip_file(_write(tmp_path / "psi.txt", "Pressure (psia)", [psi, vol]))
    assert d50 == pytest.approx(ref.d_values()["d50_nm"], rel=1e-6)
    assert 50.0 < d50 < 200.0  # intrusion centred on 2000 psi: ~90 nm, not 0.0013 nm


def _items(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k, v
            yield from _items(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _items(v)


@pytest.mark.parametrize(
    ("cell", "value", "match"),
    [
        ("pressure_mpa", "nan", "pressure_mpa = nan is not a positive pressure"),
        ("diameter_nm", "-5", "diameter_nm = -5.0 is not a positive diameter"),
        ("saturation", "2", r"saturation = 2.0 is not a saturation in \[0, 1\]"),
    ],
)
def test_curve_csv_with_impossible_values_is_refused(tmp_path, capsys, cell, value, match):
    rows = {"diameter_nm": ["100", "10"], "pressure_mpa": ["12", "120"], "saturation": ["0", "1"]}
    rows[cell][1] = value
    path = tmp_path / "curve.csv"
    path.write_text(
        "diameter_nm,pressure_mpa,saturation\n"
        + "\n".join(",".join(rows[c][i] for c in rows) for i in range(2))
        + "\n"
    )
    with pytest.raises(ValueError, match=match):
        read_curve_csv(path)
    with pytest.raises(ValueError, match="line 3"):
        load_mip_curve(path)
    good = tmp_path / "good.csv"
    good.write_text("diameter_nm,pressure_mpa,saturation\n100,12,0\n10,120,1\n")
    code, _out, err = run_cli(capsys, "mip", "compare", good, path)
    assert "curve.csv" in _one_line_error(code, err)


# --------------------------------------------------------------------------- memory estimate


def test_phantom_too_large_is_refused_before_allocating():
    from microstructure.phantom import generate_phantom
    from microstructure.phantom.generate import phantom_memory_bytes

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"shape: .*needs about .* GiB.* available"):
        generate_phantom((2000, 2000, 2000))
    assert time.perf_counter() - t0 < 5.0
    # measured: 4.5 GB peak for 481 x 395 x 650 (docstring of generate_phantom)
    assert phantom_memory_bytes((481, 395, 650)) == pytest.approx(4.5e9, rel=0.1)


def test_cli_phantom_too_large(tmp_path, capsys):
    code, _out, err = run_cli(capsys, "phantom", tmp_path / "big", "--shape", "2000,2000,2000")
    assert "GiB" in _one_line_error(code, err)


def test_recipe_phantom_too_large_is_refused_early(tmp_path):
    from microstructure.pipeline.phantom_input import prepare_phantom

    with pytest.raises(ValueError, match=r"\[phantom\]: shape: a phantom of \(5000, 5000, 5000\)"):
        prepare_phantom({"shape": (5000, 5000, 5000)}, tmp_path / "run")
    assert not (tmp_path / "run" / ".00-phantom.tmp").exists()


def test_run_phantom_shape_names_its_own_option(tmp_path, capsys):
    recipe = REPO / "pipelines" / "seed000_digital_twin.toml"
    code, _out, err = run_cli(
        capsys, "run", recipe, "--out", tmp_path / "r", "--phantom-shape", "a,b,c"
    )
    line = _one_line_error(code, err)
    assert "--phantom-shape" in line and "--shape:" not in line


# --------------------------------------------------------------------------- metadata


def test_imagej_spacing_not_a_number(tmp_path, capsys):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path,
        np.zeros((3, 4, 4), np.uint8),
        imagej=True,
        resolution=(10.0, 10.0),
        metadata={"spacing": "abc", "unit": "um", "axes": "ZYX"},
    )
    with pytest.raises(ValueError, match=r"ij\.tif: metadata ImageJ spacing = 'abc'"):
        read_volume(path)
    with pytest.warns(UserWarning, match="ImageJ spacing"):
        vol = read_volume(path, voxel_size_nm=50)
    assert vol.voxel_size_nm == (50.0, 50.0, 50.0)
    code, _out, err = run_cli(capsys, "info", path, "--voxel-size-nm", "50")
    assert code == 0, err


def test_ome_physical_size_not_a_number(tmp_path):
    path = tmp_path / "ome.tif"
    ome = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0">'
        '<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" SizeX="4" SizeY="4" '
        'SizeZ="3" SizeC="1" SizeT="1" PhysicalSizeX="abc" PhysicalSizeY="10" '
        'PhysicalSizeZ="10"><TiffData/></Pixels></Image></OME>'
    )
    tifffile.imwrite(path, np.zeros((3, 4, 4), np.uint8), description=ome, metadata=None)
    with pytest.raises(ValueError, match=r"ome\.tif: metadata OME PhysicalSizeX = 'abc'"):
        read_volume(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert read_volume(path, voxel_size_nm=5).voxel_size_nm == (5.0, 5.0, 5.0)


def test_non_tiff_in_slice_folder_is_named(tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"s{i}.tif", np.zeros((4, 4), np.uint8))
    (folder / "notes.txt").write_text("fine: side files are allowed")
    assert read_volume(folder, voxel_size_nm=10).shape == (3, 4, 4)
    (folder / "s3.png").write_bytes(b"\x89PNG not a slice")
    with pytest.raises(ValueError, match=r"s3\.png: not a TIFF slice"):
        read_volume(folder)
    (folder / "s3.png").unlink()
    (folder / "s4.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match=r"s4\.tif: cannot read as TIFF"):
        read_volume(folder)


def _zarr_group(path: Path, attrs: dict) -> Path:
    import zarr

    root = zarr.open_group(str(path), mode="w")
    arr = root.create_array("0", shape=(3, 4, 4), dtype="uint8", chunks=(3, 4, 4))
    arr[...] = 1
    root.attrs.update(attrs)
    return path


@pytest.mark.parametrize(
    "attrs",
    [
        {"multiscales": [{"datasets": []}]},  # IndexError
        {"multiscales": [{"datasets": [{"no_path": "0"}]}]},  # KeyError
        {"multiscales": [{"datasets": [{"path": "missing"}]}]},  # KeyError in the store
        {"multiscales": "garbage"},
        {"voxel_size_nm": ["a", "b", "c"]},
        {"voxel_size_nm": [1, 2]},
    ],
)
def test_malformed_zarr_is_one_line_naming_the_store(tmp_path, capsys, attrs):
    path = _zarr_group(tmp_path / "bad.zarr", attrs)
    with pytest.raises(ValueError, match=r"bad\.zarr: ") as err:
        read_volume(path)
    assert "\n" not in str(err.value)
    code, _out, err_text = run_cli(capsys, "info", path)
    assert "bad.zarr" in _one_line_error(code, err_text)


def test_corrupt_zarr_metadata_file(tmp_path):
    import zarr

    path = tmp_path / "broken.zarr"
    zarr.create_array(str(path), shape=(3, 4, 4), dtype="uint8", chunks=(3, 4, 4))
    (path / "zarr.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.zarr: cannot open as Zarr"):
        read_volume(path)


# --------------------------------------------------------------------------- recipes


def test_recipe_name_must_be_a_string():
    stage = [{"name": "porosity"}]
    with pytest.raises(ValueError, match=r"r\.toml: \[recipe\] name: expected a quoted string"):
        parse_recipe({"recipe": {"name": 12}, "stage": stage}, path="r.toml")
    with pytest.raises(ValueError, match=r"r\.toml: stage 1: name: expected a quoted stage name"):
        parse_recipe({"stage": [{"name": 12}]}, path="r.toml")
    assert parse_recipe({"recipe": {"name": "ok"}, "stage": stage}, path="r.toml").name == "ok"


# ---------------------------------------------------------------- found by the fuzz tests


def test_our_tiff_metadata_with_a_short_voxel_size_is_ignored(tmp_path):
    # tests/test_fuzz_readers.py: Info '{"voxel_size_nm": [0.0]}' raised IndexError
    path = tmp_path / "short.tif"
    tifffile.imwrite(
        path,
        np.zeros((2, 3, 3), np.uint8),
        imagej=True,
        metadata={"axes": "ZYX", "unit": "um", "Info": '{"voxel_size_nm": [0.0]}'},
    )
    assert read_volume(path, voxel_size_nm=10).voxel_size_nm == (10.0, 10.0, 10.0)


@pytest.mark.parametrize("section", ["electrode", "input"])
def test_recipe_section_that_is_not_a_table(section):
    # tests/test_fuzz_readers.py: `electrode = 3` raised TypeError
    with pytest.raises(ValueError, match=rf"r\.toml: \[{section}\] must be a table"):
        parse_recipe({section: 3, "stage": [{"name": "porosity"}]}, path="r.toml")


def test_curve_csv_that_is_not_utf8(tmp_path):
    # tests/test_fuzz_readers.py: a binary file gave a UnicodeDecodeError naming no file
    path = tmp_path / "bin.csv"
    path.write_bytes(b"diameter_nm,pressure_mpa,saturation\n\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"bin\.csv: not a UTF-8 curve CSV"):
        read_curve_csv(path)


def test_chunks_zero_is_an_error_not_a_silent_in_memory_run(tmp_path, capsys):
    from microstructure.cli import main
    from microstructure.io import write_volume
    from microstructure.volume import Volume

    lab = tmp_path / "lab.tif"
    rng = np.random.default_rng(0)
    write_volume(lab, Volume((rng.random((8, 8, 8)) > 0.5).astype(np.uint8), (10.0,) * 3))
    argv = ["mip", "simulate", str(lab), "--inlet", "all", "--chunks", "0"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--max-radius-nm", "50"])
    assert exc.value.code == 2
    assert "--chunks: expected an integer >= 1, got 0" in capsys.readouterr().err


def test_dfn_c_rate_beyond_the_model_is_refused_before_solving():
    from microstructure.transport.dfn.simulate import MAX_C_RATE, _check_c_rate

    assert _check_c_rate(MAX_C_RATE) == MAX_C_RATE
    with pytest.raises(ValueError, match="c_rate: 1e\\+06 C is above the 100 C"):
        _check_c_rate(1e6)


def test_a_tiff_cut_in_half_is_an_error_not_one_slice(tmp_path, capsys):
    from microstructure.io import read_volume, write_volume
    from microstructure.volume import Volume

    whole = tmp_path / "whole.tif"
    data = np.random.default_rng(0).integers(0, 255, (12, 32, 32), dtype=np.uint8)
    write_volume(whole, Volume(data, (10.0, 10.0, 10.0)))
    half = tmp_path / "half.tif"
    raw = whole.read_bytes()
    half.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="half.tif: truncated or corrupted TIFF") as err:
        read_volume(half)
    assert "\n" not in str(err.value)
    assert capsys.readouterr().err == ""  # no tifffile log lines leak
    np.testing.assert_array_equal(read_volume(whole).data, data)


@pytest.mark.parametrize("stage", ["segment", "cbd", "nanopores"])
def test_single_slice_stacks_are_refused_by_the_3d_stages(tmp_path, stage):
    from microstructure.io import write_volume
    from microstructure.pipeline import parse_recipe, run_pipeline
    from microstructure.volume import Volume

    rng = np.random.default_rng(0)
    if stage == "segment":
        data = rng.integers(0, 255, (1, 32, 32), dtype=np.uint8)
        extra = {}
    else:
        data = (rng.random((1, 32, 32)) > 0.5).astype(np.uint8)
        extra = {"volume_fraction": 0.05} if stage == "cbd" else {}
    path = tmp_path / "one.tif"
    write_volume(path, Volume(data, (20.0, 20.0, 20.0)))
    recipe = parse_recipe({"recipe": {"name": "t"}, "stage": [{"name": stage, **extra}]})
    with pytest.raises(ValueError, match=f"stage '{stage}': .* a single slice is 2D") as err:
        run_pipeline(recipe, path, tmp_path / "out", progress=False)
    assert "\n" not in str(err.value)
