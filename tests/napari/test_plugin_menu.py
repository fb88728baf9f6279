"""The plugin as a user meets it: every Plugins-menu widget, stages run on the sample, the MIP
dock filled from the run, forms complete for every stage, OME-Zarr opened in napari."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

napari = pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from microstructure.io import read_volume, write_ome_zarr  # noqa: E402
from microstructure.pipeline.stages import available_stages  # noqa: E402
from microstructure.volume import Volume  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "microstructure" / "napari" / "napari.yaml"


def _manifest_widgets() -> list[str]:
    import npe2

    manifest = npe2.PluginManifest.from_file(MANIFEST)
    return [w.display_name for w in manifest.contributions.widgets]


def _errors() -> list[str]:
    from napari.utils.notifications import NotificationSeverity, notification_manager

    return [
        str(n.message)
        for n in notification_manager.records
        if n.severity >= NotificationSeverity.ERROR
    ]


def test_every_manifest_widget_docks_and_the_sample_runs_denoise_segment_mip(
    make_napari_viewer, gl_display
) -> None:
    names = _manifest_widgets()
    assert {"Run stage", "Denoise", "Segment", "MIP", "MIP curves"} <= set(names)
    viewer = make_napari_viewer()
    widgets = {}
    for name in names:
        _, widgets[name] = viewer.window.add_plugin_dock_widget("microstructure", name)
    # every registered stage is offered by the generic runner and by one family widget
    # (stages registered by other tests in this process are offered by the runner too)
    assert set(widgets["Run stage"].stage.choices) == set(available_stages())
    family = {
        s
        for n, w in widgets.items()
        if n not in ("Run stage", "MIP curves")
        for s in w.stage.choices
    }
    builtin = {
        name
        for name, cls in available_stages().items()
        if cls.__module__.startswith("microstructure.pipeline.builtin")
    }
    assert family == builtin

    vol = read_volume(ROOT / "data_samples" / "phantom" / "fibsem.tif")
    crop = vol.data[:10, :80, :80]
    vs_um = tuple(v / 1000 for v in vol.voxel_size_nm)
    viewer.add_image(crop, name="fibsem", scale=vs_um, units="um")
    before = len(_errors())

    den = widgets["Denoise"]
    den.layer.value = "fibsem"
    den.run(blocking=True)
    assert den.last_error is None, den.last_error
    seg = widgets["Segment"]
    assert seg.trainable and not seg.scribbles.native.isHidden()  # the scribbles selector
    assert widgets["Denoise"].scribbles.native.isHidden()
    seg.layer.value = "denoise output"
    seg.run(blocking=True)
    assert seg.last_error is None, seg.last_error
    labels = viewer.layers["segment output"]
    assert isinstance(labels, napari.layers.Labels)
    assert tuple(labels.scale) == pytest.approx(vs_um)  # um in, um out
    assert 0.4 < float((np.asarray(labels.data) == 1).mean()) < 0.8  # sample AM 0.60

    mip = widgets["MIP"]
    mip.layer.value = "segment output"
    mip.set_params(inlet="all", compare_inlets=[], extrusion=False, radii_per_decade=10)
    mip.run(blocking=True)
    assert mip.last_error is None, mip.last_error
    assert _errors()[before:] == []
    dock = widgets["MIP curves"]
    assert mip.mip_dock is dock  # linked on the plugin path
    labels_in_dock = [c.label for c, _ in dock.curves]
    assert "mip: mip_curve" in labels_in_dock
    curve = next(c for c, _ in dock.curves if c.label == "mip: mip_curve")
    np.testing.assert_allclose(curve.saturation, mip.last_output.tables["mip_curve"]["saturation"])
    assert len(dock.ax_cum.get_lines()) >= 1 and len(dock.ax_psd.get_lines()) >= 1


@pytest.mark.parametrize("stage", sorted(available_stages()))
def test_every_stage_form_is_complete_and_its_defaults_validate(stage, qtbot) -> None:
    from pydantic import ValidationError

    from microstructure.napari.forms import ModelForm

    model = available_stages()[stage].Params
    form = ModelForm(model)
    assert list(form.fields) == list(model.model_fields)  # no field cut short
    try:
        params = model(**form.values())
    except ValidationError as exc:  # stages that need a choice (CBD amount, references)
        assert stage in ("cbd", "reference"), exc
        return
    assert params == model()  # the untouched form is exactly the model's defaults


def test_forms_round_trip_optional_nested_and_json_fields(qtbot, tmp_path) -> None:
    from microstructure.napari.forms import ModelForm

    stages = available_stages()
    measured = tmp_path / "m.csv"
    measured.write_text("pressure,volume\n1,0\n")
    form = ModelForm(stages["mip"].Params)
    form.set_values(measured={"path": str(measured), "pressure_unit": "psi"}, cbd_porosity=0.502)
    params = stages["mip"].Params(**form.values())
    assert params.measured.path == str(measured) and params.measured.pressure_unit == "psi"
    assert params.cbd_porosity == 0.502  # all decimals kept
    empty = ModelForm(stages["mip"].Params)
    empty.fields["measured"].enabled.value = True  # ticked, path left empty
    with pytest.raises(ValueError, match="measured: required field"):  # one line naming it
        empty.values()
    ref = ModelForm(stages["reference"].Params)
    ref.set_values(values=[{"key": "porosity.total_porosity", "low": 0.2, "high": 0.4}])
    assert stages["reference"].Params(**ref.values()).values[0].high == 0.4
    geo = ModelForm(stages["geometry"].Params)
    geo.set_values(background_sigma_px=12.5, crop_z=[0, 4])
    p = stages["geometry"].Params(**geo.values())
    assert p.background_sigma_px == 12.5 and p.crop_z == [0, 4]


def test_ome_zarr_written_by_us_opens_in_napari_with_scale_and_phase_labels(
    make_napari_viewer, gl_display, tmp_path
) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (6, 40, 30), dtype=np.uint8)
    lab = (image > 128).astype(np.uint8)
    path = write_ome_zarr(
        tmp_path / "s.ome.zarr", Volume(image, (40.0, 25.0, 20.0)), labels=lab, levels=2
    )
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="microstructure")
    assert [ly.name for ly in layers] == ["s.ome.zarr", "phases"]
    img, phases = layers
    assert tuple(img.scale) == pytest.approx((0.04, 0.025, 0.02))
    assert img.multiscale and np.array_equal(np.asarray(img.data[0]), image)
    assert isinstance(phases, napari.layers.Labels)
    assert np.array_equal(np.asarray(phases.data[0]), lab)
    assert tuple(phases.scale) == pytest.approx((0.04, 0.025, 0.02))


def _labels_run(tmp, *, relative: bool) -> Path:
    """A mip run on a small sphere packing; the input given relative to ``tmp`` if asked."""
    import os

    from microstructure.io import write_volume
    from microstructure.pipeline import run_pipeline

    z, y, x = np.indices((16, 32, 32))
    lab = np.ones((16, 32, 32), np.uint8)
    for c in ((8, 8, 8), (8, 22, 20), (4, 12, 26), (12, 26, 6)):
        lab[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= 49] = 0  # pores
    write_volume(tmp / "labels.tif", Volume(lab, (40.0, 50.0, 50.0)))
    (tmp / "r.toml").write_text(
        '[recipe]\nname = "m"\n\n[[stage]]\nname = "mip"\ninlet = "all"\n'
        "compare_inlets = []\nextrusion = false\n"
    )
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        src = Path("labels.tif") if relative else tmp / "labels.tif"
        run_pipeline(tmp / "r.toml", src, tmp / "out", progress=False)
    finally:
        os.chdir(cwd)
    return tmp / "out"


def test_view_fills_the_mip_dock_from_the_run_folder(tmp_path, make_napari_viewer) -> None:
    # (make_napari_viewer: napari's plugin registry set up and torn down as for its viewers)
    from microstructure.napari.viewer import open_viewer
    from microstructure.porosimetry import load_mip_curve

    run = _labels_run(tmp_path, relative=False)
    viewer, runner, dock = open_viewer(str(run), show=False)
    try:
        assert [c.label for c, _ in dock.curves] == ["01-mip: mip_curve"]
        stored = load_mip_curve(run / "01-mip" / "mip_curve.csv")
        np.testing.assert_allclose(dock.curves[0][0].saturation, stored.saturation)
        assert len(dock.ax_cum.get_lines()) >= 1
        assert runner.mip_dock is dock  # curves of stages run from the widget go there too
    finally:
        viewer.close()


def test_a_run_recorded_with_a_relative_input_opens_from_another_folder(
    tmp_path, monkeypatch
) -> None:
    import json

    from microstructure.napari.reader import read_layers

    run = _labels_run(tmp_path, relative=True)
    recorded = json.loads((run / "report.json").read_text())["input"]["path"]
    monkeypatch.chdir(ROOT)  # somewhere else
    names = [meta["name"] for _, meta, _ in read_layers(run)]
    assert names == ["input: labels.tif"], recorded  # the input is found beside the run


def test_docks_leave_the_canvas_most_of_the_window(
    tmp_path, gl_display, make_napari_viewer
) -> None:
    from qtpy.QtWidgets import QApplication

    from microstructure.napari.viewer import open_viewer

    run = _labels_run(tmp_path, relative=False)
    viewer, runner, dock = open_viewer(str(run), show=True)
    try:
        viewer.window.resize(1600, 1000)
        for _ in range(20):
            QApplication.processEvents()
        window = viewer.window._qt_window
        canvas = viewer.window._qt_viewer.canvas.native
        assert window.height() <= 1000 and window.width() <= 1600  # no dock forces it larger
        assert canvas.width() >= 0.35 * window.width()
        assert canvas.height() >= 0.5 * window.height()
        assert viewer.dims.ndisplay == 3 and viewer.dims.axis_labels == ("z", "y", "x")
    finally:
        viewer.close()


def test_layer_voxel_size_comes_from_metadata_units_or_nm_scale() -> None:
    from microstructure.napari.widgets import layer_voxel_size_nm

    viewer = napari.components.ViewerModel()
    a = viewer.add_labels(np.zeros((2, 3, 4), np.uint8), scale=(0.04, 0.05, 0.05), units="um")
    assert layer_voxel_size_nm(a) == pytest.approx((40.0, 50.0, 50.0))
    b = viewer.add_labels(np.zeros((2, 3, 4), np.uint8), scale=(40.0, 50.0, 50.0))
    assert layer_voxel_size_nm(b) == pytest.approx((40.0, 50.0, 50.0))  # unitless: nm
    c = viewer.add_labels(np.zeros((2, 3, 4), np.uint8))
    assert layer_voxel_size_nm(c) is None  # unknown, not 1 nm
    d = viewer.add_labels(np.zeros((2, 3, 4), np.uint8), metadata={"voxel_size_nm": (7, 8, 9)})
    assert layer_voxel_size_nm(d) == (7.0, 8.0, 9.0)
