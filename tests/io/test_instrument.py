"""Instrument metadata (Thermo/FEI, Zeiss, Tescan TIFF tags), compressed TIFFs and the
voxel-size check at the reading boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from microstructure.io import read_volume, write_volume
from microstructure.io.instrument import combine_slices
from microstructure.volume import Volume

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"
HELIOS = VALIDATION / "helios_slices"
LZW = VALIDATION / "helios_aligned_lzw.tif"

ZEISS_TEXT = (
    "0\r\n"
    "AP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = 4.500 nm\r\n"
    "AP_STAGE_AT_T\r\nStage at T = 54.0 deg\r\n"
    "AP_ACTUALKV\r\nEHT = 1.50 kV\r\n"
    "DP_DETECTOR_CHANNEL\r\nSignal A = InLens\r\n"
    "AP_FIB_SLICE_THICKNESS\r\nSlice Thickness = 10.0 nm\r\n"
    "DP_FIB_MODE\r\nFIB Mode = SEM\r\n"
)

TESCAN_TEXT = (
    "[MAIN]\r\nDevice=TESCAN AMBER\r\nPixelSizeX=6e-09\r\nPixelSizeY=6e-09\r\n"
    "[SEM]\r\nHV=3000\r\nStageTilt=55\r\nDetector=BSE\r\n[FIB]\r\nHV=30000\r\n"
)


def _zeiss(path: Path, text: str = ZEISS_TEXT) -> Path:
    img = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80)
    tifffile.imwrite(path, img, extratags=[(34118, "s", 0, text, True)])
    return path


def _tescan(path: Path) -> Path:
    img = np.arange(64 * 80, dtype=np.uint8).reshape(64, 80)
    tifffile.imwrite(path, img, extratags=[(50431, "s", 0, TESCAN_TEXT, True)])
    return path


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"validation data {path.name} not available in {VALIDATION}")
    return path


def test_helios_slices_read_with_their_pixel_size():
    vol = read_volume(_need(HELIOS))
    inst = vol.metadata["instrument"]
    assert vol.shape == (3, 2007, 1618)
    assert inst["vendor"] == "Thermo Fisher/FEI"
    assert inst["pixel_size_nm"] == pytest.approx((8.99306, 8.99306))
    assert inst["stage_tilt_deg"] == pytest.approx(np.degrees(0.279248), abs=1e-3)
    assert inst["beam_kv"] == 2.0 and inst["detector"] == "TLD" and inst["detector_mode"] == "BSE"
    assert inst["imaging_angle_deg"] == 52.0  # DualBeam column angle, not the 16 deg stage tilt
    assert "FEI_HELIOS" in inst["source"] and "3 slices" in inst["source"]
    # z is not logged: the voxel size stays unknown, y and x are kept and said
    assert vol.voxel_size_nm is None
    assert vol.metadata["pixel_size_nm"] == pytest.approx([8.99306, 8.99306])
    assert "unknown z" in vol.metadata["voxel_size_origin"]
    given = read_volume(HELIOS, voxel_size_nm=(20.0, 8.99306, 8.99306))
    assert given.voxel_size_nm == (20.0, 8.99306, 8.99306)


def test_helios_slice_disagreeing_voxel_size_is_a_one_line_error():
    with pytest.raises(ValueError, match="8.99306") as info:
        read_volume(_need(HELIOS), voxel_size_nm=(20.0, 10.0, 10.0))
    msg = str(info.value)
    assert "\n" not in msg and "helios_slices" in msg and "10 nm" in msg and "FEI_HELIOS" in msg


def test_lzw_compressed_tiff_reads():
    vol = read_volume(_need(LZW))
    assert vol.shape == (1, 2007, 1618) and vol.data.dtype == np.uint8
    assert vol.data.std() > 0


@pytest.mark.parametrize("compression", ["lzw", "zlib", "zstd"])
def test_compressed_round_trip(tmp_path, compression):
    data = (np.arange(4 * 16 * 20) % 251).astype(np.uint8).reshape(4, 16, 20)
    write_volume(tmp_path / "c.tif", Volume(data, (20.0, 5.0, 5.0)), compression=compression)
    back = read_volume(tmp_path / "c.tif")
    assert np.array_equal(back.data, data) and back.voxel_size_nm == (20.0, 5.0, 5.0)


def test_zeiss_cz_sem_tag(tmp_path):
    vol = read_volume(_zeiss(tmp_path / "z.tif"))
    inst = vol.metadata["instrument"]
    assert inst["vendor"] == "Zeiss" and inst["pixel_size_nm"] == (4.5, 4.5)
    assert inst["stage_tilt_deg"] == 54.0 and inst["beam_kv"] == 1.5
    assert inst["detector"] == "InLens" and inst["slice_thickness_nm"] == 10.0
    assert inst["imaging_angle_deg"] == 54.0 and "CZ_SEM" in inst["source"]
    # pixel size and Atlas slice thickness give the whole voxel size
    assert vol.voxel_size_nm == (10.0, 4.5, 4.5)
    assert vol.metadata["voxel_size_origin"] == "instrument"


def test_tescan_header(tmp_path):
    vol = read_volume(_tescan(tmp_path / "t.tif"))
    inst = vol.metadata["instrument"]
    assert inst["vendor"] == "Tescan" and inst["pixel_size_nm"] == (6.0, 6.0)
    assert inst["beam_kv"] == 3.0 and inst["stage_tilt_deg"] == 55.0
    assert inst["detector"] == "BSE" and inst["imaging_angle_deg"] == 55.0
    assert "[MAIN]" in inst["source"]


def test_folder_with_disagreeing_pixel_sizes_is_a_one_line_error(tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    _zeiss(folder / "s1.tif")
    _zeiss(folder / "s2.tif", ZEISS_TEXT.replace("4.500 nm", "5.000 nm"))
    with pytest.raises(ValueError, match="disagrees") as info:
        read_volume(folder)
    assert "\n" not in str(info.value) and "s2.tif" in str(info.value)


def test_folder_slice_thickness_from_logged_positions():
    metas = [{"vendor": "X", "source": "f: T tag", "slice_position_nm": z} for z in (0, 9, 21, 30)]
    files = [Path(f"s{i}.tif") for i in range(4)]
    out = combine_slices(metas, files)
    assert out["slice_thickness_nm"] == 9.0 and "slice_position_nm" not in out


def test_given_voxel_size_checked_against_instrument(tmp_path):
    path = _zeiss(tmp_path / "z.tif")
    with pytest.warns(UserWarning, match="overrides"):  # within 1 %: taken, with a warning
        assert read_volume(path, voxel_size_nm=(10, 4.52, 4.52)).voxel_size_nm == (10, 4.52, 4.52)
    with pytest.raises(ValueError, match=r"x = 5 nm .*4\.5 nm") as info:
        read_volume(path, voxel_size_nm=(10, 4.5, 5.0))
    assert "\n" not in str(info.value) and "z.tif" in str(info.value)


def test_our_own_imagej_spacing_still_round_trips(tmp_path):
    # instrument metadata carried in our ImageJ info: read back, never re-checked as tags
    vol = read_volume(_zeiss(tmp_path / "z.tif"))
    vol = Volume(vol.data, (10.0, 5.71, 4.5), {**vol.metadata, "tilt_corrected": True})
    write_volume(tmp_path / "out.tif", vol)
    back = read_volume(tmp_path / "out.tif", voxel_size_nm=(10.0, 5.71, 4.5))
    assert back.voxel_size_nm == (10.0, 5.71, 4.5)
    assert back.metadata["instrument"]["vendor"] == "Zeiss"
    assert read_volume(tmp_path / "out.tif").voxel_size_nm == (10.0, 5.71, 4.5)


def test_info_shows_the_instrument_block(tmp_path):
    path = _zeiss(tmp_path / "z.tif")
    cmd = [sys.executable, "-m", "microstructure.cli", "info", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "instrument: Zeiss" in out and "CZ_SEM" in out and "4.5, 4.5 nm" in out
    assert "54 deg" in out and "1.5 kV" in out and "InLens" in out and "10 nm" in out
    data = json.loads(
        subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout
    )
    assert data["instrument"]["vendor"] == "Zeiss"
    assert data["instrument"]["pixel_size_nm"] == [4.5, 4.5]
    bad = subprocess.run(cmd + ["--voxel-size-nm", "10,6,6"], capture_output=True, text=True)
    assert bad.returncode != 0
    err = bad.stderr.strip()
    assert "\n" not in err and "6 nm" in err and "4.5 nm" in err and "z.tif" in err
