"""Stages ``mip`` and ``granulometry``: same numbers as the library, contract CSV columns,
face aliases through the electrode orientation, measured-curve comparison, early errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from porosimetry_shapes import ball_mask

from microstructure.io import write_volume
from microstructure.pipeline import parse_recipe, run_pipeline
from microstructure.porosimetry import granulometry, simulate_mip
from microstructure.porosimetry.measured import read_curve_csv, read_mip_file
from microstructure.volume import Volume

VOX = (30.0, 20.0, 25.0)


def _recipe(*stages, electrode=None):
    doc = {"recipe": {"name": "mip-test"}, "stage": [dict(s) for s in stages]}
    if electrode:
        doc["electrode"] = electrode
    return parse_recipe(doc)


@pytest.fixture(scope="module")
def labels():
    """Ink bottles and channels in AM with some CBD: shielding is present by construction."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(11)
    noise = ndi.gaussian_filter(rng.random((24, 32, 28)), 2.0)
    pore = noise > np.quantile(noise, 0.62)
    lab = np.where(pore, 0, 1).astype(np.uint8)
    # a body behind a narrow throat, opening on the top face (y = 0)
    body = ball_mask(lab.shape, (12, 18, 14), 6.0)
    zz, yy, xx = np.indices(lab.shape)
    throat = ((zz - 12) ** 2 + (xx - 14) ** 2 < 3) & (yy <= 18)
    lab[body | throat] = 0
    lab[(lab == 1) & (ndi.binary_dilation(lab == 0) & (rng.random(lab.shape) < 0.3))] = 2
    lab[(lab == 0) & (xx < 2) & (rng.random(lab.shape) < 0.2)] = 3
    return lab


@pytest.fixture(scope="module")
def labels_file(labels, tmp_path_factory):
    path = tmp_path_factory.mktemp("mip") / "labels.tif"
    write_volume(path, Volume(labels, VOX))
    return path


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array([[float(c) if c else np.nan for c in r] for r in rows[1:]])


def test_mip_and_granulometry_stages_match_the_library(labels, labels_file, tmp_path):
    dens = {"am": 4.76, "cbd": 1.935}
    rec = _recipe(
        {"name": "mip", "inlet": "top", "densities_g_per_cm3": dens},
        {"name": "granulometry"},
    )
    out = tmp_path / "run"
    report = run_pipeline(rec, labels_file, out, progress=False)
    lib = simulate_mip(
        labels, voxel_size_nm=VOX, inlet="y-", densities_g_per_cm3=dens, extrusion=True
    )
    mip = report["numbers"]["mip"]
    assert mip["inlet"] == ["y-"]  # "top" = y- with the default orientation
    for key in ("d10_nm", "d50_nm", "d90_nm", "intruded_porosity", "porosity"):
        assert mip[key] == pytest.approx(lib.summary()[key], rel=1e-9), key
    assert mip["entrapped_fraction"] == pytest.approx(lib.extrusion.entrapped_fraction)
    assert 0.0 < mip["entrapped_fraction"] < 1.0  # the ink-bottle body keeps its mercury
    # the curve CSV has the contract columns, in order, and the library's values
    head, rows = _read_csv(out / "01-mip" / "mip_curve.csv")
    assert head == [
        "diameter_nm",
        "pressure_mpa",
        "saturation",
        "intruded_fraction",
        "specific_volume_mm3_per_g",
    ]
    np.testing.assert_allclose(rows[:, 0], lib.curve.diameter_nm)
    np.testing.assert_allclose(rows[:, 2], lib.curve.saturation)
    np.testing.assert_allclose(rows[:, 4], lib.curve.specific_volume_mm3_per_g)
    assert read_curve_csv(out / "01-mip" / "mip_curve.csv").d_values() == pytest.approx(
        lib.curve.d_values()
    )
    # PSD table integrates to the total specific volume
    head, psd = _read_csv(out / "01-mip" / "mip_psd.csv")
    assert head == ["diameter_nm", "dv_dlogd_specific_volume_mm3_per_g"]
    assert (out / "01-mip" / "mip_extrusion.csv").is_file()
    edges = lib.curve.psd().edges_nm
    integral = np.sum(psd[:, 1] * np.diff(np.log10(edges)))
    assert integral == pytest.approx(lib.curve.specific_volume_mm3_per_g.max())
    # granulometry: library numbers, and shielding = granulometry D50 / resolved MIP D50
    gran = granulometry(labels, voxel_size_nm=VOX)
    g = report["numbers"]["granulometry"]
    assert g["d50_nm"] == pytest.approx(gran.d_values()["d50_nm"])
    sh = g["shielding"]
    assert sh["d50_mip_nm"] == pytest.approx(mip["resolved_d50_nm"])
    assert sh["d50_ratio"] == pytest.approx(g["d50_nm"] / mip["resolved_d50_nm"])
    # local thickness >= invasion radius voxel by voxel, so the ratio cannot be below 1
    assert sh["d50_ratio"] >= 1.0
    head, _ = _read_csv(out / "02-granulometry" / "granulometry_curve.csv")
    assert head[:4] == ["diameter_nm", "pressure_mpa", "saturation", "intruded_fraction"]
    figs = ["01-mip-mip_curve.png", "02-granulometry-granulometry.png"]
    assert all((out / "figures" / f).stat().st_size > 10_000 for f in figs)


