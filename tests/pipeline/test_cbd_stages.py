"""Stages ``cbd`` and ``nanopores``: recipe targets hit exactly, seed 000 Table 1 recipe
drives the amount, bad parameters are refused before any work."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from microstructure.io import read_volume, write_volume
from microstructure.io.ome import read_ome_zarr
from microstructure.phantom import generate_phantom
from microstructure.pipeline import parse_recipe as _parse_doc
from microstructure.pipeline import run_pipeline
from microstructure.volume import Phase, Volume

VOX = 60.0


def parse_recipe(text: str):
    return _parse_doc(tomllib.loads(text))


RECIPE = """
[recipe]
name = "cbd-test"

[[stage]]
name = "cbd"
replace_existing = true
contact_angle_deg = 40.0
mass_fractions = {{ AM = 0.95, CB = 0.02, PVdF = 0.03 }}
densities_g_per_cm3 = {{ AM = 4.76, CB = 2.25, PVdF = 1.77 }}
cbd_porosity = {eps}

[[stage]]
name = "nanopores"
porosity = {eps}
mean_diameter_nm = 150.0
std_diameter_nm = 40.0
"""


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory):
    ph = generate_phantom(
        (32, 64, 64),
        voxel_size_nm=VOX,
        seed=2,
        mean_diameter_um=1.2,
        sigma_log=0.3,
        min_diameter_um=0.5,
        max_diameter_um=2.5,
    )
    path = tmp_path_factory.mktemp("cbd") / "labels.tif"
    write_volume(path, Volume(ph.labels, (VOX, VOX, VOX)))
    return path


def test_table1_recipe_sets_envelope_and_porosity_exactly(labels_file, tmp_path) -> None:
    eps = 0.502
    out = tmp_path / "run"
    report = run_pipeline(parse_recipe(RECIPE.format(eps=eps)), labels_file, out, progress=False)
    original = read_volume(labels_file).data
    am_fraction = float((original == Phase.AM).mean())
    # seed 000 Table 1: CBD : AM solid volume = 11.46 : 88.54
    expected = am_fraction * (11.46 / 88.54) / (1 - eps)
    cbd = report["numbers"]["cbd"]
    assert cbd["target_envelope_fraction"] == pytest.approx(expected, rel=2e-3)
    labels = read_volume(out / "02-nanopores" / "volume.tif").data
    envelope = (labels == Phase.CBD) | (labels == Phase.CBD_PORE)
    assert abs(envelope.mean() - cbd["target_envelope_fraction"]) <= 1.0 / labels.size
    # AM untouched; only former pore/CBD voxels changed
    np.testing.assert_array_equal(labels == Phase.AM, original == Phase.AM)
    n_cbd = int(envelope.sum())
    assert int((labels == Phase.CBD_PORE).sum()) == round(eps * n_cbd)
    assert report["numbers"]["nanopores"]["cbd_porosity"] == pytest.approx(eps, abs=1 / n_cbd)
    # the contact-angle CBD sits against the AM far more than its share of the pore space
    assert cbd["report"]["cbd_fraction_touching_am"] > 0.3
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["01-cbd-cbd.png", "02-nanopores-nanopores.png", "3d_labels.png"]
    params = json.loads((out / "01-cbd" / "params.json").read_text())
    assert params["params"]["contact_angle_deg"] == 40.0


@pytest.mark.parametrize(
    "extra, needle",
    [
        ("volume_fraction = 0.1\ncbd_to_am_volume_ratio = 0.13", "exactly one CBD amount"),
        ("", "exactly one CBD amount"),
        ("volume_fraction = 0.1\ncontact_angle_deg = 95.0", "contact_angle_deg"),
        ("mass_fractions = { AM = 0.9, CB = 0.1 }", "densities_g_per_cm3"),
        ("volume_fraction = 0.1\nwetting = 3", "wetting"),
    ],
)
def test_bad_cbd_parameters_refused_before_work(extra, needle) -> None:
    text = f'[recipe]\nname = "x"\n\n[[stage]]\nname = "cbd"\n{extra}\n'
    with pytest.raises(ValueError, match=needle):
        parse_recipe(text)


def test_target_larger_than_pore_space_is_a_clear_error(labels_file, tmp_path) -> None:
    text = '[recipe]\nname = "x"\n\n[[stage]]\nname = "cbd"\nvolume_fraction = 0.9\n'
    with pytest.raises(ValueError, match=r"stage 1 'cbd'.*volume_fraction.*exceeds the pore"):
        run_pipeline(parse_recipe(text), labels_file, tmp_path / "r", progress=False)


def test_large_outputs_are_stored_as_zarr_and_resume(labels_file, tmp_path) -> None:
    text = (
        '[recipe]\nname = "z"\n\n[[stage]]\nname = "cbd"\nvolume_fraction = 0.12\nreport = false\n'
    )
    out = tmp_path / "run"
    first = run_pipeline(
        parse_recipe(text), labels_file, out, progress=False, zarr_threshold_bytes=0
    )
    assert (out / "01-cbd" / "volume.zarr").is_dir() and first["stages"][0]["status"] == "computed"
    vol = read_volume(out / "01-cbd" / "volume.zarr")
    assert vol.voxel_size_nm == (VOX, VOX, VOX)
    # an OME-Zarr image whose phases are also stored as the image-label napari shows
    ome = read_ome_zarr(out / "01-cbd" / "volume.zarr")
    assert ome.scales_nm[0] == (VOX, VOX, VOX) and list(ome.labels) == ["phases"]
    assert abs(float(((vol.data == 2) | (vol.data == 3)).mean()) - 0.12) <= 1 / vol.data.size
    again = run_pipeline(
        parse_recipe(text), labels_file, out, progress=False, zarr_threshold_bytes=0
    )
    assert again["stages"][0]["status"] == "cached"


def test_closed_pores_stay_empty_unless_asked(tmp_path) -> None:
    """Slurry cannot reach a pore enclosed by AM: the CBD goes into the open pore space only
    (the digital twin's closed porosity survives the insertion), unless fill_closed_pores."""
    from microstructure.segment import closed_pores

    lab = np.zeros((24, 40, 40), dtype=np.uint8)
    zz, yy, xx = np.indices(lab.shape)
    for cx in (10, 30):  # two AM balls touching the open pore space, each with a cavity
        lab[(zz - 12) ** 2 + (yy - 20) ** 2 + (xx - cx) ** 2 <= 9**2] = Phase.AM
        lab[(zz - 12) ** 2 + (yy - 20) ** 2 + (xx - cx) ** 2 <= 2**2] = Phase.PORE
    cavity = closed_pores(lab == Phase.AM)
    assert cavity.sum() == 2 * 33
    path = tmp_path / "balls.tif"
    write_volume(path, Volume(lab, (VOX, VOX, VOX)))
    doc = '[recipe]\nname = "c"\n[[stage]]\nname = "cbd"\nvolume_fraction = 0.05\n'
    report = run_pipeline(parse_recipe(doc), path, tmp_path / "a", progress=False)
    out = read_volume(tmp_path / "a" / "01-cbd" / "volume.tif").data
    assert np.all(out[cavity] == Phase.PORE)
    assert report["numbers"]["cbd"]["closed_pore_voxels_kept_empty"] == 66
    assert report["numbers"]["cbd"]["cbd_envelope_fraction"] == pytest.approx(0.05, abs=1e-4)
    doc_fill = doc + "fill_closed_pores = true\n"
    run_pipeline(parse_recipe(doc_fill), path, tmp_path / "b", progress=False)
    filled = read_volume(tmp_path / "b" / "01-cbd" / "volume.tif").data
    # the contact-angle construction fills the smallest pores first: the cavities take CBD
    assert np.all(filled[cavity] == Phase.CBD)
