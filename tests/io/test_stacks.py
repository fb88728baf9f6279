"""Stack I/O: formats, voxel-size metadata, atomic writes, label maps, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from microstructure.io import apply_label_map, parse_label_map, read_volume, write_volume
from microstructure.volume import Volume, check_labels, check_volume, parse_voxel_size

RNG = np.random.default_rng(3)
STACK = RNG.integers(0, 256, size=(6, 9, 11), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".tif", ".zarr", ".npy"])
def test_round_trip_keeps_data_and_voxel_size(tmp_path, suffix):
    path = tmp_path / f"v{suffix}"
    write_volume(path, Volume(STACK, (20.0, 37.2, 37.2), {"tilt_corrected": True}))
    vs = None if suffix == ".npy" else None
    vol = read_volume(path, voxel_size_nm=(20, 37.2, 37.2) if suffix == ".npy" else vs)
    assert np.array_equal(vol.data, STACK)
    assert vol.data.dtype == STACK.dtype
    assert vol.voxel_size_nm == pytest.approx((20.0, 37.2, 37.2), rel=1e-9)
    if suffix != ".npy":
        assert vol.metadata["voxel_size_origin"] == "metadata"
        assert vol.metadata["tilt_corrected"] is True


def test_imagej_tiff_written_by_another_program(tmp_path):
    # As Fiji writes it: resolution in pixels per micron, spacing in microns.
    path = tmp_path / "fiji.tif"
    tifffile.imwrite(
        path,
        STACK,
        imagej=True,
        resolution=(1 / 0.0372, 1 / 0.05),
        metadata={"spacing": 0.02, "unit": "micron", "axes": "ZYX"},
    )
    vol = read_volume(path)
    assert vol.voxel_size_nm == pytest.approx((20.0, 50.0, 37.2), rel=1e-6)


def test_ome_tiff_voxel_size(tmp_path):
    path = tmp_path / "x.ome.tif"
    tifffile.imwrite(
        path,
        STACK,
        metadata={
            "axes": "ZYX",
            "PhysicalSizeX": 0.05,
            "PhysicalSizeY": 0.04,
            "PhysicalSizeZ": 0.1,
        },
    )
    assert read_volume(path).voxel_size_nm == pytest.approx((100.0, 40.0, 50.0))


def test_written_tiff_opens_with_scale_in_tifffile(tmp_path):
    """What Fiji/napari read: ImageJ spacing and resolution in microns."""
    path = tmp_path / "s.tif"
    write_volume(path, Volume(STACK, (30.0, 10.0, 20.0)))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["spacing"] == pytest.approx(0.03)
        assert tif.imagej_metadata["unit"] == "um"
        num, den = tif.pages.first.tags["XResolution"].value
        assert den / num == pytest.approx(0.02, rel=1e-6)


def test_plain_tiff_has_no_voxel_size_and_override_wins(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, STACK)
    assert read_volume(path).voxel_size_nm is None
    assert read_volume(path, voxel_size_nm="5,6,7").voxel_size_nm == (5.0, 6.0, 7.0)
    with pytest.raises(ValueError, match="voxel size unknown"):
        read_volume(path).require_voxel_size("the MIP")


def test_folder_of_slices_is_natural_sorted(tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    for i in range(STACK.shape[0]):
        tifffile.imwrite(folder / f"slice_{i}.tif", STACK[i])  # slice_10 would sort before _2
    for i in range(6, 12):
        tifffile.imwrite(folder / f"slice_{i}.tif", STACK[i - 6][::-1].copy())
    vol = read_volume(folder, voxel_size_nm=10)
    assert vol.shape == (12, 9, 11)
    assert np.array_equal(vol.data[:6], STACK)
    assert np.array_equal(vol.data[10], STACK[4][::-1])


def test_folder_with_mismatched_slice_names_the_file(tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    tifffile.imwrite(folder / "a1.tif", STACK[0])
    tifffile.imwrite(folder / "a2.tif", STACK[0, :5])
    with pytest.raises(ValueError, match="a2.tif"):
        read_volume(folder)


def test_write_is_atomic_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "v.tif"
    write_volume(path, Volume(STACK, 10))
    write_volume(path, Volume(STACK[::-1].copy(), 10))
    assert [p.name for p in tmp_path.iterdir()] == ["v.tif"]
    assert np.array_equal(read_volume(path).data, STACK[::-1])


def test_bool_and_int32_written_losslessly(tmp_path):
    mask = STACK > 128
    write_volume(tmp_path / "m.tif", Volume(mask, 10))
    assert np.array_equal(read_volume(tmp_path / "m.tif").data, mask.astype(np.uint8))
    wide = STACK.astype(np.int32) * 200
    write_volume(tmp_path / "w.tif", Volume(wide, 10))
    back = read_volume(tmp_path / "w.tif").data
    assert back.dtype == np.uint16 and np.array_equal(back, wide)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((5, 5), np.uint8), "2D"),
        (np.zeros((0, 5, 5), np.uint8), "empty"),
        (np.full((3, 3, 3), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_volumes_raise_one_line_errors(tmp_path, data, match):
    path = tmp_path / "bad.npy"
    np.save(path, data)
    with pytest.raises(ValueError, match=match) as info:
        read_volume(path, voxel_size_nm=1)
    assert "bad.npy" in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tif"):
        read_volume(tmp_path / "nope.tif")
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(ValueError, match="unsupported format"):
        read_volume(tmp_path / "x.png")


def test_label_map_parsing_and_application():
    assert parse_label_map("pore=0,am=85,cbd=170") == {"pore": [0], "am": [85], "cbd": [170]}
    assert parse_label_map("pore=0+255,AM=1") == {"pore": [0, 255], "am": [1]}
    data = np.array([[[0, 85, 170, 255]]], dtype=np.uint8)
    out = apply_label_map(data, {"pore": [0, 255], "am": [85], "cbd": [170]})
    assert out.tolist() == [[[0, 1, 2, 0]]]
    assert out.dtype == np.uint8


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("pore0", "PHASE=VALUE"),
        ("rock=1", "unknown phase"),
        ("am=x", "not an integer"),
        ("am=1,cbd=1", "both"),
        ("", "empty"),
    ],
)
def test_bad_label_maps(text, match):
    with pytest.raises(ValueError, match=match):
        parse_label_map(text)


def test_label_map_must_cover_present_values():
    data = np.array([[[0, 85, 170]]], dtype=np.uint8)
    with pytest.raises(ValueError, match="does not cover value.*170"):
        apply_label_map(data, {"pore": 0, "am": 85})
    with pytest.warns(UserWarning, match="absent"):
        apply_label_map(data, {"pore": 0, "am": 85, "cbd": 170, "cbd_pore": 200})


def test_taufactor_volume_fractions_with_label_map(validation_file):
    vol = read_volume(validation_file("taufactor_electrode.tiff"), labels="pore=0,am=85,cbd=170")
    frac = np.bincount(vol.data.ravel(), minlength=4) / vol.data.size
    assert frac[:3] == pytest.approx([0.4499, 0.4005, 0.1496], abs=5e-5)


def test_voxel_size_parsing():
    assert parse_voxel_size(37.2) == (37.2, 37.2, 37.2)
    assert parse_voxel_size("20, 37.2,37.2") == (20.0, 37.2, 37.2)
    for bad in ("0", "-1", "1,2", "a", [1, 2, float("nan")]):
        with pytest.raises(ValueError, match="voxel_size_nm"):
            parse_voxel_size(bad)


def test_check_labels_rejects_grayscale_and_foreign_codes():
    with pytest.raises(ValueError, match="not phase labels"):
        check_labels(np.full((2, 2, 2), 85, np.uint8))
    with pytest.raises(ValueError, match="grayscale"):
        check_labels(np.full((2, 2, 2), 0.5, np.float32))
    # a boolean array is a pore mask (True = pore, like PoreSpy's im): pore 0, solid AM 1
    mask = np.zeros((2, 2, 2), bool)
    mask[0] = True
    labels = check_labels(mask)
    assert labels.dtype == np.uint8
    assert np.array_equal(labels, np.where(mask, 0, 1))
    assert check_labels(np.ones((2, 2, 2), np.int64)).dtype == np.uint8
    with pytest.raises(ValueError, match="numeric"):
        check_volume(np.array([[["a"]]]))