def test_inlet_aliases_follow_the_electrode_orientation(labels, labels_file, tmp_path):
    rec = _recipe(
        {"name": "granulometry"},
        {"name": "mip", "inlet": "all-but-bottom", "extrusion": False},
        electrode={"thickness_axis": "x", "top_at": -1},
    )
    report = run_pipeline(rec, labels_file, tmp_path / "run", progress=False)
    # granulometry ran before mip: no MIP D50 to compare with
    assert report["numbers"]["granulometry"]["shielding"] is None
    mip = report["numbers"]["mip"]
    # bottom = x- (top at the end of x): every face but x-
    assert mip["inlet"] == ["z-", "z+", "y-", "y+", "x+"]
    lib = simulate_mip(labels, voxel_size_nm=VOX, inlet="z-,z+,y-,y+,x+")
    assert mip["d50_nm"] == pytest.approx(lib.d_values()["d50_nm"])
    assert "entrapped_fraction" not in mip


def test_mip_stage_compares_with_measured_curve(labels_file, tmp_path, validation_file):
    path = validation_file("micropy_input_mip.txt")
    measured = {"path": str(path), "pressure_unit": "psi", "sample_mass_g": 0.3016}
    rec = _recipe({"name": "mip", "inlet": "all", "extrusion": False, "measured": measured})
    out = tmp_path / "run"
    report = run_pipeline(rec, labels_file, out, progress=False)
    cmp = report["numbers"]["mip"]["comparison"]
    ref = read_mip_file(path, pressure_unit="psi", sample_mass_g=0.3016)
    assert cmp["d50_measured_nm"] == pytest.approx(ref.d_values()["d50_nm"])
    assert cmp["d50_simulated_nm"] == pytest.approx(report["numbers"]["mip"]["d50_nm"])
    assert cmp["area_between_normalized_decades"] > 0
    assert (out / "figures" / "01-mip-mip_compare.png").stat().st_size > 10_000
    meta = json.loads((out / "01-mip" / "params.json").read_text())
    assert "measured_curve.csv" in meta["tables"]


def test_bad_parameters_fail_before_work(labels_file, tmp_path):
    with pytest.raises(ValueError, match="contact_angle_deg"):
        _recipe({"name": "mip", "contact_angle_deg": 80.0})
    with pytest.raises(ValueError, match="inlet"):
        _recipe({"name": "mip", "inlet": "sideways"})
    with pytest.raises(ValueError, match="not found"):
        _recipe({"name": "mip", "measured": {"path": str(tmp_path / "missing.txt")}})
    with pytest.raises(ValueError, match="densities_g_per_cm3"):
        _recipe({"name": "mip", "densities_g_per_cm3": {"nmc": 4.7}})
    with pytest.raises(ValueError, match="radii_nm"):
        _recipe({"name": "granulometry", "radii_nm": [0.0]})
    # a labels volume without pore space: a one-line error naming stage and reason
    solid = tmp_path / "solid.tif"
    write_volume(solid, Volume(np.ones((4, 5, 6), np.uint8), VOX))
    with pytest.raises(ValueError, match="stage 1 'mip'.*no pore voxels"):
        run_pipeline(_recipe({"name": "mip"}), solid, tmp_path / "run", progress=False)
    # pore space that does not touch the inlet face
    closed = np.ones((6, 6, 6), np.uint8)
    closed[2:4, 2:4, 2:4] = 0
    closed_path = tmp_path / "closed.tif"
    write_volume(closed_path, Volume(closed, VOX))
    with pytest.raises(ValueError, match="stage 1 'mip'.*inlet"):
        run_pipeline(_recipe({"name": "mip"}), closed_path, tmp_path / "run2", progress=False)


