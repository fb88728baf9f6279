"""Property/fuzz tests of the readers (issue 20, build item 6).

Every generated input to :func:`read_volume` (``.npy``, ``.tif``, a slice folder, Zarr),
:func:`read_mip_file` and :func:`parse_recipe` either gives a valid result or raises
``ValueError`` / ``OSError`` with a one-line message; never another exception, never NaN in a
returned curve or volume.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from microstructure.io import read_volume
from microstructure.pipeline.recipe import parse_recipe
from microstructure.porosimetry.measured import load_mip_curve, read_mip_file
from microstructure.volume import MAX_VOXEL_SIZE_NM, MIN_VOXEL_SIZE_NM, Volume

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fuzz-"))


def _expect_result_or_one_line_error(call, names=()):
    """Run ``call``; return its result, or None after checking the error is a one-line
    ValueError/OSError naming one of ``names`` (the file, a parameter) when given (any other
    exception fails the test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call()
        except (ValueError, OSError) as exc:
            event(f"refused ({type(exc).__name__})")
            msg = str(exc)
            assert msg.strip(), f"empty message from {type(exc).__name__}"
            assert "\n" not in msg.strip(), f"multi-line error: {msg!r}"
            if names:
                assert any(n in msg for n in names), f"names none of {names}: {msg!r}"
            return None
    event("result")
    return result


def _names(path: Path) -> tuple[str, ...]:
    """What an error about ``path`` may name: the file, or the parameter at fault."""
    return (path.name, "voxel_size_nm", "--voxel-size-nm", "_column", "_unit")


def _check_volume(vol):
    if vol is None:
        return
    assert isinstance(vol, Volume)
    data = np.asarray(vol.data)
    assert data.ndim == 3 and data.size > 0
    assert np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_
    assert not np.issubdtype(data.dtype, np.complexfloating)
    if np.issubdtype(data.dtype, np.floating):
        assert np.isfinite(data).all()
    if vol.voxel_size_nm is not None:
        assert all(MIN_VOXEL_SIZE_NM <= v <= MAX_VOXEL_SIZE_NM for v in vol.voxel_size_nm)


_DTYPES = st.sampled_from(
    ["uint8", "uint16", "int16", "int32", "float32", "float64", "bool", "complex64", "int64"]
)


@st.composite
def small_arrays(draw, min_dims=0, max_dims=4):
    dtype = np.dtype(draw(_DTYPES))
    min_side = draw(st.sampled_from([0, 1, 1, 1]))  # mostly non-empty
    shape = draw(
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=5)
    )
    elements = None
    if dtype.kind == "f":
        elements = st.floats(width=dtype.itemsize * 8, allow_nan=True, allow_infinity=True)
    return draw(hnp.arrays(dtype, shape, elements=elements))


_VOXEL = st.one_of(
    st.none(),
    st.none(),
    st.floats(0.1, 1e6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.floats(min_value=-1e10, max_value=1e10), max_size=4),
)


# --------------------------------------------------------------------------- volumes


@FUZZ
@given(arr=st.one_of(small_arrays(min_dims=3, max_dims=3), small_arrays()), voxel=_VOXEL)
def test_npy_arrays(arr, voxel):
    d = _workdir()
    try:
        path = d / "a.npy"
        np.save(path, arr)
        _check_volume(
            _expect_result_or_one_line_error(
                lambda: read_volume(path, voxel_size_nm=voxel), _names(path)
            )
        )
    finally:
        shutil.rmtree(d, ignore_errors=True)


