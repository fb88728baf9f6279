"""OME-Zarr (NGFF 0.4) and OME-TIFF writing, label TIFFs with LUT and display range, lazy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from microstructure.io import (
    is_ome_zarr,
    open_volume_lazy,
    phase_lut,
    read_ome_zarr,
    read_volume,
    write_ome_zarr,
    write_volume,
)
from microstructure.io.ome import PHASE_COLOURS
from microstructure.volume import Volume

RNG = np.random.default_rng(7)
IMAGE = RNG.integers(0, 60000, size=(9, 40, 34), dtype=np.uint16)
LABELS = RNG.integers(0, 4, size=(9, 40, 34), dtype=np.uint8)
VS = (40.0, 25.0, 20.0)


def test_ome_zarr_has_ngff_04_multiscales_with_um_scale_per_level(tmp_path) -> None:
    path = write_ome_zarr(tmp_path / "a.ome.zarr", Volume(IMAGE, VS), levels=3)
    attrs = json.loads((path / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4"
    assert ms["axes"] == [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    for k, scale in enumerate(scales):
        assert scale == pytest.approx([v / 1000 * 2**k for v in VS])
    # NGFF 0.4: Zarr v2 arrays with "/" chunk keys; level k halves every axis
    meta = json.loads((path / "1" / ".zarray").read_text())
    assert meta["dimension_separator"] == "/" and meta["shape"] == [4, 20, 17]
    assert "labels" not in {p.name for p in path.iterdir()}  # grayscale: no image-label
    # level 1 of an image is the 2x2x2 block mean, centred by a half-block translation
    import zarr

    lvl1 = np.asarray(zarr.open_array(str(path / "1"), mode="r")[...])
    block = IMAGE[:2, :2, :2].astype(float).mean()
    assert lvl1[0, 0, 0] == round(block)
    shift = ms["datasets"][1]["coordinateTransformations"][1]["translation"]
    assert shift == pytest.approx([v / 1000 / 2 for v in VS])


def test_ome_zarr_round_trip_through_our_readers_and_zarr(tmp_path) -> None:
    import zarr

    path = write_volume(tmp_path / "b.ome.zarr", Volume(IMAGE, VS, {"stage": "denoise"}))
    assert is_ome_zarr(path) and not is_ome_zarr(tmp_path)
    vol = read_volume(path)
    assert np.array_equal(vol.data, IMAGE) and vol.voxel_size_nm == pytest.approx(VS)
    img = read_ome_zarr(path)
    assert img.voxel_size_nm == pytest.approx(VS) and img.attrs["stage"] == "denoise"
    assert np.array_equal(np.asarray(img.levels[0]), IMAGE)
    group = zarr.open_group(str(path), mode="r")  # plain zarr sees the same
    assert np.array_equal(group["0"][...], IMAGE)
    lazy = open_volume_lazy(path)
    assert hasattr(lazy.data, "dask") and lazy.voxel_size_nm == pytest.approx(VS)


def test_dot_zarr_is_ome_zarr_and_plain_zarr_only_when_asked(tmp_path) -> None:
    import zarr

    ome = write_volume(tmp_path / "c.zarr", Volume(IMAGE, VS))
    plain = write_volume(tmp_path / "d.zarr", Volume(IMAGE, VS), format="zarr")
    assert is_ome_zarr(ome) and not is_ome_zarr(plain)
    assert isinstance(zarr.open(str(plain), mode="r"), zarr.Array)
    for path in (ome, plain):
        vol = read_volume(path)
        assert np.array_equal(np.asarray(vol.data), IMAGE), path
        assert vol.voxel_size_nm == pytest.approx(VS), path


def test_labels_volume_is_also_an_image_label_with_phase_colours(tmp_path) -> None:
    path = write_ome_zarr(tmp_path / "l.ome.zarr", Volume(LABELS, VS), levels=2)
    label_attrs = json.loads((path / "labels" / "phases" / ".zattrs").read_text())
    image_label = label_attrs["image-label"]
    assert image_label["version"] == "0.4" and image_label["source"] == {"image": "../../"}
    colours = {c["label-value"]: c["rgba"] for c in image_label["colors"]}
    assert colours[1][:3] == [int(PHASE_COLOURS[1][i : i + 2], 16) for i in (1, 3, 5)]
    assert json.loads((path / "labels" / ".zattrs").read_text()) == {"labels": ["phases"]}
    img = read_ome_zarr(path)
    lev = img.labels["phases"]["levels"]
    # labels are down-sampled by taking voxels, never by averaging (no invented phases)
    assert np.array_equal(np.asarray(lev[1]), LABELS[::2, ::2, ::2])
    assert img.labels["phases"]["colours"] == PHASE_COLOURS


def test_ome_zarr_refuses_labels_of_another_shape_or_codes(tmp_path) -> None:
    with pytest.raises(ValueError, match="labels shape"):
        write_ome_zarr(tmp_path / "x.ome.zarr", Volume(IMAGE, VS), labels=LABELS[:3])
    with pytest.raises(ValueError, match="phase codes 0-3"):
        write_ome_zarr(tmp_path / "x.ome.zarr", Volume(IMAGE, VS), labels=LABELS * 2)
    assert not (tmp_path / "x.ome.zarr").exists()


def test_ome_zarr_from_dask_is_written_block_by_block(tmp_path) -> None:
    import dask.array as da

    lazy = da.from_array(IMAGE, chunks=(3, 20, 17))
    path = write_ome_zarr(tmp_path / "d.ome.zarr", Volume(lazy, VS), chunks=(4, 16, 16))
    assert np.array_equal(read_volume(path).data, IMAGE)


def test_ome_zarr_opens_with_ome_zarr_library_when_installed(tmp_path) -> None:
    ome_zarr = pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = write_ome_zarr(tmp_path / "o.ome.zarr", Volume(LABELS, VS), levels=2)
    nodes = list(Reader(parse_url(str(path)))())
    image = nodes[0]
    assert [tuple(d.shape) for d in image.data] == [LABELS.shape, (5, 20, 17)]
    scale = image.metadata["coordinateTransformations"][0][0]["scale"]
    assert scale == pytest.approx([v / 1000 for v in VS])
    label = next(n for n in nodes if "color" in n.metadata and n.metadata["color"])
    assert set(label.metadata["color"]) == {0, 1, 2, 3}
    assert ome_zarr.__version__


def test_ome_tiff_has_physical_sizes_in_um(tmp_path) -> None:
    path = write_volume(tmp_path / "c.ome.tif", Volume(IMAGE, VS))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        xml = tif.ome_metadata
        assert np.array_equal(tif.asarray(), IMAGE)
    for ax, v in zip("ZYX", VS, strict=True):
        assert f'PhysicalSize{ax}="{v / 1000:g}"' in xml and f'PhysicalSize{ax}Unit="µm"' in xml
    assert read_volume(path).voxel_size_nm == pytest.approx(VS)
    # format= overrides the suffix
    other = write_volume(tmp_path / "c2.tif", Volume(IMAGE, VS), format="ome-tiff")
    with tifffile.TiffFile(other) as tif:
        assert tif.is_ome
    with pytest.raises(ValueError, match="format 'hdf5' unknown"):
        write_volume(tmp_path / "c3.tif", Volume(IMAGE, VS), format="hdf5")


def test_label_tiff_has_the_phase_lut_and_display_range_0_3(tmp_path) -> None:
    path = write_volume(tmp_path / "labels.tif", Volume(LABELS, VS))
    with tifffile.TiffFile(path) as tif:
        ij = tif.imagej_metadata
    lut = np.asarray(ij["LUTs"]).reshape(3, 256)
    assert (ij["min"], ij["max"]) == (0.0, 3.0) and tuple(ij["Ranges"]) == (0.0, 3.0)
    for v, colour in PHASE_COLOURS.items():
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        # ImageJ maps value v of an 8-bit image with display range 0-3 to LUT index 256 v / 4
        # (ByteProcessor.setMinAndMax); other readers use 255 v / 3: both show the phase colour
        assert lut[:, 256 * v // 4].tolist() == rgb
        assert lut[:, 255 * v // 3].tolist() == rgb
    assert np.array_equal(read_volume(path).data, LABELS)
    # a grayscale stack gets no LUT (Fiji's default grey)
    gray = write_volume(tmp_path / "gray.tif", Volume(IMAGE, VS))
    with tifffile.TiffFile(gray) as tif:
        assert "LUTs" not in (tif.imagej_metadata or {})


def test_phase_colours_equal_the_plot_colours() -> None:
    from microstructure.plot import PHASE_COLOURS as PLOT

    assert PLOT == PHASE_COLOURS
    assert phase_lut().shape == (3, 256) and phase_lut().dtype == np.uint8


def test_lazy_tiff_reads_only_on_demand_and_keeps_voxel_size(tmp_path) -> None:
    path = write_volume(tmp_path / "g.tif", Volume(IMAGE, VS, {"stage": "denoise"}))
    vol = open_volume_lazy(path)
    assert hasattr(vol.data, "dask") and vol.data.shape == IMAGE.shape
    assert vol.voxel_size_nm == pytest.approx(VS) and vol.metadata["stage"] == "denoise"
    assert np.array_equal(np.asarray(vol.data[4]), IMAGE[4])
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(ValueError, match="bad.tif"):
        open_volume_lazy(tmp_path / "bad.tif")