def test_mip_stage_compares_inlets_and_adds_the_subvoxel_volume(labels, labels_file, tmp_path):
    """Seed 000 Fig. 8c: two inlet settings, with and without the sub-voxel correction, and
    the granulometry beside them; each setting equals the library's own simulation."""
    rec = _recipe(
        {
            "name": "mip",
            "inlet": "all-but-bottom",
            "compare_inlets": ["top"],
            "subvoxel_fraction": 0.037,
            "extrusion": False,
        },
        {"name": "granulometry"},
    )
    out = tmp_path / "run"
    report = run_pipeline(rec, labels_file, out, progress=False)
    mip = report["numbers"]["mip"]
    settings = mip["inlet_settings"]
    assert set(settings) == {"all-but-bottom", "top"}
    for inlet, entry in settings.items():
        lib = simulate_mip(labels, voxel_size_nm=VOX, inlet=inlet).curve
        assert entry["d50_nm"] == pytest.approx(lib.d_values()["d50_nm"], rel=1e-9)
        assert entry["intruded_porosity"] == pytest.approx(lib.total_intruded_fraction)
        # the correction adds f / (1 - f) of the resolved volume, below half a voxel
        added = entry["intruded_porosity_corrected"] - entry["intruded_porosity"]
        assert added == pytest.approx(entry["intruded_porosity"] * 0.037 / 0.963, rel=1e-9)
        assert entry["d50_corrected_nm"] <= entry["d50_nm"]
    # fewer voxels are reachable from the top only (ink bottles behind the top face count
    # for both, but the side faces add entries)
    assert settings["top"]["intruded_porosity"] <= settings["all-but-bottom"]["intruded_porosity"]
    assert mip["subvoxel"]["min_diameter_nm"] == pytest.approx(0.5 * min(VOX))
    assert len(mip["curves"]) == 4
    head, rows = _read_csv(out / "01-mip" / "mip_curve_top.csv")
    assert rows[-1, head.index("intruded_fraction")] == pytest.approx(
        settings["top"]["intruded_porosity"]
    )
    assert (out / "01-mip" / "mip_curve_subvoxel.csv").exists()
    assert (out / "figures" / "01-mip-mip_inlets.png").exists()
    assert (out / "figures" / "02-granulometry-mip_granulometry.png").exists()
    # the resampled curve keeps the D50 to the resampling grid (120 rows per curve)
    from microstructure.pipeline.builtin.porosimetry import curve_from_numbers

    back = curve_from_numbers(mip["curves"][0])
    assert back.d_values()["d50_nm"] == pytest.approx(settings["all-but-bottom"]["d50_nm"], rel=0.1)


def test_mip_stage_rejects_bad_compare_inlets(labels_file, tmp_path):
    with pytest.raises(ValueError, match="compare_inlets"):
        _recipe({"name": "mip", "compare_inlets": ["sideways"]})
    with pytest.raises(ValueError, match="subvoxel_fraction"):
        _recipe({"name": "mip", "subvoxel_fraction": 1.5})


def test_max_diameter_caps_mip_and_granulometry(labels, labels_file, tmp_path):
    """A capped run resolves throats up to max_diameter_nm on log-spaced radii: the library
    with the same radii gives the same numbers, and no step lies above the cap."""
    from microstructure.pipeline.builtin.porosimetry import capped_radii_nm

    cap = 120.0
    rec = _recipe(
        {"name": "mip", "inlet": "top", "extrusion": False, "max_diameter_nm": cap},
        {"name": "granulometry", "max_diameter_nm": cap},
    )
    report = run_pipeline(rec, labels_file, tmp_path / "run", progress=False)
    radii = capped_radii_nm(None, cap, 40, VOX)
    assert radii[0] == pytest.approx(0.5 * min(VOX)) and radii[-1] == pytest.approx(cap / 2)
    lib = simulate_mip(labels, voxel_size_nm=VOX, inlet="y-", radii_nm=radii)
    mip = report["numbers"]["mip"]
    assert mip["d50_nm"] == pytest.approx(lib.summary()["d50_nm"], rel=1e-9)
    head, rows = _read_csv(tmp_path / "run" / "01-mip" / "mip_curve.csv")
    assert rows[:, head.index("diameter_nm")].max() <= cap * (1 + 1e-6)
    # pores wider than the cap are intruded at its pressure: nothing is lost
    free = simulate_mip(labels, voxel_size_nm=VOX, inlet="y-")
    assert mip["intruded_porosity"] == pytest.approx(free.summary()["intruded_porosity"])
    gran = report["numbers"]["granulometry"]
    assert gran["d50_nm"] == pytest.approx(
        granulometry(labels, voxel_size_nm=VOX, radii_nm=radii).summary()["d50_nm"], rel=1e-9
    )
    with pytest.raises(ValueError, match="max_diameter_nm"):
        capped_radii_nm([10.0], cap, 40, VOX)