@FUZZ
@given(blob=st.binary(max_size=400), suffix=st.sampled_from([".npy", ".tif", ".tiff"]))
def test_random_bytes(blob, suffix):
    d = _workdir()
    try:
        path = d / f"x{suffix}"
        prefix = {".npy": b"\x93NUMPY", ".tif": b"II*\x00", ".tiff": b"MM\x00*"}[suffix]
        path.write_bytes(prefix + blob if blob[:1] != b"\x00" else blob)
        _check_volume(_expect_result_or_one_line_error(lambda: read_volume(path), _names(path)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


_IJ_META = st.fixed_dictionaries(
    {},
    optional={
        "spacing": st.one_of(st.floats(allow_nan=True), st.text(max_size=6)),
        "unit": st.sampled_from(["um", "nm", "micron", "abc", "", "mm", "m"]),
        "Info": st.one_of(
            st.text(max_size=20),
            st.builds(
                lambda v: json.dumps({"voxel_size_nm": v}),
                st.lists(st.one_of(st.floats(), st.text(max_size=3)), max_size=4),
            ),
        ),
    },
)


@FUZZ
@given(
    arr=small_arrays(min_dims=2, max_dims=3),
    meta=_IJ_META,
    res=st.one_of(st.none(), st.tuples(st.floats(1e-6, 1e9), st.floats(1e-6, 1e9))),
    voxel=_VOXEL,
)
def test_tiff_arrays_with_metadata(arr, meta, res, voxel):
    d = _workdir()
    try:
        path = d / "a.tif"
        try:
            kwargs = {"imagej": True, "metadata": {"axes": "ZYX"[-arr.ndim :], **meta}}
            if res is not None:
                kwargs["resolution"] = res
            tifffile.imwrite(path, arr, **kwargs)
        except Exception:
            try:
                tifffile.imwrite(path, arr)  # a dtype or shape ImageJ cannot hold
            except Exception:
                return  # tifffile cannot write it either: nothing to read
        _check_volume(
            _expect_result_or_one_line_error(
                lambda: read_volume(path, voxel_size_nm=voxel), _names(path)
            )
        )
    finally:
        shutil.rmtree(d, ignore_errors=True)


@FUZZ
@given(
    slices=st.lists(small_arrays(min_dims=1, max_dims=3), min_size=0, max_size=4),
    extra=st.sampled_from([None, "notes.txt", "img.png", ".hidden", "sub/"]),
)
def test_slice_folders(slices, extra):
    d = _workdir()
    try:
        folder = d / "stack"
        folder.mkdir()
        for i, img in enumerate(slices):
            try:
                tifffile.imwrite(folder / f"s{i}.tif", img)
            except Exception:
                (folder / f"s{i}.tif").write_bytes(img.tobytes()[:64])  # a broken slice
        if extra == "sub/":
            (folder / "sub").mkdir()
        elif extra is not None:
            (folder / extra).write_bytes(b"xx")
        _check_volume(_expect_result_or_one_line_error(lambda: read_volume(folder), _names(folder)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


_JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-3, 3), st.floats(-10, 10), st.text(max_size=4)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "multiscales",
                    "datasets",
                    "path",
                    "axes",
                    "unit",
                    "scale",
                    "type",
                    "coordinateTransformations",
                    "voxel_size_nm",
                    "name",
                    "0",
                ]
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@FUZZ
@given(
    attrs=st.dictionaries(
        st.sampled_from(["multiscales", "voxel_size_nm", "ome"]), _JSON, max_size=3
    ),
    group=st.booleans(),
)
def test_zarr_attributes(attrs, group):
    import zarr

    d = _workdir()
    try:
        path = d / "v.zarr"
        if group:
            root = zarr.open_group(str(path), mode="w")
            arr = root.create_array("0", shape=(2, 3, 3), dtype="uint8", chunks=(2, 3, 3))
            arr[...] = 1
            root.attrs.update(attrs)
        else:
            arr = zarr.create_array(str(path), shape=(2, 3, 3), dtype="uint8", chunks=(2, 3, 3))
            arr[...] = 1
            arr.attrs.update(attrs)
        _check_volume(_expect_result_or_one_line_error(lambda: read_volume(path), _names(path)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- MIP files

_HEADER_WORDS = st.sampled_from(
    [
        "Pressure",
        "(psia)",
        "(Pa)",
        "(MPa)",
        "(atm)",
        "(bar)",
        "(kPa)",
        "Volume",
        "(mL/g)",
        "(L/g)",
        "(mm3/g)",
        "Diameter",
        "(nm)",
        "Cumulative",
        "Intrusion",
        "Sample",
        "x",
        "psi",
    ]
)
_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=6e4),
    st.integers(-5, 100000),
)


def _check_curve(curve):
    if curve is None:
        return
    n = len(curve)
    assert n >= 2
    for name in ("diameter_nm", "pressure_mpa", "saturation"):
        values = np.asarray(getattr(curve, name), dtype=float)
        assert values.shape == (n,) and np.isfinite(values).all(), name
    assert (np.asarray(curve.diameter_nm) > 0).all()
    assert (np.asarray(curve.saturation) >= -1e-9).all()
    assert (np.asarray(curve.saturation) <= 1 + 1e-9).all()
    if curve.specific_volume_mm3_per_g is not None:
        assert np.isfinite(curve.specific_volume_mm3_per_g).all()
    for key, value in curve.d_values().items():
        assert math.isfinite(value) and value > 0, (key, value)


@FUZZ
@given(
    header=st.lists(st.lists(_HEADER_WORDS, min_size=1, max_size=4), max_size=3),
    rows=st.integers(1, 3).flatmap(
        lambda ncol: st.lists(st.lists(_NUMBER, min_size=ncol, max_size=ncol), max_size=12)
    ),
    sep=st.sampled_from(["\t", ",", " ", ";"]),
)
def test_mip_text_files(header, rows, sep):
    d = _workdir()
    try:
        path = d / "mip.txt"
        lines = [" ".join(h) for h in header] + [sep.join(repr(v) for v in r) for r in rows]
        path.write_text("\n".join(lines) + "\n")
        _check_curve(_expect_result_or_one_line_error(lambda: read_mip_file(path), _names(path)))
        _check_curve(_expect_result_or_one_line_error(lambda: load_mip_curve(path), _names(path)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


@FUZZ
@given(
    pressure=st.lists(st.floats(1e-3, 5e4), min_size=2, max_size=15),
    volume=st.lists(st.floats(0, 2), min_size=2, max_size=15),
    unit=st.sampled_from(["psia", "Pa", "MPa", "atm", "bar", "kPa", ""]),
)
def test_mip_plausible_curves(pressure, volume, unit):
    n = min(len(pressure), len(volume))
    d = _workdir()
    try:
        path = d / "mip.txt"
        head = f"Pressure ({unit})\tVolume (mL/g)" if unit else ""
        body = "\n".join(f"{p!r}\t{v!r}" for p, v in zip(pressure[:n], volume[:n], strict=True))
        path.write_text(head + "\n" + body + "\n")
        _check_curve(_expect_result_or_one_line_error(lambda: read_mip_file(path), _names(path)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


@FUZZ
@given(blob=st.binary(max_size=300))
def test_mip_random_bytes(blob):
    d = _workdir()
    try:
        path = d / "mip.csv"
        path.write_bytes(blob)
        _check_curve(_expect_result_or_one_line_error(lambda: load_mip_curve(path), _names(path)))
        path.write_bytes(b"diameter_nm,pressure_mpa,saturation\n" + blob)
        _check_curve(_expect_result_or_one_line_error(lambda: load_mip_curve(path), _names(path)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- recipes

_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 1000),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["porosity", "mip", "granulometry", "mfactor", "z", "10,10,10", "pore=0,am=1"]),
    st.lists(st.integers(0, 50), max_size=4),
)
_STAGE = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "axis",
            "inlet",
            "voxel_size_nm",
            "contact_angle_deg",
            "chunks",
            "method",
            "phases",
            "x",
            "batch_size_nm",
        ]
    ),
    _VALUE,
    max_size=4,
)
_RECIPE = st.fixed_dictionaries(
    {},
    optional={
        "recipe": st.one_of(
            st.dictionaries(st.sampled_from(["name", "description", "x"]), _VALUE), _VALUE
        ),
        "input": st.one_of(
            st.dictionaries(st.sampled_from(["voxel_size_nm", "labels", "x"]), _VALUE), _VALUE
        ),
        "electrode": st.one_of(
            st.dictionaries(st.sampled_from(["thickness_axis", "top_at", "x"]), _VALUE), _VALUE
        ),
        "stage": st.one_of(
            st.lists(st.one_of(_STAGE, _VALUE), max_size=3),
            st.lists(st.fixed_dictionaries({"name": st.just("porosity")}), min_size=1, max_size=2),
            _VALUE,
        ),
        "junk": _VALUE,
    },
)


@FUZZ
@given(doc=_RECIPE)
def test_recipe_documents(doc):
    recipe = _expect_result_or_one_line_error(
        lambda: parse_recipe(doc, path="fuzz.toml"), ("fuzz.toml",)
    )
    if recipe is not None:
        assert isinstance(recipe.name, str) and recipe.stages
        assert all(isinstance(s.name, str) for s in recipe.stages)


def test_fuzz_targets_are_collected():
    # guard: the fuzz targets above are hypothesis tests (a refactor dropping @given would
    # silently turn them into single runs)
    import sys

    mod = sys.modules[__name__]
    fuzzed = [
        n for n in dir(mod) if n.startswith("test_") and hasattr(getattr(mod, n), "hypothesis")
    ]
    assert len(fuzzed) >= 9, fuzzed


pytestmark = pytest.mark.filterwarnings("ignore")
